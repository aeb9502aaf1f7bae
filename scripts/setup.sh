#!/usr/bin/env bash
# Installs the Debian packages muselab needs to build, test and take screenshots.
#   build:       libasound2-dev (rodio/cpal), pkg-config, gcc
#   sound:       timgm6mb-soundfont (a 6 MB General MIDI SoundFont: instruments for playback)
#   run headless / tests: mesa-vulkan-drivers + libvulkan1 (lavapipe software Vulkan, so
#                egui_kittest and burn's wgpu path find an adapter), xvfb, imagemagick (screenshots)
set -euo pipefail
PKGS="libasound2-dev pkg-config gcc mesa-vulkan-drivers libvulkan1 xvfb xauth imagemagick timgm6mb-soundfont"
missing=""
for p in $PKGS; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust from https://rustup.rs first" >&2
  exit 1
fi
echo "muselab: system packages ready"
