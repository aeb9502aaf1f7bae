//! C-RNN-GAN (Mogren 2016, olofmogren/c-rnn-gan): music as a sequence of note events, each
//! `[duration, pitch, velocity, time since the previous onset]` (scaled to about [-1, 1]). The
//! generator is two stacked LSTMs fed uniform noise at every step; the discriminator is two
//! stacked bidirectional LSTMs whose per-step verdicts are averaged. Options from the reference:
//! feature matching, the freezing rule (skip D's update when it is far ahead, G's when it is),
//! and pretraining G with a regression loss. With `tones` = 1 (the reference's default
//! `tones_per_cell`) a chord becomes several steps with zero time between them; with 2 or 3, notes
//! that start together share a step.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};

use super::recurrent::{FusedBiLstm, FusedLstm};
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::{Sample, Session, scalar};
use crate::music::{Note, Score, Track};

/// The written part of the model card (the layers come from the module).
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "GAN(Bidirectional-LSTM², LSTM²) on note events",
    reference: "Mogren, \"C-RNN-GAN: Continuous recurrent neural networks with adversarial training\" (2016); olofmogren/c-rnn-gan",
    deviations: &[
        (
            "128 units per LSTM layer (reference: 350)",
            "trainable on a 2-core CPU",
        ),
        (
            "feature matching of the batch spread as well as the mean, of D's features and of the events (reference: the mean of D's features)",
            "with the mean alone G wrote one sequence for every noise (samples 3 % as varied as the corpus after 5 epochs); with the spread, 108 % after 3",
        ),
        (
            "events on the 16th-note grid when decoded",
            "so its output shares the grid every measure and baseline uses",
        ),
    ],
};

/// This model's entry in the registry ([`super::ModelKind::info`]).
pub const INFO: super::ModelInfo = super::ModelInfo {
    id: "crnn-gan",
    title: "C-RNN-GAN (Mogren)",
    description: "LSTMs generate note events from noise; bidirectional LSTMs judge them (Mogren 2016).",
    default_corpus: "bach",
    learning_rate: 2e-4,
    family: super::Family::Adversarial,
    card: CARD,
    default_config: || super::ModelConfig::CrnnGan(CrnnGanConfig::default()),
    session: build_session,
    load,
};

/// Builds this model's training session (the registry's `session`).
fn build_session(
    config: &super::ModelConfig,
    args: &super::SessionArgs<'_>,
) -> Result<(Box<dyn Session>, super::Vocabulary), String> {
    use super::ModelConfig;
    let ModelConfig::CrnnGan(c) = config else {
        return Err(super::wrong_config(INFO.id));
    };
    // It has no validation measures of its own: it never sees the held-out pieces.
    let s = CrnnGanSession::new(
        c.clone(),
        args.training_only,
        args.batch,
        args.learning_rate,
        args.seed,
        args.device,
    )?;
    Ok((Box::new(s), super::Vocabulary::Events))
}

crate::hyperparameters! {
    /// Hyperparameters of C-RNN-GAN.
    pub struct CrnnGanConfig {
        /// Note events per sequence.
        pub sequence: usize = 32; 2..=512,
        /// Units of each LSTM layer (the reference uses 350).
        pub hidden: usize = 128; 1..=2048,
        /// Uniform noise features fed to the generator at every step.
        pub noise: usize = 8; 1..=256,
        /// G's loss: 0 = fool D; 1 = match the batch mean of D's last-layer features on real sequences, step by step (Mogren's feature matching); 2 = match their batch spread too, so that a collapsed G (no spread) is far from the corpus.
        pub feature_matching: usize = 2; 0..=2,
        /// 1 = freezing rule: skip D's update while its loss is below 70 % of G's, and G's while its loss is below 70 % of D's.
        pub freezing: usize = 1; 0..=1,
        /// Steps of pretraining G alone with a regression (mean squared error) loss to real sequences.
        pub pretrain_steps: usize = 0; 0..=1000000,
        /// Step between two training windows, in steps.
        pub stride: usize = 16; 1..=512,
        /// Tones per step, 1 to 3 (the reference's tones_per_cell): notes that start together share a step.
        pub tones: usize = 1; 1..=3,
    }
}

/// Features per tone: duration, pitch, velocity, time since the previous step's onset.
pub const FEATURES: usize = 4;

/// Velocity feature of a silent tone slot (real velocities encode to at least -0.6).
const SILENT: f32 = -1.0;

/// Event scaling: a value in these units maps to about [-1, 1].
fn encode_event(duration_q: f64, pitch: u8, velocity: u8, delta_q: f64) -> [f32; FEATURES] {
    [
        (duration_q / 2.0 - 1.0).clamp(-1.0, 1.0) as f32,
        ((f64::from(pitch) - 64.0) / 24.0).clamp(-1.0, 1.0) as f32,
        (f64::from(velocity) / 127.0 * 1.6 - 0.6).clamp(-0.6, 1.0) as f32,
        (delta_q / 2.0 - 1.0).clamp(-1.0, 1.0) as f32,
    ]
}

/// Decodes steps of `tones` tone slots each (scaled features, flattened step after step) into a
/// score at 480 ticks per quarter on a 16th grid. The first slot of a step carries the time
/// since the previous step; a slot whose velocity feature is below -0.8 is silent.
pub fn events_to_score(name: &str, events: &[[f32; FEATURES]], tones: usize) -> Score {
    let sixteenth = 120u64;
    let to_q = |v: f32| ((f64::from(v) + 1.0) * 2.0).max(0.0);
    let mut onset = 0u64;
    let mut notes = Vec::new();
    for (i, step) in events.chunks(tones.max(1)).enumerate() {
        if i > 0 {
            onset += (to_q(step[0][3]) * 4.0).round() as u64 * sixteenth;
        }
        for e in step.iter().filter(|e| e[2] >= -0.8) {
            let duration = ((to_q(e[0]) * 4.0).round() as u64).max(1) * sixteenth;
            let pitch = (f64::from(e[1]) * 24.0 + 64.0).round().clamp(21.0, 108.0) as u8;
            let velocity = ((f64::from(e[2]) + 0.6) / 1.6 * 127.0)
                .round()
                .clamp(20.0, 127.0) as u8;
            notes.push(Note {
                pitch,
                start: onset,
                duration,
                velocity,
            });
        }
    }
    Score::new(name, 480).with_track(Track::new("C-RNN-GAN", notes))
}

/// Event windows of the corpus: all tracks merged into one stream of steps; notes that start
/// together share a step, up to `tones` of them (the highest first; with 1, a chord becomes
/// several steps with no time between them). Each window is `sequence` steps of `tones` slots.
pub fn event_windows(
    scores: &[Score],
    sequence: usize,
    stride: usize,
    tones: usize,
) -> Vec<Vec<[f32; FEATURES]>> {
    let tones = tones.max(1);
    let mut windows = Vec::new();
    for score in scores {
        let tpq = f64::from(score.ticks_per_quarter.max(1));
        let mut notes: Vec<Note> = score.notes().copied().collect();
        notes.sort_by_key(|n| (n.start, std::cmp::Reverse(n.pitch)));
        // Group into steps.
        let mut steps: Vec<Vec<Note>> = Vec::new();
        for note in notes {
            match steps.last_mut() {
                Some(step) if step[0].start == note.start && step.len() < tones => step.push(note),
                _ => steps.push(vec![note]),
            }
        }
        let mut events: Vec<[f32; FEATURES]> = Vec::with_capacity(steps.len() * tones);
        for (i, step) in steps.iter().enumerate() {
            let delta = if i == 0 {
                0
            } else {
                step[0].start - steps[i - 1][0].start
            };
            for k in 0..tones {
                events.push(match step.get(k) {
                    Some(n) => encode_event(
                        n.duration as f64 / tpq,
                        n.pitch,
                        n.velocity,
                        if k == 0 { delta as f64 / tpq } else { 0.0 },
                    ),
                    None => [-1.0, 0.0, SILENT, -1.0],
                });
            }
        }
        let mut from = 0;
        while (from + sequence) * tones <= events.len() {
            windows.push(events[from * tones..(from + sequence) * tones].to_vec());
            from += stride.max(1);
        }
    }
    windows
}

/// The generator: noise per step → two LSTMs → event features.
#[derive(Module, Debug)]
pub struct CrnnGenerator {
    lstm1: FusedLstm,
    lstm2: FusedLstm,
    output: Linear,
}

/// The discriminator: two bidirectional LSTMs → a verdict per step, averaged.
#[derive(Module, Debug)]
pub struct CrnnDiscriminator {
    lstm1: FusedBiLstm,
    lstm2: FusedBiLstm,
    output: Linear,
}

impl CrnnGenerator {
    /// Builds G.
    pub fn new(config: &CrnnGanConfig, device: &Device) -> Self {
        Self {
            lstm1: FusedLstm::new(config.noise, config.hidden, device),
            lstm2: FusedLstm::new(config.hidden, config.hidden, device),
            output: LinearConfig::new(config.hidden, FEATURES * config.tones()).init(device),
        }
    }

    /// # Shapes
    /// - noise: `[batch, steps, noise]`
    /// - returns: `[batch, steps, FEATURES * tones]` in (-1, 1)
    pub fn forward(&self, noise: Tensor<3>) -> Tensor<3> {
        let (h, _) = self.lstm1.forward_sequence(noise, None, false);
        let (h, _) = self.lstm2.forward_sequence(h, None, false);
        tanh(self.output.forward(h))
    }
}

impl CrnnDiscriminator {
    /// Builds D.
    pub fn new(config: &CrnnGanConfig, device: &Device) -> Self {
        Self {
            lstm1: FusedBiLstm::new(FEATURES * config.tones(), config.hidden, device),
            lstm2: FusedBiLstm::new(2 * config.hidden, config.hidden, device),
            output: LinearConfig::new(2 * config.hidden, 1).init(device),
        }
    }

    /// # Shapes
    /// - events: `[batch, steps, FEATURES * tones]`
    /// - returns: logits `[batch, 1]` (mean over steps) and the last layer's features
    ///   `[batch, steps, 2 * hidden]`
    pub fn forward(&self, events: Tensor<3>) -> (Tensor<2>, Tensor<3>) {
        let (h, _) = self.lstm1.forward_sequence(events);
        let (h, _) = self.lstm2.forward_sequence(h); // [batch, steps, 2 * hidden]
        let logits = self
            .output
            .forward(h.clone())
            .mean_dim(1)
            .squeeze_dim::<2>(1); // [batch, 1]
        (logits, h)
    }
}

/// The batch mean and standard deviation of features `[batch, steps, width]`, each
/// `[1, steps, width]`.
fn batch_moments(features: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
    let mean = features.clone().mean_dim(0);
    let centred = features - mean.clone();
    let spread = (centred.clone() * centred)
        .mean_dim(0)
        .add_scalar(1e-6)
        .sqrt();
    (mean, spread)
}

/// Feature matching (Salimans et al. 2016, Mogren's option): the squared distance between the
/// batch means of D's features on real and on generated sequences, step by step; with
/// `spread`, plus the squared distance between their batch standard deviations. The mean alone
/// is met as well by one sequence that sits at the corpus's average as by the corpus itself,
/// and G found that sequence (samples 3 % as varied as the corpus); the spread term is not met
/// until G's sequences differ from each other as the corpus's do.
fn matching_loss(real: Tensor<3>, fake: Tensor<3>, spread: bool) -> Tensor<1> {
    let (real_mean, real_spread) = batch_moments(real.detach());
    let (fake_mean, fake_spread) = batch_moments(fake);
    let gap = real_mean - fake_mean;
    let loss = (gap.clone() * gap).mean();
    if spread {
        let gap = real_spread - fake_spread;
        loss + (gap.clone() * gap).mean()
    } else {
        loss
    }
}

fn noise(
    batch: usize,
    steps: usize,
    size: usize,
    rng: &mut impl Rng,
    device: &Device,
) -> Tensor<3> {
    let values: Vec<f32> = (0..batch * steps * size)
        .map(|_| rng.random_range(-1.0..=1.0))
        .collect();
    Tensor::from_data(TensorData::new(values, [batch, steps, size]), device)
}

/// Reads `[batch, steps, FEATURES * tones]` back as one list of tone slots per sequence.
fn events(tensor: Tensor<3>) -> Vec<Vec<[f32; FEATURES]>> {
    let [batch, steps, width] = tensor.dims();
    let data = tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    let per_sequence = steps * width;
    (0..batch)
        .map(|b| {
            (0..per_sequence / FEATURES)
                .map(|slot| {
                    std::array::from_fn(|f| {
                        data.get(b * per_sequence + slot * FEATURES + f)
                            .copied()
                            .unwrap_or(0.0)
                    })
                })
                .collect()
        })
        .collect()
}

impl CrnnGanConfig {
    /// Tones per step, kept to the reference's 1–3.
    pub fn tones(&self) -> usize {
        self.tones.clamp(1, 3)
    }
}

/// C-RNN-GAN under training.
pub struct CrnnGanSession {
    generator: CrnnGenerator,
    discriminator: CrnnDiscriminator,
    g_optimizer: burn::optim::ModuleOptimizer,
    d_optimizer: burn::optim::ModuleOptimizer,
    config: CrnnGanConfig,
    windows: Vec<Vec<[f32; FEATURES]>>,
    order: super::Batches,
    learning_rate: f64,
    rng: rand::rngs::StdRng,
    last: (f64, f64),
    step: usize,
    fixed_noise: Tensor<3>,
    device: Device,
}

impl CrnnGanSession {
    /// Cuts the corpus into event windows and builds fresh networks.
    pub fn new(
        config: CrnnGanConfig,
        scores: &[Score],
        batch: usize,
        learning_rate: f64,
        seed: u64,
        device: &Device,
    ) -> Result<Self, String> {
        let windows = event_windows(scores, config.sequence, config.stride, config.tones());
        if windows.is_empty() {
            return Err(format!("no piece has {} notes", config.sequence));
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let fixed_noise = noise(
            super::gan::GALLERY,
            config.sequence,
            config.noise,
            &mut rng,
            device,
        );
        Ok(Self {
            generator: CrnnGenerator::new(&config, device),
            discriminator: CrnnDiscriminator::new(&config, device),
            g_optimizer: super::optim::adam(0.5),
            d_optimizer: super::optim::adam(0.5),
            order: super::Batches::new((0..windows.len()).collect(), batch),
            windows,
            config,
            learning_rate,
            rng,
            last: (1.0, 1.0),
            step: 0,
            fixed_noise,
            device: device.clone(),
        })
    }

    fn real(&self, indices: &[usize]) -> Tensor<3> {
        let steps = self.config.sequence;
        let values: Vec<f32> = indices
            .iter()
            .flat_map(|&i| self.windows[i].iter().flatten().copied())
            .collect();
        Tensor::from_data(
            TensorData::new(
                values,
                [indices.len(), steps, FEATURES * self.config.tones()],
            ),
            &self.device,
        )
    }
}

impl Session for CrnnGanSession {
    fn loss_names(&self) -> Vec<String> {
        super::adversarial_loss_names()
    }
    fn steps_per_epoch(&self) -> usize {
        self.order.len()
    }
    fn start_epoch(&mut self, rng: &mut rand::rngs::StdRng) {
        self.order.shuffle(rng);
        // The session's own draws restart from the run's generator each epoch, so that a
        // resumed run continues with the same draws (the worker replays the epochs before).
        self.rng = rand::rngs::StdRng::seed_from_u64(rng.random());
    }
    fn resume_state(&self) -> Vec<f64> {
        vec![self.last.0, self.last.1]
    }
    fn restore(&mut self, global_step: usize, state: &[f64]) {
        self.step = global_step;
        if let [d, g] = *state {
            self.last = (d, g);
        }
    }
    fn train_step(&mut self, step: usize) -> super::StepLosses {
        let batch = self.order.get(step).to_vec();
        let n = batch.len();
        let real = self.real(&batch);
        let z = noise(
            n,
            self.config.sequence,
            self.config.noise,
            &mut self.rng,
            &self.device,
        );
        self.step += 1;
        if self.step <= self.config.pretrain_steps {
            // Pretraining: G regresses onto real sequences.
            let fake = self.generator.forward(z);
            let gap = fake - real;
            let loss = (gap.clone() * gap).mean();
            let gradients = loss.backward();
            let g_gradient = super::grad_norm(&self.generator.output.weight, &gradients);
            super::optimize(
                &mut self.g_optimizer,
                self.learning_rate,
                &mut self.generator,
                gradients,
            );
            let value = |v| super::step_value(v, &self.device);
            return super::StepLosses::new([value(0.0), loss, value(0.5), value(0.5), g_gradient]);
        }
        let (d_last, g_last) = self.last;
        let freeze_d = self.config.freezing > 0 && d_last < 0.7 * g_last;
        let freeze_g = self.config.freezing > 0 && g_last < 0.7 * d_last;

        let fake = self.generator.forward(z.clone()).detach();
        let (real_logits, _) = self.discriminator.forward(real.clone());
        let (fake_logits, _) = self.discriminator.forward(fake);
        let (d_loss, d_real, d_fake) = super::discriminator_loss(real_logits, fake_logits, 1.0);
        let d_value = d_loss.clone();
        if !freeze_d {
            super::optimize(
                &mut self.d_optimizer,
                self.learning_rate,
                &mut self.discriminator,
                d_loss.backward(),
            );
        }
        // G's turn through a frozen D: no gradient for D's weights.
        let critic = super::frozen(&self.discriminator);
        let fake = self.generator.forward(z);
        let (fake_logits, fake_features) = critic.forward(fake.clone());
        // The freezing rule weighs D's loss against G's adversarial loss, also when G trains by
        // feature matching: that loss is on another scale (~0.01 against D's ~1), and with it G
        // stayed frozen through most of the first epoch.
        let g_verdict = super::bce_with_logits(fake_logits.clone(), 1.0).detach();
        let g_loss = if self.config.feature_matching > 0 {
            let (_, real_features) = critic.forward(real.clone());
            let spread = self.config.feature_matching > 1;
            let matching = matching_loss(real_features, fake_features, spread);
            // D's features of a collapsed G barely vary either, and matching their spread
            // alone left G collapsed (sample spread 0.005 against the corpus's 0.19 after two
            // epochs, as with the mean alone): with the spread, the events' own moments are
            // matched too.
            if spread {
                matching + matching_loss(real, fake, true)
            } else {
                matching
            }
        } else {
            super::bce_with_logits(fake_logits, 1.0)
        };
        let g_value = g_loss.clone();
        // G's gradient is measured even in a frozen step (the dashboard plots every step).
        let gradients = g_loss.backward();
        let g_gradient = super::grad_norm(&self.generator.output.weight, &gradients);
        if !freeze_g {
            super::optimize(
                &mut self.g_optimizer,
                self.learning_rate,
                &mut self.generator,
                gradients,
            );
        }
        // Only the freezing rule needs the two losses on the host (a read-back per step).
        if self.config.freezing > 0 {
            self.last = (scalar(d_value.clone()), scalar(g_verdict));
        }
        super::StepLosses::new([d_value, g_value, d_real, d_fake, g_gradient])
    }
    fn validate(&mut self) -> Vec<(String, f64)> {
        let generator = self.generator.valid();
        let fake = events(generator.forward(self.fixed_noise.clone().inner()));
        let flat = |seqs: &[Vec<[f32; FEATURES]>]| -> Vec<Vec<f32>> {
            seqs.iter()
                .map(|s| s.iter().flatten().copied().collect())
                .collect()
        };
        // Corpus windows from across the corpus, not 8 neighbours from one piece.
        let real: Vec<Vec<[f32; FEATURES]>> = self
            .windows
            .iter()
            .step_by((self.windows.len() / super::gan::GALLERY).max(1))
            .take(super::gan::GALLERY)
            .cloned()
            .collect();
        vec![
            (
                "sample diversity".into(),
                super::gan_health::spread(&flat(&fake)),
            ),
            (
                "corpus diversity".into(),
                super::gan_health::spread(&flat(&real)),
            ),
        ]
    }
    fn samples(&mut self, _seed: u64) -> Vec<Sample> {
        let generator = self.generator.valid();
        let sequences = events(generator.forward(self.fixed_noise.clone().inner()));
        let mut samples = vec![Sample {
            label: "z1 (fixed noise)".into(),
            score: events_to_score("c-rnn-gan", &sequences[0], self.config.tones()),
        }];
        samples.extend(sequences.iter().enumerate().map(|(i, e)| Sample {
            label: format!("z{}", i + 1),
            score: events_to_score(&format!("z{}", i + 1), e, self.config.tones()),
        }));
        samples
    }
    fn flops_per_example(&self) -> Option<f64> {
        // In forward-pass units per example: the discriminator step runs G forward (detached)
        // and D forward and backward on a real and a generated batch; the generator step runs G
        // forward and backward and D forward and its input's gradient only (D is frozen), plus
        // D forward on real data under feature matching.
        // Every weight is applied once per step of the sequence.
        let steps = self.config.sequence as f64;
        let layers = self.layers();
        let d_steps = 1.0;
        let matching = if self.config.feature_matching > 0 {
            1.0
        } else {
            0.0
        };
        let g =
            super::card::matmul_flops(&layers, |n| if n.starts_with("G.") { steps } else { 0.0 });
        let d =
            super::card::matmul_flops(&layers, |n| if n.starts_with("D.") { steps } else { 0.0 });
        let passes = super::card::TRAINING_PASSES;
        Some(g * (d_steps + passes) + d * (d_steps * 2.0 * passes + 2.0 + matching))
    }

    fn layers(&self) -> Vec<super::card::LayerShape> {
        [
            super::card::layers("G", &self.generator),
            super::card::layers("D", &self.discriminator),
        ]
        .concat()
    }

    fn save(&self, path: &std::path::Path) -> Result<(), String> {
        super::save_pair(
            (&self.generator, &self.g_optimizer),
            (&self.discriminator, &self.d_optimizer),
            path,
        )
    }
    fn load(&mut self, path: &std::path::Path) -> Result<(), String> {
        (self.generator, self.discriminator) = super::load_pair(
            (self.generator.clone(), &mut self.g_optimizer),
            (self.discriminator.clone(), &mut self.d_optimizer),
            path,
        )
        .map_err(|e| format!("{e}{}", super::recurrent::OLD_LAYOUT))?;
        Ok(())
    }
}

/// Generates one sequence with a trained generator.
/// A trained C-RNN-GAN generator, ready to write and to be measured.
pub struct TrainedCrnnGan {
    generator: CrnnGenerator,
    config: CrnnGanConfig,
}

/// The registry's `load`.
fn load(
    config: &super::ModelConfig,
    vocabulary: super::Vocabulary,
    path: &std::path::Path,
    device: &Device,
) -> Result<Box<dyn super::Trained>, String> {
    let (super::ModelConfig::CrnnGan(c), super::Vocabulary::Events) = (config, vocabulary) else {
        return Err(super::missing_vocabulary(path));
    };
    Ok(Box::new(TrainedCrnnGan {
        generator: super::load_module(CrnnGenerator::new(c, device), path)
            .map_err(|e| format!("{e}{}", super::recurrent::OLD_LAYOUT))?,
        config: c.clone(),
    }))
}

impl super::Trained for TrainedCrnnGan {
    fn generate(&self, options: &super::GenerateOptions, device: &Device) -> Result<Score, String> {
        Ok(generate(
            &self.generator,
            &self.config,
            options.seed,
            device,
        ))
    }

    /// Sequences against held-out excerpts of all voices, cut to the median sample's length.
    fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String> {
        use crate::measures::overlap::Excerpt;
        let scores: Vec<Score> = (0..options.samples)
            .map(|i| {
                generate(
                    &self.generator,
                    &self.config,
                    options.seed + i as u64,
                    device,
                )
            })
            .collect();
        let mut lengths: Vec<usize> = scores
            .iter()
            .map(|s| crate::measures::total_steps(&Excerpt::all_notes(s)))
            .collect();
        lengths.sort_unstable();
        // Samples and reference excerpts share one length: the median sample's, in bars.
        let steps = (lengths[lengths.len() / 2].div_ceil(16) * 16).clamp(16, 256);
        let samples = scores
            .iter()
            .map(|s| Excerpt::cut(&Excerpt::all_notes(s), 0, steps))
            .collect();
        Ok(crate::measures::polyphonic_case(
            data, samples, steps, options, progress,
        ))
    }
}

pub fn generate(
    generator: &CrnnGenerator,
    config: &CrnnGanConfig,
    seed: u64,
    device: &Device,
) -> Score {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let sequence =
        events(generator.forward(noise(1, config.sequence, config.noise, &mut rng, device)));
    events_to_score("c-rnn-gan", &sequence[0], config.tones())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_term_tells_a_collapsed_batch_from_the_corpus() {
        let device = Device::flex();
        let batch = |rows: [f32; 2]| {
            Tensor::<3>::from_data(TensorData::new(rows.to_vec(), [2, 1, 1]), &device)
        };
        let loss = |fake: [f32; 2], spread: bool| {
            scalar(matching_loss(batch([0.0, 2.0]), batch(fake), spread))
        };
        // Both rows at the real batch's mean: the mean alone is met, the spread is not.
        assert!(loss([1.0, 1.0], false) < 1e-9);
        assert!((loss([1.0, 1.0], true) - 1.0).abs() < 1e-2);
        // The same values as the real batch, in another order: both met.
        assert!(loss([2.0, 0.0], true) < 1e-6);
    }

    #[test]
    fn chords_share_a_step_with_three_tones() {
        let notes = vec![
            Note {
                pitch: 60,
                start: 0,
                duration: 480,
                velocity: 80,
            },
            Note {
                pitch: 64,
                start: 0,
                duration: 480,
                velocity: 80,
            },
            Note {
                pitch: 67,
                start: 480,
                duration: 240,
                velocity: 80,
            },
            Note {
                pitch: 69,
                start: 960,
                duration: 240,
                velocity: 80,
            },
        ];
        let score = Score::new("e", 480).with_track(Track::new("m", notes.clone()));
        // Three steps (C+E, G, A) of three slots each.
        let windows = event_windows(std::slice::from_ref(&score), 3, 1, 3);
        assert_eq!(windows.len(), 1);
        assert_eq!(windows[0].len(), 9);
        let back = events_to_score("b", &windows[0], 3);
        let mut got: Vec<_> = back.tracks[0]
            .notes
            .iter()
            .map(|n| (n.pitch, n.start, n.duration))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![(60, 0, 480), (64, 0, 480), (67, 480, 240), (69, 960, 240)]
        );
    }

    #[test]
    fn events_round_trip_on_the_grid() {
        let notes = vec![
            Note {
                pitch: 60,
                start: 0,
                duration: 480,
                velocity: 80,
            },
            Note {
                pitch: 64,
                start: 480,
                duration: 240,
                velocity: 80,
            },
            Note {
                pitch: 67,
                start: 480,
                duration: 240,
                velocity: 80,
            },
        ];
        let score = Score::new("e", 480).with_track(Track::new("m", notes));
        let windows = event_windows(std::slice::from_ref(&score), 3, 1, 1);
        let back = events_to_score("b", &windows[0], 1);
        let got: Vec<_> = back.tracks[0]
            .notes
            .iter()
            .map(|n| (n.pitch, n.start, n.duration))
            .collect();
        assert_eq!(got, vec![(60, 0, 480), (64, 480, 240), (67, 480, 240)]);
    }
}
