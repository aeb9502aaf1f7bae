//! RNN-RBM (Boulanger-Lewandowski, Bengio & Vincent 2012): a recurrence
//! u_t = tanh(b_u + v_t W_vu + u_{t−1} W_uu) runs over the frames of a piece, and the previous
//! state sets the biases of the RBM that models frame t:
//! b_v(t) = b_v + u_{t−1} W_uv, b_h(t) = b_h + u_{t−1} W_uh. Frame t's RBM sees u_{t−1}, never
//! u_t (which already knows frame t; one public port makes that mistake).
//!
//! Training follows the authors' tutorial (lisa-lab DeepLearningTutorials, rnnrbm.py): the cost
//! is Σ_t F_t(v_t) − F_t(v⁻_t), the negative frames v⁻_t drawn by CD-k from each v_t under its
//! own biases and held constant, so the gradient reaches the RBM's weights directly and the
//! recurrence through the biases. Generation runs the recurrence forward, each frame sampled by
//! Gibbs steps from zeros under the biases its predecessors set.

use burn::module::{Module, Param};
use burn::tensor::activation::{sigmoid, softplus, tanh};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::rbm::{bernoulli, frames_to_score};
use super::{Batches, Sample, Session, rows};
use crate::data::FrameRolls;
use crate::measures::frame_accuracy::{self, Bernoulli};
use crate::music::Score;

/// The written part of the model card (the layers come from the module).
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "RNN-RBM: an RNN over the frames conditions the biases of an RBM per frame",
    reference: "Boulanger-Lewandowski, Bengio & Vincent, \"Modeling Temporal Dependencies in High-Dimensional Sequences\" (ICML 2012); lisa-lab DeepLearningTutorials rnnrbm.py",
    deviations: &[
        (
            "Adam instead of plain gradient steps",
            "the same cost and gradient; one optimiser for every model here",
        ),
        (
            "training sequences of 32 frames (the tutorial cuts pieces into 100)",
            "shorter chunks make more batches per epoch on a CPU; the recurrence still spans 8 bars of quarter notes",
        ),
    ],
};

/// This model's entry in the registry ([`super::ModelKind::info`]).
pub const INFO: super::ModelInfo = super::ModelInfo {
    id: "rnn-rbm",
    title: "RNN-RBM (Boulanger-Lewandowski)",
    description: "An RNN follows the piece and sets, frame by frame, the biases of an RBM that knows which notes sound together.",
    default_corpus: "bach",
    learning_rate: 3e-3,
    family: super::Family::Predictive,
    card: CARD,
    default_config: || super::ModelConfig::RnnRbm(RnnRbmConfig::default()),
    session: build_session,
    load,
};

crate::hyperparameters! {
    /// Hyperparameters of the RNN-RBM (defaults: the authors' tutorial).
    pub struct RnnRbmConfig {
        /// Hidden units of each frame's RBM.
        pub hidden: usize = 150; 1..=4096,
        /// Units of the recurrence u_t.
        pub recurrent: usize = 100; 1..=4096,
        /// Gibbs steps k of contrastive divergence for each frame's negative sample (the tutorial: 15).
        pub cd_steps: usize = 15; 1..=100,
        /// Frames per training sequence (the recurrence starts from zero at each).
        pub sequence: usize = 32; 2..=512,
        /// Grid steps per quarter note: 1 = quarter notes (the reference protocol), 4 = sixteenths.
        pub grid: usize = 1; 1..=4,
        /// 1 = each piece is transposed to C (major or minor) by its estimated key first, as in the reference.
        pub to_c: usize = 1; 0..=1,
        /// Gibbs steps per generated frame, from zeros (the tutorial: 25).
        pub gibbs_steps: usize = 25; 1..=10000,
        /// Epochs that first train the frame RBM alone (its weights and biases, no recurrence) on the frames as independent examples, as the tutorial recommends; they count among the run's epochs. 0 = none.
        pub pretrain_epochs: usize = 0; 0..=100,
    }
}

/// Builds this model's training session (the registry's `session`).
fn build_session(
    config: &super::ModelConfig,
    args: &super::SessionArgs<'_>,
) -> Result<(Box<dyn Session>, super::Vocabulary), String> {
    let super::ModelConfig::RnnRbm(c) = config else {
        return Err(super::wrong_config(INFO.id));
    };
    let session = RnnRbmSession::new(c.clone(), args)?;
    let vocabulary = super::Vocabulary::Roll {
        low: session.data.low,
        pitches: session.data.pitches,
        steps: c.sequence,
    };
    Ok((Box::new(session), vocabulary))
}

/// A parameter drawn from N(0, std²) (shared with the RNN-NADE).
pub(super) fn normal<const D: usize>(
    shape: [usize; D],
    std: f64,
    device: &Device,
) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::random(
        shape,
        Distribution::Normal(0.0, std),
        device,
    ))
}

/// The network: the RBM's weights and biases and the recurrence's.
#[derive(Module, Debug)]
pub struct RnnRbm {
    weights: Param<Tensor<2>>,
    visible_bias: Param<Tensor<1>>,
    hidden_bias: Param<Tensor<1>>,
    u_to_hidden: Param<Tensor<2>>,
    u_to_visible: Param<Tensor<2>>,
    v_to_u: Param<Tensor<2>>,
    u_to_u: Param<Tensor<2>>,
    u_bias: Param<Tensor<1>>,
}

impl RnnRbm {
    /// The tutorial's initialisation: RBM weights N(0, 0.01), recurrent weights N(0, 1e-4),
    /// zero biases.
    pub fn new(visible: usize, hidden: usize, recurrent: usize, device: &Device) -> Self {
        Self::with_recurrent_scale(visible, hidden, recurrent, 1e-4, device)
    }

    /// The same with recurrent weights N(0, `scale`) (tests use large ones, so that what the
    /// recurrence carries shows in the probabilities).
    pub fn with_recurrent_scale(
        visible: usize,
        hidden: usize,
        recurrent: usize,
        scale: f64,
        device: &Device,
    ) -> Self {
        Self {
            weights: normal([visible, hidden], 0.01, device),
            visible_bias: Param::from_tensor(Tensor::zeros([visible], device)),
            hidden_bias: Param::from_tensor(Tensor::zeros([hidden], device)),
            u_to_hidden: normal([recurrent, hidden], scale, device),
            u_to_visible: normal([recurrent, visible], scale, device),
            v_to_u: normal([visible, recurrent], scale, device),
            u_to_u: normal([recurrent, recurrent], scale, device),
            u_bias: Param::from_tensor(Tensor::zeros([recurrent], device)),
        }
    }

    /// Sets the visible biases to the data's log-odds ([`super::log_odds`]).
    pub fn with_visible_frequencies(mut self, frequencies: &[f32]) -> Self {
        self.visible_bias = super::log_odds(frequencies, &self.visible_bias.val().device());
        self
    }

    /// What the `count` hidden units of the frame RBM with the largest weights detect (their
    /// weights, one per pitch).
    pub fn features(&self, count: usize) -> Vec<Vec<f32>> {
        super::rbm::strongest_units(self.weights.val(), count)
    }

    /// Units of the recurrence.
    pub fn recurrent(&self) -> usize {
        self.u_bias.val().dims()[0]
    }

    /// The frame RBM's weights, `[visible, hidden]` (annealed importance sampling needs them).
    pub fn weights(&self) -> Tensor<2> {
        self.weights.val()
    }

    /// One step of the recurrence: u_t from frame v_t `[batch, visible]` and u_{t−1}.
    pub fn step(&self, v: Tensor<2>, u: Tensor<2>) -> Tensor<2> {
        tanh(
            v.matmul(self.v_to_u.val())
                + u.matmul(self.u_to_u.val())
                + self.u_bias.val().unsqueeze_dim::<2>(0),
        )
    }

    /// The state before each frame, u_{t−1} (u_{−1} = 0): frames `[batch, length, visible]` →
    /// `[batch * length, recurrent]`, rows in (sequence, frame) order.
    pub fn previous_states(&self, v: Tensor<3>) -> Tensor<2> {
        tanh_recurrence(v, self.v_to_u.val(), self.u_to_u.val(), self.u_bias.val())
    }

    /// The biases of each frame's RBM from the states before it: (b_v(t), b_h(t)).
    pub fn biases(&self, previous: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        (
            previous.clone().matmul(self.u_to_visible.val())
                + self.visible_bias.val().unsqueeze_dim::<2>(0),
            previous.matmul(self.u_to_hidden.val()) + self.hidden_bias.val().unsqueeze_dim::<2>(0),
        )
    }

    /// Free energy of each frame under its own biases: `[rows]`.
    pub fn free_energy(&self, v: Tensor<2>, bv: Tensor<2>, bh: Tensor<2>) -> Tensor<1> {
        let visible = (v.clone() * bv).sum_dim(1);
        let hidden = softplus(v.matmul(self.weights.val()) + bh, 1.0).sum_dim(1);
        (visible + hidden).neg().squeeze_dim::<1>(1)
    }

    fn hidden_probs(&self, v: Tensor<2>, bh: Tensor<2>) -> Tensor<2> {
        sigmoid(v.matmul(self.weights.val()) + bh)
    }

    fn visible_probs(&self, h: Tensor<2>, bv: Tensor<2>) -> Tensor<2> {
        sigmoid(h.matmul(self.weights.val().transpose()) + bv)
    }

    /// `steps` rounds of block Gibbs sampling of each row under its own biases.
    pub fn gibbs(
        &self,
        mut v: Tensor<2>,
        bv: &Tensor<2>,
        bh: &Tensor<2>,
        steps: usize,
        rng: &mut impl Rng,
    ) -> Tensor<2> {
        for _ in 0..steps {
            let h = bernoulli(self.hidden_probs(v, bh.clone()), rng);
            v = bernoulli(self.visible_probs(h, bv.clone()), rng);
        }
        v
    }

    /// Mean-field probabilities of each frame under its biases (the prediction of frame t from
    /// the frames before it).
    pub fn predict(&self, bv: Tensor<2>, bh: Tensor<2>) -> Tensor<2> {
        self.mean_field(sigmoid(bv.clone()), &bv, &bh)
    }

    /// 20 mean-field rounds from `v` under each row's biases.
    fn mean_field(&self, mut v: Tensor<2>, bv: &Tensor<2>, bh: &Tensor<2>) -> Tensor<2> {
        for _ in 0..20 {
            v = self.visible_probs(self.hidden_probs(v, bh.clone()), bv.clone());
        }
        v
    }

    /// The most likely frame of each step's RBM as far as a few candidates can find it: the
    /// mean-field fixed points reached from the biases alone and from the true frame before
    /// (`frames` `[rows, visible]` are the piece's true frames; row t's candidate starts from
    /// row t − 1), thresholded at ½, and that previous frame itself; per step the candidate of
    /// lowest free energy wins (p(v) ∝ e^−F(v)). Why more than one start: mean-field from the
    /// biases settles in the fixed point nearest to silence and misses held chords, which the
    /// previous frame leads it to.
    pub fn predict_frames(&self, bv: Tensor<2>, bh: Tensor<2>, frames: Tensor<2>) -> Tensor<2> {
        let [length, visible] = frames.dims();
        let device = frames.device();
        let before = Tensor::cat(
            vec![
                Tensor::zeros([1, visible], &device),
                frames.narrow(0, 0, length.saturating_sub(1)),
            ],
            0,
        )
        .narrow(0, 0, length);
        let settle = |v: Tensor<2>| self.mean_field(v, &bv, &bh).greater_equal_elem(0.5).float();
        let candidates = [settle(sigmoid(bv.clone())), settle(before.clone()), before];
        let mut best: Option<(Tensor<2>, Tensor<1>)> = None;
        for candidate in candidates {
            let energy = self.free_energy(candidate.clone(), bv.clone(), bh.clone());
            best = Some(match best {
                None => (candidate, energy),
                Some((frame, lowest)) => {
                    let better = energy.clone().lower(lowest.clone()).float();
                    let mask = better.clone().unsqueeze_dim::<2>(1);
                    (
                        frame * (mask.clone().neg() + 1.0) + candidate * mask,
                        lowest * (better.clone().neg() + 1.0) + energy * better,
                    )
                }
            });
        }
        best.map_or_else(|| Tensor::zeros([length, visible], &device), |(f, _)| f)
    }

    /// Probabilities of every frame of a piece given the true frames before it.
    pub fn predict_piece(&self, frames: &[Vec<f32>], device: &Device) -> Vec<Vec<f32>> {
        let (length, visible) = (frames.len(), frames.first().map_or(0, Vec::len));
        if length == 0 {
            return Vec::new();
        }
        let v = Tensor::<3>::from_data(
            TensorData::new(frames.concat(), [1, length, visible]),
            device,
        );
        let (bv, bh) = self.biases(self.previous_states(v));
        rows(self.predict(bv, bh))
    }
}

/// The tanh recurrence u_t = tanh(b_u + v_t W_vu + u_{t−1} W_uu) that the RNN-RBM and the
/// RNN-NADE share, as the state before each frame u_{t−1} (u_{−1} = 0): frames
/// `[batch, length, visible]` → `[batch * length, recurrent]`, rows in (sequence, frame) order.
pub fn tanh_recurrence(
    v: Tensor<3>,
    v_to_u: Tensor<2>,
    u_to_u: Tensor<2>,
    u_bias: Tensor<1>,
) -> Tensor<2> {
    let [batch, length, visible] = v.dims();
    let recurrent = u_bias.dims()[0];
    let input = (v.reshape([batch * length, visible]).matmul(v_to_u)
        + u_bias.unsqueeze_dim::<2>(0))
    .reshape([batch, length, recurrent]);
    let mut u = Tensor::<2>::zeros([batch, recurrent], &input.device());
    let mut before = Vec::with_capacity(length);
    for t in 0..length {
        before.push(u.clone());
        let x = input
            .clone()
            .slice([0..batch, t..t + 1, 0..recurrent])
            .reshape([batch, recurrent]);
        u = tanh(x + u.matmul(u_to_u.clone()));
    }
    Tensor::stack::<3>(before, 1).reshape([batch * length, recurrent])
}

/// The opening `bars` bars of `score` (all its voices; at least one bar) as frames of a model
/// of `config` over `range` (lowest pitch, pitch count), moved to C when the model was.
pub fn prime_frames(
    score: &Score,
    config: &RnnRbmConfig,
    range: (u8, usize),
    bars: usize,
) -> Vec<Vec<f32>> {
    let grid = config.grid.clamp(1, 4);
    let rolls = FrameRolls::from_scores(
        std::slice::from_ref(score),
        grid as u16,
        config.to_c > 0,
        Some(range),
    );
    let mut frames = rolls.pieces.into_iter().next().unwrap_or_default();
    frames.truncate(bars.max(1) * 4 * grid);
    frames
}

/// Writes `frames` frames, the first ones copied from `prime`: the recurrence runs forward and
/// each new frame is sampled by `gibbs_steps` Gibbs rounds from zeros under its biases.
pub fn generate_frames(
    model: &RnnRbm,
    gibbs_steps: usize,
    pitches: usize,
    frames: usize,
    prime: &[Vec<f32>],
    seed: u64,
    device: &Device,
) -> Vec<Vec<f32>> {
    generate_watched(
        model,
        (gibbs_steps, 1.0),
        pitches,
        (frames, prime, &[]),
        seed,
        device,
        None,
    )
}

/// [`generate_frames`] at a `temperature` (it divides the energies) with `pins` held in each
/// new frame (cells a user painted, `rbm::Pins`). `watch` sees every Gibbs step of every new
/// frame, and one step for each primed frame (all its units clamped, its probabilities the
/// mean-field prediction from the frames before it); it stops the chain by returning false.
pub fn generate_watched(
    model: &RnnRbm,
    (gibbs_steps, temperature): (usize, f64),
    pitches: usize,
    (frames, prime, pins): (usize, &[Vec<f32>], &super::rbm::Pins),
    seed: u64,
    device: &Device,
    mut watch: Option<&mut dyn FnMut(super::rbm::ChainStep<'_>) -> bool>,
) -> Vec<Vec<f32>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let temperature = temperature.max(0.05);
    let tensor = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, pitches]), device);
    let mut u = Tensor::<2>::zeros([1, model.recurrent()], device);
    let mut out = Vec::with_capacity(frames);
    for t in 0..frames {
        let (bv, bh) = model.biases(u.clone());
        let frame = match prime.get(t) {
            Some(frame) => {
                if let Some(watch) = watch.as_mut() {
                    let v = tensor(frame.clone());
                    let free_energy = super::scalar(model.free_energy(v, bv.clone(), bh.clone()));
                    let probabilities = rows(model.predict(bv, bh)).remove(0);
                    let step = super::rbm::ChainStep {
                        frame: t,
                        step: 0,
                        probabilities: &probabilities,
                        state: frame,
                        clamped: &vec![true; pitches],
                        free_energy,
                    };
                    if !watch(step) {
                        return out;
                    }
                }
                frame.clone()
            }
            None => {
                let row = pins.get(t);
                let pinned = |p: usize| row.and_then(|r| r.get(p)).copied().flatten();
                let clamped: Vec<bool> = (0..pitches).map(|p| pinned(p).is_some()).collect();
                let clamp = clamped.iter().any(|&c| c).then(|| {
                    let mask = clamped.iter().map(|&c| f32::from(u8::from(c))).collect();
                    let values = (0..pitches)
                        .map(|p| f32::from(u8::from(pinned(p) == Some(true))))
                        .collect();
                    (tensor(mask), tensor(values))
                });
                let mut v = Tensor::<2>::zeros([1, pitches], device);
                for step in 0..gibbs_steps.max(1) {
                    let h = bernoulli(
                        sigmoid((v.matmul(model.weights.val()) + bh.clone()) / temperature),
                        &mut rng,
                    );
                    let p = sigmoid(
                        (h.matmul(model.weights.val().transpose()) + bv.clone()) / temperature,
                    );
                    v = bernoulli(p.clone(), &mut rng);
                    if let Some((mask, values)) = &clamp {
                        v = v.clone() - v * mask.clone() + values.clone() * mask.clone();
                    }
                    if let Some(watch) = watch.as_mut() {
                        let state = rows(v.clone()).remove(0);
                        let probabilities = rows(p).remove(0);
                        let free_energy =
                            super::scalar(model.free_energy(v.clone(), bv.clone(), bh.clone()));
                        let go_on = watch(super::rbm::ChainStep {
                            frame: t,
                            step,
                            probabilities: &probabilities,
                            state: &state,
                            clamped: &clamped,
                            free_energy,
                        });
                        if !go_on {
                            return out;
                        }
                    }
                }
                rows(v).remove(0)
            }
        };
        u = model.step(tensor(frame.clone()), u);
        out.push(frame);
    }
    out
}

/// The RNN-RBM under training.
pub struct RnnRbmSession {
    model: RnnRbm,
    optimizer: burn::optim::ModuleOptimizer,
    config: RnnRbmConfig,
    data: FrameRolls,
    sequences: Vec<(usize, usize)>,
    held_pieces: Vec<usize>,
    train: Batches,
    learning_rate: f64,
    rng: rand::rngs::StdRng,
    baseline: Option<f64>,
    /// Epochs started so far (the first `pretrain_epochs` train the RBM alone).
    epochs_started: usize,
    device: Device,
}

/// A piece's frames.
type Frames = Vec<Vec<f32>>;

/// Most held-out frames predicted each epoch.
const VALIDATION_FRAMES: usize = 4096;

impl RnnRbmSession {
    /// Reads the frames and builds a fresh network.
    pub fn new(config: RnnRbmConfig, args: &super::SessionArgs<'_>) -> Result<Self, String> {
        let data = FrameRolls::from_scores(
            args.scores,
            config.grid.clamp(1, 4) as u16,
            config.to_c > 0,
            None,
        );
        let length = config.sequence.max(2);
        // Sequences overlapping by half.
        let stride = (length / 2).max(1);
        let (train, held) = data.windows(length);
        let sequences: Vec<(usize, usize)> =
            train.into_iter().filter(|(_, s)| s % stride == 0).collect();
        if sequences.is_empty() {
            return Err(format!("no pieces of {length} frames in this corpus"));
        }
        let mut held_pieces: Vec<usize> = held.iter().map(|&(p, _)| p).collect();
        held_pieces.dedup();
        if held_pieces.is_empty() {
            held_pieces = vec![sequences[0].0];
        }
        let visible = data.pitches;
        // The visible biases start at the data's log-odds (see `Rbm::with_visible_frequencies`).
        let training_frames: Vec<Vec<f32>> = sequences
            .iter()
            .map(|&(p, _)| p)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .flat_map(|p| data.pieces[p].iter().cloned())
            .collect();
        let frequencies = Bernoulli::fit(&training_frames, visible).on;
        Ok(Self {
            model: RnnRbm::new(visible, config.hidden, config.recurrent, args.device)
                .with_visible_frequencies(&frequencies),
            optimizer: super::optim::adam(0.9),
            train: Batches::new((0..sequences.len()).collect(), args.batch),
            sequences,
            held_pieces,
            config,
            data,
            learning_rate: args.learning_rate,
            rng: rand::rngs::StdRng::seed_from_u64(args.seed),
            baseline: None,
            epochs_started: 0,
            device: args.device.clone(),
        })
    }

    /// Frames of the held-out pieces (at most [`VALIDATION_FRAMES`] in all) and of as many
    /// training pieces.
    fn pieces(&self) -> (Vec<&Frames>, Vec<&Frames>) {
        let take = |pieces: &mut dyn Iterator<Item = usize>| {
            let mut total = 0;
            pieces
                .map(|p| &self.data.pieces[p])
                .take_while(|frames| {
                    total += frames.len();
                    total <= VALIDATION_FRAMES || total == frames.len()
                })
                .collect::<Vec<_>>()
        };
        let held = take(&mut self.held_pieces.iter().copied());
        let mut training = self.sequences.iter().map(|&(p, _)| p).collect::<Vec<_>>();
        training.dedup();
        let train = take(&mut training.into_iter());
        (train, held)
    }
}

impl Session for RnnRbmSession {
    fn loss_names(&self) -> Vec<String> {
        vec![
            "CD loss Σ F(data) − F(particles), per frame".into(),
            "reconstruction cross-entropy per frame".into(),
        ]
    }

    fn steps_per_epoch(&self) -> usize {
        self.train.len()
    }

    fn start_epoch(&mut self, rng: &mut rand::rngs::StdRng) {
        self.train.shuffle(rng);
        self.rng = rand::rngs::StdRng::seed_from_u64(rng.random());
        self.epochs_started += 1;
    }

    /// A batch of sequences; while pretraining, their frames are independent examples of the
    /// RBM alone (the state before each is zero, so the recurrence gets no gradient).
    fn train_step(&mut self, step: usize) -> super::StepLosses {
        let length = self.config.sequence.max(2);
        let visible = self.data.pitches;
        let batch: Vec<Vec<f32>> = self
            .train
            .get(step)
            .iter()
            .map(|&i| self.data.window(self.sequences[i], length))
            .collect();
        let count = batch.len();
        let v = Tensor::<3>::from_data(
            TensorData::new(batch.concat(), [count, length, visible]),
            &self.device,
        );
        let previous = if self.epochs_started <= self.config.pretrain_epochs {
            Tensor::zeros([count * length, self.model.recurrent()], &self.device)
        } else {
            self.model.previous_states(v.clone())
        };
        let (bv, bh) = self.model.biases(previous);
        let frames = v.reshape([count * length, visible]);
        let machine = self.model.valid();
        let (bv_fixed, bh_fixed) = (bv.clone().inner(), bh.clone().inner());
        let particles = machine.gibbs(
            frames.clone().inner(),
            &bv_fixed,
            &bh_fixed,
            self.config.cd_steps,
            &mut self.rng,
        );
        let loss = self
            .model
            .free_energy(frames.clone(), bv.clone(), bh.clone())
            .mean()
            - self
                .model
                .free_energy(Tensor::from_inner(particles), bv, bh)
                .mean();
        let data = frames.inner();
        let p = machine
            .visible_probs(machine.hidden_probs(data.clone(), bh_fixed), bv_fixed)
            .clamp(1e-6, 1.0 - 1e-6);
        let reconstruction = (data.clone() * p.clone().log()
            + (data.neg() + 1.0) * (p.neg() + 1.0).log())
        .sum_dim(1)
        .mean()
        .neg();
        let value = loss.clone();
        super::optimize(
            &mut self.optimizer,
            self.learning_rate,
            &mut self.model,
            loss.backward(),
        );
        super::StepLosses::new([value, reconstruction])
    }

    fn validate(&mut self) -> Vec<(String, f64)> {
        let machine = self.model.valid();
        let device = self.device.clone().inner();
        let (train, held) = self.pieces();
        let predicted = |pieces: &[&Frames]| -> Vec<Vec<f32>> {
            pieces
                .iter()
                .flat_map(|p| machine.predict_piece(p, &device))
                .collect()
        };
        let truth = |pieces: &[&Frames]| -> Vec<Vec<f32>> {
            pieces.iter().flat_map(|p| p.iter().cloned()).collect()
        };
        let (train_truth, held_truth) = (truth(&train), truth(&held));
        let threshold = frame_accuracy::best_threshold(&predicted(&train), &train_truth);
        let accuracy = frame_accuracy::accuracy(&predicted(&held), &held_truth, threshold);
        let pitches = self.data.pitches;
        let baseline = *self.baseline.get_or_insert_with(|| {
            Bernoulli::fit(&train_truth, pitches)
                .scores(&train_truth, &held_truth)
                .frame_accuracy
        });
        vec![
            ("frame accuracy".into(), accuracy),
            ("Bernoulli frame accuracy".into(), baseline),
        ]
    }

    fn samples(&mut self, seed: u64) -> Vec<Sample> {
        let grid = self.config.grid.clamp(1, 4);
        let frames = generate_frames(
            &self.model.valid(),
            self.config.gibbs_steps,
            self.data.pitches,
            8 * 4 * grid,
            &[],
            seed,
            &self.device.clone().inner(),
        );
        vec![Sample {
            label: "8 bars, frame after frame".into(),
            score: frames_to_score("rnn-rbm", &frames, self.data.low, grid),
        }]
    }

    fn flops_per_example(&self) -> Option<f64> {
        // Per example (a sequence of L frames): with gradients, the recurrence (v·W_vu, u·W_uu),
        // the biases from the states (u·W_uv, u·W_uh) and the free energies of data and
        // particles (v·W each); without, k Gibbs rounds of two products and the
        // reconstruction's two.
        let [visible, hidden] = self.model.weights.val().dims();
        let recurrent = self.model.recurrent();
        let frames = self.config.sequence.max(2) as f64;
        let rbm = 2.0 * (visible * hidden) as f64;
        let recurrence = 2.0
            * (visible * recurrent + recurrent * recurrent + recurrent * (visible + hidden)) as f64;
        let k = self.config.cd_steps as f64;
        Some(
            frames
                * ((recurrence + 2.0 * rbm) * super::card::TRAINING_PASSES + (2.0 * k + 2.0) * rbm),
        )
    }

    fn layers(&self) -> Vec<super::card::LayerShape> {
        super::card::layers("RNN-RBM", &self.model)
    }

    fn save(&self, path: &std::path::Path) -> Result<(), String> {
        super::save_with_optimizer(&self.model, &self.optimizer, path)
    }

    fn load(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.model = super::load_with_optimizer(self.model.clone(), &mut self.optimizer, path)?;
        Ok(())
    }
}

/// A trained RNN-RBM.
pub struct TrainedRnnRbm {
    model: RnnRbm,
    config: RnnRbmConfig,
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
    let (super::ModelConfig::RnnRbm(c), super::Vocabulary::Roll { low, pitches, .. }) =
        (config, vocabulary)
    else {
        return Err(super::missing_vocabulary(path));
    };
    Ok(Box::new(TrainedRnnRbm {
        model: super::load_module(RnnRbm::new(pitches, c.hidden, c.recurrent, device), path)?,
        config: c.clone(),
        low,
        pitches,
    }))
}

impl super::Trained for TrainedRnnRbm {
    /// Sixteen bars; primed with the opening bars of `melody` when one is given
    /// (`prime_bars`, all its voices).
    fn generate(&self, options: &super::GenerateOptions, device: &Device) -> Result<Score, String> {
        let grid = self.config.grid.clamp(1, 4);
        let prime = options.melody.as_ref().map_or_else(Vec::new, |score| {
            prime_frames(
                score,
                &self.config,
                (self.low, self.pitches),
                options.prime_bars,
            )
        });
        let frames = generate_frames(
            &self.model,
            options.gibbs_steps.unwrap_or(self.config.gibbs_steps),
            self.pitches,
            options.bars.unwrap_or(16) * 4 * grid,
            &prime,
            options.seed,
            device,
        );
        Ok(frames_to_score("rnn-rbm", &frames, self.low, grid))
    }

    /// Frame accuracy on the held-out chorales (each frame from the true frames before it)
    /// against the independent Bernoulli baseline; samples against the held-out music.
    fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String> {
        use crate::measures::frame_accuracy::FrameScores;
        use crate::measures::overlap::Excerpt;
        let grid = self.config.grid.clamp(1, 4);
        let range = Some((self.low, self.pitches));
        let read =
            |scores| FrameRolls::from_scores(scores, grid as u16, self.config.to_c > 0, range);
        let (train, held) = (read(data.train), read(data.held));
        progress(0.1, "predicting held-out frames");
        let predicted = |rolls: &FrameRolls, limit: usize| -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
            let (mut p, mut t) = (Vec::new(), Vec::new());
            for piece in &rolls.pieces {
                if t.len() >= limit {
                    break;
                }
                p.extend(self.model.predict_piece(piece, device));
                t.extend(piece.iter().cloned());
            }
            (p, t)
        };
        let (train_p, train_t) = predicted(&train, 8000);
        let (held_p, held_t) = predicted(&held, usize::MAX);
        if held_t.is_empty() {
            return Err("no held-out frames to measure".into());
        }
        let threshold = frame_accuracy::best_threshold(&train_p, &train_t);
        let model_frames = FrameScores {
            frame_accuracy: frame_accuracy::accuracy(&held_p, &held_t, threshold),
            nll_per_frame: None,
            threshold,
            frames: held_t.len(),
        };
        let bernoulli =
            Bernoulli::fit(&train.pieces.concat(), self.pitches).scores(&train_t, &held_t);

        // The RBM without recurrence: windows of frames, as many hidden units, as many epochs,
        // predicting each frame from the frames before it in its window.
        progress(0.15, "training the plain RBM baseline");
        let plain_config = super::rbm::RbmConfig {
            hidden: self.config.hidden,
            grid: self.config.grid,
            to_c: self.config.to_c,
            ..Default::default()
        };
        let window = plain_config.window;
        let plain = super::rbm::train_plain(
            data.train,
            plain_config,
            (self.low, self.pitches),
            data.training,
            device,
        )?;
        let plain_predicted = |rolls: &FrameRolls, frames: usize| {
            let mut pieces = Vec::new();
            let mut count = 0;
            for piece in &rolls.pieces {
                if count >= frames {
                    break;
                }
                count += piece.len();
                pieces.push(piece.clone());
            }
            super::rbm::predict_pieces(&plain, window, self.pitches, &pieces, device)
        };
        let plain_threshold =
            frame_accuracy::best_threshold(&plain_predicted(&train, train_t.len()), &train_t);
        let plain_frames = FrameScores {
            frame_accuracy: frame_accuracy::accuracy(
                &plain_predicted(&held, usize::MAX),
                &held_t,
                plain_threshold,
            ),
            nll_per_frame: None,
            threshold: plain_threshold,
            frames: held_t.len(),
        };

        progress(0.3, "sampling");
        let steps = 4 * 16;
        let samples: Vec<Excerpt> = (0..options.samples)
            .map(|i| {
                let frames = generate_frames(
                    &self.model,
                    self.config.gibbs_steps,
                    self.pitches,
                    4 * 4 * grid,
                    &[],
                    options.seed.wrapping_add(i as u64),
                    device,
                );
                let score = frames_to_score("rnn-rbm", &frames, self.low, grid);
                Excerpt::cut(&Excerpt::all_notes(&score), 0, steps)
            })
            .collect();
        let mut evaluated =
            crate::measures::polyphonic_case(data, samples, steps, options, progress)
                .with_frames(model_frames, bernoulli);
        evaluated.baselines.rbm = Some(crate::measures::Scores {
            frames: Some(plain_frames),
            ..Default::default()
        });
        Ok(evaluated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The predicted frame is never less likely (higher free energy) than the previous true
    /// frame or the mean-field point from the biases, and it is a 0/1 frame.
    #[test]
    fn predicted_frames_are_the_likeliest_candidate() {
        let device = Device::flex();
        device.seed(5);
        let model = RnnRbm::with_recurrent_scale(12, 6, 4, 0.5, &device);
        let frames: Vec<f32> = (0..8 * 12)
            .map(|i| f32::from(u8::from((i * 7) % 5 < 2)))
            .collect();
        let v = Tensor::<2>::from_data(TensorData::new(frames, [8, 12]), &device);
        let (bv, bh) = model.biases(model.previous_states(v.clone().unsqueeze_dim::<3>(0)));
        // Weights large enough that the candidates differ.
        let model = RnnRbm {
            weights: Param::from_tensor(model.weights.val() * 300.0),
            ..model
        };
        let predicted = model.predict_frames(bv.clone(), bh.clone(), v.clone());
        let values = rows(predicted.clone()).concat();
        assert!(values.iter().all(|&x| x == 0.0 || x == 1.0));
        let energy = |f: Tensor<2>| values_of(model.free_energy(f, bv.clone(), bh.clone()));
        let before = Tensor::cat(vec![Tensor::zeros([1, 12], &device), v.narrow(0, 0, 7)], 0);
        let from_biases = model
            .predict(bv.clone(), bh.clone())
            .greater_equal_elem(0.5)
            .float();
        let best = energy(predicted);
        for other in [energy(before), energy(from_biases)] {
            for (b, o) in best.iter().zip(&other) {
                assert!(b <= &(o + 1e-4), "{best:?} against {other:?}");
            }
        }
    }

    fn values_of(t: Tensor<1>) -> Vec<f32> {
        let n = t.dims()[0];
        rows(t.reshape([1, n])).remove(0)
    }

    /// Pretraining epochs move the frame RBM's weights and leave the recurrence as it was; the
    /// epoch after them trains the recurrence too.
    #[test]
    fn pretraining_trains_the_frame_rbm_alone() {
        let _rng = crate::models::test_rng();
        let scores = crate::data::load_scores(
            &crate::corpus::resolve(&crate::corpus::assets_dir(), "bach"),
            Some(12),
        )
        .expect("corpus")
        .0;
        let device = Device::flex();
        device.seed(3);
        let autodiff = device.autodiff();
        let config = RnnRbmConfig {
            hidden: 8,
            recurrent: 4,
            cd_steps: 1,
            sequence: 8,
            pretrain_epochs: 1,
            ..Default::default()
        };
        let args = super::super::SessionArgs {
            scores: &scores,
            training_only: &scores,
            batch: 4,
            learning_rate: 0.01,
            seed: 3,
            device: &autodiff,
            from: None,
        };
        let mut session = RnnRbmSession::new(config, &args).expect("session");
        let values = |m: &RnnRbm| {
            let read = |t: Tensor<2>| rows(t.inner()).concat();
            (
                read(m.weights.val()),
                [
                    read(m.v_to_u.val()),
                    read(m.u_to_u.val()),
                    read(m.u_to_visible.val()),
                    read(m.u_to_hidden.val()),
                ]
                .concat(),
            )
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let (rbm_before, recurrence_before) = values(&session.model);
        session.start_epoch(&mut rng);
        for step in 0..3 {
            session.train_step(step);
        }
        let (rbm_pretrained, recurrence_pretrained) = values(&session.model);
        assert_ne!(rbm_before, rbm_pretrained);
        assert_eq!(recurrence_before, recurrence_pretrained);
        session.start_epoch(&mut rng);
        for step in 0..3 {
            session.train_step(step);
        }
        assert_ne!(recurrence_pretrained, values(&session.model).1);
    }
}
