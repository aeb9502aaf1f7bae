//! The Restricted Boltzmann Machine on chorale frames: binary visible units (the pitches
//! sounding in a window of consecutive frames, all voices merged), Bernoulli hidden units, an
//! energy E(v, h) = −v·b − h·c − vWh. Trained by contrastive divergence: the loss is the mean
//! free energy F(v) = −v·b − Σ_j softplus(c_j + (vW)_j) of the data minus that of negative
//! particles drawn by k steps of Gibbs sampling (CD-k, restarting at the data) or by a chain
//! that persists from step to step (PCD). The particles are constants of the loss, so its
//! gradient is the classic positive-minus-negative statistics, and autodiff does the rest.
//!
//! It writes by Gibbs sampling: a first window from noise, then frame by frame, the frames
//! before clamped and the new one sampled. Measured frame by frame (`measures::frame_accuracy`):
//! each held-out frame predicted from the true frames before it in its window (mean field),
//! against the independent Bernoulli baseline; with 16 hidden units or fewer, also the exact
//! held-out log-likelihood (log Z by enumerating the hidden states).

use burn::module::{Module, Param};
use burn::tensor::activation::{sigmoid, softplus};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::{Batches, Sample, Session, rows};
use crate::data::{FrameRolls, roll_to_score};
use crate::measures::frame_accuracy::{self, Bernoulli, FrameScores};
use crate::music::Score;

/// The written part of the model card (the layers come from the module).
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "RBM: binary visible frames × Bernoulli hidden units, trained by CD-k or persistent CD",
    reference: "Smolensky (1986); Hinton, \"Training Products of Experts by Minimizing Contrastive Divergence\" (2002); Tieleman (2008, PCD); chorale frames as in Boulanger-Lewandowski, Bengio & Vincent (2012)",
    deviations: &[
        (
            "Adam on the free-energy loss instead of plain gradient steps",
            "the same gradient (positive minus negative statistics); Adam is what every other model here uses, and needs no momentum schedule",
        ),
        (
            "the visible layer is a window of frames",
            "so that the RBM alone can continue a piece and predict a frame from those before it (the plain-RBM baseline of the RNN-RBM)",
        ),
    ],
};

/// This model's entry in the registry ([`super::ModelKind::info`]).
pub const INFO: super::ModelInfo = super::ModelInfo {
    id: "rbm",
    title: "RBM (Boltzmann machine)",
    description: "Learns which notes sound together in a few chorale frames; writes by Gibbs sampling, frame after frame.",
    default_corpus: "bach",
    learning_rate: 1e-2,
    family: super::Family::Predictive,
    card: CARD,
    default_config: || super::ModelConfig::Rbm(RbmConfig::default()),
    session: build_session,
    load,
};

crate::hyperparameters! {
    /// Hyperparameters of the RBM.
    pub struct RbmConfig {
        /// Hidden units (binary feature detectors). With 16 or fewer, the exact held-out log-likelihood is computed (log Z by enumerating the hidden states).
        pub hidden: usize = 150; 1..=4096,
        /// Frames in the visible layer: the RBM learns windows of this many consecutive frames, and predicts a window's last frame from the ones before it.
        pub window: usize = 4; 1..=32,
        /// Gibbs steps k of contrastive divergence CD-k (the negative particles are k alternating samplings starting from the data, or from the persistent chain).
        pub cd_steps: usize = 1; 1..=100,
        /// 1 = persistent CD (Tieleman 2008): the negative chain continues from the previous step's particles instead of restarting at the data.
        pub persistent: usize = 0; 0..=1,
        /// Grid steps per quarter note: 1 = quarter notes (the reference protocol), 4 = sixteenths.
        pub grid: usize = 1; 1..=4,
        /// 1 = each piece is transposed to C (major or minor) by its estimated key first, as in the reference.
        pub to_c: usize = 1; 0..=1,
        /// Gibbs steps per generated frame (the first window gets four times as many).
        pub gibbs_steps: usize = 50; 1..=10000,
    }
}

/// Builds this model's training session (the registry's `session`).
fn build_session(
    config: &super::ModelConfig,
    args: &super::SessionArgs<'_>,
) -> Result<(Box<dyn Session>, super::Vocabulary), String> {
    let super::ModelConfig::Rbm(c) = config else {
        return Err(super::wrong_config(INFO.id));
    };
    let session = RbmSession::new(c.clone(), args)?;
    let vocabulary = super::Vocabulary::Roll {
        low: session.data.low,
        pitches: session.data.pitches,
        steps: c.window,
    };
    Ok((Box::new(session), vocabulary))
}

/// The machine: weights `[visible, hidden]` and the two biases.
#[derive(Module, Debug)]
pub struct Rbm {
    weight: Param<Tensor<2>>,
    visible_bias: Param<Tensor<1>>,
    hidden_bias: Param<Tensor<1>>,
}

impl Rbm {
    /// Small random weights (σ = 0.01, as Hinton's guide advises) and zero biases.
    pub fn new(visible: usize, hidden: usize, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::random(
                [visible, hidden],
                Distribution::Normal(0.0, 0.01),
                device,
            )),
            visible_bias: Param::from_tensor(Tensor::zeros([visible], device)),
            hidden_bias: Param::from_tensor(Tensor::zeros([hidden], device)),
        }
    }

    /// Sets the visible biases to the data's log-odds ([`super::log_odds`]).
    pub fn with_visible_frequencies(mut self, frequencies: &[f32]) -> Self {
        self.visible_bias = super::log_odds(frequencies, &self.visible_bias.val().device());
        self
    }

    /// The hidden units' input c + vW: `[batch, visible]` → `[batch, hidden]`.
    pub fn hidden_input(&self, v: Tensor<2>) -> Tensor<2> {
        v.matmul(self.weight.val()) + self.hidden_bias.val().unsqueeze_dim::<2>(0)
    }

    /// The visible units' input b + hWᵀ: `[batch, hidden]` → `[batch, visible]`.
    pub fn visible_input(&self, h: Tensor<2>) -> Tensor<2> {
        h.matmul(self.weight.val().transpose()) + self.visible_bias.val().unsqueeze_dim::<2>(0)
    }

    /// Free energy F(v) = −v·b − Σ_j softplus(c_j + (vW)_j) of each row: `[batch, visible]` →
    /// `[batch]`.
    pub fn free_energy(&self, v: Tensor<2>) -> Tensor<1> {
        let visible = (v.clone() * self.visible_bias.val().unsqueeze_dim::<2>(0)).sum_dim(1);
        let hidden = softplus(self.hidden_input(v), 1.0).sum_dim(1);
        (visible + hidden).neg().squeeze_dim::<1>(1)
    }

    /// p(h = 1 | v): `[batch, visible]` → `[batch, hidden]`.
    pub fn hidden_probs(&self, v: Tensor<2>) -> Tensor<2> {
        sigmoid(self.hidden_input(v))
    }

    /// p(v = 1 | h): `[batch, hidden]` → `[batch, visible]`.
    pub fn visible_probs(&self, h: Tensor<2>) -> Tensor<2> {
        sigmoid(
            h.matmul(self.weight.val().transpose()) + self.visible_bias.val().unsqueeze_dim::<2>(0),
        )
    }

    /// What the `count` hidden units with the largest weights detect: each unit's weights as a
    /// window of frames (`window` frames of `pitches` values, frame-major, as the visible layer).
    pub fn features(&self, count: usize) -> Vec<Vec<f32>> {
        strongest_units(self.weight.val(), count)
    }

    /// The parameters on the host: weights row by row (one row per visible unit), visible and
    /// hidden biases.
    fn host(&self) -> (Vec<Vec<f64>>, Vec<f64>, Vec<f64>) {
        let to_vec = |t: Tensor<1>| -> Vec<f64> {
            t.into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap_or_default()
                .into_iter()
                .map(f64::from)
                .collect()
        };
        let weights = rows(self.weight.val().inner())
            .into_iter()
            .map(|r| r.into_iter().map(f64::from).collect())
            .collect();
        (
            weights,
            to_vec(self.visible_bias.val().inner()),
            to_vec(self.hidden_bias.val().inner()),
        )
    }
}

/// The weights `[visible, hidden]` of the `count` hidden units with the largest weights (by
/// squared norm), one vector of visible weights per unit.
pub fn strongest_units(weights: Tensor<2>, count: usize) -> Vec<Vec<f32>> {
    let weights = rows(weights.inner());
    let hidden = weights.first().map_or(0, Vec::len);
    let mut units: Vec<(f32, usize)> = (0..hidden)
        .map(|j| (weights.iter().map(|row| row[j] * row[j]).sum::<f32>(), j))
        .collect();
    units.sort_by(|a, b| b.0.total_cmp(&a.0));
    units
        .into_iter()
        .take(count)
        .map(|(_, j)| weights.iter().map(|row| row[j]).collect())
        .collect()
}

/// Draws each cell on with its probability, from `rng` (so a seed gives the same chain).
pub fn bernoulli(probabilities: Tensor<2>, rng: &mut impl Rng) -> Tensor<2> {
    let dims = probabilities.dims();
    let device = probabilities.device();
    let draws: Vec<f32> = (0..dims[0] * dims[1]).map(|_| rng.random()).collect();
    probabilities
        .greater(Tensor::from_data(TensorData::new(draws, dims), &device))
        .float()
}

/// `steps` rounds of block Gibbs sampling from `v` (h ~ p(h|v), then v ~ p(v|h)). With a
/// clamp (mask, values), the masked visible units are set to the values after every round, so
/// they never change: the chain fills in the rest around them.
pub fn gibbs(
    rbm: &Rbm,
    mut v: Tensor<2>,
    steps: usize,
    clamp: Option<(&Tensor<2>, &Tensor<2>)>,
    rng: &mut impl Rng,
) -> Tensor<2> {
    for _ in 0..steps {
        let h = bernoulli(rbm.hidden_probs(v), rng);
        v = bernoulli(rbm.visible_probs(h), rng);
        if let Some((mask, values)) = clamp {
            v = v.clone() - v * mask.clone() + values.clone() * mask.clone();
        }
    }
    v
}

/// Mean-field probabilities of each window's last frame given its other frames:
/// `[batch, window * pitches]` → `[batch, pitches]`.
pub fn predict_last(rbm: &Rbm, windows: Tensor<2>, pitches: usize) -> Tensor<2> {
    let [batch, visible] = windows.dims();
    let context = visible - pitches;
    let known = windows.slice([0..batch, 0..context]);
    let bias = rbm.visible_bias.val().narrow(0, context, pitches);
    let mut last = sigmoid(bias).unsqueeze_dim::<2>(0).repeat_dim(0, batch);
    for _ in 0..20 {
        let v = Tensor::cat(vec![known.clone(), last], 1);
        last = rbm
            .visible_probs(rbm.hidden_probs(v))
            .slice([0..batch, context..visible]);
    }
    last
}

/// Mean-field probabilities of every frame of each piece given the `window − 1` frames before
/// it (silence before the piece starts), so that every frame is predicted — the frames an
/// RNN-RBM is measured on.
pub fn predict_pieces(
    rbm: &Rbm,
    window: usize,
    pitches: usize,
    pieces: &[Vec<Vec<f32>>],
    device: &Device,
) -> Vec<Vec<f32>> {
    let window = window.max(1);
    let rows: Vec<Vec<f32>> = pieces
        .iter()
        .flat_map(|piece| {
            (0..piece.len()).map(move |t| {
                (0..window)
                    .flat_map(|k| match (t + k + 1).checked_sub(window) {
                        Some(i) => piece[i].clone(),
                        None => vec![0.0; pitches],
                    })
                    .collect::<Vec<f32>>()
            })
        })
        .collect();
    rows.chunks(crate::measures::BATCH)
        .flat_map(|chunk| {
            let v = Tensor::<2>::from_data(
                TensorData::new(chunk.concat(), [chunk.len(), window * pitches]),
                device,
            );
            super::rows(predict_last(rbm, v, pitches))
        })
        .collect()
}

/// A plain RBM of `config` (windows of frames, no recurrence) over the pitch `range` (lowest,
/// count), trained for `epochs` epochs on every window of the `train` pieces (no held-out part
/// of its own), with the RBM's default learning rate and burn's generator seeded with `seed` —
/// the second baseline an RNN-RBM is measured against.
pub fn train_plain(
    train: &[Score],
    config: RbmConfig,
    range: (u8, usize),
    (epochs, batch, seed): (usize, usize, u64),
    device: &Device,
) -> Result<Rbm, String> {
    device.seed(seed);
    let autodiff = device.clone().autodiff();
    let args = super::SessionArgs {
        scores: train,
        training_only: train,
        batch,
        learning_rate: INFO.learning_rate,
        seed,
        device: &autodiff,
        from: None,
    };
    let mut session = RbmSession::over_range(config, &args, Some(range))?;
    let (mut windows, held) = session.data.windows(session.config.window.max(1));
    windows.extend(held);
    session.windows = windows;
    session.train = Batches::new((0..session.windows.len()).collect(), batch);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for _ in 0..epochs.max(1) {
        session.start_epoch(&mut rng);
        for step in 0..session.steps_per_epoch() {
            session.train_step(step);
        }
    }
    Ok(session.rbm.valid())
}

fn softplus64(x: f64) -> f64 {
    if x > 30.0 { x } else { x.exp().ln_1p() }
}

fn log_sum_exp(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + values.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// The most hidden units for which log Z is computed exactly (2^16 hidden states).
pub const EXACT_HIDDEN: usize = 16;

/// log Z = log Σ_h exp(h·c + Σ_i softplus(b_i + (Wh)_i)), summing over every hidden state (in
/// Gray-code order, so each state costs one column update); `None` above [`EXACT_HIDDEN`] units.
pub fn exact_log_partition(rbm: &Rbm) -> Option<f64> {
    let (weights, visible_bias, hidden_bias) = rbm.host();
    let hidden = hidden_bias.len();
    if hidden > EXACT_HIDDEN {
        return None;
    }
    let mut input = visible_bias.clone();
    let mut on = vec![false; hidden];
    let mut bias_sum = 0.0;
    let term =
        |input: &[f64], bias_sum: f64| bias_sum + input.iter().map(|&x| softplus64(x)).sum::<f64>();
    let mut terms = vec![term(&input, bias_sum)];
    for state in 1usize..(1 << hidden) {
        let bit = state.trailing_zeros() as usize;
        on[bit] = !on[bit];
        let sign = if on[bit] { 1.0 } else { -1.0 };
        for (x, row) in input.iter_mut().zip(&weights) {
            *x += sign * row[bit];
        }
        bias_sum += sign * hidden_bias[bit];
        terms.push(term(&input, bias_sum));
    }
    Some(log_sum_exp(&terms))
}

/// Exact negative log-likelihood of each visible row, −log p(v) = F(v) + log Z, in nats; `None`
/// above [`EXACT_HIDDEN`] hidden units.
pub fn exact_nll(rbm: &Rbm, rows: &[Vec<f32>]) -> Option<Vec<f64>> {
    let log_z = exact_log_partition(rbm)?;
    let (weights, visible_bias, hidden_bias) = rbm.host();
    Some(
        rows.iter()
            .map(|v| {
                let mut free = 0.0;
                for (i, &x) in v.iter().enumerate() {
                    free -= f64::from(x) * visible_bias[i];
                }
                for (j, &c) in hidden_bias.iter().enumerate() {
                    let input: f64 = c + v
                        .iter()
                        .zip(&weights)
                        .map(|(&x, row)| f64::from(x) * row[j])
                        .sum::<f64>();
                    free -= softplus64(input);
                }
                free + log_z
            })
            .collect(),
    )
}

/// Frames (`pitches` values each) on a grid of `grid` steps per quarter as a one-track score.
pub fn frames_to_score(name: &str, frames: &[Vec<f32>], low: u8, grid: usize) -> Score {
    let roll: Vec<f32> = frames.concat();
    let mut score = roll_to_score(name, &roll, frames.len(), low, 480);
    // roll_to_score writes 16th-note steps; stretch to the grid's steps.
    let stretch = 4 / grid.clamp(1, 4) as u64;
    for note in score.tracks.iter_mut().flat_map(|t| t.notes.iter_mut()) {
        note.start *= stretch;
        note.duration *= stretch;
    }
    if let Some(track) = score.tracks.first_mut() {
        track.name = "RBM".into();
    }
    score
}

/// One Gibbs step of [`chain`], as a watcher sees it.
pub struct ChainStep<'a> {
    /// The frame being written (from 0).
    pub frame: usize,
    /// The Gibbs step within it (from 0).
    pub step: usize,
    /// p(v = 1 | h) of the frame's units at this step.
    pub probabilities: &'a [f32],
    /// The sampled frame (clamped units as clamped).
    pub state: &'a [f32],
    /// Which units of the frame are clamped (the melody's constraints).
    pub clamped: &'a [bool],
    /// Free energy of the sampled window.
    pub free_energy: f64,
}

/// Cells pinned while a chain writes: per frame, per pitch of the frame (from the lowest),
/// `Some(on)` or free; frames and pitches past the ends are free.
pub type Pins = [Vec<Option<bool>>];

/// A melody (one pitch or a rest per frame) as pins: its pitch on and every pitch above it off
/// (it stays the top voice); rests and pitches outside the range pin nothing.
pub fn melody_pins(melody: &[Option<u8>], low: u8, pitches: usize) -> Vec<Vec<Option<bool>>> {
    melody
        .iter()
        .map(|pitch| {
            let mut row = vec![None; pitches];
            if let Some(r) = pitch
                .and_then(|p| p.checked_sub(low))
                .map(usize::from)
                .filter(|&r| r < pitches)
            {
                row[r] = Some(true);
                row[r + 1..].fill(Some(false));
            }
            row
        })
        .collect()
}

/// Writes `frames` frames with a Gibbs chain, frame after frame: the frames before the new one
/// in the window are clamped to what was written (before the piece starts they are free), and
/// so are the new frame's `pins` (a melody's, [`melody_pins`], or cells a user painted). Each
/// frame gets `steps` rounds from a random start; `temperature` divides the energies (above 1
/// the chain wanders, below 1 it settles). `watch` sees every step, when given, and stops the
/// chain by returning false.
#[allow(clippy::too_many_arguments)]
pub fn chain(
    rbm: &Rbm,
    window: usize,
    pitches: usize,
    pins: &Pins,
    frames: usize,
    (steps, temperature): (usize, f64),
    seed: u64,
    device: &Device,
    mut watch: Option<&mut dyn FnMut(ChainStep<'_>) -> bool>,
) -> Vec<Vec<f32>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let window = window.max(1);
    let visible = window * pitches;
    let last = (window - 1) * pitches;
    let temperature = temperature.max(0.05);
    let tensor = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, visible]), device);
    let mut out: Vec<Vec<f32>> = Vec::with_capacity(frames);
    for t in 0..frames {
        let (mut mask, mut values) = (vec![0.0f32; visible], vec![0.0f32; visible]);
        for k in 0..window - 1 {
            let Some(frame) = (t + k + 1).checked_sub(window).and_then(|i| out.get(i)) else {
                continue;
            };
            mask[k * pitches..(k + 1) * pitches].fill(1.0);
            values[k * pitches..(k + 1) * pitches].copy_from_slice(frame);
        }
        for (row, pin) in pins.get(t).into_iter().flatten().take(pitches).enumerate() {
            if let Some(on) = pin {
                mask[last + row] = 1.0;
                values[last + row] = f32::from(u8::from(*on));
            }
        }
        let clamped: Vec<bool> = mask[last..].iter().map(|&m| m > 0.5).collect();
        let start: Vec<f32> = mask
            .iter()
            .zip(&values)
            .map(|(&m, &v)| {
                if m > 0.5 {
                    v
                } else {
                    f32::from(rng.random::<bool>())
                }
            })
            .collect();
        let (mask, values) = (tensor(mask), tensor(values));
        let mut v = tensor(start);
        for step in 0..steps.max(1) {
            let h = bernoulli(sigmoid(rbm.hidden_input(v) / temperature), &mut rng);
            let p = sigmoid(rbm.visible_input(h) / temperature);
            v = bernoulli(p.clone(), &mut rng);
            v = v.clone() - v * mask.clone() + values.clone() * mask.clone();
            // What a watcher sees is read back only when there is one (generation and
            // evaluation run thousands of steps unwatched).
            if let Some(watch) = watch.as_mut() {
                let state = rows(v.clone()).remove(0);
                let probabilities = rows(p).remove(0);
                let free_energy = super::scalar(rbm.free_energy(v.clone()));
                let go_on = watch(ChainStep {
                    frame: t,
                    step,
                    probabilities: &probabilities[last..],
                    state: &state[last..],
                    clamped: &clamped,
                    free_energy,
                });
                if !go_on {
                    return out;
                }
            }
        }
        out.push(rows(v).remove(0)[last..].to_vec());
    }
    out
}

/// Writes `frames` frames freely ([`chain`] without a melody, `gibbs_steps` rounds a frame).
pub fn generate_frames(
    rbm: &Rbm,
    config: &RbmConfig,
    pitches: usize,
    frames: usize,
    seed: u64,
    device: &Device,
) -> Vec<Vec<f32>> {
    chain(
        rbm,
        config.window,
        pitches,
        &[],
        frames,
        (config.gibbs_steps, 1.0),
        seed,
        device,
        None,
    )
}

/// Harmonises a melody (one pitch or a rest per frame, in the model's key) with [`chain`];
/// returns the frames without the melody's own pitch (the voices the machine added).
pub fn harmonize_frames(
    rbm: &Rbm,
    config: &RbmConfig,
    low: u8,
    pitches: usize,
    melody: &[Option<u8>],
    seed: u64,
    device: &Device,
) -> Vec<Vec<f32>> {
    let mut out = chain(
        rbm,
        config.window,
        pitches,
        &melody_pins(melody, low, pitches),
        melody.len(),
        (config.gibbs_steps, 1.0),
        seed,
        device,
        None,
    );
    strip_melody(&mut out, melody, low);
    out
}

/// A harmonisation as a score: the melody's own track (its `track`, else its soprano, else
/// its first with notes) above the machine's voices, moved back from C by `shift`.
pub fn harmony_score(
    melody: &Score,
    track: Option<&str>,
    voices: &[Vec<f32>],
    (low, shift): (u8, i32),
    grid: usize,
) -> Score {
    let low = u8::try_from(i32::from(low) - shift).unwrap_or(low);
    let mut score = frames_to_score(&melody.name, voices, low, grid);
    if let Some(first) = score.tracks.first_mut() {
        first.name = "Boltzmann voices".into();
    }
    let picked = track
        .and_then(|name| melody.tracks.iter().find(|t| t.name == name))
        .or_else(|| {
            melody
                .tracks
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case("Soprano"))
        })
        .or_else(|| melody.tracks.iter().find(|t| !t.notes.is_empty()));
    if let Some(picked) = picked {
        let scale = 480.0 / f64::from(melody.ticks_per_quarter.max(1));
        let mut picked = picked.clone();
        for note in &mut picked.notes {
            note.start = (note.start as f64 * scale).round() as u64;
            note.duration = ((note.duration as f64 * scale).round() as u64).max(1);
        }
        score.tracks.insert(0, picked);
    }
    score
}

/// Clears the melody's own pitch from each frame (leaving the voices the machine added).
pub fn strip_melody(frames: &mut [Vec<f32>], melody: &[Option<u8>], low: u8) {
    for (frame, pitch) in frames.iter_mut().zip(melody) {
        if let Some(row) = pitch.and_then(|p| p.checked_sub(low)).map(usize::from)
            && let Some(cell) = frame.get_mut(row)
        {
            *cell = 0.0;
        }
    }
}

/// The melody of `score` on the model's grid, moved to C when the model's pieces were (see
/// [`melody_frames`]), with the shift to undo afterwards; an error for a score without one.
pub fn melody_in_model_key(
    score: &Score,
    track: Option<&str>,
    config: &RbmConfig,
) -> Result<(Vec<Option<u8>>, i32), String> {
    let shift = if config.to_c > 0 {
        crate::data::datasets::shift_to_c(score)
    } else {
        0
    };
    let frames = melody_frames(score, track, config.grid.clamp(1, 4), shift);
    if frames.iter().all(Option::is_none) {
        return Err(format!("{}: no melody to harmonise", score.name));
    }
    Ok((frames, shift))
}

/// The melody of `score` (its `track`, else its soprano, else its first track with notes) as
/// the highest pitch sounding in each frame of a grid of `grid` steps per quarter, moved by
/// `shift` semitones.
pub fn melody_frames(
    score: &Score,
    track: Option<&str>,
    grid: usize,
    shift: i32,
) -> Vec<Option<u8>> {
    let grid_score = score.to_grid(grid.clamp(1, 4) as u16);
    let chosen = track
        .and_then(|name| grid_score.tracks.iter().find(|t| t.name == name))
        .or_else(|| crate::data::encoding::pick_track(&grid_score.tracks, Some("Soprano")));
    let Some(chosen) = chosen else {
        return Vec::new();
    };
    let total = chosen
        .notes
        .iter()
        .map(|n| (n.start + n.duration) as usize)
        .max()
        .unwrap_or(0);
    let mut out = vec![None; total];
    for note in &chosen.notes {
        let Ok(pitch) = u8::try_from(i32::from(note.pitch) + shift) else {
            continue;
        };
        for step in note.start..note.start + note.duration {
            let cell = &mut out[step as usize];
            *cell = Some(cell.map_or(pitch, |p: u8| p.max(pitch)));
        }
    }
    out
}

/// The RBM under training.
pub struct RbmSession {
    rbm: Rbm,
    optimizer: burn::optim::ModuleOptimizer,
    config: RbmConfig,
    data: FrameRolls,
    windows: Vec<(usize, usize)>,
    held: Vec<(usize, usize)>,
    train: Batches,
    learning_rate: f64,
    rng: rand::rngs::StdRng,
    /// PCD's negative particles (no autodiff).
    chain: Option<Tensor<2>>,
    /// The Bernoulli baseline on the validation frames (computed once).
    baseline: Option<FrameScores>,
    device: Device,
}

/// Most validation windows measured each epoch (an even selection).
const VALIDATION_WINDOWS: usize = 1024;

impl RbmSession {
    /// Reads the frames and builds a fresh machine.
    pub fn new(config: RbmConfig, args: &super::SessionArgs<'_>) -> Result<Self, String> {
        Self::over_range(config, args, None)
    }

    /// The same over a given pitch range (lowest pitch, pitch count) instead of the corpus's.
    fn over_range(
        config: RbmConfig,
        args: &super::SessionArgs<'_>,
        range: Option<(u8, usize)>,
    ) -> Result<Self, String> {
        let data = FrameRolls::from_scores(
            args.scores,
            config.grid.clamp(1, 4) as u16,
            config.to_c > 0,
            range,
        );
        let window = config.window.max(1);
        let (windows, mut held) = data.windows(window);
        if windows.is_empty() {
            return Err(format!(
                "no windows of {window} frames with notes in this corpus"
            ));
        }
        if held.is_empty() {
            held = windows.iter().copied().take(256).collect();
        }
        let stride = held.len().div_ceil(VALIDATION_WINDOWS).max(1);
        let held = held.into_iter().step_by(stride).collect();
        let frequencies = Bernoulli::fit(&data.training_frames(), data.pitches)
            .on
            .repeat(window);
        Ok(Self {
            rbm: Rbm::new(window * data.pitches, config.hidden, args.device)
                .with_visible_frequencies(&frequencies),
            optimizer: super::optim::adam(0.9),
            train: Batches::new((0..windows.len()).collect(), args.batch),
            windows,
            held,
            config,
            data,
            learning_rate: args.learning_rate,
            rng: rand::rngs::StdRng::seed_from_u64(args.seed),
            chain: None,
            baseline: None,
            device: args.device.clone(),
        })
    }

    fn rows_of(&self, windows: &[(usize, usize)]) -> Vec<Vec<f32>> {
        windows
            .iter()
            .map(|&w| self.data.window(w, self.config.window.max(1)))
            .collect()
    }

    fn tensor(&self, rows: &[Vec<f32>], device: &Device) -> Tensor<2> {
        let width = rows.first().map_or(0, Vec::len);
        Tensor::from_data(TensorData::new(rows.concat(), [rows.len(), width]), device)
    }

    /// Mean reconstruction cross-entropy per window: v → p(h|v) → p(v|h), against v.
    fn reconstruction(rbm: &Rbm, v: Tensor<2>) -> Tensor<1> {
        let p = rbm
            .visible_probs(rbm.hidden_probs(v.clone()))
            .clamp(1e-6, 1.0 - 1e-6);
        let ce = v.clone() * p.clone().log() + (v.neg() + 1.0) * (p.neg() + 1.0).log();
        ce.sum_dim(1).mean().neg()
    }
}

impl Session for RbmSession {
    fn loss_names(&self) -> Vec<String> {
        vec![
            "CD loss F(data) − F(particles)".into(),
            "reconstruction cross-entropy".into(),
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
        let batch: Vec<(usize, usize)> = self
            .train
            .get(step)
            .iter()
            .map(|&i| self.windows[i])
            .collect();
        let rows = self.rows_of(&batch);
        let v = self.tensor(&rows, &self.device);
        let machine = self.rbm.valid();
        let start = match &self.chain {
            Some(chain) if self.config.persistent > 0 && chain.dims()[0] == rows.len() => {
                chain.clone()
            }
            _ => v.clone().inner(),
        };
        let particles = gibbs(&machine, start, self.config.cd_steps, None, &mut self.rng);
        if self.config.persistent > 0 {
            self.chain = Some(particles.clone());
        }
        let loss = self.rbm.free_energy(v.clone()).mean()
            - self.rbm.free_energy(Tensor::from_inner(particles)).mean();
        let reconstruction = Self::reconstruction(&machine, v.inner());
        let value = loss.clone();
        super::optimize(
            &mut self.optimizer,
            self.learning_rate,
            &mut self.rbm,
            loss.backward(),
        );
        super::StepLosses::new([value, reconstruction])
    }

    fn validate(&mut self) -> Vec<(String, f64)> {
        let machine = self.rbm.valid();
        let device = self.device.clone().inner();
        let held = self.rows_of(&self.held);
        let train_sample: Vec<(usize, usize)> = self
            .windows
            .iter()
            .step_by((self.windows.len() / self.held.len().max(1)).max(1))
            .take(self.held.len())
            .copied()
            .collect();
        let train = self.rows_of(&train_sample);
        let free = |rows: &[Vec<f32>]| {
            super::scalar(machine.free_energy(self.tensor(rows, &device)).mean())
        };
        let mut out = vec![
            (
                "held-out reconstruction cross-entropy".to_string(),
                super::scalar(Self::reconstruction(&machine, self.tensor(&held, &device))),
            ),
            (
                "free energy held-out − train".to_string(),
                free(&held) - free(&train),
            ),
        ];
        let pitches = self.data.pitches;
        if self.config.window >= 2 {
            let last = |rows: &[Vec<f32>]| -> Vec<Vec<f32>> {
                rows.iter()
                    .map(|r| r[r.len() - pitches..].to_vec())
                    .collect()
            };
            let predicted = |rows: &[Vec<f32>]| -> Vec<Vec<f32>> {
                super::rows(predict_last(&machine, self.tensor(rows, &device), pitches))
            };
            let threshold = frame_accuracy::best_threshold(&predicted(&train), &last(&train));
            out.push((
                "frame accuracy".into(),
                frame_accuracy::accuracy(&predicted(&held), &last(&held), threshold),
            ));
            let baseline = self.baseline.get_or_insert_with(|| {
                Bernoulli::fit(&self.data.training_frames(), pitches)
                    .scores(&last(&train), &last(&held))
            });
            out.push(("Bernoulli frame accuracy".into(), baseline.frame_accuracy));
        }
        if let Some(nll) = exact_nll(&machine, &held) {
            let frames = self.config.window.max(1) as f64;
            out.push((
                "held-out NLL per frame (exact)".into(),
                nll.iter().sum::<f64>() / nll.len().max(1) as f64 / frames,
            ));
        }
        out
    }

    fn samples(&mut self, seed: u64) -> Vec<Sample> {
        let frames = generate_frames(
            &self.rbm.valid(),
            &self.config,
            self.data.pitches,
            8 * 4 * self.config.grid.clamp(1, 4),
            seed,
            &self.device.clone().inner(),
        );
        vec![Sample {
            label: "Gibbs sample: 8 bars, frame after frame".into(),
            score: frames_to_score("rbm", &frames, self.data.low, self.config.grid),
        }]
    }

    fn flops_per_example(&self) -> Option<f64> {
        // Per example: F(v) and F(particles) forward and backward (one product each), and k
        // Gibbs rounds of two products, plus the reconstruction's two.
        let layers = self.layers();
        let product =
            super::card::matmul_flops(&layers, |n| if n.ends_with("weight") { 1.0 } else { 0.0 });
        let k = self.config.cd_steps as f64;
        Some(product * (2.0 * super::card::TRAINING_PASSES + 2.0 * k + 2.0))
    }

    fn layers(&self) -> Vec<super::card::LayerShape> {
        super::card::layers("RBM", &self.rbm)
    }

    fn save(&self, path: &std::path::Path) -> Result<(), String> {
        super::save_with_optimizer(&self.rbm, &self.optimizer, path)
    }

    fn load(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.rbm = super::load_with_optimizer(self.rbm.clone(), &mut self.optimizer, path)?;
        Ok(())
    }
}

/// A trained RBM, ready to write and to be measured.
pub struct TrainedRbm {
    rbm: Rbm,
    config: RbmConfig,
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
    let (super::ModelConfig::Rbm(c), super::Vocabulary::Roll { low, pitches, .. }) =
        (config, vocabulary)
    else {
        return Err(super::missing_vocabulary(path));
    };
    let visible = c.window.max(1) * pitches;
    Ok(Box::new(TrainedRbm {
        rbm: super::load_module(Rbm::new(visible, c.hidden, device), path)?,
        config: c.clone(),
        low,
        pitches,
    }))
}

/// Frames per sample in `evaluate` (4 bars).
const SAMPLE_BARS: usize = 4;

impl super::Trained for TrainedRbm {
    /// With a melody: Boltzmann harmonisation (the melody clamped, the chain writes the voices
    /// below it); else sixteen bars frame after frame.
    fn generate(&self, options: &super::GenerateOptions, device: &Device) -> Result<Score, String> {
        let grid = self.config.grid.clamp(1, 4);
        if let Some(melody) = &options.melody {
            let (frames, shift) =
                melody_in_model_key(melody, options.track.as_deref(), &self.config)?;
            let config = RbmConfig {
                gibbs_steps: options.gibbs_steps.unwrap_or(self.config.gibbs_steps),
                ..self.config.clone()
            };
            let voices = harmonize_frames(
                &self.rbm,
                &config,
                self.low,
                self.pitches,
                &frames,
                options.seed,
                device,
            );
            return Ok(harmony_score(
                melody,
                options.track.as_deref(),
                &voices,
                (self.low, shift),
                grid,
            ));
        }
        let config = RbmConfig {
            gibbs_steps: options.gibbs_steps.unwrap_or(self.config.gibbs_steps),
            ..self.config.clone()
        };
        let frames = generate_frames(
            &self.rbm,
            &config,
            self.pitches,
            options.bars.unwrap_or(16) * 4 * grid,
            options.seed,
            device,
        );
        Ok(frames_to_score("rbm", &frames, self.low, self.config.grid))
    }

    /// Frame accuracy (and exact NLL with few hidden units) on the held-out chorales against
    /// the independent Bernoulli baseline; samples against the held-out music.
    fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String> {
        use crate::measures::overlap::Excerpt;
        let grid = self.config.grid.clamp(1, 4);
        let window = self.config.window.max(1);
        let range = Some((self.low, self.pitches));
        let read =
            |scores| FrameRolls::from_scores(scores, grid as u16, self.config.to_c > 0, range);
        let (train, held) = (read(data.train), read(data.held));
        let windows_of = |rolls: &FrameRolls| -> Vec<Vec<f32>> {
            let mut all = Vec::new();
            for (p, frames) in rolls.pieces.iter().enumerate() {
                for start in 0..(frames.len() + 1).saturating_sub(window) {
                    all.push(rolls.window((p, start), window));
                }
            }
            all
        };
        progress(0.1, "predicting held-out frames");
        let (train_windows, held_windows) = (windows_of(&train), windows_of(&held));
        if held_windows.is_empty() {
            return Err("no held-out windows to measure".into());
        }
        let thin = |rows: Vec<Vec<f32>>, n: usize| -> Vec<Vec<f32>> {
            let stride = rows.len().div_ceil(n).max(1);
            rows.into_iter().step_by(stride).collect()
        };
        let train_windows = thin(train_windows, 2000);
        let pitches = self.pitches;
        let last = |rows: &[Vec<f32>]| -> Vec<Vec<f32>> {
            rows.iter()
                .map(|r| r[r.len() - pitches..].to_vec())
                .collect()
        };
        let tensor = |rows: &[Vec<f32>]| {
            Tensor::<2>::from_data(
                TensorData::new(rows.concat(), [rows.len(), rows[0].len()]),
                device,
            )
        };
        let predicted = |rows: &[Vec<f32>]| -> Vec<Vec<f32>> {
            rows.chunks(crate::measures::BATCH)
                .flat_map(|chunk| super::rows(predict_last(&self.rbm, tensor(chunk), pitches)))
                .collect()
        };
        let nll = exact_nll(&self.rbm, &held_windows)
            .map(|n| n.iter().sum::<f64>() / n.len() as f64 / window as f64);
        let model_frames = if window >= 2 {
            let threshold =
                frame_accuracy::best_threshold(&predicted(&train_windows), &last(&train_windows));
            FrameScores {
                frame_accuracy: frame_accuracy::accuracy(
                    &predicted(&held_windows),
                    &last(&held_windows),
                    threshold,
                ),
                nll_per_frame: nll,
                threshold,
                frames: held_windows.len(),
            }
        } else {
            FrameScores {
                nll_per_frame: nll,
                frames: held_windows.len(),
                ..FrameScores::default()
            }
        };
        let train_frames: Vec<Vec<f32>> = train.pieces.concat();
        let bernoulli = Bernoulli::fit(&train_frames, pitches)
            .scores(&last(&train_windows), &last(&held_windows));

        progress(0.3, "sampling");
        let steps = SAMPLE_BARS * 16;
        let per_sample = SAMPLE_BARS * 4 * grid;
        let samples: Vec<Excerpt> = (0..options.samples)
            .map(|i| {
                let frames = generate_frames(
                    &self.rbm,
                    &self.config,
                    pitches,
                    per_sample,
                    options.seed.wrapping_add(i as u64),
                    device,
                );
                let score = frames_to_score("rbm", &frames, self.low, grid);
                Excerpt::cut(&Excerpt::all_notes(&score), 0, steps)
            })
            .collect();
        Ok(
            crate::measures::polyphonic_case(data, samples, steps, options, progress)
                .with_frames(model_frames, bernoulli),
        )
    }
}
