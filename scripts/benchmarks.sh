#!/usr/bin/env bash
# Runs `muselab benchmark` for every benchmark model on the given benchmark files (default: the
# bundled JSB Chorales and Nottingham), saves each report in models/benchmarks/ and rewrites the
# README's benchmark table from that folder (`muselab benchmark-table --readme README.md`; a test
# checks that the README and the folder agree). Each report records the machine, epochs, seed,
# flags and time of its run.
#   scripts/benchmarks.sh [FILE...]
#   env: MODELS="bernoulli lstm", SEED=1, FLAGS_<model>="--epochs N ..." (e.g. FLAGS_rnn_nade)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/muselab-target}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/muselab"
MODELS="${MODELS:-bernoulli rbm rnn-rbm rnn-nade lstm}"
SEED="${SEED:-1}"
# The settings of the README's runs (the defaults train longer, with more patience).
: "${FLAGS_rbm:=--epochs 30 --patience 4}"
: "${FLAGS_rnn_rbm:=--epochs 60 --validate-every 5 --patience 3}"
: "${FLAGS_rnn_nade:=--epochs 100 --patience 8}"
: "${FLAGS_lstm:=--epochs 60 --patience 6}"
FILES=("$@")
[ ${#FILES[@]} -eq 0 ] && FILES=("assets/benchmarks/JSB Chorales.pickle" "assets/benchmarks/Nottingham.mat")
for file in "${FILES[@]}"; do
  for model in $MODELS; do
    var="FLAGS_${model//-/_}"
    # shellcheck disable=SC2206 # the flags are words on purpose
    extra=(${!var:-})
    echo "== $model on $file ${extra[*]}" >&2
    "$BIN" benchmark --dataset "$file" --model "$model" --seed "$SEED" --save models/benchmarks "${extra[@]}"
  done
done
"$BIN" benchmark-table --dir models/benchmarks --readme README.md
