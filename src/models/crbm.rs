//! C-RBM = Convolutional(RBM) (Lattner, Grachten & Widmer 2016): an RBM whose weights are
//! filters convolved along time over a [pitch × time] piano roll, each filter spanning the whole
//! pitch range. Hidden unit (k, t) sees the frames t..t+w through filter k; the visible units
//! get back the transposed convolution. Trained with persistent CD and a sparsity penalty that
//! keeps each filter's mean activation near a small target.
//!
//! Generation is Gibbs sampling under constraints, as in the paper: between Gibbs steps, one
//! gradient step moves the relaxed visible units (probabilities) toward (a) the self-similarity
//! matrix of a template piece (per-bar pitch-class vectors, cosine similarity), (b) a key (the
//! Krumhansl–Kessler profile of the pitch classes), (c) a meter (the onsets' profile over the
//! positions of a 4/4 bar), while a simulated-annealing temperature falls from 3 to 1.

use burn::module::{Module, Param};
use burn::tensor::activation::{sigmoid, softplus};
use burn::tensor::module::{conv_transpose1d, conv1d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::rbm::{bernoulli, frames_to_score};
use super::{Batches, Sample, Session, rows};
use crate::data::FrameRolls;
use crate::measures::lengths;
use crate::music::Score;
use crate::music::key::Key;

/// The written part of the model card (the layers come from the module).
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "Convolutional(RBM): filters over time spanning the pitch range, PCD with sparsity; constrained Gibbs sampling",
    reference: "Lattner, Grachten & Widmer, \"Imposing Higher-Level Structure in Polyphonic Music Generation using Convolutional Restricted Boltzmann Machines and Constraints\" (2016; J. Creative Music Systems 2018)",
    deviations: &[
        (
            "the meter constraint's target is a fixed profile of metric weights (4/4, 3/4 or 2/4: downbeat strongest)",
            "the paper's target comes from data; a fixed profile needs nothing beyond the checkpoint",
        ),
        (
            "Adam on the free-energy loss",
            "the same gradient as the paper's updates; one optimiser for every model here",
        ),
    ],
};

/// This model's entry in the registry ([`super::ModelKind::info`]).
pub const INFO: super::ModelInfo = super::ModelInfo {
    id: "crbm",
    title: "C-RBM (convolutional RBM with constraints)",
    description: "Filters over time learn the chorales' textures; sampling is steered toward a template's structure, a key and a meter.",
    default_corpus: "bach",
    learning_rate: 3e-3,
    family: super::Family::Predictive,
    card: CARD,
    default_config: || super::ModelConfig::Crbm(CrbmConfig::default()),
    session: build_session,
    load,
};

crate::hyperparameters! {
    /// Hyperparameters of the C-RBM.
    pub struct CrbmConfig {
        /// Filters (hidden feature maps).
        pub filters: usize = 64; 1..=1024,
        /// Width of each filter in frames (8 = one 4/4 bar of eighth notes).
        pub width: usize = 8; 1..=64,
        /// Frames per training window (the filters slide over it).
        pub window: usize = 32; 2..=512,
        /// Gibbs steps of persistent CD per update.
        pub cd_steps: usize = 1; 1..=100,
        /// Target mean activation of each filter (the sparsity penalty pulls toward it).
        pub sparsity_target: f64 = 0.05; 0.0..=1.0,
        /// Weight of the sparsity penalty.
        pub sparsity_weight: f64 = 1.0; 0.0..=100.0,
        /// Grid steps per quarter note: 2 = eighth notes (a 4/4 bar is 8 frames).
        pub grid: usize = 2; 1..=4,
        /// 1 = each piece is transposed to C (major or minor) by its estimated key first.
        pub to_c: usize = 1; 0..=1,
        /// Gibbs steps of constrained generation (the annealing runs over them).
        pub gibbs_steps: usize = 300; 1..=100000,
    }
}

/// Builds this model's training session (the registry's `session`).
fn build_session(
    config: &super::ModelConfig,
    args: &super::SessionArgs<'_>,
) -> Result<(Box<dyn Session>, super::Vocabulary), String> {
    let super::ModelConfig::Crbm(c) = config else {
        return Err(super::wrong_config(INFO.id));
    };
    let session = CrbmSession::new(c.clone(), args)?;
    let vocabulary = super::Vocabulary::Roll {
        low: session.data.low,
        pitches: session.data.pitches,
        steps: c.window,
    };
    Ok((Box::new(session), vocabulary))
}

/// The machine: filters `[filters, pitches, width]`, a bias per filter and per pitch.
#[derive(Module, Debug)]
pub struct Crbm {
    weight: Param<Tensor<3>>,
    hidden_bias: Param<Tensor<1>>,
    visible_bias: Param<Tensor<1>>,
}

impl Crbm {
    /// Small random filters (σ = 0.01) and zero biases.
    pub fn new(pitches: usize, filters: usize, width: usize, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::random(
                [filters, pitches, width],
                Distribution::Normal(0.0, 0.01),
                device,
            )),
            hidden_bias: Param::from_tensor(Tensor::zeros([filters], device)),
            visible_bias: Param::from_tensor(Tensor::zeros([pitches], device)),
        }
    }

    /// Sets the visible biases to the data's log-odds ([`super::log_odds`]).
    pub fn with_visible_frequencies(mut self, frequencies: &[f32]) -> Self {
        self.visible_bias = super::log_odds(frequencies, &self.visible_bias.val().device());
        self
    }

    /// Sets the hidden biases to the log-odds of the sparsity target, so that the filters start
    /// at the activation the penalty asks for (at zero biases they start at one half, and the
    /// penalty took most of a run to pull them down).
    pub fn with_hidden_target(mut self, target: f64) -> Self {
        let count = self.hidden_bias.val().dims()[0];
        self.hidden_bias = super::log_odds(
            &vec![target as f32; count],
            &self.hidden_bias.val().device(),
        );
        self
    }

    /// The first `count` filters, each as frames (`width` frames of `pitches` values).
    pub fn features(&self, count: usize) -> Vec<Vec<f32>> {
        let [filters, pitches, width] = self.weight.val().dims();
        let values: Vec<f32> = self
            .weight
            .val()
            .inner()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        (0..filters.min(count))
            .map(|k| {
                (0..width)
                    .flat_map(|t| {
                        let values = &values;
                        (0..pitches).map(move |p| values[(k * pitches + p) * width + t])
                    })
                    .collect()
            })
            .collect()
    }

    fn width(&self) -> usize {
        self.weight.val().dims()[2]
    }

    /// The hidden units' input: rolls `[batch, pitches, frames]` → `[batch, filters, frames −
    /// width + 1]`.
    pub fn hidden_input(&self, v: Tensor<3>) -> Tensor<3> {
        conv1d(
            v,
            self.weight.val(),
            Some(self.hidden_bias.val()),
            ConvOptions::new([1], [0], [1], 1),
        )
    }

    /// The visible units' input: hidden maps → `[batch, pitches, frames]`.
    pub fn visible_input(&self, h: Tensor<3>) -> Tensor<3> {
        let back = conv_transpose1d(
            h,
            self.weight.val(),
            None,
            ConvTransposeOptions::new([1], [0], [0], [1], 1),
        );
        back + self.visible_bias.val().unsqueeze_dims::<3>(&[0, 2])
    }

    /// Free energy of each roll: `[batch]`.
    pub fn free_energy(&self, v: Tensor<3>) -> Tensor<1> {
        let [batch, _, _] = v.dims();
        let visible = (v.clone() * self.visible_bias.val().unsqueeze_dims::<3>(&[0, 2]))
            .reshape([batch as i64, -1])
            .sum_dim(1);
        let hidden = softplus(self.hidden_input(v), 1.0)
            .reshape([batch as i64, -1])
            .sum_dim(1);
        (visible + hidden).neg().squeeze_dim::<1>(1)
    }

    /// One Gibbs round at `temperature`: returns (p(v|h), sampled v).
    pub fn gibbs_step(
        &self,
        v: Tensor<3>,
        temperature: f64,
        rng: &mut impl Rng,
    ) -> (Tensor<3>, Tensor<3>) {
        let h = bernoulli3(sigmoid(self.hidden_input(v) / temperature), rng);
        let p = sigmoid(self.visible_input(h) / temperature);
        (p.clone(), bernoulli3(p, rng))
    }
}

fn bernoulli3(p: Tensor<3>, rng: &mut impl Rng) -> Tensor<3> {
    let [a, b, c] = p.dims();
    bernoulli(p.reshape([a, b * c]), rng).reshape([a, b, c])
}

/// Rolls `[count, pitches, frames]` from frames (each `pitches` values), frame-major input.
fn rolls(windows: &[Vec<Vec<f32>>], pitches: usize, device: &Device) -> Tensor<3> {
    let frames = windows.first().map_or(0, Vec::len);
    let mut data = vec![0.0f32; windows.len() * pitches * frames];
    for (n, window) in windows.iter().enumerate() {
        for (t, frame) in window.iter().enumerate() {
            for (p, &v) in frame.iter().enumerate() {
                data[(n * pitches + p) * frames + t] = v;
            }
        }
    }
    Tensor::from_data(
        TensorData::new(data, [windows.len(), pitches, frames]),
        device,
    )
}

/// The frames of one roll `[1, pitches, frames]`.
fn frames_of(roll: Tensor<3>) -> Vec<Vec<f32>> {
    let [_, pitches, frames] = roll.dims();
    let flat = rows(roll.reshape([pitches, frames]));
    (0..frames)
        .map(|t| (0..pitches).map(|p| flat[p][t]).collect())
        .collect()
}

/// What steers generation.
#[derive(Clone, Debug)]
pub struct Constraints {
    /// The template's bar-by-bar self-similarity matrix (bars × bars), if any.
    pub self_similarity: Option<Vec<Vec<f32>>>,
    /// The key's pitch-class profile.
    pub key: Option<[f64; 12]>,
    /// Weights of self-similarity, key and meter.
    pub weights: [f64; 3],
    /// Quarter-note beats a bar: the meter (4 = 4/4, 3 = 3/4, 2 = 2/4).
    pub beats: usize,
}

/// The meters the C-RBM can be steered to, as beats a bar.
pub const METERS: [(usize, &str); 3] = [(4, "4/4"), (3, "3/4"), (2, "2/4")];

/// Reads a meter: "4/4", "3/4", "2/4" (or the beats alone).
pub fn parse_meter(text: &str) -> Option<usize> {
    let beats = text.trim().trim_end_matches("/4").parse::<usize>().ok()?;
    METERS.iter().any(|&(b, _)| b == beats).then_some(beats)
}

/// The metric weight of each position of a bar of `beats` quarter notes — the downbeat 1, a
/// 4/4 bar's third beat 0.75, the other beats 0.5, positions between beats 0.25 — over
/// `per_bar` frames: the meter constraint's target onset profile.
pub fn meter_profile(per_bar: usize, beats: usize) -> Vec<f32> {
    let beat_length = (per_bar / beats.max(1)).max(1);
    (0..per_bar)
        .map(|i| match (i / beat_length, i % beat_length == 0) {
            (0, true) => 1.0,
            (2, true) if beats == 4 => 0.75,
            (_, true) => 0.5,
            _ => 0.25,
        })
        .collect()
}

/// Per-bar pitch-class vectors of a roll `[1, pitches, frames]` (the first pitch is `low`):
/// `[bars, 12]`.
fn bar_pitch_classes(p: Tensor<3>, low: u8, per_bar: usize) -> Tensor<2> {
    let [_, pitches, frames] = p.dims();
    let bars = frames / per_bar.max(1);
    let device = p.device();
    let mut fold = vec![0.0f32; pitches * 12];
    for row in 0..pitches {
        fold[row * 12 + (usize::from(low) + row) % 12] = 1.0;
    }
    let fold = Tensor::<2>::from_data(TensorData::new(fold, [pitches, 12]), &device);
    let bar_sum = p
        .slice([0..1, 0..pitches, 0..bars * per_bar])
        .reshape([pitches, bars, per_bar])
        .sum_dim(2)
        .reshape([pitches, bars]);
    bar_sum.transpose().matmul(fold)
}

/// Cosine self-similarity of the rows of `[bars, 12]`: `[bars, bars]`.
fn self_similarity(vectors: Tensor<2>) -> Tensor<2> {
    let norms = (vectors.clone() * vectors.clone()).sum_dim(1).sqrt() + 1e-6;
    let unit = vectors / norms;
    unit.clone().matmul(unit.transpose())
}

/// The three constraint costs of relaxed rolls `[1, pitches, frames]`: (self-similarity, key,
/// meter), each 0 when met.
pub fn constraint_costs(
    p: Tensor<3>,
    low: u8,
    per_bar: usize,
    constraints: &Constraints,
) -> [Tensor<1>; 3] {
    let device = p.device();
    let zero = || Tensor::<1>::zeros([1], &device);
    let bars = bar_pitch_classes(p.clone(), low, per_bar);
    let similarity = match &constraints.self_similarity {
        Some(target) if bars.dims()[0] > 0 => {
            let n = bars.dims()[0].min(target.len());
            let flat: Vec<f32> = target[..n].iter().flat_map(|r| r[..n].to_vec()).collect();
            let target = Tensor::<2>::from_data(TensorData::new(flat, [n, n]), &device);
            let ssm = self_similarity(bars.clone().slice([0..n, 0..12]));
            let gap = ssm - target;
            (gap.clone() * gap).mean()
        }
        _ => zero(),
    };
    let key = match constraints.key {
        Some(profile) => {
            let classes = bars.sum_dim(0).reshape([12]);
            let classes = classes.clone() / ((classes.clone() * classes).sum().sqrt() + 1e-6);
            let norm = profile.iter().map(|v| v * v).sum::<f64>().sqrt();
            let target: Vec<f32> = profile.iter().map(|v| (v / norm) as f32).collect();
            let target = Tensor::<1>::from_data(TensorData::new(target, [12]), &device);
            let gap = classes - target;
            (gap.clone() * gap).sum()
        }
        None => zero(),
    };
    let [_, pitches, frames] = p.dims();
    let meter = if frames >= per_bar && per_bar > 0 {
        let bars = frames / per_bar;
        let now = p.clone().slice([0..1, 0..pitches, 1..frames]);
        let before = p.slice([0..1, 0..pitches, 0..frames - 1]);
        let onsets = now * (before.neg() + 1.0);
        let usable = (frames - 1) / per_bar * per_bar;
        let profile = if usable >= per_bar {
            onsets
                .slice([0..1, 0..pitches, 0..usable])
                .reshape([pitches, usable / per_bar, per_bar])
                .sum_dims(&[0, 1])
                .reshape([per_bar])
        } else {
            Tensor::<1>::zeros([per_bar], &device)
        };
        let _ = bars;
        let profile = profile.clone() / ((profile.clone() * profile).sum().sqrt() + 1e-6);
        // Onsets are counted from the second frame, so position 0 of the profile is the
        // bar's second frame: the target is shifted alike.
        let target = meter_profile(per_bar, constraints.beats);
        let norm = target.iter().map(|v| v * v).sum::<f32>().sqrt();
        let shifted: Vec<f32> = (0..per_bar)
            .map(|i| target[(i + 1) % per_bar] / norm)
            .collect();
        let target = Tensor::<1>::from_data(TensorData::new(shifted, [per_bar]), &device);
        let gap = profile - target;
        (gap.clone() * gap).sum()
    } else {
        zero()
    };
    [similarity, key, meter]
}

/// The template's bar self-similarity on the model's grid (`per_bar` frames a bar).
pub fn template_similarity(template: &Score, grid: usize, per_bar: usize) -> Vec<Vec<f32>> {
    let rolls = FrameRolls::from_scores(std::slice::from_ref(template), grid as u16, false, None);
    match rolls.pieces.first() {
        Some(frames) => frames_similarity(frames, rolls.low, per_bar),
        None => Vec::new(),
    }
}

/// The bar self-similarity of frames whose first pitch is `low`.
pub fn frames_similarity(frames: &[Vec<f32>], low: u8, per_bar: usize) -> Vec<Vec<f32>> {
    let pitches = frames.first().map_or(0, Vec::len);
    if pitches == 0 {
        return Vec::new();
    }
    let device = Device::flex();
    let roll = self::rolls(&[frames.to_vec()], pitches, &device);
    rows(self_similarity(bar_pitch_classes(roll, low, per_bar)))
}

/// The costs with the `i`-th first.
fn rotate<T>(mut costs: [T; 3], i: usize) -> [T; 3] {
    costs.rotate_left(i);
    costs
}

/// Samples written with and without the constraints in each validation.
const VALIDATION_SAMPLES: u64 = 4;

/// How far (in logits) one steering step moves the units that matter most to a constraint.
const STEER_RATE: f64 = 2.0;

/// Writes `frames` frames by constrained Gibbs sampling: `steps` rounds, the temperature falling
/// linearly from 3 to 1; after each round, one normalised gradient step moves the units'
/// probabilities toward the weighted constraints before they are sampled. Returns the frames
/// and the three constraint costs of the written roll.
#[allow(clippy::too_many_arguments)]
pub fn generate_frames(
    machine: &Crbm,
    (low, pitches): (u8, usize),
    frames: usize,
    per_bar: usize,
    steps: usize,
    constraints: &Constraints,
    seed: u64,
    device: &Device,
) -> (Vec<Vec<f32>>, [f64; 3]) {
    generate_watched(
        machine,
        (low, pitches),
        frames,
        (per_bar, steps),
        constraints,
        seed,
        device,
        None,
    )
}

/// One round of [`generate_watched`], as a watcher sees it.
pub struct CrbmStep<'a> {
    /// The round (from 0).
    pub step: usize,
    /// The annealing temperature of the round.
    pub temperature: f64,
    /// The sampled roll, frame by frame.
    pub frames: &'a [Vec<f32>],
    /// The constraint costs of the sampled roll: self-similarity, key, meter.
    pub costs: [f64; 3],
}

/// [`generate_frames`] with a watcher that sees every round (its sampled roll and constraint
/// costs, computed only when watched) and stops the chain by returning false.
#[allow(clippy::too_many_arguments)]
pub fn generate_watched(
    machine: &Crbm,
    (low, pitches): (u8, usize),
    frames: usize,
    (per_bar, steps): (usize, usize),
    constraints: &Constraints,
    seed: u64,
    device: &Device,
    mut watch: Option<&mut dyn FnMut(CrbmStep<'_>) -> bool>,
) -> (Vec<Vec<f32>>, [f64; 3]) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let frames = frames.max(machine.width());
    let start: Vec<f32> = (0..pitches * frames)
        .map(|_| f32::from(rng.random::<f32>() < 0.1))
        .collect();
    let mut v = Tensor::<3>::from_data(TensorData::new(start, [1, pitches, frames]), device);
    let autodiff = device.clone().autodiff();
    let steering = constraints.weights.iter().any(|&w| w > 0.0);
    let mut p = v.clone();
    let steps = steps.max(1);
    for step in 0..steps {
        let temperature = 3.0 - 2.0 * step as f64 / (steps - 1).max(1) as f64;
        let (probabilities, _) = machine.gibbs_step(v, temperature, &mut rng);
        p = probabilities;
        if steering {
            // One normalised step per constraint: the units that matter most to it move by
            // up to STEER_RATE × its weight. (Normalising the sum instead let the key and
            // meter, whose gradients are larger, drown the self-similarity; the raw gradients
            // of these averaged costs, ~1e-3 a unit, were too small to outlast a Gibbs round.)
            let mut step = Tensor::<3>::zeros(p.dims(), device);
            let present = [
                constraints.self_similarity.is_some(),
                constraints.key.is_some(),
                frames > per_bar,
            ];
            for (i, &weight) in constraints.weights.iter().enumerate() {
                // An absent constraint has a constant cost, with no gradient to follow.
                if weight <= 0.0 || !present[i] {
                    continue;
                }
                let relaxed =
                    Tensor::<3>::from_data(p.clone().into_data(), &autodiff).require_grad();
                let [cost, ..] = rotate(
                    constraint_costs(relaxed.clone(), low, per_bar, constraints),
                    i,
                );
                let gradients = cost.backward();
                if let Some(grad) = relaxed.grad(&gradients) {
                    let grad = grad.inner();
                    let largest = super::scalar(grad.clone().abs().max().reshape([1]));
                    if largest > 1e-12 {
                        step = step + grad * (STEER_RATE * weight / largest);
                    }
                }
            }
            // The step is taken on the units' logits, not their probabilities: a pitch class's
            // gradient is the same for each of its units in every octave and frame, and added
            // to the probabilities it lit units the machine was sure were off (the roll filled
            // with notes in far octaves: 11.7 pitch classes a bar against 5.0 unsteered, and
            // a key constraint that lowered the scale consistency from 0.98 to 0.66). On the
            // logits it moves the units the machine is unsure of.
            let p_safe = p.clamp(1e-4, 1.0 - 1e-4);
            let logits = (p_safe.clone() / (p_safe.neg() + 1.0)).log();
            p = sigmoid(logits - step);
        }
        v = bernoulli3(p.clone(), &mut rng);
        if let Some(watch) = watch.as_mut() {
            let frames = frames_of(v.clone());
            let costs = constraint_costs(v.clone(), low, per_bar, constraints).map(super::scalar);
            let go_on = watch(CrbmStep {
                step,
                temperature,
                frames: &frames,
                costs,
            });
            if !go_on {
                break;
            }
        }
    }
    let _ = p;
    let costs = constraint_costs(v.clone(), low, per_bar, constraints).map(super::scalar);
    (frames_of(v), costs)
}

/// The C-RBM under training.
pub struct CrbmSession {
    machine: Crbm,
    optimizer: burn::optim::ModuleOptimizer,
    config: CrbmConfig,
    data: FrameRolls,
    windows: Vec<(usize, usize)>,
    held: Vec<(usize, usize)>,
    train: Batches,
    learning_rate: f64,
    rng: rand::rngs::StdRng,
    chain: Option<Tensor<3>>,
    device: Device,
}

impl CrbmSession {
    /// Reads the frames and builds a fresh machine.
    pub fn new(config: CrbmConfig, args: &super::SessionArgs<'_>) -> Result<Self, String> {
        let data = FrameRolls::from_scores(
            args.scores,
            config.grid.clamp(1, 4) as u16,
            config.to_c > 0,
            None,
        );
        let window = config.window.max(config.width.max(1));
        let stride = (window / 2).max(1);
        let (train, held) = data.windows(window);
        let windows: Vec<(usize, usize)> =
            train.into_iter().filter(|(_, s)| s % stride == 0).collect();
        if windows.is_empty() {
            return Err(format!("no pieces of {window} frames in this corpus"));
        }
        let mut held: Vec<(usize, usize)> =
            held.into_iter().filter(|(_, s)| s % stride == 0).collect();
        if held.is_empty() {
            held = windows.iter().copied().take(16).collect();
        }
        held.truncate(256);
        // The visible biases start at the data's log-odds (see `Rbm::with_visible_frequencies`).
        let training_frames: Vec<Vec<f32>> = windows
            .iter()
            .map(|&(p, _)| p)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .flat_map(|p| data.pieces[p].iter().cloned())
            .collect();
        let frequencies =
            crate::measures::frame_accuracy::Bernoulli::fit(&training_frames, data.pitches).on;
        Ok(Self {
            machine: Crbm::new(
                data.pitches,
                config.filters,
                config.width.max(1),
                args.device,
            )
            .with_visible_frequencies(&frequencies)
            .with_hidden_target(config.sparsity_target),
            optimizer: super::optim::adam(0.9),
            train: Batches::new((0..windows.len()).collect(), args.batch),
            windows,
            held,
            config,
            data,
            learning_rate: args.learning_rate,
            rng: rand::rngs::StdRng::seed_from_u64(args.seed),
            chain: None,
            device: args.device.clone(),
        })
    }

    fn window(&self) -> usize {
        self.config.window.max(self.config.width.max(1))
    }

    fn batch(&self, at: &[(usize, usize)], device: &Device) -> Tensor<3> {
        let window = self.window();
        let windows: Vec<Vec<Vec<f32>>> = at
            .iter()
            .map(|&(p, s)| self.data.pieces[p][s..s + window].to_vec())
            .collect();
        rolls(&windows, self.data.pitches, device)
    }

    fn reconstruction(machine: &Crbm, v: Tensor<3>) -> f64 {
        let h = sigmoid(machine.hidden_input(v.clone()));
        let p = sigmoid(machine.visible_input(h)).clamp(1e-6, 1.0 - 1e-6);
        let [batch, _, _] = v.dims();
        let ce = v.clone() * p.clone().log() + (v.neg() + 1.0) * (p.neg() + 1.0).log();
        -super::scalar(ce.sum().reshape([1])) / batch.max(1) as f64
    }
}

impl Session for CrbmSession {
    fn loss_names(&self) -> Vec<String> {
        vec![
            "PCD loss F(data) − F(particles)".into(),
            "sparsity penalty".into(),
            "mean filter activation".into(),
        ]
    }

    fn steps_per_epoch(&self) -> usize {
        self.train.len()
    }

    fn start_epoch(&mut self, rng: &mut rand::rngs::StdRng) {
        self.train.shuffle(rng);
        self.rng = rand::rngs::StdRng::seed_from_u64(rng.random());
    }

    fn train_step(&mut self, step: usize) -> super::StepLosses {
        let at: Vec<(usize, usize)> = self
            .train
            .get(step)
            .iter()
            .map(|&i| self.windows[i])
            .collect();
        let v = self.batch(&at, &self.device);
        let machine = self.machine.valid();
        let start = match &self.chain {
            Some(chain) if chain.dims()[0] == at.len() => chain.clone(),
            _ => v.clone().inner(),
        };
        let mut particles = start;
        for _ in 0..self.config.cd_steps.max(1) {
            particles = machine.gibbs_step(particles, 1.0, &mut self.rng).1;
        }
        self.chain = Some(particles.clone());
        let activation = sigmoid(self.machine.hidden_input(v.clone()))
            .mean_dim(2)
            .mean_dim(0)
            .reshape([self.config.filters]);
        let gap = activation.clone() - self.config.sparsity_target;
        let sparsity = (gap.clone() * gap).mean();
        let cd = self.machine.free_energy(v).mean()
            - self
                .machine
                .free_energy(Tensor::from_inner(particles))
                .mean();
        let loss = cd.clone() + sparsity.clone() * self.config.sparsity_weight;
        let mean_activation = activation.mean();
        super::optimize(
            &mut self.optimizer,
            self.learning_rate,
            &mut self.machine,
            loss.backward(),
        );
        super::StepLosses::new([cd, sparsity, mean_activation])
    }

    fn validate(&mut self) -> Vec<(String, f64)> {
        let machine = self.machine.valid();
        let device = self.device.clone().inner();
        let held = self.batch(&self.held.clone(), &device);
        let train_at: Vec<(usize, usize)> =
            self.windows.iter().take(self.held.len()).copied().collect();
        let train = self.batch(&train_at, &device);
        let free = |v: Tensor<3>| super::scalar(machine.free_energy(v).mean());
        let mut out = vec![
            (
                "held-out reconstruction cross-entropy".into(),
                Self::reconstruction(&machine, held.clone()),
            ),
            (
                "free energy held-out − train".into(),
                free(held) - free(train),
            ),
        ];
        // Each constraint's cost of an 8-bar sample written without and with the constraints
        // (the template: the first held-out piece; the key: C major, where the pieces were
        // moved; a 4/4 meter).
        let per_bar = 4 * self.config.grid.clamp(1, 4);
        let template = &self.data.pieces[self.held[0].0];
        let constraints = |weights| Constraints {
            self_similarity: Some(frames_similarity(template, self.data.low, per_bar)),
            key: Some(
                Key {
                    tonic: 0,
                    mode: crate::music::key::Mode::Major,
                }
                .scale_profile(),
            ),
            weights,
            beats: 4,
        };
        // Four samples each (seeds 7–10): one 8-bar sample's note lengths vary too much.
        let write = |weights| {
            let mut costs = [0.0; 3];
            let rolls: Vec<Vec<Vec<f32>>> = (7..7 + VALIDATION_SAMPLES)
                .map(|seed| {
                    let (frames, cost) = generate_frames(
                        &machine,
                        (self.data.low, self.data.pitches),
                        8 * per_bar,
                        per_bar,
                        100,
                        &constraints(weights),
                        seed,
                        &device,
                    );
                    for (sum, c) in costs.iter_mut().zip(cost) {
                        *sum += c / VALIDATION_SAMPLES as f64;
                    }
                    frames
                })
                .collect();
            (rolls, costs)
        };
        let ((free_frames, unsteered), (steered_frames, steered)) =
            (write([0.0; 3]), write([1.0; 3]));
        for (i, name) in ["self-similarity", "key", "meter"].iter().enumerate() {
            out.push((format!("{name} cost, free sampling"), unsteered[i]));
            out.push((format!("{name} cost, constrained"), steered[i]));
        }
        // Steering must not buy its constraints by breaking held notes into repeated ones:
        // the note lengths of both samples beside the held-out windows'.
        let window = self.window();
        let held_rolls: Vec<Vec<Vec<f32>>> = self
            .held
            .iter()
            .map(|&(p, s)| self.data.pieces[p][s..s + window].to_vec())
            .collect();
        let corpus = lengths::length_histogram(&held_rolls);
        for (name, frames) in [
            ("free sampling", free_frames),
            ("constrained", steered_frames),
        ] {
            let written = lengths::length_histogram(&frames);
            out.push((
                format!("note-length overlap with held-out, {name}"),
                lengths::histogram_overlap(&written, &corpus),
            ));
            out.push((
                format!("mean note length (frames), {name}"),
                lengths::mean_length(&written),
            ));
        }
        out.push((
            "mean note length (frames), held-out".into(),
            lengths::mean_length(&corpus),
        ));
        out
    }

    fn samples(&mut self, seed: u64) -> Vec<Sample> {
        let per_bar = 4 * self.config.grid.clamp(1, 4);
        let constraints = Constraints {
            self_similarity: None,
            key: Some(
                Key {
                    tonic: 0,
                    mode: crate::music::key::Mode::Major,
                }
                .scale_profile(),
            ),
            weights: [0.0, 1.0, 1.0],
            beats: 4,
        };
        let (frames, _) = generate_frames(
            &self.machine.valid(),
            (self.data.low, self.data.pitches),
            8 * per_bar,
            per_bar,
            self.config.gibbs_steps.min(200),
            &constraints,
            seed,
            &self.device.clone().inner(),
        );
        vec![Sample {
            label: "8 bars, key (C) and meter constrained".into(),
            score: frames_to_score("crbm", &frames, self.data.low, self.config.grid),
        }]
    }

    fn flops_per_example(&self) -> Option<f64> {
        // One convolution over a window: 2 · filters · pitches · width per output position.
        // Per example: three with gradients (the free energy of the data and of the particles,
        // the sparsity's activations) and 2k without (k Gibbs rounds, each a convolution and
        // its transpose).
        let [filters, pitches, width] = self.machine.weight.val().dims();
        let positions = self.config.window.saturating_sub(width) + 1;
        let conv = 2.0 * (filters * pitches * width * positions) as f64;
        let k = self.config.cd_steps.max(1) as f64;
        Some(conv * (3.0 * super::card::TRAINING_PASSES + 2.0 * k))
    }

    fn layers(&self) -> Vec<super::card::LayerShape> {
        super::card::layers("C-RBM", &self.machine)
    }

    fn save(&self, path: &std::path::Path) -> Result<(), String> {
        super::save_with_optimizer(&self.machine, &self.optimizer, path)
    }

    fn load(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.machine = super::load_with_optimizer(self.machine.clone(), &mut self.optimizer, path)?;
        Ok(())
    }
}

/// A trained C-RBM.
pub struct TrainedCrbm {
    machine: Crbm,
    config: CrbmConfig,
    low: u8,
    pitches: usize,
}

/// The registry's `load`.
fn load(
    config: &super::ModelConfig,
    vocabulary: super::Vocabulary,
    path: &std::path::Path,
    device: &Device,
) -> Result<Box<dyn super::Trained>, String> {
    let (super::ModelConfig::Crbm(c), super::Vocabulary::Roll { low, pitches, .. }) =
        (config, vocabulary)
    else {
        return Err(super::missing_vocabulary(path));
    };
    Ok(Box::new(TrainedCrbm {
        machine: super::load_module(Crbm::new(pitches, c.filters, c.width.max(1), device), path)?,
        config: c.clone(),
        low,
        pitches,
    }))
}

impl TrainedCrbm {
    /// The constraints of a generation request: the template (`melody`) piece's structure,
    /// the key (C major by default: the model's pieces are in C), the weights given.
    fn constraints(&self, options: &super::GenerateOptions) -> Result<Constraints, String> {
        let beats = options.beats.unwrap_or(4);
        let per_bar = beats * self.config.grid.clamp(1, 4);
        let key = match &options.key {
            Some(name) => Key::parse(name)
                .ok_or_else(|| format!("--key: '{name}' is not a key (write C, F#, Bb, Am…)"))?,
            None => Key {
                tonic: 0,
                mode: crate::music::key::Mode::Major,
            },
        };
        Ok(Constraints {
            self_similarity: options
                .melody
                .as_ref()
                .map(|t| template_similarity(t, self.config.grid.clamp(1, 4), per_bar)),
            key: Some(key.scale_profile()),
            weights: options.constraint_weights.unwrap_or([1.0, 1.0, 1.0]),
            beats,
        })
    }
}

impl super::Trained for TrainedCrbm {
    /// `bars` bars (default: the template's, else 8) under the constraints.
    fn generate(&self, options: &super::GenerateOptions, device: &Device) -> Result<Score, String> {
        let constraints = self.constraints(options)?;
        let per_bar = constraints.beats * self.config.grid.clamp(1, 4);
        let bars = options
            .bars
            .or_else(|| constraints.self_similarity.as_ref().map(Vec::len))
            .unwrap_or(8)
            .clamp(1, 64);
        let (frames, _) = generate_frames(
            &self.machine,
            (self.low, self.pitches),
            bars * per_bar,
            per_bar,
            options.gibbs_steps.unwrap_or(self.config.gibbs_steps),
            &constraints,
            options.seed,
            device,
        );
        Ok(frames_to_score("crbm", &frames, self.low, self.config.grid))
    }

    /// Samples (key and meter constrained) against the held-out music.
    fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String> {
        use crate::measures::overlap::Excerpt;
        let grid = self.config.grid.clamp(1, 4);
        let per_bar = 4 * grid;
        let constraints = self.constraints(&super::GenerateOptions::default())?;
        progress(0.1, "sampling");
        let steps = 4 * 16;
        let samples: Vec<Excerpt> = (0..options.samples.min(50))
            .map(|i| {
                let (frames, _) = generate_frames(
                    &self.machine,
                    (self.low, self.pitches),
                    4 * per_bar,
                    per_bar,
                    self.config.gibbs_steps.min(200),
                    &constraints,
                    options.seed.wrapping_add(i as u64),
                    device,
                );
                let score = frames_to_score("crbm", &frames, self.low, grid);
                Excerpt::cut(&Excerpt::all_notes(&score), 0, steps)
            })
            .collect();
        Ok(crate::measures::polyphonic_case(
            data, samples, steps, options, progress,
        ))
    }
}
