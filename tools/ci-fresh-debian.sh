#!/usr/bin/env bash
# The bare-machine checks of .ci/run: ../shared/tools/fresh-debian runs the README's first
# commands in a bare Debian root made from this clone's HEAD.
#   tools/ci-fresh-debian.sh            Debian 12 (bookworm): make demo, then make check
#   tools/ci-fresh-debian.sh trixie     Debian 13 (trixie): make check (OpenSSL 3.5: the
#                                       hybrid post-quantum recipient is built and tested too)
# Skipped, on one line, when the tool is not there or when its base root cannot be built
# because the package archive cannot be reached; any other failure fails. A skipped
# Debian 12 stage runs make check on this machine instead, so that .ci/run always runs
# the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:-bookworm}
tool=../shared/tools/fresh-debian
skipped() { # REASON
  echo "fresh-debian ($suite): skipped: $1"
  if [[ $suite == bookworm ]]; then
    echo "fresh-debian ($suite): make check runs on this machine instead"
    exec make check
  fi
  exit 0
}
if [[ ! -x $tool ]]; then
  skipped "$tool is not on this machine"
fi
base=/var/tmp/fresh-debian/base.tar
[[ $suite == bookworm ]] || base=/var/tmp/fresh-debian/base-$suite.tar
log=/var/tmp/fresh-debian/debootstrap.log
if [[ ! -s $base ]]; then
  if ! FRESH_SUITE=$suite "$tool" -- true; then
    if [[ -f $log ]] && grep -Eqi "Failed getting release|Couldn't download|Temporary failure resolving|Could not resolve|Network is unreachable|Connection (refused|timed out)|Unable to connect" "$log"; then
      skipped "the package archive cannot be reached ($(grep -Eim1 "fail|couldn't|unable|unreachable" "$log"))"
    fi
    echo "fresh-debian ($suite): the base root could not be built (see $log)" >&2
    exit 1
  fi
fi
if [[ $suite == bookworm ]]; then
  exec "$tool"
fi
FRESH_SUITE=$suite exec "$tool" -- "make check"
