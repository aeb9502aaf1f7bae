//! The recurrent VAE (VRAE, MusicVAE "cat-mel_2bar" style): a bidirectional LSTM encodes a 2-bar
//! melody into the mean and log-variance of the latent; an LSTM decoder, started from a state
//! computed from z and fed z at every step together with the previous token, writes the melody
//! back. Training uses teacher forcing, optionally with scheduled sampling (feeding the
//! decoder's own guesses instead of the true previous token with some probability).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, LstmState};

use super::recurrent::{FusedBiLstm, FusedLstm};
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::latent::{KlSchedule, LatentModel, reparameterise, vae_losses};
use super::{Batches, Sample, Session, argmax, rows, sample_logits, scalar, targets};
use crate::data::{MelodyWindows, PitchRange};
use crate::music::Score;

/// The written part of the model card (the layers come from the module).
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "Variational(Autoencoder(RNN, RNN)): Bidirectional-LSTM encoder, LSTM decoder fed z every step",
    reference: "Roberts et al., \"A Hierarchical Latent Vector Model for Learning Long-Term Structure in Music\" (MusicVAE, 2018), cat-mel_2bar; Fabius & van Amersfoort, VRAE (2015)",
    deviations: &[
        (
            "one 256-unit layer per direction and a 32-D latent (MusicVAE: 2 × 2048 and 512)",
            "trainable in minutes on a 2-core CPU",
        ),
        (
            "no hierarchical conductor",
            "2-bar melodies, as MusicVAE's cat-mel_2bar model has none either",
        ),
        (
            "β annealed to 0.2 over 2000 steps, free bits optional",
            "MusicVAE's own schedule for its 2-bar models, shortened to our run lengths",
        ),
    ],
};

/// This model's entry in the registry ([`super::ModelKind::info`]).
pub const INFO: super::ModelInfo = super::ModelInfo {
    id: "rnn-vae",
    title: "recurrent VAE (MusicVAE)",
    description: "BiLSTM encoder and LSTM decoder around a 32-D latent (MusicVAE cat-mel_2bar style).",
    default_corpus: "celtic",
    learning_rate: 2e-3,
    family: super::Family::Latent,
    card: CARD,
    default_config: || super::ModelConfig::RnnVae(RnnVaeConfig::default()),
    session: build_session,
    load,
};

/// Builds this model's training session (the registry's `session`).
fn build_session(
    config: &super::ModelConfig,
    args: &super::SessionArgs<'_>,
) -> Result<(Box<dyn Session>, super::Vocabulary), String> {
    use super::ModelConfig;
    let ModelConfig::RnnVae(c) = config else {
        return Err(super::wrong_config(INFO.id));
    };
    let s = RnnVaeSession::new(
        c.clone(),
        args.scores,
        args.batch,
        args.learning_rate,
        args.seed,
        args.device,
    )?;
    let vocabulary = super::Vocabulary::Melody(s.range());
    Ok((Box::new(s), vocabulary))
}

crate::hyperparameters! {
    /// Hyperparameters of the recurrent VAE.
    pub struct RnnVaeConfig {
        /// Units of each direction of the bidirectional LSTM encoder.
        pub encoder_hidden: usize = 256; 1..=2048,
        /// Units of the LSTM decoder.
        pub decoder_hidden: usize = 256; 1..=2048,
        /// Latent dimensions (MusicVAE uses 512 for 2-bar melodies; 32 trains quickly here).
        pub latent: usize = 32; 1..=1024,
        /// Bars per melody, 16 steps each.
        pub bars: usize = 2; 1..=8,
        /// Final weight β of the KL term (MusicVAE's max_beta).
        pub max_beta: f64 = 0.2; 0.0..=100.0,
        /// Steps over which β rises linearly from 0 to max_beta.
        pub anneal_steps: usize = 2000; 0..=1000000,
        /// KL allowed for free, in bits per melody (MusicVAE's free_bits).
        pub free_bits: f64 = 0.0; 0.0..=10000.0,
        /// Scheduled sampling: probability of feeding the decoder its own previous guess (0 = pure teacher forcing).
        pub sampling_rate: f64 = 0.0; 0.0..=1.0,
        /// Step between two training windows, in 16th notes.
        pub stride: usize = 16; 1..=64,
    }
}

impl RnnVaeConfig {
    /// Steps per melody.
    pub fn steps(&self) -> usize {
        self.bars.clamp(1, 8) * 16
    }
}

/// The network.
#[derive(Module, Debug)]
pub struct RnnVae {
    encoder: FusedBiLstm,
    mean: Linear,
    log_var: Linear,
    initial_state: Linear,
    decoder: FusedLstm,
    output: Linear,
}

/// Token melodies (all as long) as one-hot steps `[melodies, steps, vocab]`.
pub fn one_hot_3d<T: AsRef<[usize]>>(rows: &[T], vocab: usize, device: &Device) -> Tensor<3> {
    let steps = rows.first().map_or(0, |r| r.as_ref().len());
    let mut data = vec![0.0f32; rows.len() * steps * vocab];
    for (r, row) in rows.iter().map(AsRef::as_ref).enumerate() {
        for (s, &t) in row.iter().enumerate() {
            data[(r * steps + s) * vocab + t.min(vocab - 1)] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(data, [rows.len(), steps, vocab]), device)
}

impl RnnVae {
    /// Builds the network for melodies over `vocab` tokens.
    pub fn new(config: &RnnVaeConfig, vocab: usize, device: &Device) -> Self {
        Self {
            encoder: FusedBiLstm::new(vocab, config.encoder_hidden, device),
            mean: LinearConfig::new(2 * config.encoder_hidden, config.latent).init(device),
            log_var: LinearConfig::new(2 * config.encoder_hidden, config.latent).init(device),
            initial_state: LinearConfig::new(config.latent, 2 * config.decoder_hidden).init(device),
            // Input: the previous token (vocab + a start token) and z.
            decoder: FusedLstm::new(vocab + 1 + config.latent, config.decoder_hidden, device),
            output: LinearConfig::new(config.decoder_hidden, vocab).init(device),
        }
    }

    /// # Shapes
    /// - melodies: `[batch, steps, vocab]` one-hot
    /// - returns: mean and log-variance, each `[batch, latent]`
    pub fn encode(&self, melodies: Tensor<3>) -> (Tensor<2>, Tensor<2>) {
        // Final forward and reverse states side by side: [batch, 2 * hidden].
        let (_, h) = self.encoder.forward_sequence(melodies);
        (
            self.mean.forward(h.clone()),
            self.log_var.forward(h).clamp(-12.0, 12.0),
        )
    }

    fn start_state(&self, z: Tensor<2>) -> LstmState<2> {
        let both = tanh(self.initial_state.forward(z)); // [batch, 2 * hidden]
        let [_, width] = both.dims();
        let half = width / 2;
        let hidden = both.clone().narrow(1, 0, half);
        let cell = both.narrow(1, half, half);
        LstmState::new(cell, hidden)
    }

    /// Decoder inputs: previous tokens (one-hot, start token first) with z at every step.
    fn decoder_input(previous: Tensor<3>, z: &Tensor<2>) -> Tensor<3> {
        let [_, steps, _] = previous.dims();
        let zs = z.clone().unsqueeze_dim::<3>(1).repeat_dim(1, steps); // [batch, steps, latent]
        Tensor::cat(vec![previous, zs], 2)
    }

    /// Teacher-forced decoding.
    ///
    /// # Shapes
    /// - z: `[batch, latent]`; previous: `[batch, steps, vocab + 1]` (start token, then the
    ///   melody shifted by one)
    /// - returns: `[batch * steps, vocab]` logits
    pub fn decode_teacher(&self, z: Tensor<2>, previous: Tensor<3>) -> Tensor<2> {
        let [batch, steps, _] = previous.dims();
        let state = self.start_state(z.clone());
        let (h, _) =
            self.decoder
                .forward_sequence(Self::decoder_input(previous, &z), Some(state), false);
        let [_, _, hidden] = h.dims();
        self.output.forward(h.reshape([batch * steps, hidden]))
    }

    /// Step-by-step decoding; `choose` picks each next token from `(row, step, logits)`.
    /// Returns the logits of every step, `[batch * steps, vocab]` (row-major by batch).
    pub fn decode_stepwise(
        &self,
        z: Tensor<2>,
        steps: usize,
        vocab: usize,
        mut choose: impl FnMut(usize, usize, &[f32]) -> usize,
    ) -> (Tensor<2>, Vec<Vec<usize>>) {
        let [batch, _] = z.dims();
        let device = z.device();
        let mut state = self.start_state(z.clone());
        let mut previous: Vec<Vec<usize>> = vec![vec![vocab]; batch];
        let mut all_logits = Vec::with_capacity(steps);
        let mut tokens: Vec<Vec<usize>> = vec![Vec::with_capacity(steps); batch];
        for step in 0..steps {
            let input = Self::decoder_input(one_hot_3d(&previous, vocab + 1, &device), &z);
            let (h, s) = self.decoder.forward_sequence(input, Some(state), false);
            state = s;
            let [_, _, hidden] = h.dims();
            let logits = self.output.forward(h.reshape([batch, hidden])); // [batch, vocab]
            let values = rows(logits.clone());
            for (b, row) in values.iter().enumerate() {
                let next = choose(b, step, row);
                tokens[b].push(next);
                previous[b] = vec![next];
            }
            all_logits.push(logits.unsqueeze_dim::<3>(1));
        }
        let logits = Tensor::cat(all_logits, 1).reshape([batch * steps, vocab]);
        (logits, tokens)
    }
}

/// A trained recurrent VAE with what it needs to encode and decode.
#[derive(Debug, Clone)]
pub struct RnnVaeModel {
    /// The network.
    pub model: RnnVae,
    /// Its hyperparameters.
    pub config: RnnVaeConfig,
    /// Its melody range.
    pub range: PitchRange,
}

impl LatentModel for RnnVaeModel {
    fn latent_size(&self) -> usize {
        self.config.latent
    }
    fn steps(&self) -> usize {
        self.config.steps()
    }
    fn range(&self) -> PitchRange {
        self.range
    }
    fn encode_mean(&self, melodies: &[&[usize]], device: &Device) -> Vec<Vec<f32>> {
        let owned: Vec<Vec<usize>> = melodies.iter().map(|m| m.to_vec()).collect();
        rows(
            self.model
                .encode(one_hot_3d(&owned, self.range.vocab_size(), device))
                .0,
        )
    }
    fn reconstruction_logits(&self, melodies: &[&[usize]], device: &Device) -> Vec<Vec<f32>> {
        let vocab = self.range.vocab_size();
        let owned: Vec<Vec<usize>> = melodies.iter().map(|m| m.to_vec()).collect();
        let (mean, _) = self.model.encode(one_hot_3d(&owned, vocab, device));
        // Teacher forcing: the start token, then the true melody shifted by one.
        let previous: Vec<Vec<usize>> = owned
            .iter()
            .map(|m| {
                std::iter::once(vocab)
                    .chain(m[..m.len().saturating_sub(1)].iter().copied())
                    .collect()
            })
            .collect();
        rows(
            self.model
                .decode_teacher(mean, one_hot_3d(&previous, vocab + 1, device)),
        )
    }
    fn decode(
        &self,
        z: &[Vec<f32>],
        temperature: f64,
        seed: u64,
        device: &Device,
    ) -> Vec<Vec<usize>> {
        let latent = self.config.latent;
        let data: Vec<f32> = z
            .iter()
            .flat_map(|v| v.iter().copied().chain(std::iter::repeat(0.0)).take(latent))
            .collect();
        let z = Tensor::<2>::from_data(TensorData::new(data, [z.len(), latent]), device);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        self.model
            .decode_stepwise(z, self.steps(), self.range.vocab_size(), |_, _, row| {
                sample_logits(row, temperature, &mut rng)
            })
            .1
    }
}

/// The registry's `load`.
fn load(
    config: &super::ModelConfig,
    vocabulary: super::Vocabulary,
    path: &std::path::Path,
    device: &Device,
) -> Result<Box<dyn super::Trained>, String> {
    let (super::ModelConfig::RnnVae(c), super::Vocabulary::Melody(range)) = (config, vocabulary)
    else {
        return Err(super::missing_vocabulary(path));
    };
    Ok(Box::new(RnnVaeModel {
        model: super::load_module(RnnVae::new(c, range.vocab_size(), device), path)
            .map_err(|e| format!("{e}{}", super::recurrent::OLD_LAYOUT))?,
        config: c.clone(),
        range,
    }))
}

/// The recurrent VAE under training.
pub struct RnnVaeSession {
    model: RnnVae,
    optimizer: burn::optim::ModuleOptimizer,
    config: RnnVaeConfig,
    schedule: KlSchedule,
    data: MelodyWindows,
    train: Batches,
    validation: Vec<usize>,
    learning_rate: f64,
    step: usize,
    rng: rand::rngs::StdRng,
    device: Device,
    /// The baselines' onset accuracy on the validation windows.
    baselines: Vec<(String, f64)>,
}

impl RnnVaeSession {
    /// Cuts the melodies into windows and builds a fresh network.
    pub fn new(
        config: RnnVaeConfig,
        scores: &[Score],
        batch: usize,
        learning_rate: f64,
        seed: u64,
        device: &Device,
    ) -> Result<Self, String> {
        let data = MelodyWindows::from_scores(
            scores,
            Some("Soprano"),
            config.steps(),
            config.stride,
            None,
        );
        if data.windows.is_empty() {
            return Err("no melody windows in this corpus".into());
        }
        let (train, mut validation) = data.split();
        if validation.is_empty() {
            validation = train.iter().copied().take(8).collect();
        }
        let baselines = crate::measures::ngram::window_baselines(
            &data.windows,
            data.range.vocab_size(),
            (&train, &validation),
            256,
        );
        Ok(Self {
            baselines,
            model: RnnVae::new(&config, data.range.vocab_size(), device),
            optimizer: super::optim::adam(0.9),
            schedule: KlSchedule {
                max_beta: config.max_beta,
                anneal_steps: config.anneal_steps,
                free_bits: config.free_bits,
            },
            config,
            train: Batches::new(train, batch),
            validation,
            data,
            learning_rate,
            step: 0,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            device: device.clone(),
        })
    }

    /// The melody range (saved in the checkpoint's config).
    pub fn range(&self) -> PitchRange {
        self.data.range
    }

    fn losses(
        &mut self,
        model: &RnnVae,
        indices: &[usize],
        training: bool,
    ) -> (Tensor<1>, Tensor<1>, Tensor<1>, Tensor<2>, Vec<usize>) {
        let vocab = self.data.range.vocab_size();
        let steps = self.config.steps();
        let melodies: Vec<Vec<usize>> = indices
            .iter()
            .map(|&i| self.data.windows[i].clone())
            .collect();
        let (mean, log_var) = model.encode(one_hot_3d(&melodies, vocab, &self.device));
        let z = reparameterise(mean.clone(), log_var.clone(), training);
        let rate = self.config.sampling_rate;
        let logits = if training && rate > 0.0 {
            let rng = &mut self.rng;
            model
                .decode_stepwise(z, steps, vocab, |b, step, row| {
                    if rng.random_bool(rate.clamp(0.0, 1.0)) {
                        argmax(row)
                    } else {
                        melodies[b][step]
                    }
                })
                .0
        } else {
            // Teacher forcing: the previous true token at every step.
            let previous: Vec<Vec<usize>> = melodies
                .iter()
                .map(|m| {
                    std::iter::once(vocab)
                        .chain(m[..steps - 1].iter().copied())
                        .collect()
                })
                .collect();
            model.decode_teacher(z, one_hot_3d(&previous, vocab + 1, &self.device))
        };
        let refs: Vec<&[usize]> = melodies.iter().map(Vec::as_slice).collect();
        let (total, reconstruction, kl) = vae_losses(
            logits.clone(),
            targets(&refs, &self.device),
            steps,
            (mean, log_var),
            &self.schedule,
            self.step,
        );
        (total, reconstruction, kl, logits, melodies.concat())
    }
}

impl Session for RnnVaeSession {
    fn loss_names(&self) -> Vec<String> {
        vec!["loss".into(), "reconstruction".into(), "KL".into()]
    }
    fn steps_per_epoch(&self) -> usize {
        self.train.len()
    }
    fn start_epoch(&mut self, rng: &mut rand::rngs::StdRng) {
        self.train.shuffle(rng);
        // The session's own draws restart from the run's generator each epoch, so that a
        // resumed run continues with the same draws (the worker replays the epochs before).
        self.rng = rand::rngs::StdRng::seed_from_u64(rng.random());
    }
    fn restore(&mut self, global_step: usize, _state: &[f64]) {
        self.step = global_step;
    }
    fn train_step(&mut self, step: usize) -> super::StepLosses {
        let indices = self.train.get(step).to_vec();
        let model = self.model.clone();
        let (total, reconstruction, kl, _, _) = self.losses(&model, &indices, true);
        super::optimize(
            &mut self.optimizer,
            self.learning_rate,
            &mut self.model,
            total.backward(),
        );
        self.step += 1;
        super::StepLosses::new([total, reconstruction, kl])
    }
    fn validate(&mut self) -> Vec<(String, f64)> {
        let model = self.model.valid();
        let indices: Vec<usize> = self.validation.iter().copied().take(256).collect();
        let (_, reconstruction, kl, _, flat) = self.losses(&model, &indices, false);
        // Accuracy of free-running greedy decoding from the mean: what the map will play.
        let trained = RnnVaeModel {
            model,
            config: self.config.clone(),
            range: self.data.range,
        };
        let refs: Vec<&[usize]> = indices
            .iter()
            .map(|&i| self.data.windows[i].as_slice())
            .collect();
        let codes = trained.encode_mean(&refs, &self.device);
        let decoded = trained.decode(&codes, 0.0, 0, &self.device).concat();
        let correct = decoded.iter().zip(&flat).filter(|(a, b)| a == b).count();
        // Onsets recovered by that free-running decoding (HOLD cannot earn these).
        let onsets: Vec<(usize, usize)> = decoded
            .iter()
            .zip(&flat)
            .filter(|(_, t)| crate::measures::predictive::is_onset(**t))
            .map(|(a, b)| (*a, *b))
            .collect();
        let onset_hits = onsets.iter().filter(|(a, b)| a == b).count();
        let mut out = vec![
            ("validation reconstruction".into(), scalar(reconstruction)),
            ("validation KL".into(), scalar(kl)),
            (
                "reconstruction accuracy".into(),
                correct as f64 / flat.len().max(1) as f64,
            ),
            (
                "onset accuracy".into(),
                onset_hits as f64 / onsets.len().max(1) as f64,
            ),
        ];
        out.extend(self.baselines.iter().cloned());
        out
    }
    fn samples(&mut self, seed: u64) -> Vec<Sample> {
        let trained = RnnVaeModel {
            model: self.model.valid(),
            config: self.config.clone(),
            range: self.data.range,
        };
        super::latent::standard_samples(&trained, &self.data, &self.validation, seed, &self.device)
    }
    fn flops_per_example(&self) -> Option<f64> {
        // Encoder, decoder and output layer run once per step; the latent layers once.
        let steps = self.config.steps() as f64;
        let per_step = |name: &str| {
            if ["encoder", "decoder", "output"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                steps
            } else {
                1.0
            }
        };
        let layers = self.layers();
        Some(super::card::matmul_flops(&layers, per_step) * super::card::TRAINING_PASSES)
    }

    fn layers(&self) -> Vec<super::card::LayerShape> {
        super::card::layers("", &self.model)
    }

    fn save(&self, path: &std::path::Path) -> Result<(), String> {
        super::save_with_optimizer(&self.model, &self.optimizer, path)
    }
    fn load(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.model = super::load_with_optimizer(self.model.clone(), &mut self.optimizer, path)
            .map_err(|e| format!("{e}{}", super::recurrent::OLD_LAYOUT))?;
        Ok(())
    }
}
