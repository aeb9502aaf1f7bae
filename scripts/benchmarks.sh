#!/usr/bin/env bash
# Runs `muselab benchmark` for every benchmark model on the given benchmark files (default:
# the bundled JSB Chorales and Nottingham) and prints a markdown table of our figures beside the
# published ones, with the machine, epochs, seed and time of each run.
#   scripts/benchmarks.sh [FILE...]        env: MODELS="bernoulli rnn-nade", SEED=1, EPOCHS=N
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/muselab-target}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/muselab"
MODELS="${MODELS:-bernoulli rbm rnn-rbm rnn-nade}"
SEED="${SEED:-1}"
FILES=("$@")
[ ${#FILES[@]} -eq 0 ] && FILES=("assets/benchmarks/JSB Chorales.pickle" "assets/benchmarks/Nottingham.mat")
CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) ($(nproc) cores, $(grep -q avx512f /proc/cpuinfo && echo AVX-512 || echo AVX2))"
OUT="$(mktemp)"
for file in "${FILES[@]}"; do
  for model in $MODELS; do
    extra=()
    [ -n "${EPOCHS:-}" ] && extra=(--epochs "$EPOCHS")
    echo "== $model on $file" >&2
    "$BIN" benchmark --dataset "$file" --model "$model" --seed "$SEED" --json "${extra[@]}" | tail -n 1 >> "$OUT"
  done
done
python3 - "$OUT" "$CPU" <<'PY'
import json, sys
published = {("rnn-rbm", "JSB Chorales"): "6.27", ("rnn-rbm", "Nottingham"): "2.39 / 75.4 %",
             ("rnn-nade", "JSB Chorales"): "5.56", ("rnn-nade", "Nottingham"): "2.31 / 71.5 %",
             ("bernoulli", "JSB Chorales"): "11.06", ("bernoulli", "Nottingham"): "10.25"}
print(f"Measured on {sys.argv[2]}.\n")
print("| model | dataset | test NLL | ACC | valid NLL | published NLL / ACC | epochs (best) | seed | time |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for line in open(sys.argv[1]):
    r = json.loads(line)
    spread = f" ± {r['ais_spread']:.2f}" if r.get("ais_spread") is not None else ""
    print(f"| {r['model']} | {r['dataset']} | {r['test_nll']:.2f}{spread} | {100*r['test_acc']:.1f} % | "
          f"{r['valid_nll']:.2f} | {published.get((r['model'], r['dataset']), '—')} | "
          f"{r['epochs']} ({r['best_epoch']}) | {r['seed']} | {r['seconds']/60:.1f} min |")
PY
rm -f "$OUT"
