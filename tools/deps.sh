#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not yet installed.
# Uses sudo when not root; runs apt-get update once before installing.
# The packages are tools and test peers: no service of theirs is started by the
# install (a policy-rc.d that says no, for its duration, when the machine has none),
# and those that come with one the tests run themselves (lighttpd: its own
# instance on loopback, tests/e2e/publish_log.sh) are not enabled at boot either,
# when this script installed them.
set -euo pipefail
NO_SERVICE=(lighttpd)
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# tools/deps.sh: no service starts while it installs\nexit 101\n' |
    $sudo tee "$POLICY.doormat" >/dev/null
  $sudo chmod 755 "$POLICY.doormat"
  $sudo mv "$POLICY.doormat" "$POLICY"
  trap '$sudo rm -f "$POLICY"' EXIT
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for p in "${missing[@]}"; do
  for s in "${NO_SERVICE[@]}"; do
    [ "$p" = "$s" ] || continue
    if command -v systemctl >/dev/null; then $sudo systemctl disable --now "$s" >/dev/null 2>&1 || true; fi
    if command -v update-rc.d >/dev/null; then $sudo update-rc.d "$s" disable >/dev/null 2>&1 || true; fi
  done
done
