//! Training and scoring the benchmark models on a [`Benchmark`]: train on the train split,
//! measure the validation NLL after each epoch (or every few), keep the best epoch's weights,
//! and report the test split's NLL and frame accuracy ([`super::protocol`]).
//!
//! The models: the per-key Bernoulli (fitted in closed form), the RBM (the RNN-RBM's frame
//! machine alone, trained on the frames as independent examples), the RNN-RBM of
//! [`crate::models::rnn_rbm`] trained as in the authors' tutorial (CD-k on each frame under the
//! biases the recurrence sets), the RNN-NADE of [`crate::models::rnn_nade`] (exact
//! likelihood) and the LSTM with 88 independent outputs of [`crate::models::poly_lstm`]. The RBM and RNN-RBM likelihoods need each step's partition function: estimated
//! by annealed importance sampling ([`crate::measures::ais`]), with the spread over groups of
//! chains reported beside the figure.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::dataset::{Benchmark, KEYS, Piece, frames};
use super::protocol::Tally;
use crate::measures::ais::{self, AisOptions};
use crate::models::poly_lstm::PolyLstm;
use crate::models::rnn_nade::RnnNade;
use crate::models::rnn_rbm::RnnRbm;

/// The models `muselab benchmark` trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BenchModel {
    /// 88 independent keys, each on with its frequency in the training frames.
    Bernoulli,
    /// An RBM over one frame, frames independent (no recurrence).
    Rbm,
    /// The RNN-RBM.
    RnnRbm,
    /// The RNN-NADE.
    RnnNade,
    /// An LSTM with 88 independent outputs (the LSTM row of later papers).
    Lstm,
}

impl BenchModel {
    /// Every benchmark model.
    pub const ALL: [BenchModel; 5] = [
        Self::Bernoulli,
        Self::Rbm,
        Self::RnnRbm,
        Self::RnnNade,
        Self::Lstm,
    ];

    /// Its id on the command line and in reports.
    pub fn id(self) -> &'static str {
        match self {
            Self::Bernoulli => "bernoulli",
            Self::Rbm => "rbm",
            Self::RnnRbm => "rnn-rbm",
            Self::RnnNade => "rnn-nade",
            Self::Lstm => "lstm",
        }
    }

    /// The model of an id.
    pub fn parse(id: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|m| m.id() == id).ok_or_else(|| {
            let ids: Vec<&str> = Self::ALL.iter().map(|m| m.id()).collect();
            format!(
                "unknown benchmark model '{id}' (one of: {})",
                ids.join(", ")
            )
        })
    }

    /// True where the likelihood needs annealed importance sampling.
    pub fn needs_ais(self) -> bool {
        matches!(self, Self::Rbm | Self::RnnRbm)
    }
}

/// How to train and measure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkOptions {
    /// The model.
    pub model: BenchModel,
    /// Training epochs (the Bernoulli needs none).
    pub epochs: usize,
    /// Seed of the initial weights, the batch order and the samplers.
    pub seed: u64,
    /// Hidden units of the RBM / NADE (the paper: 150).
    pub hidden: usize,
    /// Units of the recurrence (the paper: 100).
    pub recurrent: usize,
    /// Frames per training sequence (pieces are cut into pieces of at most this many; the
    /// tutorial: 100).
    pub sequence: usize,
    /// Sequences per step.
    pub batch: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Gibbs steps of contrastive divergence (RBM, RNN-RBM; the tutorial: 15).
    pub cd_steps: usize,
    /// RNN-RBM: first epochs that train the frame RBM alone (the tutorial's advice).
    pub pretrain_epochs: usize,
    /// Epochs between validations (validation by AIS costs as much as a few epochs).
    pub validate_every: usize,
    /// Stop after this many validations without a better NLL (0: never).
    pub patience: usize,
    /// Halve the learning rate after each run of this many validations without a better NLL
    /// (0: never) — Adam's steps then settle into the minimum they circle.
    #[serde(default)]
    pub lr_plateau: usize,
    /// AIS for the test figure.
    pub ais: AisOptions,
    /// AIS for the validation figures (cheaper).
    pub valid_ais: AisOptions,
}

impl BenchmarkOptions {
    /// The paper's sizes and our training defaults for `model`.
    pub fn new(model: BenchModel) -> Self {
        Self {
            model,
            epochs: match model {
                BenchModel::Bernoulli => 0,
                BenchModel::Rbm => 30,
                BenchModel::RnnRbm => 100,
                BenchModel::RnnNade => 150,
                BenchModel::Lstm => 100,
            },
            seed: 1,
            hidden: 150,
            recurrent: 100,
            sequence: 100,
            // The RNN-RBM learns from one sequence a step, as the tutorial's SGD does: with 8
            // (JSB: 17 updates an epoch) it reached 7.59 nats in 40 epochs, with 1 it reached
            // 6.63 at epoch 55.
            batch: match model {
                BenchModel::RnnRbm => 1,
                _ => 8,
            },
            learning_rate: match model {
                BenchModel::RnnNade | BenchModel::Lstm => 1e-3,
                _ => 3e-3,
            },
            cd_steps: 15,
            pretrain_epochs: 5,
            validate_every: 1,
            patience: 10,
            lr_plateau: 0,
            ais: AisOptions::default(),
            valid_ais: AisOptions {
                chains: 4,
                betas: 200,
            },
        }
    }
}

/// What a benchmark run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkReport {
    /// The model's id.
    pub model: String,
    /// The dataset's name.
    pub dataset: String,
    /// Test NLL per step (nats), every step of every piece.
    pub test_nll: f64,
    /// Test frame accuracy (0–1).
    pub test_acc: f64,
    /// The best validation NLL (the epoch kept).
    pub valid_nll: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Wall-clock seconds, training and measuring.
    pub seconds: f64,
    /// The seed.
    pub seed: u64,
    /// Test NLL without the first step of each piece.
    pub test_nll_after_first: f64,
    /// Test steps scored.
    pub test_steps: usize,
    /// The RBM likelihoods: the range (max − min) of the test NLL estimated from each of the
    /// AIS groups of chains; `None` where the likelihood is exact.
    pub ais_spread: Option<f64>,
    /// The device.
    pub device: String,
    /// The machine: CPU model, cores, vector width ([`crate::compute::machine_description`]).
    #[serde(default)]
    pub machine: String,
    /// Validation NLL per validated epoch, (epoch, nll).
    pub valid_curve: Vec<(usize, f64)>,
    /// The options.
    pub options: BenchmarkOptions,
}

/// What a run says while it goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// Something long has begun or advanced (e.g. "AIS on test", fraction done).
    Phase(String, f64),
    /// An epoch ended.
    Epoch {
        /// Its number (1-based).
        epoch: usize,
        /// Epochs planned.
        epochs: usize,
        /// The mean training loss of the epoch.
        train_loss: f64,
        /// The validation NLL, where it was measured this epoch.
        valid_nll: Option<f64>,
        /// Seconds since the start.
        elapsed: f64,
        /// Estimated seconds to the end of training.
        eta: f64,
    },
}

/// The network under training.
enum Net {
    Bernoulli(Vec<f32>),
    Machine(RnnRbm),
    Nade(RnnNade),
    Lstm(PolyLstm),
}

/// The network under training, on the autodiff device.
enum Trainee {
    Machine(RnnRbm),
    Nade(RnnNade),
    Lstm(PolyLstm),
}

impl Trainee {
    /// Its weights as they are now, for measuring.
    fn snapshot(&self) -> Net {
        match self {
            Self::Nade(n) => Net::Nade(n.valid()),
            Self::Machine(m) => Net::Machine(m.valid()),
            Self::Lstm(l) => Net::Lstm(l.valid()),
        }
    }
}

/// One padded batch of sequences: frames `[batch, length, KEYS]` and a mask `[batch * length]`
/// (1 on real frames).
fn batch_tensors(chunks: &[&[Vec<f32>]], device: &Device) -> (Tensor<3>, Tensor<1>, usize) {
    let length = chunks.iter().map(|c| c.len()).max().unwrap_or(1);
    let mut data = Vec::with_capacity(chunks.len() * length * KEYS);
    let mut mask = Vec::with_capacity(chunks.len() * length);
    for chunk in chunks {
        for t in 0..length {
            match chunk.get(t) {
                Some(frame) => {
                    data.extend_from_slice(frame);
                    mask.push(1.0f32);
                }
                None => {
                    data.extend(std::iter::repeat_n(0.0f32, KEYS));
                    mask.push(0.0);
                }
            }
        }
    }
    let real = mask.iter().filter(|&&m| m > 0.0).count();
    (
        Tensor::from_data(TensorData::new(data, [chunks.len(), length, KEYS]), device),
        Tensor::from_data(TensorData::new(mask, [chunks.len() * length]), device),
        real,
    )
}

/// Each key's share of frames on.
fn frequencies(pieces: &[Vec<Vec<f32>>]) -> Vec<f32> {
    let mut on = vec![0.0f64; KEYS];
    let mut count = 0.0f64;
    for frame in pieces.iter().flatten() {
        count += 1.0;
        for (o, &v) in on.iter_mut().zip(frame) {
            *o += f64::from(v);
        }
    }
    // Add-one smoothing: a key never played in training still gets a finite likelihood.
    on.iter()
        .map(|&o| ((o + 1.0) / (count + 2.0)) as f32)
        .collect()
}

fn values(t: Tensor<1>) -> Vec<f64> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Rows `[rows, d]` from one piece's frames.
fn piece_tensor(frames: &[Vec<f32>], device: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(frames.concat(), [frames.len(), KEYS]),
        device,
    )
}

/// Tallies `pieces` under a model with an exact likelihood: `per_piece` gives each step's NLL
/// and predicted frame; `progress` hears every 16th piece.
fn score_exactly(
    pieces: &[Vec<Vec<f32>>],
    label: &str,
    progress: &mut dyn FnMut(Progress),
    mut per_piece: impl FnMut(&[Vec<f32>]) -> (Vec<f64>, Vec<Vec<f32>>),
) -> Tally {
    let mut tally = Tally::default();
    for (n, piece) in pieces.iter().enumerate() {
        let (nll, predicted) = per_piece(piece);
        tally.add_piece(&nll, &predicted, piece);
        if n % 16 == 0 {
            progress(Progress::Phase(
                format!("scoring {label}"),
                n as f64 / pieces.len() as f64,
            ));
        }
    }
    tally
}

/// Scores `pieces` under `net`: NLL per step and frame accuracy. `ais` is used for the RBM
/// likelihoods; `progress` hears the phases. Returns the tally and, for the RBMs, the range of
/// the NLL over the AIS groups.
fn score(
    net: &Net,
    pieces: &[Vec<Vec<f32>>],
    ais_options: AisOptions,
    recurrent: bool,
    device: &Device,
    label: &str,
    progress: &mut dyn FnMut(Progress),
) -> (Tally, Option<f64>) {
    let mut tally = Tally::default();
    match net {
        Net::Bernoulli(p) => {
            let on: Vec<f64> = p.iter().map(|&p| f64::from(p).ln()).collect();
            let off: Vec<f64> = p.iter().map(|&p| (1.0 - f64::from(p)).ln()).collect();
            let predicted: Vec<f32> = p.iter().map(|&p| f32::from(u8::from(p >= 0.5))).collect();
            for piece in pieces {
                let nll: Vec<f64> = piece
                    .iter()
                    .map(|f| {
                        -f.iter()
                            .enumerate()
                            .map(|(i, &v)| if v > 0.5 { on[i] } else { off[i] })
                            .sum::<f64>()
                    })
                    .collect();
                tally.add_piece(&nll, &vec![predicted.clone(); piece.len()], piece);
            }
            (tally, None)
        }
        Net::Nade(model) => {
            let tally = score_exactly(pieces, label, progress, |piece| {
                let v = piece_tensor(piece, device);
                let previous = model.previous_states(v.clone().unsqueeze_dim::<3>(0));
                let (b, c) = model.biases(previous);
                let mut nll = Vec::with_capacity(piece.len());
                // Blocks of rows keep the masked [rows, 88, 88] product small.
                for start in (0..piece.len()).step_by(512) {
                    let end = (start + 512).min(piece.len());
                    let ll = model.log_likelihood(
                        v.clone().slice([start..end, 0..KEYS]),
                        b.clone().slice([start..end, 0..KEYS]),
                        c.clone().slice([start..end, 0..c.dims()[1]]),
                    );
                    nll.extend(values(ll).into_iter().map(|x| -x));
                }
                (nll, crate::models::rows(model.greedy(b, c)))
            });
            (tally, None)
        }
        Net::Lstm(model) => {
            let tally = score_exactly(pieces, label, progress, |piece| {
                let v = piece_tensor(piece, device);
                let logits = model.logits(v.clone().unsqueeze_dim::<3>(0));
                let nll = values(PolyLstm::log_likelihood(v, logits.clone()))
                    .into_iter()
                    .map(|x| -x)
                    .collect();
                (nll, crate::models::rows(PolyLstm::mode(logits)))
            });
            (tally, None)
        }
        Net::Machine(model) => {
            // Every step's biases and free energy, then AIS over all steps' machines.
            let mut steps = Vec::new(); // (bv, bh) rows per piece
            let mut free = Vec::new();
            let mut predicted = Vec::new();
            for piece in pieces {
                let v = piece_tensor(piece, device);
                let previous = if recurrent {
                    model.previous_states(v.clone().unsqueeze_dim::<3>(0))
                } else {
                    Tensor::zeros([piece.len(), model.recurrent()], device)
                };
                let (bv, bh) = model.biases(previous);
                free.push(values(model.free_energy(v.clone(), bv.clone(), bh.clone())));
                // The frame-independent RBM is not shown the past (its candidates start
                // from silence instead).
                let past = if recurrent { v } else { v.zeros_like() };
                predicted.push(crate::models::rows(model.predict_frames(
                    bv.clone(),
                    bh.clone(),
                    past,
                )));
                steps.push((bv, bh));
            }
            let weights = model.weights();
            let log_z: Vec<ais::LogPartition> = if recurrent {
                let (bv, bh): (Vec<Tensor<2>>, Vec<Tensor<2>>) = steps.into_iter().unzip();
                let (bv, bh) = (Tensor::cat(bv, 0), Tensor::cat(bh, 0));
                let total = bv.dims()[0];
                let hidden = bh.dims()[1];
                let block = (16384 / ais_options.chains.max(1)).max(1);
                let mut out = Vec::with_capacity(total);
                for start in (0..total).step_by(block) {
                    let end = (start + block).min(total);
                    let done = start as f64 / total as f64;
                    let share = (end - start) as f64 / total as f64;
                    out.extend(ais::log_partition(
                        &weights,
                        &bv.clone().slice([start..end, 0..KEYS]),
                        &bh.clone().slice([start..end, 0..hidden]),
                        ais_options,
                        &mut |f| {
                            progress(Progress::Phase(format!("AIS on {label}"), done + f * share))
                        },
                    ));
                }
                out
            } else {
                // One machine for every step: many more chains for the one estimate.
                let (bv, bh) = &steps[0];
                let hidden = bh.dims()[1];
                let one = ais::log_partition(
                    &weights,
                    &bv.clone().slice([0..1, 0..KEYS]),
                    &bh.clone().slice([0..1, 0..hidden]),
                    AisOptions {
                        chains: ais_options.chains * 64,
                        betas: ais_options.betas * 4,
                    },
                    &mut |f| progress(Progress::Phase(format!("AIS on {label}"), f)),
                )
                .remove(0);
                vec![one; free.iter().map(Vec::len).sum()]
            };
            let mut group_sums = [0.0f64; ais::GROUPS];
            let mut at = 0;
            for ((f, p), piece) in free.iter().zip(&predicted).zip(pieces) {
                let nll: Vec<f64> = f
                    .iter()
                    .zip(&log_z[at..at + f.len()])
                    .map(|(&f, z)| f + z.log_z)
                    .collect();
                for (&f, z) in f.iter().zip(&log_z[at..at + f.len()]) {
                    for (s, g) in group_sums.iter_mut().zip(&z.groups) {
                        *s += f + g;
                    }
                }
                at += f.len();
                tally.add_piece(&nll, p, piece);
            }
            let per_group: Vec<f64> = group_sums
                .iter()
                .map(|s| s / tally.steps.max(1) as f64)
                .collect();
            let max = per_group.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let min = per_group.iter().copied().fold(f64::INFINITY, f64::min);
            (tally, Some(max - min))
        }
    }
}

/// Cuts pieces into sequences of at most `length` frames.
fn chunks(pieces: &[Vec<Vec<f32>>], length: usize) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for (p, piece) in pieces.iter().enumerate() {
        let mut start = 0;
        while start < piece.len() {
            let end = (start + length).min(piece.len());
            out.push((p, start, end));
            start = end;
        }
    }
    out
}

/// Trains `options.model` on `benchmark` and measures it (see the module's documentation).
/// `device` is a plain (inference) device; training runs on its autodiff twin. `stop` ends
/// training early at the next batch (the best epoch so far is still measured).
pub fn run(
    benchmark: &Benchmark,
    options: &BenchmarkOptions,
    device: &Device,
    device_label: &str,
    progress: &mut dyn FnMut(Progress),
    stop: &AtomicBool,
) -> Result<BenchmarkReport, String> {
    let started = Instant::now();
    let to_frames = |split: &[Piece]| -> Vec<Vec<Vec<f32>>> {
        split.iter().filter(|p| !p.is_empty()).map(frames).collect()
    };
    let (train, valid, test) = (
        to_frames(&benchmark.train),
        to_frames(&benchmark.valid),
        to_frames(&benchmark.test),
    );
    if train.is_empty() || valid.is_empty() || test.is_empty() {
        return Err(format!("{}: a split has no steps", benchmark.name));
    }
    let freq = frequencies(&train);
    let model = options.model;
    let recurrent = model != BenchModel::Rbm;
    let autodiff = device.clone().autodiff();
    autodiff.seed(options.seed);
    device.seed(options.seed);
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    let (hidden, recurrent_units) = (options.hidden.max(1), options.recurrent.max(1));
    let mut valid_curve = Vec::new();
    let mut best: Option<(f64, usize, Net)> = None;
    let mut epochs_done = 0;
    match model {
        BenchModel::Bernoulli => {
            let net = Net::Bernoulli(freq.clone());
            let (tally, _) = score(
                &net,
                &valid,
                options.valid_ais,
                false,
                device,
                "valid",
                progress,
            );
            valid_curve.push((0, tally.nll()));
            best = Some((tally.nll(), 0, net));
        }
        BenchModel::Rbm | BenchModel::RnnRbm | BenchModel::RnnNade | BenchModel::Lstm => {
            let mut trainee = match model {
                BenchModel::RnnNade => Trainee::Nade(RnnNade::new(
                    KEYS,
                    hidden,
                    recurrent_units,
                    Some(&freq),
                    &autodiff,
                )),
                BenchModel::Lstm => {
                    Trainee::Lstm(PolyLstm::new(KEYS, hidden, Some(&freq), &autodiff))
                }
                _ => Trainee::Machine(
                    RnnRbm::new(KEYS, hidden, recurrent_units, &autodiff)
                        .with_visible_frequencies(&freq),
                ),
            };
            let mut optimizer = crate::models::optim::adam(0.9);
            let sequence = if recurrent {
                options.sequence.max(2)
            } else {
                1
            };
            let mut order = chunks(&train, sequence);
            let batch = if recurrent {
                options.batch.max(1)
            } else {
                // Frames as independent examples: as many frames per step as the sequences hold.
                (options.batch * options.sequence).max(1)
            };
            let mut since_best = 0;
            let mut learning_rate = options.learning_rate;
            for epoch in 1..=options.epochs {
                order.shuffle(&mut rng);
                let mut loss_sum = 0.0;
                let mut batches = 0usize;
                for group in order.chunks(batch) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let slices: Vec<&[Vec<f32>]> =
                        group.iter().map(|&(p, s, e)| &train[p][s..e]).collect();
                    let (v, mask, real) = batch_tensors(&slices, &autodiff);
                    let [count, length, _] = v.dims();
                    let loss = match &trainee {
                        Trainee::Nade(net) => {
                            let previous = net.previous_states(v.clone());
                            let (b, c) = net.biases(previous);
                            let flat = v.reshape([count * length, KEYS]);
                            (net.log_likelihood(flat, b, c) * mask).sum().neg() / real as f64
                        }
                        Trainee::Lstm(net) => {
                            let logits = net.logits(v.clone());
                            let flat = v.reshape([count * length, KEYS]);
                            (PolyLstm::log_likelihood(flat, logits) * mask).sum().neg()
                                / real as f64
                        }
                        Trainee::Machine(net) => {
                            let pretraining = !recurrent || epoch <= options.pretrain_epochs;
                            let previous = if pretraining {
                                Tensor::zeros([count * length, net.recurrent()], &autodiff)
                            } else {
                                net.previous_states(v.clone())
                            };
                            let (bv, bh) = net.biases(previous);
                            let flat = v.reshape([count * length, KEYS]);
                            let machine = net.valid();
                            let (bv_fixed, bh_fixed) = (bv.clone().inner(), bh.clone().inner());
                            let mut chain_rng = rand::rngs::StdRng::seed_from_u64(rng.random());
                            let particles = machine.gibbs(
                                flat.clone().inner(),
                                &bv_fixed,
                                &bh_fixed,
                                options.cd_steps.max(1),
                                &mut chain_rng,
                            );
                            let positive = net.free_energy(flat, bv.clone(), bh.clone());
                            let negative = net.free_energy(Tensor::from_inner(particles), bv, bh);
                            ((positive - negative) * mask).sum() / real as f64
                        }
                    };
                    loss_sum += f64::from(loss.clone().into_scalar::<f32>());
                    batches += 1;
                    let grads = loss.backward();
                    match &mut trainee {
                        Trainee::Nade(net) => {
                            crate::models::optimize(&mut optimizer, learning_rate, net, grads)
                        }
                        Trainee::Machine(net) => {
                            crate::models::optimize(&mut optimizer, learning_rate, net, grads)
                        }
                        Trainee::Lstm(net) => {
                            crate::models::optimize(&mut optimizer, learning_rate, net, grads)
                        }
                    }
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                epochs_done = epoch;
                let validate =
                    epoch % options.validate_every.max(1) == 0 || epoch == options.epochs;
                let mut valid_nll = None;
                if validate {
                    let net = trainee.snapshot();
                    let (tally, _) = score(
                        &net,
                        &valid,
                        options.valid_ais,
                        recurrent
                            && !(model == BenchModel::RnnRbm && epoch <= options.pretrain_epochs),
                        device,
                        "valid",
                        progress,
                    );
                    let nll = tally.nll();
                    valid_nll = Some(nll);
                    valid_curve.push((epoch, nll));
                    let better = best
                        .as_ref()
                        .is_none_or(|(b, _, _)| nll < *b || !b.is_finite());
                    // While the RNN-RBM pretrains its RBM the recurrence is untrained and unused:
                    // those epochs are not candidates.
                    let candidate =
                        !(model == BenchModel::RnnRbm && epoch <= options.pretrain_epochs);
                    if candidate && better {
                        best = Some((nll, epoch, net));
                        since_best = 0;
                    } else if candidate {
                        since_best += 1;
                        if options.lr_plateau > 0 && since_best % options.lr_plateau == 0 {
                            learning_rate /= 2.0;
                            progress(Progress::Phase(
                                format!(
                                    "no better valid NLL for {since_best} validations: learning rate halved to {learning_rate:.2e}"
                                ),
                                0.0,
                            ));
                        }
                    }
                }
                let elapsed = started.elapsed().as_secs_f64();
                progress(Progress::Epoch {
                    epoch,
                    epochs: options.epochs,
                    train_loss: loss_sum / batches.max(1) as f64,
                    valid_nll,
                    elapsed,
                    eta: elapsed / epoch as f64 * (options.epochs - epoch) as f64,
                });
                if options.patience > 0 && since_best >= options.patience {
                    break;
                }
            }
            if best.is_none() {
                // No validated candidate (stopped at once, or zero epochs): measure as it is.
                let net = trainee.snapshot();
                let (tally, _) = score(
                    &net,
                    &valid,
                    options.valid_ais,
                    recurrent,
                    device,
                    "valid",
                    progress,
                );
                best = Some((tally.nll(), epochs_done, net));
            }
        }
    }
    let (valid_nll, best_epoch, net) = best.ok_or("nothing was trained")?;
    let (tally, spread) = score(
        &net,
        &test,
        options.ais,
        recurrent,
        device,
        "test",
        progress,
    );
    Ok(BenchmarkReport {
        model: model.id().to_string(),
        dataset: benchmark.name.clone(),
        test_nll: tally.nll(),
        test_acc: tally.accuracy(),
        valid_nll,
        epochs: epochs_done,
        best_epoch,
        seconds: started.elapsed().as_secs_f64(),
        seed: options.seed,
        test_nll_after_first: tally.nll_after_first(),
        test_steps: tally.steps,
        ais_spread: spread,
        device: device_label.to_string(),
        machine: crate::compute::machine_description(),
        valid_curve,
        options: options.clone(),
    })
}
