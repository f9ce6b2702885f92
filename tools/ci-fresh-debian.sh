#!/usr/bin/env bash
# The bare-machine checks of .ci/run: ../shared/tools/fresh-debian runs the README's first
# commands in a bare Debian root made from this clone's HEAD.
#   tools/ci-fresh-debian.sh            Debian 12 (bookworm): make demo, then make check
#   tools/ci-fresh-debian.sh trixie     Debian 13 (trixie): make check (OpenSSL 3.5: the
#                                       hybrid post-quantum recipient is built and tested too)
# Skipped, on one line, when the tool is not there or when its base root cannot be built
# because the package archive cannot be reached; any other failure fails.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:-bookworm}
tool=../shared/tools/fresh-debian
if [[ ! -x $tool ]]; then
  echo "fresh-debian ($suite): skipped: $tool is not on this machine"
  exit 0
fi
base=/var/tmp/fresh-debian/base.tar
[[ $suite == bookworm ]] || base=/var/tmp/fresh-debian/base-$suite.tar
log=/var/tmp/fresh-debian/debootstrap.log
if [[ ! -s $base ]]; then
  if ! FRESH_SUITE=$suite "$tool" -- true; then
    if [[ -f $log ]] && grep -Eqi "Failed getting release|Couldn't download|Temporary failure resolving|Could not resolve|Network is unreachable|Connection (refused|timed out)|Unable to connect" "$log"; then
      echo "fresh-debian ($suite): skipped: the package archive cannot be reached ($(grep -Eim1 "fail|couldn't|unable|unreachable" "$log"))"
      exit 0
    fi
    echo "fresh-debian ($suite): the base root could not be built (see $log)" >&2
    exit 1
  fi
fi
if [[ $suite == bookworm ]]; then
  exec "$tool"
fi
FRESH_SUITE=$suite exec "$tool" -- "make check"
