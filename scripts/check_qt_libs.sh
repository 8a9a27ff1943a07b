#!/usr/bin/env bash
# The window's Qt loads system libraries that pip cannot install (the xcb platform plugin's): on Linux,
# name the missing ones and print the one line that installs them, so `make run` does not stop at
# "Could not load the Qt platform plugin xcb". Prints nothing when all are there; never fails setup.
# usage: scripts/check_qt_libs.sh [PYTHON]   (the venv's python, which has PySide6)
set -uo pipefail
[ "$(uname -s)" = Linux ] || exit 0
PY=${1:-.venv/bin/python}
plugin=$("$PY" -c 'import os, PySide6; print(os.path.join(os.path.dirname(PySide6.__file__), "Qt", "plugins", "platforms", "libqxcb.so"))' 2>/dev/null) || exit 0
[ -f "$plugin" ] && command -v ldd >/dev/null || exit 0
missing=$(ldd "$plugin" 2>/dev/null | awk '/=> not found/ {print $1}' | sort -u)
[ -n "$missing" ] || exit 0
packages=()
for so in $missing; do
  case "$so" in  # Debian/Ubuntu package names; others: the soname itself, so the line still says what
    libxcb-cursor.so.0) packages+=(libxcb-cursor0) ;;
    libxcb-icccm.so.4) packages+=(libxcb-icccm4) ;;
    libxcb-keysyms.so.1) packages+=(libxcb-keysyms1) ;;
    libxcb-image.so.0) packages+=(libxcb-image0) ;;
    libxcb-render-util.so.0) packages+=(libxcb-render-util0) ;;
    libxcb-xkb.so.1) packages+=(libxcb-xkb1) ;;
    libxcb-shape.so.0) packages+=(libxcb-shape0) ;;
    libxcb-randr.so.0) packages+=(libxcb-randr0) ;;
    libxcb-xinerama.so.0) packages+=(libxcb-xinerama0) ;;
    libxcb-sync.so.1) packages+=(libxcb-sync1) ;;
    libxcb-xfixes.so.0) packages+=(libxcb-xfixes0) ;;
    libxcb-shm.so.0) packages+=(libxcb-shm0) ;;
    libxcb-util.so.1) packages+=(libxcb-util1) ;;
    libxkbcommon-x11.so.0) packages+=(libxkbcommon-x11-0) ;;
    libxkbcommon.so.0) packages+=(libxkbcommon0) ;;
    libX11-xcb.so.1) packages+=(libx11-xcb1) ;;
    libEGL.so.1) packages+=(libegl1) ;;
    libGL.so.1) packages+=(libgl1) ;;
    libOpenGL.so.0) packages+=(libopengl0) ;;
    libfontconfig.so.1) packages+=(libfontconfig1) ;;
    libdbus-1.so.3) packages+=(libdbus-1-3) ;;
    *) packages+=("$so") ;;
  esac
done
echo "note: the window needs system libraries Qt cannot find ($(echo $missing | tr ' ' ',')); install them with:" >&2
echo "  sudo apt-get install $(printf '%s\n' "${packages[@]}" | sort -u | tr '\n' ' ' | sed 's/ $//')" >&2
exit 0
