#!/usr/bin/env bash
# The harmonizer table of the README and models/EVALUATION.md: the shipped DeepBach (with the
# part-writing rules weighing in while it samples, and the networks alone) and the shipped
# mini-bach, on held-out chorale sopranos (`muselab evaluate`, beside Bach's own voices) and on
# Celtic melodies (`muselab harmonize --report`), then the time to harmonize 64 bars
# (`muselab bench`, its `harmonize 64 bars` line).
#   scripts/harmonizers.sh            env: SAMPLES=200 CELTIC=24 SEED=1
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/muselab-target}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/muselab"
SAMPLES="${SAMPLES:-200}"
CELTIC="${CELTIC:-24}"
SEED="${SEED:-1}"
DEEPBACH=models/deepbach/shipped
MINIBACH=models/minibach/shipped
echo "== machine: $("$BIN" --version) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "== held-out chorale sopranos ($SAMPLES windows, seed $SEED): DeepBach with rules"
"$BIN" evaluate "$DEEPBACH" --samples "$SAMPLES" --seed "$SEED"
echo "== held-out chorale sopranos: DeepBach, the networks alone (rule_weight=0)"
"$BIN" evaluate "$DEEPBACH" --samples "$SAMPLES" --seed "$SEED" --set rule_weight=0
echo "== held-out chorale sopranos: mini-bach"
"$BIN" evaluate "$MINIBACH" --samples "$SAMPLES" --seed "$SEED"
for run in "$DEEPBACH" "$MINIBACH"; do
  echo "== $CELTIC Celtic melodies: $run"
  "$BIN" harmonize assets/corpora/celtic_oneills --report --max "$CELTIC" --run "$run" --seed "$SEED"
done
echo "== $CELTIC Celtic melodies: DeepBach, the networks alone"
"$BIN" harmonize assets/corpora/celtic_oneills --report --max "$CELTIC" --run "$DEEPBACH" --seed "$SEED" --set rule_weight=0
echo "== 64 bars"
"$BIN" bench | grep "harmonize 64"
