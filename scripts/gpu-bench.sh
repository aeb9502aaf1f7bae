#!/usr/bin/env bash
# Runs on a lent GPU machine: proves the wgpu backend trains there and measures CPU against GPU
# on the same machine. Carry a stripped, gzipped release binary as .dev/muselab.gz, the Debian
# packages libasound2 in .dev/ and the Vulkan loaders in .gl/ (see the device tool's README);
# none of them is committed. Results go to $OUT (log.txt, histories, a generated MIDI file).
#
# Lessons from the first run (H100, wgpu on Vulkan): kernel compilation and autotuning take
# ~1 s per step for the first ~30 steps of a GAN, so short benchmarks understate the GPU; the
# per-epoch times of a 3-epoch training run (epochs 2 and 3) give the steady state.
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
epochs() { # per-epoch seconds and validation of a run's history
    python3 - "$1" <<'PY' | tee -a "$OUT/log.txt"
import json, sys
h = json.load(open(sys.argv[1]))
last = 0.0
for e in h["epochs"]:
    print(f"epoch {e['epoch']}: {e['seconds'] - last:.1f} s", [(k, round(v, 3)) for k, v in e["validation"]])
    last = e["seconds"]
PY
}
nvidia-smi -L | tee -a "$OUT/log.txt"
step 60 devices
if ! grep -q "adapter: NVIDIA" "$OUT/log.txt"; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    step 60 devices
fi
# Steady state, CPU and GPU on this machine: 3-epoch runs of the GAN family.
for model in midinet gan; do
    for device in gpu cpu; do
        step 150 train "$model" --device "$device" --epochs 3 --out "/tmp/models-$device"
        run=$(ls -d /tmp/models-"$device"/"$model"/* | head -1)
        epochs "$run/history.json"
        cp "$run/history.json" "$OUT/$model-$device-history.json"
    done
done
run=$(ls -d /tmp/models-gpu/midinet/* | head -1)
step 60 generate "$run" --device gpu --chords "C G Am F" --out "$OUT/midinet-gpu.mid"
# Short benchmarks (warm-up of up to 60 steps or 30 s on the GPU).
for model in gan midinet minibach autoencoder; do
    step 120 bench --json --model "$model"
done
log done
