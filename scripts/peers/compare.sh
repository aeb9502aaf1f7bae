#!/usr/bin/env bash
# muselab's training speed beside the same networks in Keras 3 on JAX (scripts/peers/peer.py),
# on this machine's CPU, measured alternately (ours, peer, ours, peer, ...) so that both see the
# same load. Prints one JSON line per measurement and a Markdown table of medians at the end.
#
# Usage: scripts/peers/compare.sh [ROUNDS] [MODELS...]
#   ROUNDS: alternations per model (default 3); MODELS: default minibach lstm rnn-vae crnn-gan gan
# Needs a release build (cargo build --release) and PyPI (the first run creates a virtual
# environment with keras and jax under ~/.cache/muselab-peers).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
shift || true
models=("$@")
if [ ${#models[@]} -eq 0 ]; then
    models=(minibach lstm rnn-vae crnn-gan gan)
fi
venv=${MUSELAB_PEERS_VENV:-$HOME/.cache/muselab-peers}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "jax[cpu]" keras
fi
bin=${MUSELAB_BIN:-${CARGO_TARGET_DIR:-target}/release/muselab}
if [ ! -x "$bin" ]; then
    echo "no release binary at $bin: run cargo build --release (or set MUSELAB_BIN)" >&2
    exit 1
fi
results=$(mktemp)
for model in "${models[@]}"; do
    for _ in $(seq "$rounds"); do
        "$bin" bench --json --model "$model" --device cpu 2>/dev/null | grep '^{' | tee -a "$results"
        KERAS_BACKEND=jax "$venv/bin/python" scripts/peers/peer.py "$model" 64 3 2>/dev/null |
            grep '^{' | tee -a "$results"
    done
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
models = list(dict.fromkeys(r["model"] for r in rows))
print()
print("| model | muselab (examples/s) | Keras 3 on JAX | ratio | share of CPU peak: muselab · Keras |")
print("| --- | --- | --- | --- | --- |")
for m in models:
    ours = [r for r in rows if r["model"] == m and "peer" not in r]
    peer = [r for r in rows if r["model"] == m and "peer" in r]
    o = statistics.median(r["train_examples_per_second"] for r in ours)
    p = statistics.median(r["train_examples_per_second"] for r in peer)
    f = [r["peak_fraction"] for r in ours if r.get("peak_fraction")]
    lo = min(r["train_examples_per_second"] for r in ours)
    hi = max(r["train_examples_per_second"] for r in ours)
    plo = min(r["train_examples_per_second"] for r in peer)
    phi = max(r["train_examples_per_second"] for r in peer)
    # The peer does the same arithmetic per example, so its share scales with its speed.
    share = f"{100 * statistics.median(f):.0f}% · {100 * statistics.median(f) * p / o:.0f}%" if f else "—"
    print(f"| {m} | {o:,.0f} ({lo:,.0f}–{hi:,.0f}) | {p:,.0f} ({plo:,.0f}–{phi:,.0f}) | {o / p:.2f}× | {share} |")
PY
rm -f "$results"
