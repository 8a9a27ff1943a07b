#!/usr/bin/env bash
# Smoke-test a built bundle: `--self-test` offscreen, then under Xvfb with a real X window and a
# screenshot, then the start time to the first window (cold, then warm). Exit 0 only if both self-tests pass.
#
#   bash packaging/smoke.sh [dist/PersonalQ] [out-dir]
#
# Needs xvfb-run for the second part (apt-get install xvfb libxcb-cursor0 libxcb-icccm4
# libxcb-keysyms1); without it that part fails with a message, it is never silently skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
APP=${1:-dist/PersonalQ}
OUT=${2:-build/pkg/smoke}
BIN=$APP/personalq
mkdir -p "$OUT"
[[ -x $BIN ]] || { echo "no bundle at $BIN (run packaging/build_linux.sh)"; exit 2; }
# Nothing of the build machine may leak in: no venv, no repo on the path, no hub.
unset PYTHONPATH VIRTUAL_ENV PERSONALQ_HOME
export HF_HUB_OFFLINE=1
status=0

run_timed() {  # label, then the command; prints seconds and the self-test line
  local label=$1; shift
  local t0=$(date +%s.%N)
  "$@" > "$OUT/$label.log" 2>&1
  local rc=$?
  local secs=$(echo "$(date +%s.%N) - $t0" | bc)
  echo "[$label] exit $rc in ${secs}s: $(grep 'personalq self-test:' "$OUT/$label.log" | tail -1)"
  [[ $rc -eq 0 ]] || { tail -20 "$OUT/$label.log"; status=1; }
}

# 1. offscreen
run_timed offscreen env QT_QPA_PLATFORM=offscreen "$BIN" --self-test

# 2. a real window on an X server (Xvfb), with a screenshot of the screen
if command -v xvfb-run >/dev/null; then
  run_timed xvfb env QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1400x900x24" \
    "$BIN" --self-test --screenshot "$OUT/xvfb-screenshot.png"
  [[ -s $OUT/xvfb-screenshot.png ]] && echo "[xvfb] screenshot $OUT/xvfb-screenshot.png" || status=1
else
  echo "[xvfb] xvfb-run not found: apt-get install xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"; status=1
fi

# 3. start to the first window: cold (page cache dropped, when we may) then warm, seen from
#    outside on Xvfb (the real no-argument path), and from inside (process age when exposed)
if [[ -w /proc/sys/vm/drop_caches ]]; then sync; echo 3 > /proc/sys/vm/drop_caches && echo "[start] page cache dropped"; fi
bash packaging/measure_start.sh "$BIN" 2 | sed 's/^/[start] /'
QT_QPA_PLATFORM=offscreen "$BIN" --self-test --startup-only > "$OUT/startup.log" 2>&1
echo "[start] $(grep 'personalq self-test:' "$OUT/startup.log" | tail -1)"
exit $status
