#!/usr/bin/env bash
# The soak test: the whole app headless (egui_kittest) for SECONDS (default 1200) while the
# LSTM trains from the dashboard, the latent map decodes and plays a point every half second
# and the views change every 10 s. Prints resident memory, UI frame times and how far the UI is
# behind the run every 10 s, then a summary; fails if memory grew by 50 MB or more after the
# first 3 minutes, a UI frame took over 50 ms, or the run's events backed up.
# Usage: scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
export MUSELAB_SOAK_SECONDS="${1:-1200}"
exec cargo test --test soak -- --ignored --nocapture --test-threads 1
