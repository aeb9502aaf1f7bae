#!/usr/bin/env bash
# Takes the screenshots in screenshots/ from the running app under Xvfb:
#   first-launch.png        a fresh clone's first start: the Start here panel over a chorale,
#                           instruments from the system's SoundFont, the shipped runs listed
#   piano-roll.png          a chorale in the piano roll
#   training-dashboard.png  mini-bach training live on the dashboard
#   training-lstm.png       the LSTM training on the Celtic tunes
#   training-gan.png        the adversarial dashboard of a GAN run
#   training-midinet.png    MidiNet training, its chord-tone rates and gallery
#   latent-map.png          the shipped 2-D VAE's map with an interpolation path
#   latent-map-grid.png     the same map in grid mode
#   rbm-gibbs.png           the shipped RBM's Gibbs chain harmonising a chorale's soprano
#   rnn-rbm-heat.png        the shipped RNN-RBM continuing a chorale's first 2 bars, with its heat map
#   anticipation.png        pins on a roll and the shipped Anticipation-RNN's melody around them
#                           (ANTICIPATION_RUN names another run)
#   rl-tuner.png            RL-Tuner tuning the shipped lstm run on the dashboard
#   crbm-constraints.png    the shipped C-RBM sampled under a chorale's structure, C major and 4/4
#   compare.png             the Compare view over the shipped runs of the chorales and their saved
#                           evaluations (COMPARE_MODELS=a folder of runs evaluated by
#                           scripts/evaluate-defaults.sh adds those)
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


shot first-launch 8 assets/corpora/bach_chorales/bwv10_7.mid
shot piano-roll 8 assets/corpora/bach_chorales/bwv10_7.mid
shot training-dashboard "${TRAIN_WAIT:-25}" --start-training minibach
shot training-lstm "${TRAIN_WAIT:-25}" --start-training lstm
shot training-gan "${TRAIN_WAIT:-25}" --start-training gan
shot training-midinet "${TRAIN_WAIT:-25}" --start-training midinet
SHOT_MODELS="${COMPARE_MODELS:-$STATE/models}" shot compare 10 --compare bach

# The views of trained models use the shipped runs in models/ (scripts/pretrain.sh).
shot rbm-gibbs 9 --gibbs models/rbm/shipped assets/corpora/bach_chorales/bwv10_7.mid
shot rnn-rbm-heat 9 --gibbs models/rnn-rbm/shipped assets/corpora/bach_chorales/bwv10_7.mid
shot anticipation 8 --anticipation "${ANTICIPATION_RUN:-models/anticipation-rnn/shipped}" \
  --pins "0:D5,12:F#5,16:A4,32:rest,36:B4,48:E5,63:D4"
# RL-Tuner tunes the newest lstm run: the shipped one (the state folder has none of its own).
shot rl-tuner "${TRAIN_WAIT:-25}" --start-training rl-tuner
shot crbm-constraints 9 --gibbs models/crbm/shipped assets/corpora/bach_chorales/bwv10_7.mid
shot latent-map 12 --latent-map models/vae/shipped --map-demo
shot latent-map-grid 14 --latent-map models/vae/shipped --map-grid
