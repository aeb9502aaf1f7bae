#!/usr/bin/env bash
# Makes the shipped runs in models/: one pretrained run of every model at its default settings
# (seed 42, the epochs of scripts/evaluate-defaults.sh), packed small and read-only.
#
#   1. trains every model (scripts/evaluate-defaults.sh: prints how long each took, then
#      evaluates the full-precision runs), unless RUNS names runs already trained that way;
#   2. packs the newest run of each model into models/<model>/shipped (`muselab pack`: no
#      optimiser state, parameters in half precision, a shipped.json marker);
#   3. evaluates the packed runs (200 samples, seed 1): each gets its evaluation.json, and
#      models/EVALUATION.md gets the table; then compares the held-out measures of each packed
#      run with its full-precision source, and prints the folder's size.
#
#   MUSELAB_BIN  the muselab binary (default: target/release/muselab)
#   RUNS         a folder of trained runs (<model>/run-*) to pack instead of training anew
#   OUT          where step 1 trains (default: target/pretrain-runs)
#   MODELS       the models to ship (default: all sixteen)
# Takes about three hours on a 2-core CPU when it trains; minutes when RUNS is given.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${MUSELAB_BIN:-target/release/muselab}"
MODELS="${MODELS:-minibach autoencoder stacked-autoencoder sparse-autoencoder lstm rl-tuner vae rnn-vae vrae gan crnn-gan midinet rbm rnn-rbm crbm anticipation-rnn}"
export MODELS
if [ -z "${RUNS:-}" ]; then
  RUNS="${OUT:-target/pretrain-runs}"
  OUT="$RUNS" MUSELAB_BIN="$BIN" scripts/evaluate-defaults.sh
fi

packed=()
for model in $MODELS; do
  run=$(ls -d "$RUNS/$model"/run-* | sort | tail -1)
  "$BIN" pack --to models --name shipped "$run"
  packed+=("models/$model/shipped")
done

start=$(date +%s)
{
  echo "# The shipped runs, measured"
  echo
  echo "Made by \`scripts/pretrain.sh\` on $(date -u +%F): $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)."
  echo "Every run has its model's default settings and seed 42; parameters stored in half precision."
  echo "Epochs: $(for m in $MODELS; do printf '%s %s, ' "$m" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["epochs"])' "models/$m/shipped/config.json")"; done | sed 's/, $//')."
  echo "Held-out pieces: every 10th piece of the corpus; 200 samples (seed 1) per model and baseline."
  echo "Each run's full report is its \`evaluation.json\` (\`muselab evaluate models/<model>/shipped\`)."
  echo
  "$BIN" evaluate --samples 200 --seed 1 --save-shipped --markdown "${packed[@]}"
} > models/EVALUATION.md.new
mv models/EVALUATION.md.new models/EVALUATION.md
echo "evaluated the packed runs in $(( $(date +%s) - start )) s (models/EVALUATION.md)"

# Held-out measures of each packed run beside its full-precision source (where that one was
# evaluated: step 1 does it).
python3 - "${packed[@]}" <<'EOF'
import json, os, sys

def flat(prefix, value, out):
    if isinstance(value, dict):
        for key, inner in value.items():
            flat(f"{prefix}.{key}" if prefix else key, inner, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = float(value)
    return out

for packed in sys.argv[1:]:
    info = json.load(open(os.path.join(packed, "shipped.json")))
    source = os.path.join(info["source"], "evaluation.json")
    if not os.path.exists(source):
        print(f"{packed}: no evaluation of the source run to compare with")
        continue
    a = flat("", json.load(open(source)).get("predictive", {}), {})
    b = flat("", json.load(open(os.path.join(packed, "evaluation.json"))).get("predictive", {}), {})
    keys = [k for k in a if k in b and ("nll" in k or "accuracy" in k)]
    worst = max((abs(a[k] - b[k]) for k in keys), default=0.0)
    shown = ", ".join(f"{k} {a[k]:.4f} -> {b[k]:.4f}" for k in keys[:3])
    print(f"{packed}: f32 -> f16 largest change {worst:.4f} ({shown})")
EOF
du -sh models
