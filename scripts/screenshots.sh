#!/usr/bin/env bash
# Starts muselab under Xvfb with a chorale open and saves screenshots/piano-roll.png.
# Needs: xvfb, imagemagick, mesa-vulkan-drivers (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
PIECE="${1:-assets/corpora/bach_chorales/bwv10_7.mid}"
OUT="${2:-screenshots/piano-roll.png}"
cargo build --all-targets --quiet
mkdir -p "$(dirname "$OUT")"
DISPLAY_NUM=:97
STATE="$(mktemp -d)"
Xvfb "$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
trap 'kill $APP $XVFB 2>/dev/null || true; rm -rf "$STATE"' EXIT
sleep 1
# A fresh state folder, so the screenshot does not depend on the last session's layout.
DISPLAY="$DISPLAY_NUM" XDG_DATA_HOME="$STATE" HOME="$STATE" \
  "${CARGO_TARGET_DIR:-target}/debug/muselab" "$PIECE" >/dev/null 2>&1 &
APP=$!
sleep "${WAIT:-8}"
DISPLAY="$DISPLAY_NUM" import -window root "$OUT"
echo "wrote $OUT"
