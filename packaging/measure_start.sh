#!/usr/bin/env bash
# Cold start to first window, measured from outside the app: launch the real double-click path
# (`personalq`, no arguments) on an Xvfb display and poll the X tree until a mapped top-level
# window titled PersonalQ appears. Runs in a throw-away PERSONALQ_HOME (first-run welcome page).
#   bash packaging/measure_start.sh [dist/PersonalQ/personalq] [runs]
# Prints one line per run: "start N: X.XX s"; drop the page cache first (as root) for a cold number.
set -uo pipefail
BIN=${1:-dist/PersonalQ/personalq}
RUNS=${2:-1}
command -v Xvfb >/dev/null && command -v xwininfo >/dev/null || { echo "needs Xvfb and xwininfo (apt-get install xvfb x11-utils)"; exit 2; }
DISPLAY_NUM=:$(( 90 + RANDOM % 9 ))
Xvfb "$DISPLAY_NUM" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
trap 'kill $XVFB 2>/dev/null' EXIT
sleep 1
for run in $(seq 1 "$RUNS"); do
  home=$(mktemp -d)
  t0=$(date +%s.%N)
  DISPLAY=$DISPLAY_NUM QT_QPA_PLATFORM=xcb PERSONALQ_HOME=$home "$BIN" >"$home/app.log" 2>&1 &
  app=$!
  shown=""
  for _ in $(seq 1 3000); do  # up to ~5 min
    if DISPLAY=$DISPLAY_NUM xwininfo -root -tree 2>/dev/null | grep -q '"PersonalQ"'; then
      if DISPLAY=$DISPLAY_NUM xwininfo -name PersonalQ 2>/dev/null | grep -q "IsViewable"; then shown=1; break; fi
    fi
    kill -0 $app 2>/dev/null || break
    sleep 0.05
  done
  t1=$(date +%s.%N)
  kill $app 2>/dev/null; wait $app 2>/dev/null
  if [[ -n $shown ]]; then echo "start $run: $(echo "$t1 - $t0" | bc) s"; else echo "start $run: no window (see $home/app.log)"; fi
  [[ -n $shown ]] && rm -rf "$home"
done
