#!/usr/bin/env bash
# Trains one run of every model at its default settings (seed 42) and evaluates each on its
# held-out pieces beside the unigram and Markov baselines (200 samples, seed 1): the figures of
# the README's evaluation table.
#   MUSELAB_BIN   the muselab binary (default: target/release/muselab)
#   OUT           where the runs go (default: target/default-runs)
#   EPOCHS_<ID>   epochs of one model (ids with _ for -, e.g. EPOCHS_RNN_VAE). Default: the app's
#                 20, except the three slow recurrent models on a 2-core CPU: lstm 5, rnn-vae 2,
#                 crnn-gan 5, anticipation-rnn 12 (the README's tables were measured so);
#                 rl-tuner tunes the lstm run trained before it (the newest on its corpus)
# Prints how long each training took, then the evaluation tables and a markdown summary.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${MUSELAB_BIN:-target/release/muselab}"
OUT="${OUT:-target/default-runs}"
MODELS="${MODELS:-minibach autoencoder stacked-autoencoder sparse-autoencoder lstm rl-tuner vae rnn-vae vrae gan crnn-gan midinet rbm rnn-rbm crbm anticipation-rnn}"
mkdir -p "$OUT"
runs=()
for model in $MODELS; do
  var="EPOCHS_$(echo "$model" | tr 'a-z-' 'A-Z_')"
  case "$model" in
    lstm | crnn-gan) fallback=5 ;;
    rnn-vae) fallback=2 ;;
    anticipation-rnn) fallback=12 ;;
    *) fallback=20 ;;
  esac
  epochs="${!var:-$fallback}"
  start=$(date +%s)
  "$BIN" train "$model" --epochs "$epochs" --seed 42 --device cpu --out "$OUT" > "$OUT/$model.train.log" 2>&1
  run=$(ls -d "$OUT/$model"/run-* | sort | tail -1)
  echo "$model: $epochs epochs in $(( $(date +%s) - start )) s -> $run"
  runs+=("$run")
done
"$BIN" evaluate --samples 200 --seed 1 "${runs[@]}"
"$BIN" evaluate --samples 200 --seed 1 --markdown "${runs[@]}"
