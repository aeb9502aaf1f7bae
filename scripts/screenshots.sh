#!/usr/bin/env bash
# Takes the screenshots in screenshots/ from the running app under Xvfb:
#   first-launch.png        a fresh clone's first start: the Start here panel over a chorale,
#                           instruments from the system's SoundFont, the shipped runs listed
#   piano-roll.png          a chorale in the piano roll
#   training-dashboard.png  mini-bach training live on the dashboard
#   training-lstm.png       the LSTM training on the Celtic tunes
#   training-gan.png        the adversarial dashboard of a GAN run
#   training-midinet.png    MidiNet training, its chord-tone rates and gallery
#   latent-map.png          a 2-D VAE's map with an interpolation path (trains one first)
#   latent-map-grid.png     the same map in grid mode
#   rbm-gibbs.png           an RBM's Gibbs chain harmonising a chorale's soprano (trains one)
#   rnn-rbm-heat.png        an RNN-RBM continuing a chorale's first 2 bars, with its heat map (trains one)
#   anticipation.png        pins on a roll and the Anticipation-RNN's melody around them (trains a
#                           small one unless ANTICIPATION_RUN names a run)
#   rl-tuner.png            RL-Tuner tuning an lstm run on the dashboard (LSTM_RUN, or trains a small lstm)
#   crbm-constraints.png    a C-RBM sampled under a chorale's structure, C major and 4/4 (trains one)
#   compare.png             the Compare view over evaluated runs (COMPARE_MODELS=a folder of
#                           runs evaluated by scripts/evaluate-defaults.sh; skipped without it)
# Needs: xvfb, imagemagick, mesa-vulkan-drivers (scripts/setup.sh installs them).
# MUSELAB_BIN=path uses that binary (e.g. a release build) instead of building the debug one;
# SHOTS="training-gan training-midinet" takes only those.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${MUSELAB_BIN:-}" ]; then
  cargo build --all-targets --quiet
fi
BIN="${MUSELAB_BIN:-${CARGO_TARGET_DIR:-target}/debug/muselab}"
mkdir -p screenshots
DISPLAY_NUM=:97
STATE="$(mktemp -d)"
Xvfb "$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
APP=""
trap 'kill $APP $XVFB 2>/dev/null || true; rm -rf "$STATE"' EXIT
sleep 1

# shot NAME WAIT_SECONDS ARGS...: start the app with a fresh state folder, wait, capture, quit.
shot() {
  local name="$1" wait="$2"
  shift 2
  if [ -n "${SHOTS:-}" ] && [[ " $SHOTS " != *" $name "* ]]; then
    return
  fi
  rm -rf "$STATE"/*
  local skip="MUSELAB_NO_START_HERE=1"
  [ "$name" = first-launch ] && skip="MUSELAB_FIRST_LAUNCH=1"
  env "$skip" DISPLAY="$DISPLAY_NUM" XDG_DATA_HOME="$STATE" HOME="$STATE" MUSELAB_MODELS="${SHOT_MODELS:-$STATE/models}" \
    "$BIN" "$@" >/dev/null 2>&1 &
  APP=$!
  sleep "$wait"
  DISPLAY="$DISPLAY_NUM" import -window root "screenshots/$name.png"
  kill "$APP" 2>/dev/null || true
  wait "$APP" 2>/dev/null || true
  echo "wrote screenshots/$name.png"
}

MODELS="$(mktemp -d)"
trap 'kill $APP $XVFB 2>/dev/null || true; rm -rf "$STATE" "$MODELS"' EXIT

shot first-launch 8 assets/corpora/bach_chorales/bwv10_7.mid
shot piano-roll 8 assets/corpora/bach_chorales/bwv10_7.mid
shot training-dashboard "${TRAIN_WAIT:-25}" --start-training minibach
shot training-lstm "${TRAIN_WAIT:-25}" --start-training lstm
shot training-gan "${TRAIN_WAIT:-25}" --start-training gan
shot training-midinet "${TRAIN_WAIT:-25}" --start-training midinet
if [ -n "${COMPARE_MODELS:-}" ]; then
  SHOT_MODELS="$COMPARE_MODELS" shot compare 10 --compare bach
fi

if [ -z "${SHOTS:-}" ] || [[ " $SHOTS " == *" rbm-gibbs "* ]]; then
  "$BIN" train rbm --device cpu --out "$MODELS" >/dev/null
  RBM="$(ls -d "$MODELS"/rbm/*/ | head -1)"
  shot rbm-gibbs 9 --gibbs "$RBM" assets/corpora/bach_chorales/bwv10_7.mid
fi
if [ -z "${SHOTS:-}" ] || [[ " $SHOTS " == *" rnn-rbm-heat "* ]]; then
  "$BIN" train rnn-rbm --device cpu --out "$MODELS" >/dev/null
  RNNRBM="$(ls -d "$MODELS"/rnn-rbm/*/ | head -1)"
  shot rnn-rbm-heat 9 --gibbs "$RNNRBM" assets/corpora/bach_chorales/bwv10_7.mid
fi
if [ -z "${SHOTS:-}" ] || [[ " $SHOTS " == *" anticipation "* ]]; then
  RUN="${ANTICIPATION_RUN:-}"
  if [ -z "$RUN" ]; then
    "$BIN" train anticipation-rnn --device cpu --epochs 3 --set hidden=128 --out "$MODELS" >/dev/null
    RUN="$(ls -d "$MODELS"/anticipation-rnn/*/ | head -1)"
  fi
  shot anticipation 8 --anticipation "$RUN" --pins "0:D5,12:F#5,16:A4,32:rest,36:B4,48:E5,63:D4"
fi
if [ -z "${SHOTS:-}" ] || [[ " $SHOTS " == *" rl-tuner "* ]]; then
  mkdir -p "$MODELS/lstm"
  if [ -n "${LSTM_RUN:-}" ]; then
    cp -r "$LSTM_RUN" "$MODELS/lstm/"
  else
    "$BIN" train lstm --device cpu --epochs 1 --set hidden=64 --out "$MODELS" >/dev/null
  fi
  SHOT_MODELS="$MODELS" shot rl-tuner "${TRAIN_WAIT:-25}" --start-training rl-tuner
fi
if [ -z "${SHOTS:-}" ] || [[ " $SHOTS " == *" crbm-constraints "* ]]; then
  "$BIN" train crbm --device cpu --out "$MODELS" >/dev/null
  CRBM="$(ls -d "$MODELS"/crbm/*/ | head -1)"
  shot crbm-constraints 9 --gibbs "$CRBM" assets/corpora/bach_chorales/bwv10_7.mid
fi

if [ -n "${SHOTS:-}" ] && [[ " $SHOTS " != *" latent-map"* ]]; then
  exit 0
fi
"$BIN" train vae --device cpu --epochs "${VAE_EPOCHS:-15}" --max-pieces 800 --out "$MODELS" >/dev/null
RUN="$(ls -d "$MODELS"/vae/*/ | head -1)"
shot latent-map 12 --latent-map "$RUN" --map-demo
shot latent-map-grid 14 --latent-map "$RUN" --map-grid
