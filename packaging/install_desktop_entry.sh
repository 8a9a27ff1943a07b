#!/usr/bin/env bash
# Put PersonalQ in the desktop's app menu (per user, no root): run it from the app folder.
#   ./install_desktop_entry.sh            install   |   ./install_desktop_entry.sh --remove
# Writes ~/.local/share/applications/personalq.desktop (Exec = this folder's personalq) and the
# icons into ~/.local/share/icons/hicolor/<size>/apps/, as the freedesktop icon theme spec lays out.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
if [[ ${1:-} == --remove ]]; then
  rm -f "$DATA/applications/personalq.desktop" "$DATA"/icons/hicolor/*/apps/personalq.{png,svg}
  echo "removed"; exit 0
fi
[[ -x $HERE/personalq ]] || { echo "run this from the PersonalQ app folder (no personalq binary in $HERE)" >&2; exit 1; }
mkdir -p "$DATA/applications" "$DATA/icons/hicolor/scalable/apps"
for png in "$HERE"/icons/personalq-*.png; do
  size=$(basename "$png" .png); size=${size#personalq-}
  mkdir -p "$DATA/icons/hicolor/${size}x${size}/apps"
  cp "$png" "$DATA/icons/hicolor/${size}x${size}/apps/personalq.png"
done
cp "$HERE/icons/personalq.svg" "$DATA/icons/hicolor/scalable/apps/personalq.svg"
sed -e "s|^Exec=.*|Exec=\"$HERE/personalq\" %F|" -e "s|^TryExec=.*|TryExec=$HERE/personalq|" \
  "$HERE/personalq.desktop" > "$DATA/applications/personalq.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q "$DATA/icons/hicolor" || true
echo "installed $DATA/applications/personalq.desktop -> $HERE/personalq"
