//! Using a trained model: load a checkpoint into an inference-only model (no autodiff) and
//! generate — harmonize a melody (mini-bach), decode random codes (autoencoders), write or
//! continue a tune (LSTM).

use std::path::Path;

use burn::tensor::Device;
use rand::{Rng, SeedableRng};

use crate::data::encoding::{pick_track, voice_tokens};
use crate::models::autoencoder::{self, Autoencoder, AutoencoderConfig};
use crate::models::latent::{self, LatentModel};
use crate::models::lstm::{self, LstmMelody, LstmMelodyConfig};
use crate::models::minibach::{self, MiniBach, VoiceRanges};
use crate::models::rnn_vae::{RnnVae, RnnVaeModel};
use crate::models::vae::{Vae, VaeModel};
use crate::models::{ModelKind, load_module};
use crate::music::Score;
use crate::training::checkpoint::{self, MODEL_FILE};
use crate::training::{ModelConfig, RunConfig, Vocabulary};

/// What to generate.
#[derive(Clone, Debug, Default)]
pub struct GenerateOptions {
    /// Seed of the random choices.
    pub seed: u64,
    /// Sampling temperature (0: always the most likely token).
    pub temperature: f64,
    /// A melody to harmonize (mini-bach) or continue (LSTM).
    pub melody: Option<Score>,
    /// The melody's track to use (default: the first with notes).
    pub track: Option<String>,
    /// Bars of the melody that prime the LSTM.
    pub prime_bars: usize,
    /// A chord progression for MidiNet ("C G Am F"); default: the chords of `melody`.
    pub chords: Option<String>,
}

/// A trained model ready to generate.
pub enum LoadedModel {
    /// mini-bach.
    Minibach {
        /// The network.
        model: MiniBach,
        /// Its voice ranges.
        ranges: VoiceRanges,
    },
    /// An autoencoder.
    Autoencoder {
        /// The network.
        model: Autoencoder,
        /// Its hyperparameters.
        config: AutoencoderConfig,
        /// Its melody range.
        range: crate::data::PitchRange,
    },
    /// A VAE or recurrent VAE.
    Latent(Box<dyn LatentModel>),
    /// C-RNN-GAN's generator.
    CrnnGan {
        /// The generator (boxed: two LSTMs make it large).
        generator: Box<crate::models::crnn_gan::CrnnGenerator>,
        /// Its hyperparameters.
        config: crate::models::crnn_gan::CrnnGanConfig,
    },
    /// MidiNet's generator.
    Midinet {
        /// The generator (boxed: it is large).
        generator: Box<crate::models::midinet::MidiNetGenerator>,
        /// Its hyperparameters.
        config: crate::models::midinet::MidiNetConfig,
        /// Lowest pitch.
        low: u8,
        /// Pitches.
        pitches: usize,
    },
    /// A GAN's generator.
    Gan {
        /// The generator.
        generator: crate::models::gan::Generator,
        /// Its hyperparameters.
        config: crate::models::gan::GanConfig,
        /// Lowest pitch of its rolls.
        low: u8,
        /// Steps per bar.
        steps: usize,
    },
    /// The LSTM.
    Lstm {
        /// The network.
        model: LstmMelody,
        /// Its hyperparameters.
        config: LstmMelodyConfig,
        /// Its melody range.
        range: crate::data::PitchRange,
    },
}

impl LoadedModel {
    /// Loads a checkpoint folder onto `device`; `expected` checks the model kind.
    pub fn load(
        dir: &Path,
        expected: Option<ModelKind>,
        device: &Device,
    ) -> Result<(Self, RunConfig), String> {
        let (config, _) = checkpoint::read(dir, expected).map_err(|e| e.to_string())?;
        let path = dir.join(MODEL_FILE);
        let unknown = || format!("{}: the checkpoint has no vocabulary", dir.display());
        let model = match (&config.hyperparameters, config.vocabulary) {
            (ModelConfig::Minibach(c), Vocabulary::Voices(ranges)) => Self::Minibach {
                model: load_module(minibach::build(c, &ranges, device), &path)?,
                ranges,
            },
            (ModelConfig::Autoencoder(c), Vocabulary::Melody(range)) => Self::Autoencoder {
                model: load_module(Autoencoder::new(c, range.vocab_size(), device), &path)?,
                config: c.clone(),
                range,
            },
            (ModelConfig::Vae(c), Vocabulary::Melody(range)) => Self::Latent(Box::new(VaeModel {
                model: load_module(Vae::new(c, range.vocab_size(), device), &path)?,
                config: c.clone(),
                range,
            })),
            (ModelConfig::RnnVae(c), Vocabulary::Melody(range)) => {
                Self::Latent(Box::new(RnnVaeModel {
                    model: load_module(RnnVae::new(c, range.vocab_size(), device), &path)?,
                    config: c.clone(),
                    range,
                }))
            }
            (
                ModelConfig::Gan(c),
                Vocabulary::Roll {
                    low,
                    pitches,
                    steps,
                },
            ) => Self::Gan {
                generator: load_module(
                    crate::models::gan::Generator::new(c, steps * pitches, device),
                    &path,
                )?,
                config: c.clone(),
                low,
                steps,
            },
            (ModelConfig::CrnnGan(c), Vocabulary::Events) => Self::CrnnGan {
                generator: Box::new(load_module(
                    crate::models::crnn_gan::CrnnGenerator::new(c, device),
                    &path,
                )?),
                config: c.clone(),
            },
            (ModelConfig::Midinet(c), Vocabulary::Roll { low, pitches, .. }) => Self::Midinet {
                generator: Box::new(load_module(
                    crate::models::midinet::MidiNetGenerator::new(c, pitches, device),
                    &path,
                )?),
                config: c.clone(),
                low,
                pitches,
            },
            (ModelConfig::Lstm(c), Vocabulary::Melody(range)) => Self::Lstm {
                model: load_module(LstmMelody::new(c, &range, device), &path)?,
                config: c.clone(),
                range,
            },
            _ => return Err(unknown()),
        };
        Ok((model, config))
    }

    /// The latent model, for the map and `encode`/`decode`/`interpolate`.
    pub fn latent(&self) -> Option<&dyn LatentModel> {
        match self {
            Self::Latent(model) => Some(model.as_ref()),
            _ => None,
        }
    }

    /// Generates a piece.
    pub fn generate(&self, options: &GenerateOptions, device: &Device) -> Result<Score, String> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
        match self {
            Self::Minibach { model, ranges } => {
                let melody = options
                    .melody
                    .as_ref()
                    .ok_or("mini-bach harmonizes a melody: give one (--melody FILE.mid)")?;
                minibach::harmonize_score(
                    model,
                    ranges,
                    melody,
                    options.track.as_deref(),
                    options.temperature,
                    &mut rng,
                    device,
                )
            }
            Self::Autoencoder {
                model,
                config,
                range,
            } => {
                let melodies = autoencoder::generate(
                    model,
                    config,
                    range,
                    1,
                    options.seed,
                    options.temperature,
                    device,
                );
                Ok(autoencoder::melodies_to_score(
                    "autoencoder",
                    &["Melody".into()],
                    &melodies,
                    range,
                ))
            }
            Self::Gan {
                generator,
                config,
                low,
                steps,
            } => Ok(crate::models::gan::generate(
                generator,
                config,
                *low,
                *steps,
                4,
                options.seed,
                device,
            )),
            Self::CrnnGan { generator, config } => Ok(crate::models::crnn_gan::generate(
                generator,
                config,
                options.seed,
                device,
            )),
            Self::Midinet {
                generator,
                config,
                low,
                pitches,
            } => {
                let chords = match &options.chords {
                    Some(text) => crate::music::chords::parse_progression(text)?,
                    None => match &options.melody {
                        Some(piece) => crate::music::chords::chords_per_bar(piece),
                        None => crate::music::chords::parse_progression("C G Am F C F G C")?,
                    },
                };
                if chords.is_empty() {
                    return Err("give at least one chord (--chords \"C G Am F\")".into());
                }
                Ok(crate::models::midinet::generate(
                    generator,
                    config,
                    *low,
                    *pitches,
                    &chords,
                    options.seed,
                    device,
                ))
            }
            Self::Latent(model) => {
                // A point of the prior N(0, I), from the seed.
                let z: Vec<f32> = (0..model.latent_size())
                    .map(|_| {
                        let (u, v): (f32, f32) = (rng.random_range(1e-6..1.0), rng.random());
                        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
                    })
                    .collect();
                let tokens = model
                    .decode(&[z], options.temperature, options.seed, device)
                    .remove(0);
                Ok(latent::melody_score("vae", &tokens, &model.range()))
            }
            Self::Lstm {
                model,
                config,
                range,
            } => {
                let prime = match &options.melody {
                    Some(melody) => {
                        let grid = melody.to_grid(4);
                        let track = pick_track(&grid.tracks, options.track.as_deref())
                            .ok_or_else(|| format!("{}: no notes to continue", melody.name))?;
                        let bars = options.prime_bars.max(1);
                        voice_tokens(&track.notes, 0, bars * 16, range)
                    }
                    None => Vec::new(),
                };
                let tokens = lstm::generate(
                    model,
                    range,
                    &prime,
                    config.generate_steps,
                    options.temperature,
                    options.seed,
                    device,
                );
                Ok(lstm::tokens_to_score("lstm", &tokens, range))
            }
        }
    }
}
