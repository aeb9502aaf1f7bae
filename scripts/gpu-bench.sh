#!/usr/bin/env bash
# Runs on a lent GPU machine: proves the wgpu backend trains there and measures the GPU against
# the same machine's CPU, for every model at batch 64 and the GAN family and recurrent models at 512 (steady state after warm-up; the
# JSON lines carry the warm-up's steps and seconds, which are mostly kernel compilation).
# Carry a stripped, gzipped release binary as .dev/muselab.gz, the Debian package libasound2 in
# .dev/ and the Vulkan loaders in .gl/ (see the device tool's README); none of them is
# committed. Results go to $OUT/log.txt and $OUT/bench.jsonl.
#
# Usage: scripts/gpu-bench.sh [MODELS...]   (default: every model)
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
# ALSA's library (rodio links it; no sound card is needed), unpacked aside rather than over /.
for f in .dev/libasound2*.deb; do dpkg -x "$f" /tmp/alsa; done
export LD_LIBRARY_PATH=/tmp/alsa/usr/lib/x86_64-linux-gnu
gunzip -c .dev/muselab.gz > /tmp/muselab && chmod +x /tmp/muselab
export MUSELAB_ASSETS=$PWD/assets XDG_RUNTIME_DIR=/tmp
log() { echo "== $*" | tee -a "$OUT/log.txt"; }
step() { # a time limit in seconds, then muselab's arguments
    local limit=$1
    shift
    log "muselab $*"
    local t0
    t0=$(date +%s)
    timeout "$limit" /tmp/muselab "$@" 2>&1 | grep -v -e XDG_RUNTIME -e "^ALSA lib" | tee -a "$OUT/log.txt"
    log "exit ${PIPESTATUS[0]} after $(($(date +%s) - t0)) s"
}
nvidia-smi -L | tee -a "$OUT/log.txt"
nproc | tee -a "$OUT/log.txt"
step 60 devices
if ! grep -q "adapter: NVIDIA" "$OUT/log.txt"; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    step 60 devices
fi
# Batch 64 for every model; batch 512 for the GAN family and the recurrent models, where a GPU
# should pay. A GPU bench warms up until its steps stop getting faster (up to 90 s: kernel
# compilation), so all of this outlasts one 10-minute device call: name a few models per call.
# On 2026-11-30 (H200) a fixed 15 s warm-up left the GAN family's compilation inside the
# measurement, and each of their runs hit the time limit.
small=(gan midinet crnn-gan lstm rnn-vae minibach autoencoder stacked-autoencoder vae)
large=(gan midinet crnn-gan lstm rnn-vae)
if [ $# -gt 0 ]; then small=("$@"); large=("$@"); fi
for model in "${small[@]}"; do
    step 120 bench --json --model "$model" --device gpu --batch 64
    step 30 bench --json --model "$model" --device cpu --batch 64
done
for model in "${large[@]}"; do
    step 120 bench --json --model "$model" --device gpu --batch 512
    step 40 bench --json --model "$model" --device cpu --batch 512
done
grep '^{' "$OUT/log.txt" > "$OUT/bench.jsonl"
log done
