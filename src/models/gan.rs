//! The GAN of Goodfellow et al., on one-bar piano rolls of the chorales (all voices merged): a
//! generator G maps noise z to a bar; a discriminator D gives the probability that a bar is
//! real. Each iteration updates D on a batch of real and a batch of generated bars (binary
//! cross-entropy), `d_steps` times, then updates G — the seed's "GAN Basic Training Algorithm".
//! G's loss is either the minimax log(1 − D(G(z))) or the non-saturating −log D(G(z)).
//!
//! Two additions, both switchable in the form: G's cells are drawn on/off from its
//! probabilities with a straight-through gradient (`binarize`), because a D shown soft
//! probability maps beside binary corpus bars wins on softness and G collapsed to one bar
//! (measured: sample diversity 0.0–0.7 % against the corpus's 13 %; 5–13 % with it); and D uses
//! dropout, as Goodfellow et al.'s did (`d_dropout`), which delays D's outright win.
//!
//! Instance noise (Sønderby et al. 2016; `instance_noise`, std 0.4 by default) is added to every
//! bar D sees while training. Without it the default run ended with D winning outright —
//! D(x) 0.98, D(G(z)) 0.02 after 20 epochs, "discriminator too strong" from epoch 12; with it
//! D(x) 0.77–0.81 and D(G(z)) 0.21–0.23 after 20 epochs (bach, seeds 42 and 7, CPU). The
//! samples' overlap with held-out bars varied more between those seeds than with the noise.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::gan_health::diversity;
use super::{Batches, Sample, Session, rows};
use crate::data::{BarRolls, roll_to_score};
use crate::music::Score;

/// The written part of the model card (the layers come from the module).
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "GAN(Feedforward, Feedforward) on one-bar piano rolls",
    reference: "Goodfellow et al., \"Generative Adversarial Nets\" (2014); the seed's GAN basic training algorithm",
    deviations: &[
        (
            "G's cells drawn on/off with a straight-through gradient",
            "a D shown soft probabilities beside binary corpus bars wins on softness and G collapsed to one bar (measured: diversity 0.0–0.7 % against the corpus's 13 %)",
        ),
        (
            "non-saturating G loss and label smoothing available",
            "the paper's own remedy for G's vanishing gradient early in training, and a standard one for an overconfident D",
        ),
    ],
};

/// This model's entry in the registry ([`super::ModelKind::info`]).
pub const INFO: super::ModelInfo = super::ModelInfo {
    id: "gan",
    title: "GAN (Goodfellow et al.)",
    description: "A generator turns noise into bars of piano roll; a discriminator tells them from Bach's; they train in turns.",
    default_corpus: "bach",
    learning_rate: 2e-4,
    family: super::Family::Adversarial,
    card: CARD,
    default_config: || super::ModelConfig::Gan(GanConfig::default()),
    session: build_session,
    load,
};

/// Builds this model's training session (the registry's `session`).
fn build_session(
    config: &super::ModelConfig,
    args: &super::SessionArgs<'_>,
) -> Result<(Box<dyn Session>, super::Vocabulary), String> {
    use super::ModelConfig;
    let ModelConfig::Gan(c) = config else {
        return Err(super::wrong_config(INFO.id));
    };
    let s = GanSession::new(
        c.clone(),
        args.scores,
        args.batch,
        args.learning_rate,
        args.seed,
        args.device,
    )?;
    let (low, pitches) = s.roll_shape();
    let vocabulary = super::Vocabulary::Roll {
        low,
        pitches,
        steps: 16,
    };
    Ok((Box::new(s), vocabulary))
}

crate::hyperparameters! {
    /// Hyperparameters of the GAN.
    pub struct GanConfig {
        /// Size of the noise vector z.
        pub noise: usize = 64; 1..=1024,
        /// Units of the generator's and discriminator's hidden layers.
        pub hidden: usize = 256; 1..=4096,
        /// Discriminator updates per generator update.
        pub d_steps: usize = 1; 1..=20,
        /// 1 = non-saturating G loss −log D(G(z)) (strong gradients while D wins); 0 = minimax log(1 − D(G(z))), which saturates when D rejects G's bars.
        pub non_saturating: usize = 1; 0..=1,
        /// Target for real bars in D's loss: 1.0, or 0.9 for one-sided label smoothing.
        pub real_label: f64 = 1.0; 0.5..=1.0,
        /// 1 = train G to match the mean of D's hidden features on real bars (feature matching) instead of fooling D.
        pub feature_matching: usize = 0; 0..=1,
        /// 1 = each generated cell is drawn on/off from G's probability (binary neurons with a straight-through gradient, Dong & Yang 2018), so D sees piano rolls like the corpus's, not soft maps it can spot by their softness.
        pub binarize: usize = 1; 0..=1,
        /// Dropout in D's hidden layers while training (Goodfellow et al. trained D with dropout): keeps D from memorising the corpus and winning outright.
        pub d_dropout: f64 = 0.5; 0.0..=0.95,
        /// Std of the Gaussian noise added to every bar D sees while training, real and generated (instance noise, Sønderby et al. 2016): the two distributions overlap, so D cannot separate them outright; 0 turns it off.
        pub instance_noise: f64 = 0.4; 0.0..=1.0,
    }
}

/// The generator: z → a bar of note probabilities.
#[derive(Module, Debug)]
pub struct Generator {
    layers: Vec<Linear>,
}

/// The discriminator: a bar → logit of "real".
#[derive(Module, Debug)]
pub struct Discriminator {
    hidden: Vec<Linear>,
    dropout: Dropout,
    output: Linear,
}

impl Generator {
    /// Builds G for bars of `cells` cells.
    pub fn new(config: &GanConfig, cells: usize, device: &Device) -> Self {
        let sizes = [config.noise, config.hidden, config.hidden * 2, cells];
        Self {
            layers: sizes
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(device))
                .collect(),
        }
    }

    /// # Shapes
    /// - z: `[batch, noise]`
    /// - returns: `[batch, cells]` in (0, 1)
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        use super::dense_op::{Activation, dense};
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(z, |x, (i, layer)| {
            let activation = if i == last {
                Activation::Sigmoid
            } else {
                Activation::Relu
            };
            dense(layer, x, activation)
        })
    }
}

impl Discriminator {
    /// Builds D for bars of `cells` cells.
    pub fn new(config: &GanConfig, cells: usize, device: &Device) -> Self {
        Self {
            hidden: vec![
                LinearConfig::new(cells, config.hidden * 2).init(device),
                LinearConfig::new(config.hidden * 2, config.hidden).init(device),
            ],
            dropout: DropoutConfig::new(config.d_dropout).init(),
            output: LinearConfig::new(config.hidden, 1).init(device),
        }
    }

    /// # Shapes
    /// - bars: `[batch, cells]`
    /// - returns: logits `[batch, 1]` and the last hidden features `[batch, hidden]`
    pub fn forward(&self, bars: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        use super::dense_op::{Activation, dense};
        let features = self.hidden.iter().fold(bars, |x, layer| {
            super::dropout(&self.dropout, dense(layer, x, Activation::LeakyRelu(0.2)))
        });
        let logits = dense(&self.output, features.clone(), Activation::Identity);
        (logits, features)
    }
}

/// Noise vectors from our own seeded generator (uniform in [-1, 1]).
pub fn noise(count: usize, size: usize, rng: &mut impl Rng, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = (0..count * size)
        .map(|_| rng.random_range(-1.0..=1.0))
        .collect();
    Tensor::from_data(TensorData::new(values, [count, size]), device)
}

/// Draws each cell on (1) or off (0) with G's probability; the gradient is the probability's
/// (straight-through). The draws come from `rng`, so a seed gives the same bars.
pub fn binarize(probabilities: Tensor<2>, rng: &mut impl Rng) -> Tensor<2> {
    let dims = probabilities.dims();
    let draws: Vec<f32> = (0..dims[0] * dims[1]).map(|_| rng.random()).collect();
    let draws = Tensor::from_data(TensorData::new(draws, dims), &probabilities.device());
    let hard = probabilities.clone().greater(draws).float();
    hard + probabilities.clone() - probabilities.detach()
}

/// G's bars for `z`: drawn on/off when the config asks for it, else the probabilities.
fn bars(generator: &Generator, config: &GanConfig, z: Tensor<2>, rng: &mut impl Rng) -> Tensor<2> {
    let probabilities = generator.forward(z);
    if config.binarize > 0 {
        binarize(probabilities, rng)
    } else {
        probabilities
    }
}

/// The GAN under training.
pub struct GanSession {
    generator: Generator,
    discriminator: Discriminator,
    g_optimizer: burn::optim::ModuleOptimizer,
    d_optimizer: burn::optim::ModuleOptimizer,
    config: GanConfig,
    data: BarRolls,
    train: Batches,
    validation: Vec<usize>,
    learning_rate: f64,
    rng: rand::rngs::StdRng,
    fixed_noise: Tensor<2>,
    device: Device,
}

/// Bars in the sample gallery (the same noise vectors every epoch).
pub const GALLERY: usize = 8;

impl GanSession {
    /// Cuts the scores into bars and builds fresh networks.
    pub fn new(
        config: GanConfig,
        scores: &[Score],
        batch: usize,
        learning_rate: f64,
        seed: u64,
        device: &Device,
    ) -> Result<Self, String> {
        let data = BarRolls::from_scores(scores, 16);
        if data.bars.is_empty() {
            return Err("no bars with notes in this corpus".into());
        }
        let cells = data.steps * data.pitches;
        let (train, mut validation) = data.split();
        if validation.is_empty() {
            validation = train.iter().copied().take(64).collect();
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let fixed_noise = noise(GALLERY, config.noise, &mut rng, device);
        Ok(Self {
            generator: Generator::new(&config, cells, device),
            discriminator: Discriminator::new(&config, cells, device),
            g_optimizer: super::optim::adam(0.5),
            d_optimizer: super::optim::adam(0.5),
            config,
            train: Batches::new(train, batch),
            validation,
            data,
            learning_rate,
            rng,
            fixed_noise,
            device: device.clone(),
        })
    }

    /// Lowest pitch and pitch count of the rolls (saved in the checkpoint's config).
    pub fn roll_shape(&self) -> (u8, usize) {
        (self.data.low, self.data.pitches)
    }

    fn real(&self, indices: &[usize]) -> Tensor<2> {
        let cells = self.data.steps * self.data.pitches;
        let values: Vec<f32> = indices
            .iter()
            .flat_map(|&i| self.data.bars[i].iter().copied())
            .collect();
        Tensor::from_data(
            TensorData::new(values, [indices.len(), cells]),
            &self.device,
        )
    }

    /// `bars` with the instance noise added (unchanged when `instance_noise` is 0). The noise
    /// is drawn from the session's generator, so a seed gives the same run.
    fn blur(&mut self, bars: Tensor<2>) -> Tensor<2> {
        let std = self.config.instance_noise;
        if std <= 0.0 {
            return bars;
        }
        let [n, cells] = bars.dims();
        let values: Vec<f32> = (0..n * cells)
            .map(|_| std as f32 * crate::measures::normal(&mut self.rng))
            .collect();
        bars + Tensor::from_data(TensorData::new(values, [n, cells]), &self.device)
    }

    /// Generated bars for the fixed gallery noise.
    pub fn gallery(&self) -> Vec<Vec<f32>> {
        // Fixed draws too, so that the gallery changes only when G does.
        let mut draws = rand::rngs::StdRng::seed_from_u64(23);
        rows(bars(
            &self.generator.valid(),
            &self.config,
            self.fixed_noise.clone().inner(),
            &mut draws,
        ))
    }
}

impl Session for GanSession {
    fn loss_names(&self) -> Vec<String> {
        super::adversarial_loss_names()
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

    fn train_step(&mut self, step: usize) -> super::StepLosses {
        let batch = self.train.get(step).to_vec();
        let n = batch.len();
        let mut d_values = None;
        // 1. The discriminator, d_steps times: real bars towards 1, generated bars towards 0.
        for k in 0..self.config.d_steps.max(1) {
            let real = if k == 0 {
                self.real(&batch)
            } else {
                let other: Vec<usize> = (0..n)
                    .map(|_| self.train.get(self.rng.random_range(0..self.train.len()))[0])
                    .collect();
                self.real(&other)
            };
            let z = noise(n, self.config.noise, &mut self.rng, &self.device);
            let fake = bars(&self.generator, &self.config, z, &mut self.rng).detach();
            let (real, fake) = (self.blur(real), self.blur(fake));
            let (real_logits, _) = self.discriminator.forward(real);
            let (fake_logits, _) = self.discriminator.forward(fake);
            let (d_loss, d_real, d_fake) =
                super::discriminator_loss(real_logits, fake_logits, self.config.real_label);
            d_values = Some((d_loss.clone(), d_real, d_fake));
            super::optimize(
                &mut self.d_optimizer,
                self.learning_rate,
                &mut self.discriminator,
                d_loss.backward(),
            );
        }
        // 2. The generator, once, through a frozen D (no gradient for D's weights).
        let critic = super::frozen(&self.discriminator);
        let z = noise(n, self.config.noise, &mut self.rng, &self.device);
        let fake = bars(&self.generator, &self.config, z, &mut self.rng);
        let fake = self.blur(fake);
        let (fake_logits, fake_features) = critic.forward(fake);
        let g_loss = if self.config.feature_matching > 0 {
            let real = self.real(&batch);
            let real = self.blur(real);
            let (_, real_features) = critic.forward(real);
            let gap = real_features.detach().mean_dim(0) - fake_features.mean_dim(0); // [1, hidden]
            (gap.clone() * gap).mean()
        } else if self.config.non_saturating > 0 {
            super::bce_with_logits(fake_logits, 1.0)
        } else {
            // Minimax: minimise log(1 − D(G(z))) = −BCE(D(G(z)), 0).
            super::bce_with_logits(fake_logits, 0.0) * -1.0
        };
        let gradients = g_loss.backward();
        let last = self.generator.layers.len() - 1;
        let g_gradient = super::grad_norm(&self.generator.layers[last].weight, &gradients);
        super::optimize(
            &mut self.g_optimizer,
            self.learning_rate,
            &mut self.generator,
            gradients,
        );
        let (d_loss, d_real, d_fake) = d_values.expect("at least one discriminator step");
        super::StepLosses::new([d_loss, g_loss, d_real, d_fake, g_gradient])
    }

    fn validate(&mut self) -> Vec<(String, f64)> {
        let generator = self.generator.valid();
        let mut rng = rand::rngs::StdRng::seed_from_u64(17);
        let z = noise(
            64,
            self.config.noise,
            &mut rng,
            &self.device.clone().inner(),
        );
        let samples = rows(bars(&generator, &self.config, z, &mut rng));
        let corpus: Vec<Vec<f32>> = self
            .validation
            .iter()
            .take(64)
            .map(|&i| self.data.bars[i].clone())
            .collect();
        let density = |rolls: &[Vec<f32>]| {
            let on: usize = rolls
                .iter()
                .map(|r| r.iter().filter(|&&v| v >= 0.5).count())
                .sum();
            on as f64 / rolls.iter().map(Vec::len).sum::<usize>().max(1) as f64
        };
        vec![
            ("sample diversity".into(), diversity(&samples)),
            ("corpus diversity".into(), diversity(&corpus)),
            ("sample note density".into(), density(&samples)),
            ("corpus note density".into(), density(&corpus)),
        ]
    }

    fn samples(&mut self, _seed: u64) -> Vec<Sample> {
        let gallery = self.gallery();
        let steps = self.data.steps;
        // The whole gallery as one piece (bar after bar) first: its metrics go to the table.
        let all = bars_to_score("gallery", &gallery, steps, self.data.low);
        let mut samples = vec![Sample {
            label: format!("gallery: {GALLERY} bars at fixed noise vectors"),
            score: all,
        }];
        samples.extend(gallery.iter().enumerate().map(|(i, roll)| Sample {
            label: format!("z{}", i + 1),
            score: roll_to_score(&format!("z{}", i + 1), roll, steps, self.data.low, 480),
        }));
        samples
    }

    fn flops_per_example(&self) -> Option<f64> {
        // In forward-pass units per example: the discriminator step runs G forward (detached)
        // and D forward and backward on a real and a generated batch; the generator step runs G
        // forward and backward and D forward and its input's gradient only (D is frozen: one
        // product per layer instead of two), plus D forward on real data under feature
        // matching.
        let layers = self.layers();
        let d_steps = self.config.d_steps.max(1) as f64;
        let matching = if self.config.feature_matching > 0 {
            1.0
        } else {
            0.0
        };
        let g = super::card::matmul_flops(&layers, |n| if n.starts_with("G.") { 1.0 } else { 0.0 });
        let d = super::card::matmul_flops(&layers, |n| if n.starts_with("D.") { 1.0 } else { 0.0 });
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
        )?;
        Ok(())
    }
}

/// Generates bars with a trained generator.
/// A trained GAN's generator, ready to write bars and to be measured.
pub struct TrainedGan {
    generator: Generator,
    config: GanConfig,
    low: u8,
    steps: usize,
}

/// The registry's `load`.
fn load(
    config: &super::ModelConfig,
    vocabulary: super::Vocabulary,
    path: &std::path::Path,
    device: &Device,
) -> Result<Box<dyn super::Trained>, String> {
    let (
        super::ModelConfig::Gan(c),
        super::Vocabulary::Roll {
            low,
            pitches,
            steps,
        },
    ) = (config, vocabulary)
    else {
        return Err(super::missing_vocabulary(path));
    };
    Ok(Box::new(TrainedGan {
        generator: super::load_module(Generator::new(c, steps * pitches, device), path)?,
        config: c.clone(),
        low,
        steps,
    }))
}

impl super::Trained for TrainedGan {
    fn generate(&self, options: &super::GenerateOptions, device: &Device) -> Result<Score, String> {
        Ok(generate(
            &self.generator,
            &self.config,
            self.low,
            self.steps,
            4,
            options.seed,
            device,
        ))
    }

    /// One-bar samples against held-out bars of all voices.
    fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String> {
        use crate::measures::overlap::Excerpt;
        let (n, steps) = (options.samples, self.steps);
        let score = generate(
            &self.generator,
            &self.config,
            self.low,
            steps,
            n,
            options.seed,
            device,
        );
        let notes = Excerpt::all_notes(&score);
        let samples = (0..n)
            .map(|i| Excerpt::cut(&notes, i * steps, steps))
            .collect();
        Ok(crate::measures::polyphonic_case(
            data, samples, steps, options, progress,
        ))
    }
}

pub fn generate(
    generator: &Generator,
    config: &GanConfig,
    low: u8,
    steps: usize,
    count: usize,
    seed: u64,
    device: &Device,
) -> Score {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let z = noise(count.max(1), config.noise, &mut rng, device);
    let rolls = rows(self::bars(generator, config, z, &mut rng));
    bars_to_score("gan", &rolls, steps, low)
}

/// Bars one after the other (4/4, 16 steps each) as one track.
pub fn bars_to_score(name: &str, rolls: &[Vec<f32>], steps: usize, low: u8) -> Score {
    let mut track = crate::music::Track::new("GAN", Vec::new());
    for (i, roll) in rolls.iter().enumerate() {
        let bar = roll_to_score("bar", roll, steps, low, 480);
        let offset = i as u64 * steps as u64 * 120;
        track
            .notes
            .extend(bar.tracks[0].notes.iter().map(|n| crate::music::Note {
                start: n.start + offset,
                ..*n
            }));
    }
    track.notes.sort_by_key(|n| (n.start, n.pitch));
    Score::new(name, 480).with_track(track)
}
