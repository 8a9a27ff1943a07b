#!/usr/bin/env bash
# Build the Linux app folder dist/PersonalQ/ (run `dist/PersonalQ/personalq`) from a checkout.
#
#   bash packaging/build_linux.sh            # uses .venv (make setup), demo/assets if built
#   PYTHON=/path/to/python bash packaging/build_linux.sh
#
# Steps: 1. PyInstaller into the venv (pinned in packaging/requirements.txt);
# 2. the demo world: demo/assets if built, else a --smoke world under build/ (not for shipping);
# 3. the spec assembles + hash-checks the default GGUF and collects everything
#    (packaging/bundle_data.py); 4. the desktop entry and icons go beside the binary;
# 5. sizes are printed (what dominates the bundle).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
DIST=${DIST:-$ROOT/dist}
WORK=${WORK:-$ROOT/build/pyinstaller}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
start=$(date +%s)

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
  "$PYTHON" -m pip install -r packaging/requirements.txt
fi

if [[ -z "${PERSONALQ_DEMO_ASSETS:-}" && ! -f demo/assets/manifest.json ]]; then
  smoke=$ROOT/build/pkg/demo_smoke
  if [[ ! -f $smoke/manifest.json ]]; then
    echo "demo/assets is not built; building a --smoke demo world in $smoke (run python -m demo.build for the real one)" >&2
    "$PYTHON" -m demo.build --smoke --threads 2 --out "$smoke" --work "$ROOT/build/pkg/demo_work_smoke" >&2
  fi
  export PERSONALQ_DEMO_ASSETS=$smoke
fi

"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --workpath "$WORK" --distpath "$DIST" packaging/personalq_linux.spec

APP=$DIST/PersonalQ
install -m 644 packaging/personalq.desktop "$APP/personalq.desktop"
mkdir -p "$APP/icons"
cp packaging/icons/personalq.svg packaging/icons/personalq-*.png "$APP/icons/"
install -m 755 packaging/install_desktop_entry.sh "$APP/install_desktop_entry.sh"

echo "built $APP in $(( $(date +%s) - start )) s"
du -sh "$APP"
"$PYTHON" packaging/bundle_report.py "$APP"
