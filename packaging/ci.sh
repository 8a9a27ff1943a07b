#!/usr/bin/env bash
# CI's packaging step: build the Linux bundle from this checkout and smoke-test it
# (offscreen and on Xvfb with a screenshot). Runs after `make test` in .ci/run; ~8 min here.
#
# The Xvfb part needs Debian's xvfb and the libraries Qt's xcb plugin loads; a root CI machine
# gets them from apt, anywhere else they must already be installed (smoke.sh says so and fails).
set -euo pipefail
cd "$(dirname "$0")/.."
XCB_PACKAGES=(xvfb xauth x11-utils bc libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1)  # xauth: xvfb-run; x11-utils, bc: the start timing

missing=()
for pkg in "${XCB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if (( ${#missing[@]} )) && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} for the Xvfb smoke test"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash packaging/build_linux.sh
bash packaging/smoke.sh dist/PersonalQ build/pkg/smoke
