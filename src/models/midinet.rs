//! MidiNet (Yang, Chou & Yang 2017): a convolutional GAN that writes a melody bar by bar. Each
//! bar is a 16-step × pitch piano roll (pitches cropped to the corpus's melody range, used here
//! as the channels of 1-D convolutions over time). The generator turns noise and a 13-D chord
//! (12 roots + minor) into a bar through transposed convolutions; a conditioner CNN reads the
//! previous bar, and its feature maps join the generator's layers at matching lengths, as does
//! the chord. The discriminator sees the bar with its chord; the generator's loss adds feature
//! matching on D's first-layer features, as in the paper.

use burn::module::Module;
use burn::nn::conv::{Conv1d, Conv1dConfig, ConvTranspose1d, ConvTranspose1dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::{leaky_relu, relu, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;

use super::gan::noise;
use super::{Sample, Session, scalar};
use crate::data::encoding::{pick_track, voice_tokens};
use crate::data::{HOLD, PitchRange, REST};
use crate::music::chords::{Chord, chords_per_bar};
use crate::music::{Note, Score, Track};

crate::hyperparameters! {
    /// Hyperparameters of MidiNet.
    pub struct MidiNetConfig {
        /// Size of the noise vector z.
        pub noise: usize = 64,
        /// Channels of the generator's and conditioner's feature maps.
        pub channels: usize = 64,
        /// Weight of feature matching in G's loss (the paper's λ).
        pub feature_matching: f64 = 0.1,
        /// Target for real bars in D's loss (0.9 = one-sided label smoothing).
        pub real_label: f64 = 0.9,
    }
}

/// Steps per bar.
pub const STEPS: usize = 16;
const CHORD: usize = 13;

/// One training example: a melody bar, the bar before it, and the bar's chord.
#[derive(Clone, Debug)]
pub struct BarExample {
    /// `[pitches * STEPS]`, pitch-major (channels first), one note per step at most.
    pub bar: Vec<f32>,
    /// The previous bar (zeros for a first bar).
    pub previous: Vec<f32>,
    /// Chord vector.
    pub chord: [f32; 13],
}

fn tokens_to_roll(tokens: &[usize], range: &PitchRange) -> Vec<f32> {
    let pitches = range.vocab_size() - 2;
    let mut roll = vec![0.0; pitches * STEPS];
    let mut current: Option<usize> = None;
    for (step, &token) in tokens.iter().enumerate().take(STEPS) {
        current = match token {
            REST => None,
            HOLD => current,
            t => range.pitch(t).map(|p| usize::from(p - range.low)),
        };
        if let Some(p) = current {
            roll[p * STEPS + step] = 1.0;
        }
    }
    roll
}

/// Melody bars of the scores (their "Soprano" or first track) with previous bars and chords
/// (from all the score's tracks).
pub fn bar_examples(scores: &[Score]) -> (PitchRange, Vec<BarExample>) {
    let melodies: Vec<(usize, Vec<crate::music::GridNote>)> = scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let grid = s.to_grid(4);
            pick_track(&grid.tracks, Some("Soprano")).map(|t| (i, t.notes.clone()))
        })
        .collect();
    let range = PitchRange::covering(melodies.iter().flat_map(|(_, n)| n.iter().map(|n| n.pitch)));
    let pitches = range.vocab_size() - 2;
    let mut examples = Vec::new();
    for (i, notes) in &melodies {
        let chords = chords_per_bar(&scores[*i]);
        let mut previous = vec![0.0; pitches * STEPS];
        for (bar, chord) in chords.iter().enumerate() {
            let tokens = voice_tokens(notes, (bar * STEPS) as u32, STEPS, &range);
            let roll = tokens_to_roll(&tokens, &range);
            if roll.iter().any(|&v| v > 0.0) {
                examples.push(BarExample {
                    bar: roll.clone(),
                    previous: previous.clone(),
                    chord: chord.vector(),
                });
            }
            previous = roll;
        }
    }
    (range, examples)
}

/// The generator with its conditioner.
#[derive(Module, Debug)]
pub struct MidiNetGenerator {
    project: Linear,
    condition: Vec<Conv1d>,
    up: Vec<ConvTranspose1d>,
    output: Conv1d,
}

/// The discriminator.
#[derive(Module, Debug)]
pub struct MidiNetDiscriminator {
    conv1: Conv1d,
    conv2: Conv1d,
    output: Linear,
}

fn chord_map(chord: &Tensor<2>, length: usize) -> Tensor<3> {
    chord.clone().unsqueeze_dim::<3>(2).repeat_dim(2, length) // [batch, 13, length]
}

impl MidiNetGenerator {
    /// Builds G for bars of `pitches` pitches.
    pub fn new(config: &MidiNetConfig, pitches: usize, device: &Device) -> Self {
        let c = config.channels;
        let down = |i: usize| Conv1dConfig::new(i, c, 2).with_stride(2).init(device);
        let up = |i: usize| {
            ConvTranspose1dConfig::new([i, c], 2)
                .with_stride(2)
                .init(device)
        };
        Self {
            project: LinearConfig::new(config.noise + CHORD, c * 2).init(device),
            // Previous bar: 16 → 8 → 4 → 2 steps.
            condition: vec![down(pitches), down(c), down(c)],
            // 2 → 4 → 8 → 16 steps, each joined by the conditioner's map and the chord.
            up: vec![up(c + c + CHORD), up(c + c + CHORD), up(c + c + CHORD)],
            output: Conv1dConfig::new(c + CHORD, pitches, 1).init(device),
        }
    }

    /// # Shapes
    /// - z: `[batch, noise]`, chord: `[batch, 13]`, previous: `[batch, pitches, 16]`
    /// - returns: `[batch, pitches, 16]` note probabilities
    pub fn forward(&self, z: Tensor<2>, chord: Tensor<2>, previous: Tensor<3>) -> Tensor<3> {
        let [batch, _] = z.dims();
        // Conditioner maps at 8, 4 and 2 steps.
        let mut maps = Vec::new();
        let mut x = previous;
        for conv in &self.condition {
            x = leaky_relu(conv.forward(x), 0.2);
            maps.push(x.clone());
        }
        let h = relu(self.project.forward(Tensor::cat(vec![z, chord.clone()], 1))); // [batch, 2c]
        let [_, width] = h.dims();
        let mut h = h.reshape([batch, width / 2, 2]); // [batch, c, 2]
        for (up, map) in self.up.iter().zip(maps.iter().rev()) {
            let [_, _, length] = h.dims();
            h = relu(up.forward(Tensor::cat(
                vec![h, map.clone(), chord_map(&chord, length)],
                1,
            )));
        }
        let [_, _, length] = h.dims();
        sigmoid(
            self.output
                .forward(Tensor::cat(vec![h, chord_map(&chord, length)], 1)),
        )
    }
}

impl MidiNetDiscriminator {
    /// Builds D.
    pub fn new(config: &MidiNetConfig, pitches: usize, device: &Device) -> Self {
        let c = config.channels;
        Self {
            conv1: Conv1dConfig::new(pitches + CHORD, c, 2)
                .with_stride(2)
                .init(device),
            conv2: Conv1dConfig::new(c, c, 2).with_stride(2).init(device),
            output: LinearConfig::new(c * 4 + CHORD, 1).init(device),
        }
    }

    /// # Shapes
    /// - bar: `[batch, pitches, 16]`, chord: `[batch, 13]`
    /// - returns: logits `[batch, 1]` and first-layer features `[batch, c]` (mean over time)
    pub fn forward(&self, bar: Tensor<3>, chord: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [batch, _, _] = bar.dims();
        let h1 = leaky_relu(
            self.conv1
                .forward(Tensor::cat(vec![bar, chord_map(&chord, STEPS)], 1)),
            0.2,
        ); // [batch, c, 8]
        let features = h1.clone().mean_dim(2).squeeze_dim::<2>(2);
        let h2 = leaky_relu(self.conv2.forward(h1), 0.2); // [batch, c, 4]
        let [_, c, l] = h2.dims();
        let flat = Tensor::cat(vec![h2.reshape([batch, c * l]), chord], 1);
        (self.output.forward(flat), features)
    }
}

fn tensor3(rows: &[&[f32]], pitches: usize, device: &Device) -> Tensor<3> {
    let data: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(data, [rows.len(), pitches, STEPS]), device)
}

fn tensor2(rows: &[[f32; 13]], device: &Device) -> Tensor<2> {
    let data: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(data, [rows.len(), CHORD]), device)
}

/// The melody of generated bars: the most likely pitch of each step (MidiNet writes one note
/// per step); repeated pitches on consecutive steps are joined into one note.
fn bars_to_melody(bars: &[Vec<f32>], pitches: usize, low: u8) -> Vec<Note> {
    let mut notes: Vec<Note> = Vec::new();
    let mut last: Option<(u8, usize)> = None;
    for (b, bar) in bars.iter().enumerate() {
        for step in 0..STEPS {
            let pitch = (0..pitches)
                .max_by(|&x, &y| bar[x * STEPS + step].total_cmp(&bar[y * STEPS + step]))
                .map_or(low, |p| low + p as u8);
            let global = b * STEPS + step;
            match (last, notes.last_mut()) {
                (Some((p, end)), Some(note)) if p == pitch && end == global => {
                    note.duration += 120;
                    last = Some((p, global + 1));
                }
                _ => {
                    notes.push(Note {
                        pitch,
                        start: global as u64 * 120,
                        duration: 120,
                        velocity: 90,
                    });
                    last = Some((pitch, global + 1));
                }
            }
        }
    }
    notes
}

/// Generates a melody over a chord progression, one bar per chord, each bar conditioned on the
/// one before. The score holds the melody and the chords (as block chords) on a second track.
pub fn generate(
    generator: &MidiNetGenerator,
    config: &MidiNetConfig,
    low: u8,
    pitches: usize,
    chords: &[Chord],
    seed: u64,
    device: &Device,
) -> Score {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut previous = vec![0.0f32; pitches * STEPS];
    let mut bars = Vec::new();
    for chord in chords {
        let z = noise(1, config.noise, &mut rng, device);
        let out = generator.forward(
            z,
            tensor2(&[chord.vector()], device),
            tensor3(&[previous.as_slice()], pitches, device),
        );
        let probabilities = out
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        // The next bar sees this bar as the corpus would show it: one note per step.
        let melody = bars_to_melody(std::slice::from_ref(&probabilities), pitches, low);
        previous = vec![0.0; pitches * STEPS];
        for note in &melody {
            for step in (note.start / 120)..((note.start + note.duration) / 120) {
                previous[usize::from(note.pitch - low) * STEPS + step as usize] = 1.0;
            }
        }
        bars.push(probabilities);
    }
    let melody = bars_to_melody(&bars, pitches, low);
    let accompaniment = chords
        .iter()
        .enumerate()
        .flat_map(|(b, chord)| {
            let third = if chord.minor { 3 } else { 4 };
            [0u8, third, 7].map(|i| Note {
                pitch: 48 + (chord.root + i) % 12,
                start: b as u64 * 1920,
                duration: 1920,
                velocity: 60,
            })
        })
        .collect();
    let names: Vec<String> = chords.iter().map(Chord::name).collect();
    let mut score = Score::new(format!("midinet over {}", names.join(" ")), 480);
    score.tracks = vec![
        Track::new("Melody", melody),
        Track::new("Chords", accompaniment),
    ];
    score
}

/// MidiNet under training.
pub struct MidiNetSession {
    generator: MidiNetGenerator,
    discriminator: MidiNetDiscriminator,
    g_optimizer: burn::optim::ModuleOptimizer,
    d_optimizer: burn::optim::ModuleOptimizer,
    config: MidiNetConfig,
    range: PitchRange,
    examples: Vec<BarExample>,
    order: super::Batches,
    learning_rate: f64,
    rng: rand::rngs::StdRng,
    progression: Vec<Chord>,
    device: Device,
}

impl MidiNetSession {
    /// Builds the bar examples and fresh networks.
    pub fn new(
        config: MidiNetConfig,
        scores: &[Score],
        batch: usize,
        learning_rate: f64,
        seed: u64,
        device: &Device,
    ) -> Result<Self, String> {
        let (range, examples) = bar_examples(scores);
        if examples.is_empty() {
            return Err("no melody bars in this corpus".into());
        }
        let pitches = range.vocab_size() - 2;
        // The samples follow the chords of the corpus's first piece.
        let progression: Vec<Chord> = scores
            .first()
            .map(chords_per_bar)
            .unwrap_or_default()
            .into_iter()
            .take(8)
            .collect();
        Ok(Self {
            generator: MidiNetGenerator::new(&config, pitches, device),
            discriminator: MidiNetDiscriminator::new(&config, pitches, device),
            g_optimizer: AdamConfig::new().with_beta_1(0.5).init(),
            d_optimizer: AdamConfig::new().with_beta_1(0.5).init(),
            order: super::Batches::new((0..examples.len()).collect(), batch),
            examples,
            range,
            config,
            learning_rate,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            progression,
            device: device.clone(),
        })
    }

    /// Lowest pitch and pitch count (saved in the checkpoint's config).
    pub fn roll_shape(&self) -> (u8, usize) {
        (self.range.low, self.range.vocab_size() - 2)
    }
}

impl Session for MidiNetSession {
    fn loss_names(&self) -> Vec<String> {
        vec![
            "D loss".into(),
            "G loss".into(),
            "D(x)".into(),
            "D(G(z))".into(),
        ]
    }
    fn steps_per_epoch(&self) -> usize {
        self.order.len()
    }
    fn start_epoch(&mut self, rng: &mut rand::rngs::StdRng) {
        self.order.shuffle(rng);
    }
    fn train_step(&mut self, step: usize) -> Vec<f64> {
        let batch: Vec<&BarExample> = self
            .order
            .get(step)
            .iter()
            .map(|&i| &self.examples[i])
            .collect();
        let n = batch.len();
        let pitches = self.range.vocab_size() - 2;
        let bars: Vec<&[f32]> = batch.iter().map(|e| e.bar.as_slice()).collect();
        let previous: Vec<&[f32]> = batch.iter().map(|e| e.previous.as_slice()).collect();
        let chords: Vec<[f32; 13]> = batch.iter().map(|e| e.chord).collect();
        let real = tensor3(&bars, pitches, &self.device);
        let previous = tensor3(&previous, pitches, &self.device);
        let chord = tensor2(&chords, &self.device);

        let z = noise(n, self.config.noise, &mut self.rng, &self.device);
        let fake = self
            .generator
            .forward(z, chord.clone(), previous.clone())
            .detach();
        let (real_logits, _) = self.discriminator.forward(real.clone(), chord.clone());
        let (fake_logits, _) = self.discriminator.forward(fake, chord.clone());
        let d_real = scalar(sigmoid(real_logits.clone()).mean());
        let d_fake = scalar(sigmoid(fake_logits.clone()).mean());
        let d_loss = super::bce_with_logits(real_logits, self.config.real_label)
            + super::bce_with_logits(fake_logits, 0.0);
        let d_value = scalar(d_loss.clone());
        let grads = GradientsParams::from_grads(d_loss.backward(), &self.discriminator);
        self.discriminator =
            self.d_optimizer
                .step(self.learning_rate, self.discriminator.clone(), grads);

        let z = noise(n, self.config.noise, &mut self.rng, &self.device);
        let fake = self.generator.forward(z, chord.clone(), previous);
        let (fake_logits, fake_features) = self.discriminator.forward(fake, chord.clone());
        let (_, real_features) = self.discriminator.forward(real, chord);
        let gap = real_features.detach().mean_dim(0) - fake_features.mean_dim(0);
        let g_loss = super::bce_with_logits(fake_logits, 1.0)
            + (gap.clone() * gap).mean() * self.config.feature_matching;
        let g_value = scalar(g_loss.clone());
        let grads = GradientsParams::from_grads(g_loss.backward(), &self.generator);
        self.generator = self
            .g_optimizer
            .step(self.learning_rate, self.generator.clone(), grads);
        vec![d_value, g_value, d_real, d_fake]
    }
    fn validate(&mut self) -> Vec<(String, f64)> {
        // How often the melody's notes belong to the bar's chord: real bars vs generated ones.
        let pitches = self.range.vocab_size() - 2;
        let generator = self.generator.valid();
        let device = self.device.clone().inner();
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let sample: Vec<&BarExample> = self
            .examples
            .iter()
            .step_by((self.examples.len() / 64).max(1))
            .take(64)
            .collect();
        let chords: Vec<[f32; 13]> = sample.iter().map(|e| e.chord).collect();
        let previous: Vec<&[f32]> = sample.iter().map(|e| e.previous.as_slice()).collect();
        let out = generator.forward(
            noise(sample.len(), self.config.noise, &mut rng, &device),
            tensor2(&chords, &device),
            tensor3(&previous, pitches, &device),
        );
        let data = out
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        let fit = |bar: &[f32], chord: &[f32; 13]| {
            let root = chord[..12].iter().position(|&v| v > 0.5).unwrap_or(0);
            let third = if chord[12] > 0.5 { 3 } else { 4 };
            let tones = [root, (root + third) % 12, (root + 7) % 12];
            let melody = bars_to_melody(&[bar.to_vec()], pitches, self.range.low);
            let inside = melody
                .iter()
                .filter(|n| tones.contains(&usize::from(n.pitch % 12)))
                .map(|n| n.duration)
                .sum::<u64>();
            inside as f64 / melody.iter().map(|n| n.duration).sum::<u64>().max(1) as f64
        };
        let size = pitches * STEPS;
        let generated: f64 = sample
            .iter()
            .enumerate()
            .map(|(i, e)| fit(&data[i * size..(i + 1) * size], &e.chord))
            .sum::<f64>()
            / sample.len().max(1) as f64;
        let real: f64 =
            sample.iter().map(|e| fit(&e.bar, &e.chord)).sum::<f64>() / sample.len().max(1) as f64;
        vec![
            ("sample chord-tone rate".into(), generated),
            ("corpus chord-tone rate".into(), real),
        ]
    }
    fn samples(&mut self, seed: u64) -> Vec<Sample> {
        let (low, pitches) = self.roll_shape();
        let progression = if self.progression.is_empty() {
            vec![
                Chord {
                    root: 0,
                    minor: false
                };
                4
            ]
        } else {
            self.progression.clone()
        };
        let score = generate(
            &self.generator.valid(),
            &self.config,
            low,
            pitches,
            &progression,
            seed,
            &self.device.clone().inner(),
        );
        vec![Sample {
            label: score.name.clone(),
            score,
        }]
    }
    fn save(&self, path: &std::path::Path) -> Result<(), String> {
        super::save_pair(&self.generator, &self.discriminator, path)
    }
    fn load(&mut self, path: &std::path::Path) -> Result<(), String> {
        (self.generator, self.discriminator) =
            super::load_pair(self.generator.clone(), self.discriminator.clone(), path)?;
        Ok(())
    }
}
