#!/usr/bin/env bash
# The bare-machine check of .ci/run: ../shared/tools/fresh-debian runs the README's first
# commands (make demo, then make check) in a bare Debian 12 root made from this clone's HEAD.
# Skipped, on one line, when the tool is not there or when its base root cannot be built
# because the package archive cannot be reached; any other failure fails.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=../shared/tools/fresh-debian
if [[ ! -x $tool ]]; then
  echo "fresh-debian: skipped: $tool is not on this machine"
  exit 0
fi
log=/var/tmp/fresh-debian/debootstrap.log
if [[ ! -s /var/tmp/fresh-debian/base.tar ]]; then
  if ! "$tool" -- true; then
    if [[ -f $log ]] && grep -Eqi "Failed getting release|Couldn't download|Temporary failure resolving|Could not resolve|Network is unreachable|Connection (refused|timed out)|Unable to connect" "$log"; then
      echo "fresh-debian: skipped: the package archive cannot be reached ($(grep -Eim1 "fail|couldn't|unable|unreachable" "$log"))"
      exit 0
    fi
    echo "fresh-debian: the base root could not be built (see $log)" >&2
    exit 1
  fi
fi
exec "$tool"
