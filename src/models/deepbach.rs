//! DeepBach (Hadjeres, Pachet & Nielsen, ICML 2017): a chorale harmonizer that models each
//! voice's note given everything around it,
//!
//! p(V_i,t | V_\i,t, M) = softmax(f_i(past_t, future_t, slice_t)),
//!
//! where past_t is an LSTM read of the four voices (and the metadata) over the `context` steps
//! before t, future_t an LSTM read of the steps after t from the far end back towards t, and
//! slice_t the other three voices and the metadata at t itself. One network per voice; the
//! four are trained together on every step of the chorales, each chorale transposed at random
//! into a key that keeps every voice inside its range.
//!
//! Generation is pseudo-Gibbs sampling ([`pseudo_gibbs`]): the free cells start from a rough
//! draft and are resampled voice by voice from their conditionals under a temperature that
//! falls from hot to cool; any cell may be held fixed — the melody when harmonizing, or all but
//! a selection when re-harmonizing part of a chorale.
//!
//! The representation is the reference code's (Ghadjeres/DeepBach): per 16th-note step one
//! token per voice out of {rest, hold, the voice's pitches}, plus, outside the chorale, a
//! boundary token; the metadata per step are the position within the beat, the beat within
//! the bar and a fermata flag. The bundled MIDI chorales carry no fermata marks, so the flag is
//! set where the soprano holds a note for a half note or longer (where Bach's fermatas fall in
//! these files: the phrase ends are written as long notes).

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::minibach::{Harmonizer, VoiceRanges, harmonize_melody, voices_to_score};
use super::recurrent::FusedLstm;
use super::{Batches, Sample, Session, rows, sample_logits, scalar};
use crate::data::datasets::is_validation_piece;
use crate::data::encoding::{metric_positions, voice_tokens};
use crate::data::{HOLD, PitchRange, REST};
use crate::music::Score;

/// The written part of the model card.
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "p(V_i,t | V_\\i,t, M) = softmax(W_i [LSTM→(x_{t−L..t−1}); LSTM←(x_{t+L..t+1}); ReLU(C_i x_t^{\\i})]), pseudo-Gibbs sampling with annealed temperature",
    reference: "Hadjeres, Pachet & Nielsen, \"DeepBach: a Steerable Model for Bach Chorales Generation\", ICML 2017; Ghadjeres/DeepBach",
    deviations: &[
        (
            "one LSTM layer each way and one merge layer, 96 units (the paper: two layers of 200)",
            "so that an epoch trains in minutes on two CPU cores and a 64-bar melody harmonizes in seconds; the width is a hyperparameter",
        ),
        (
            "the embedding and the two context LSTMs are shared by the four voices; each voice has its own slice, merge and output layers",
            "the context the four networks read is the same (all four voices, past and future), so one read serves all four: training costs a quarter",
        ),
        (
            "the fermata flag is a heuristic: a soprano note of a half note or longer",
            "the bundled MIDI chorales carry no fermata marks; their phrase ends are long soprano notes",
        ),
        (
            "cells are resampled in interleaved blocks (every 8th step of one voice at once)",
            "one network pass per block instead of per cell: the paper's sampler in parallel form, as its reference code does with batches of updates",
        ),
    ],
};

/// This model's entry in the registry ([`super::ModelKind::info`]).
pub const INFO: super::ModelInfo = super::ModelInfo {
    id: "deepbach",
    title: "DeepBach (chorale harmonizer)",
    description: "Models each voice's note from the past, the future and the other voices; harmonizes a melody, or part of a chorale, by pseudo-Gibbs sampling.",
    default_corpus: "bach",
    learning_rate: 1e-3,
    family: super::Family::Predictive,
    card: CARD,
    default_config: || super::ModelConfig::DeepBach(DeepBachConfig::default()),
    session: build_session,
    load,
};

crate::hyperparameters! {
    /// Hyperparameters of DeepBach.
    pub struct DeepBachConfig {
        /// Steps of context on each side, in 16th notes (the paper: 16, four beats).
        pub context: usize = 16; 2..=64,
        /// Width of a step's embedding (the four voices and the metadata, read by both LSTMs).
        pub embedding: usize = 32; 4..=512,
        /// Units of each LSTM, of the layer over the current slice and of the merge layer.
        pub hidden: usize = 96; 8..=1024,
        /// Dropout on the merged features while training (0 turns it off).
        pub dropout: f64 = 0.2; 0.0..=0.9,
        /// Pseudo-Gibbs sweeps over the free cells when harmonizing (each resamples every free cell once).
        pub sweeps: usize = 20; 1..=1000,
        /// Sampling temperature of the first sweep (hot: the draft is forgotten).
        pub start_temperature: f64 = 1.5; 0.05..=10.0,
        /// Sampling temperature of the last sweep (cool: the most likely notes settle).
        pub end_temperature: f64 = 0.4; 0.01..=10.0,
        /// Nats taken from a note's log-probability for each part-writing fault it would make while sampling (parallel fifths or octaves, a crossing, S–A or A–T over an octave); 0 samples the networks alone.
        pub rule_weight: f64 = 2.0; 0.0..=50.0,
    }
}

/// Metadata per step: 4 positions within the beat, 4 beats within the bar, the fermata flag.
const META: usize = 9;
/// Steps of a soprano note that make it a fermata (a half note).
const FERMATA_STEPS: usize = 8;
/// Cells of one voice resampled together are this many steps apart.
const BLOCK: usize = 8;
/// Rows per network pass while sampling.
const SAMPLE_BATCH: usize = 1024;

/// A chorale as the networks read it: the four voices' tokens, each step's position within
/// its bar (16th steps) and the fermata flags.
#[derive(Clone, Debug, PartialEq)]
pub struct Chorale {
    /// Soprano, alto, tenor, bass tokens, one per 16th step.
    pub voices: [Vec<usize>; 4],
    /// Metric position of each step (16th steps from the bar line).
    pub metric: Vec<usize>,
    /// True on the steps under a fermata.
    pub fermata: Vec<bool>,
}

impl Chorale {
    /// A chorale from its voices and metric positions; the fermatas from the soprano.
    pub fn new(voices: [Vec<usize>; 4], metric: Vec<usize>) -> Self {
        let fermata = fermatas(&voices[0]);
        Self {
            voices,
            metric,
            fermata,
        }
    }

    /// Steps.
    pub fn len(&self) -> usize {
        self.voices[0].len()
    }

    /// True when it has no step.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The fermata flags of a soprano: every step of a note held [`FERMATA_STEPS`] or longer.
pub fn fermatas(soprano: &[usize]) -> Vec<bool> {
    let mut flags = vec![false; soprano.len()];
    let mut start = 0;
    while start < soprano.len() {
        let mut end = start + 1;
        if soprano[start] != REST && soprano[start] != HOLD {
            while end < soprano.len() && soprano[end] == HOLD {
                end += 1;
            }
            if end - start >= FERMATA_STEPS {
                flags[start..end].iter_mut().for_each(|f| *f = true);
            }
        }
        start = end;
    }
    flags
}

/// Where each voice's one-hot block lies in a step's input vector.
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// Output tokens per voice (rest, hold, pitches); the input has one more, the boundary.
    vocab: [usize; 4],
    /// Start of each voice's block.
    offsets: [usize; 4],
    /// Start of the metadata.
    meta: usize,
    /// The whole width.
    width: usize,
}

impl Layout {
    fn new(ranges: &VoiceRanges) -> Self {
        let vocab = std::array::from_fn(|v| ranges.0[v].vocab_size());
        let mut offsets = [0; 4];
        let mut at = 0;
        for v in 0..4 {
            offsets[v] = at;
            at += vocab[v] + 1;
        }
        Self {
            vocab,
            offsets,
            meta: at,
            width: at + META,
        }
    }

    /// Writes step `t` of `chorale` (transposed by `shift` semitones) into `out` (zeroed,
    /// `width` long); `masked` leaves that voice's block empty. Outside the chorale every
    /// voice holds the boundary token and there is no metadata.
    fn write(
        &self,
        chorale: &Chorale,
        t: isize,
        shift: i32,
        masked: Option<usize>,
        out: &mut [f32],
    ) {
        let inside = t >= 0 && (t as usize) < chorale.len();
        for v in 0..4 {
            if masked == Some(v) {
                continue;
            }
            let token = if inside {
                transpose(chorale.voices[v][t as usize], shift, self.vocab[v])
            } else {
                self.vocab[v]
            };
            out[self.offsets[v] + token] = 1.0;
        }
        if inside {
            let t = t as usize;
            let position = chorale.metric[t];
            out[self.meta + position % 4] = 1.0;
            out[self.meta + 4 + (position / 4) % 4] = 1.0;
            out[self.meta + 8] = if chorale.fermata[t] { 1.0 } else { 0.0 };
        }
    }
}

/// A token moved by `shift` semitones (rest and hold stay), kept inside the vocabulary.
fn transpose(token: usize, shift: i32, vocab: usize) -> usize {
    if token < 2 || shift == 0 {
        return token;
    }
    (token as i64 + i64::from(shift)).clamp(2, vocab as i64 - 1) as usize
}

/// The shifts (−12…12 semitones) that keep every pitch of every voice of `chorale` inside its
/// vocabulary: the keys it can be trained in. 0 is always among them.
pub fn transpositions(chorale: &Chorale, vocab: &[usize; 4]) -> Vec<i32> {
    let bounds: Vec<Option<(usize, usize)>> = chorale
        .voices
        .iter()
        .map(|voice| {
            let pitches = voice.iter().copied().filter(|&t| t >= 2);
            let (lo, hi) = pitches.fold((usize::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)));
            (lo <= hi).then_some((lo, hi))
        })
        .collect();
    (-12..=12)
        .filter(|&s| {
            bounds.iter().zip(vocab).all(|(b, &n)| {
                b.is_none_or(|(lo, hi)| {
                    lo as i64 + i64::from(s) >= 2 && hi as i64 + i64::from(s) < n as i64
                })
            })
        })
        .collect()
}

/// What each voice has of its own: the layer over the current slice (with that voice
/// masked), the merge layer and the softmax over the voice's tokens.
#[derive(Module, Debug)]
pub struct VoiceHead {
    slice: Linear,
    merge: Linear,
    output: Linear,
    dropout: Dropout,
}

impl VoiceHead {
    fn new(config: &DeepBachConfig, width: usize, vocab: usize, device: &Device) -> Self {
        let h = config.hidden.max(1);
        Self {
            slice: LinearConfig::new(width, h).init(device),
            merge: LinearConfig::new(3 * h, h).init(device),
            output: LinearConfig::new(h, vocab).init(device),
            dropout: DropoutConfig::new(config.dropout).init(),
        }
    }

    /// `[batch, vocab]` logits from the two context reads `[batch, hidden]` and the slice
    /// `[batch, width]` (this voice's block empty).
    fn forward(&self, before: Tensor<2>, after: Tensor<2>, slice: Tensor<2>) -> Tensor<2> {
        let here = relu(self.slice.forward(slice));
        let merged = Tensor::cat(vec![before, after, here], 1);
        let h = relu(self.merge.forward(super::dropout(&self.dropout, merged)));
        self.output.forward(h)
    }
}

/// The networks: one embedding and one LSTM each way over the context, read by every voice
/// (their inputs are the same four voices), and a head per voice.
#[derive(Module, Debug)]
pub struct DeepBach {
    embed: Linear,
    past: FusedLstm,
    future: FusedLstm,
    heads: Vec<VoiceHead>,
    context: usize,
}

/// The inputs of a batch of cells: the shared past and future windows and, per voice, the
/// slice with that voice masked.
struct Inputs {
    past: Tensor<3>,
    future: Tensor<3>,
    slices: Vec<Tensor<2>>,
}

impl DeepBach {
    /// The networks for these voice ranges.
    pub fn new(config: &DeepBachConfig, ranges: &VoiceRanges, device: &Device) -> Self {
        let layout = Layout::new(ranges);
        let (e, h) = (config.embedding.max(1), config.hidden.max(1));
        Self {
            embed: LinearConfig::new(layout.width, e).init(device),
            past: FusedLstm::new(e, h, device),
            future: FusedLstm::new(e, h, device),
            heads: (0..4)
                .map(|v| VoiceHead::new(config, layout.width, layout.vocab[v], device))
                .collect(),
            context: config.context.max(1),
        }
    }

    /// The inputs of the cells `(chorale, step, shift)`, with the slices of `voices` only.
    fn inputs(
        &self,
        layout: &Layout,
        cells: &[(&Chorale, usize, i32)],
        voices: &[usize],
        device: &Device,
    ) -> Inputs {
        let (past, future) = self.windows(layout, cells, device);
        let slices = voices
            .iter()
            .map(|&v| Self::slice(layout, cells, v, device))
            .collect();
        Inputs {
            past,
            future,
            slices,
        }
    }

    /// The past and future windows of each cell, `[batch, context, width]` each (the future in
    /// time order).
    fn windows(
        &self,
        layout: &Layout,
        cells: &[(&Chorale, usize, i32)],
        device: &Device,
    ) -> (Tensor<3>, Tensor<3>) {
        let (n, l, w) = (cells.len(), self.context, layout.width);
        let mut past = vec![0.0f32; n * l * w];
        let mut future = vec![0.0f32; n * l * w];
        for (i, &(chorale, t, shift)) in cells.iter().enumerate() {
            for k in 0..l {
                let at = (i * l + k) * w;
                let before = t as isize - l as isize + k as isize;
                layout.write(chorale, before, shift, None, &mut past[at..at + w]);
                let after = t as isize + 1 + k as isize;
                layout.write(chorale, after, shift, None, &mut future[at..at + w]);
            }
        }
        (
            Tensor::from_data(TensorData::new(past, [n, l, w]), device),
            Tensor::from_data(TensorData::new(future, [n, l, w]), device),
        )
    }

    /// The current slice of each cell with voice `v`'s block empty: `[batch, width]`.
    fn slice(
        layout: &Layout,
        cells: &[(&Chorale, usize, i32)],
        v: usize,
        device: &Device,
    ) -> Tensor<2> {
        let w = layout.width;
        let mut slice = vec![0.0f32; cells.len() * w];
        for (i, &(chorale, t, shift)) in cells.iter().enumerate() {
            layout.write(
                chorale,
                t as isize,
                shift,
                Some(v),
                &mut slice[i * w..(i + 1) * w],
            );
        }
        Tensor::from_data(TensorData::new(slice, [cells.len(), w]), device)
    }

    /// The two context reads of each cell, `[batch, hidden]` each: the past LSTM's last
    /// state and the future LSTM's, read from the far end back to t+1 so that its final state
    /// is nearest to t.
    fn context(&self, past: Tensor<3>, future: Tensor<3>) -> (Tensor<2>, Tensor<2>) {
        let (_, before) = self
            .past
            .forward_sequence(self.embed.forward(past), None, false);
        let (_, after) = self
            .future
            .forward_sequence(self.embed.forward(future), None, true);
        (before.hidden, after.hidden)
    }

    /// Logits of voice `voices[j]` at each cell, for each j: the context is read once.
    ///
    /// # Shapes
    /// - inputs.past, inputs.future: `[batch, context, width]` (the future in time order)
    /// - returns: `[batch, vocab_v]` per voice
    fn logits(&self, inputs: Inputs, voices: &[usize]) -> Vec<Tensor<2>> {
        let (before, after) = self.context(inputs.past, inputs.future);
        voices
            .iter()
            .zip(inputs.slices)
            .map(|(&v, slice)| self.heads[v].forward(before.clone(), after.clone(), slice))
            .collect()
    }
}

/// Which cells of a chorale are held fixed while sampling: per voice, per step.
pub type Fixed = [Vec<bool>; 4];

/// Pseudo-Gibbs sampling of the free cells of `chorales` (all at once, in one batch per block):
/// `config.sweeps` passes, each resampling every free cell of every voice once, in blocks of
/// cells [`BLOCK`] steps apart (the context LSTMs read once per block, then the four voices
/// drawn in turn from their heads: a third of the time of reading it per voice, measured on
/// 24 Celtic tunes, with the same part-writing), at a temperature falling linearly from
/// `config.start_temperature` to `config.end_temperature`. A hold is never drawn where there
/// is no note to hold. Each cell's log-probabilities lose `config.rule_weight` nats per
/// part-writing fault the note would make with the voices as they stand
/// ([`super::voice_leading`]): the networks propose, the rules of part-writing weigh in, as
/// DeepBach's own user constraints do. Free cells start as a draft: the note of the voice's
/// middle register on each beat, held to the next.
#[allow(clippy::too_many_arguments)]
pub fn pseudo_gibbs(
    model: &DeepBach,
    ranges: &VoiceRanges,
    chorales: &mut [Chorale],
    fixed: &[Fixed],
    config: &DeepBachConfig,
    rng: &mut impl Rng,
    device: &Device,
    progress: &mut dyn FnMut(f64),
) {
    let layout = Layout::new(ranges);
    for (chorale, fixed) in chorales.iter_mut().zip(fixed) {
        let Chorale { voices, metric, .. } = chorale;
        for ((voice, held), vocab) in voices.iter_mut().zip(fixed).zip(layout.vocab) {
            let middle = 2 + (vocab - 2) / 2;
            for (t, (cell, &is_fixed)) in voice.iter_mut().zip(held).enumerate() {
                if !is_fixed {
                    *cell = if metric[t] % 4 == 0 || t == 0 {
                        middle
                    } else {
                        HOLD
                    };
                }
            }
        }
    }
    let sweeps = config.sweeps.max(1);
    let temperatures = (config.start_temperature, config.end_temperature);
    let rule_weight = config.rule_weight.max(0.0) as f32;
    for sweep in 0..sweeps {
        let f = if sweeps == 1 {
            1.0
        } else {
            sweep as f64 / (sweeps - 1) as f64
        };
        let temperature = temperatures.0 + (temperatures.1 - temperatures.0) * f;
        let mut order = [0usize, 1, 2, 3];
        order.shuffle(rng);
        let offset = rng.random_range(0..BLOCK);
        for block in 0..BLOCK {
            let residue = (block + offset) % BLOCK;
            let cells: Vec<(usize, usize)> = chorales
                .iter()
                .enumerate()
                .flat_map(|(c, chorale)| {
                    (residue..chorale.len())
                        .step_by(BLOCK)
                        .filter(move |&t| fixed[c].iter().any(|held| !held[t]))
                        .map(move |t| (c, t))
                })
                .collect();
            for chunk in cells.chunks(SAMPLE_BATCH) {
                // The context (every voice at the other steps) is read once for the block's
                // cells; then each voice in turn is drawn from its head over the current
                // slice, which already holds the voices drawn before it. A cell's context
                // holds cells of the same block (8 and 16 steps away) as they stood when the
                // block began, as the cells of one voice already saw each other.
                let (past, future) = model.windows(&layout, &cell_refs(chorales, chunk), device);
                let (before, after) = model.context(past, future);
                for &v in &order {
                    let slice = DeepBach::slice(&layout, &cell_refs(chorales, chunk), v, device);
                    let logits = rows(model.heads[v].forward(before.clone(), after.clone(), slice));
                    for (&(c, t), mut row) in chunk.iter().zip(logits) {
                        if fixed[c][v][t] {
                            continue;
                        }
                        if rule_weight > 0.0 {
                            let faults = super::voice_leading::faults_by_token(
                                &chorales[c].voices,
                                &ranges.0,
                                v,
                                t,
                            );
                            for (logit, f) in row.iter_mut().zip(faults) {
                                *logit -= rule_weight * f as f32;
                            }
                        }
                        let voice = &mut chorales[c].voices[v];
                        if t == 0 || voice[t - 1] == REST {
                            row[HOLD] = f32::NEG_INFINITY;
                        }
                        voice[t] = sample_logits(&row, temperature, rng);
                    }
                }
            }
        }
        progress((sweep + 1) as f64 / sweeps as f64);
    }
    // A hold whose note was replaced by a rest later in the same sweep becomes a rest.
    for (chorale, fixed) in chorales.iter_mut().zip(fixed) {
        for (voice, held) in chorale.voices.iter_mut().zip(fixed) {
            for t in 0..voice.len() {
                let orphan = voice[t] == HOLD && (t == 0 || voice[t - 1] == REST);
                if orphan && !held[t] {
                    voice[t] = REST;
                }
            }
        }
    }
}

/// The cells `(chorale, step)` of `chorales` as the networks' inputs take them, untransposed.
fn cell_refs<'a>(
    chorales: &'a [Chorale],
    cells: &[(usize, usize)],
) -> Vec<(&'a Chorale, usize, i32)> {
    cells.iter().map(|&(c, t)| (&chorales[c], t, 0)).collect()
}

/// Harmonizes soprano tokens: the soprano fixed, the other voices sampled.
#[allow(clippy::too_many_arguments)]
pub fn harmonize_tokens(
    model: &DeepBach,
    ranges: &VoiceRanges,
    config: &DeepBachConfig,
    sopranos: &[(&[usize], &[usize])],
    rng: &mut impl Rng,
    device: &Device,
    progress: &mut dyn FnMut(f64),
) -> Vec<[Vec<usize>; 4]> {
    let mut chorales: Vec<Chorale> = sopranos
        .iter()
        .map(|(soprano, metric)| {
            let n = soprano.len();
            Chorale::new(
                [
                    soprano.to_vec(),
                    vec![REST; n],
                    vec![REST; n],
                    vec![REST; n],
                ],
                metric.to_vec(),
            )
        })
        .collect();
    let fixed: Vec<Fixed> = chorales
        .iter()
        .map(|c| {
            let n = c.len();
            [
                vec![true; n],
                vec![false; n],
                vec![false; n],
                vec![false; n],
            ]
        })
        .collect();
    pseudo_gibbs(
        model,
        ranges,
        &mut chorales,
        &fixed,
        config,
        rng,
        device,
        progress,
    );
    chorales.into_iter().map(|c| c.voices).collect()
}

/// The chorales of a corpus: its four-voice pieces on the 16th grid, with their index in the
/// corpus (for the train / held-out split).
fn chorales_of(
    scores: &[Score],
    ranges: Option<[PitchRange; 4]>,
) -> (Vec<(usize, Chorale)>, [PitchRange; 4]) {
    let grids: Vec<(usize, &Score, crate::music::Grid)> = scores
        .iter()
        .enumerate()
        .filter(|(_, s)| s.tracks.len() == 4)
        .map(|(i, s)| (i, s, s.to_grid(4)))
        .collect();
    let ranges = ranges.unwrap_or_else(|| {
        std::array::from_fn(|v| {
            PitchRange::covering(
                grids
                    .iter()
                    .flat_map(|(_, _, g)| g.tracks[v].notes.iter().map(|n| n.pitch)),
            )
        })
    });
    let chorales = grids
        .iter()
        .filter(|(_, _, g)| g.total_steps() > 0)
        .map(|(i, score, grid)| {
            let steps = grid.total_steps() as usize;
            let voices =
                std::array::from_fn(|v| voice_tokens(&grid.tracks[v].notes, 0, steps, &ranges[v]));
            (*i, Chorale::new(voices, metric_positions(score, steps)))
        })
        .collect();
    (chorales, ranges)
}

/// Builds this model's training session (the registry's `session`).
fn build_session(
    config: &super::ModelConfig,
    args: &super::SessionArgs<'_>,
) -> Result<(Box<dyn Session>, super::Vocabulary), String> {
    let super::ModelConfig::DeepBach(c) = config else {
        return Err(super::wrong_config(INFO.id));
    };
    let s = DeepBachSession::new(c.clone(), args)?;
    let vocabulary = super::Vocabulary::Voices(s.ranges);
    Ok((Box::new(s), vocabulary))
}

/// DeepBach under training.
pub struct DeepBachSession {
    model: DeepBach,
    optimizer: burn::optim::ModuleOptimizer,
    config: DeepBachConfig,
    ranges: VoiceRanges,
    layout: Layout,
    train: Vec<Chorale>,
    held: Vec<Chorale>,
    /// The keys each training chorale can be moved to.
    shifts: Vec<Vec<i32>>,
    /// Every (chorale, step) of the training chorales.
    cells: Vec<(u32, u32)>,
    batches: Batches,
    /// The transposition of each training cell this epoch.
    epoch_shift: Vec<i8>,
    /// Held-out cells measured by `validate` (every 3rd step, at most 3 000).
    validation: Vec<(u32, u32)>,
    learning_rate: f64,
    device: Device,
}

impl DeepBachSession {
    fn new(config: DeepBachConfig, args: &super::SessionArgs<'_>) -> Result<Self, String> {
        let (chorales, ranges) = chorales_of(args.scores, None);
        if chorales.is_empty() {
            return Err("DeepBach needs four-voice pieces (SATB); this corpus has none".into());
        }
        let ranges = VoiceRanges(ranges);
        let layout = Layout::new(&ranges);
        let (mut train, mut held): (Vec<Chorale>, Vec<Chorale>) = (Vec::new(), Vec::new());
        for (index, chorale) in chorales {
            if is_validation_piece(index) {
                held.push(chorale);
            } else {
                train.push(chorale);
            }
        }
        if train.is_empty() {
            train = held.clone();
        }
        if held.is_empty() {
            held = train.iter().take(1).cloned().collect();
        }
        let shifts = train
            .iter()
            .map(|c| transpositions(c, &layout.vocab))
            .collect();
        let cells: Vec<(u32, u32)> = train
            .iter()
            .enumerate()
            .flat_map(|(c, ch)| (0..ch.len()).map(move |t| (c as u32, t as u32)))
            .collect();
        let validation: Vec<(u32, u32)> = held
            .iter()
            .enumerate()
            .flat_map(|(c, ch)| (0..ch.len()).step_by(3).map(move |t| (c as u32, t as u32)))
            .take(3000)
            .collect();
        Ok(Self {
            model: DeepBach::new(&config, &ranges, args.device),
            optimizer: super::optim::adam(0.9),
            batches: Batches::new((0..cells.len()).collect(), args.batch.max(1)),
            epoch_shift: vec![0; cells.len()],
            config,
            ranges,
            layout,
            train,
            held,
            shifts,
            cells,
            validation,
            learning_rate: args.learning_rate,
            device: args.device.clone(),
        })
    }

    /// The per-voice cross-entropies of the cells `(chorale, step, shift)` and their logits.
    fn losses(
        &self,
        model: &DeepBach,
        cells: &[(&Chorale, usize, i32)],
        device: &Device,
    ) -> (Vec<Tensor<1>>, Vec<Tensor<2>>, [Vec<usize>; 4]) {
        let voices = [0, 1, 2, 3];
        let inputs = model.inputs(&self.layout, cells, &voices, device);
        let logits = model.logits(inputs, &voices);
        let truth: [Vec<usize>; 4] = std::array::from_fn(|v| {
            cells
                .iter()
                .map(|&(c, t, s)| transpose(c.voices[v][t], s, self.layout.vocab[v]))
                .collect()
        });
        let ce = CrossEntropyLossConfig::new().init(device);
        let losses = logits
            .iter()
            .zip(&truth)
            .map(|(l, y)| {
                let y: Vec<i64> = y.iter().map(|&t| t as i64).collect();
                let n = y.len();
                let y = Tensor::<1, Int>::from_data(TensorData::new(y, [n]), device);
                ce.forward(l.clone(), y)
            })
            .collect();
        (losses, logits, truth)
    }
}

impl Session for DeepBachSession {
    fn loss_names(&self) -> Vec<String> {
        ["loss", "soprano", "alto", "tenor", "bass"]
            .map(String::from)
            .to_vec()
    }

    fn steps_per_epoch(&self) -> usize {
        self.batches.len()
    }

    fn start_epoch(&mut self, rng: &mut rand::rngs::StdRng) {
        self.batches.shuffle(rng);
        // Each cell is seen once an epoch, in a key drawn for it from its chorale's keys.
        for (i, &(c, _)) in self.cells.iter().enumerate() {
            let keys = &self.shifts[c as usize];
            self.epoch_shift[i] = keys[rng.random_range(0..keys.len())] as i8;
        }
    }

    fn train_step(&mut self, step: usize) -> super::StepLosses {
        let cells: Vec<(&Chorale, usize, i32)> = self
            .batches
            .get(step)
            .iter()
            .map(|&i| {
                let (c, t) = self.cells[i];
                (
                    &self.train[c as usize],
                    t as usize,
                    i32::from(self.epoch_shift[i]),
                )
            })
            .collect();
        let (losses, _, _) = self.losses(&self.model, &cells, &self.device);
        let total = losses
            .iter()
            .cloned()
            .reduce(|a, b| a + b)
            .expect("four voices");
        super::optimize(
            &mut self.optimizer,
            self.learning_rate,
            &mut self.model,
            total.clone().backward(),
        );
        super::StepLosses::new(std::iter::once(total / 4.0).chain(losses))
    }

    fn validate(&mut self) -> Vec<(String, f64)> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let (mut sums, mut correct, mut count) = ([0.0f64; 4], [0usize; 4], 0usize);
        for chunk in self.validation.chunks(512) {
            let cells: Vec<(&Chorale, usize, i32)> = chunk
                .iter()
                .map(|&(c, t)| (&self.held[c as usize], t as usize, 0))
                .collect();
            let (losses, logits, truth) = self.losses(&model, &cells, &device);
            for v in 0..4 {
                sums[v] += scalar(losses[v].clone()) * cells.len() as f64;
                correct[v] += rows(logits[v].clone())
                    .iter()
                    .zip(&truth[v])
                    .filter(|(row, t)| super::argmax(row) == **t)
                    .count();
            }
            count += cells.len();
        }
        let n = count.max(1) as f64;
        let mut out = vec![(
            "validation loss".to_string(),
            sums.iter().sum::<f64>() / n / 4.0,
        )];
        for (v, name) in ["soprano", "alto", "tenor", "bass"].iter().enumerate() {
            out.push((format!("{name} accuracy"), correct[v] as f64 / n));
        }
        out
    }

    fn samples(&mut self, seed: u64) -> Vec<Sample> {
        let model = self.model.valid();
        let Some(chorale) = self.held.first() else {
            return Vec::new();
        };
        // Eight bars of a held-out soprano.
        let steps = chorale.len().min(128);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let voices = harmonize_tokens(
            &model,
            &self.ranges,
            &self.config,
            &[(&chorale.voices[0][..steps], &chorale.metric[..steps])],
            &mut rng,
            &self.device.clone().inner(),
            &mut |_| {},
        );
        vec![Sample {
            label: "harmonization of a held-out soprano (pseudo-Gibbs)".into(),
            score: voices_to_score("DeepBach sample", &voices[0], &self.ranges),
        }]
    }

    fn flops_per_example(&self) -> Option<f64> {
        let layers = self.layers();
        let steps = self.config.context as f64;
        // Each LSTM runs over the context's steps; the slice, merge and output layers once.
        Some(
            super::card::matmul_flops(&layers, |name| {
                if name.contains("slice") || name.contains("merge") || name.contains("output") {
                    1.0
                } else {
                    steps
                }
            }) * super::card::TRAINING_PASSES,
        )
    }

    fn layers(&self) -> Vec<super::card::LayerShape> {
        super::card::layers("", &self.model)
    }

    fn save(&self, path: &std::path::Path) -> Result<(), String> {
        super::save_with_optimizer(&self.model, &self.optimizer, path)
    }

    fn load(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.model = super::load_with_optimizer(self.model.clone(), &mut self.optimizer, path)?;
        Ok(())
    }
}

/// A trained DeepBach, ready to harmonize and to be measured.
pub struct TrainedDeepBach {
    model: DeepBach,
    ranges: VoiceRanges,
    config: DeepBachConfig,
}

impl TrainedDeepBach {
    /// Harmonizes the melody of `melody` (its track `track`, else its first with notes),
    /// keeping it note for note ([`harmonize_melody`]); `progress` hears each sweep.
    pub fn harmonize(
        &self,
        melody: &Score,
        track: Option<&str>,
        seed: u64,
        device: &Device,
        progress: &mut dyn FnMut(f64),
    ) -> Result<super::minibach::Harmonized, String> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        harmonize_melody(&self.ranges, melody, track, &mut |soprano, metric| {
            Ok(harmonize_tokens(
                &self.model,
                &self.ranges,
                &self.config,
                &[(soprano, metric)],
                &mut rng,
                device,
                progress,
            )
            .remove(0))
        })
    }
}

impl TrainedDeepBach {
    /// Resamples the voices ticked in `rewrite` between ticks `from..to` of a four-voice
    /// `score` (widened to whole 16th steps), every other cell held fixed, and returns the
    /// score with just those notes replaced: every note outside the span is kept as it was (a
    /// note across an edge of the span is cut there and keeps its outside part).
    #[allow(clippy::too_many_arguments)]
    pub fn reharmonize(
        &self,
        score: &Score,
        from: u64,
        to: u64,
        rewrite: [bool; 4],
        seed: u64,
        device: &Device,
    ) -> Result<Score, String> {
        if score.tracks.len() != 4 {
            return Err(format!(
                "re-harmonizing works on four voices (soprano, alto, tenor, bass); this piece has {} tracks",
                score.tracks.len()
            ));
        }
        if !rewrite.iter().any(|&r| r) {
            return Err("tick at least one voice to rewrite".into());
        }
        let grid = score.to_grid(4);
        let steps = grid.total_steps() as usize;
        let step_ticks = (u64::from(score.ticks_per_quarter) / 4).max(1);
        let first = ((from / step_ticks) as usize).min(steps);
        let last = (to.div_ceil(step_ticks) as usize).min(steps);
        if first >= last {
            return Err("the selection holds no step of the piece".into());
        }
        let voices = std::array::from_fn(|v| {
            voice_tokens(&grid.tracks[v].notes, 0, steps, &self.ranges.0[v])
        });
        let mut chorales = vec![Chorale::new(voices, metric_positions(score, steps))];
        let fixed: Fixed = std::array::from_fn(|v| {
            (0..steps)
                .map(|t| !(rewrite[v] && (first..last).contains(&t)))
                .collect()
        });
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        pseudo_gibbs(
            &self.model,
            &self.ranges,
            &mut chorales,
            &[fixed],
            &self.config,
            &mut rng,
            device,
            &mut |_| {},
        );
        let (start, end) = (first as u64 * step_ticks, last as u64 * step_ticks);
        let mut out = score.clone();
        for v in (0..4).filter(|&v| rewrite[v]) {
            let tokens = &chorales[0].voices[v][first..last];
            let track = &mut out.tracks[v];
            let velocity = track.notes.first().map_or(80, |n| n.velocity);
            let mut kept: Vec<crate::music::Note> = Vec::new();
            for n in &track.notes {
                if n.end() <= start || n.start >= end {
                    kept.push(*n);
                    continue;
                }
                if n.start < start {
                    kept.push(crate::music::Note {
                        duration: start - n.start,
                        ..*n
                    });
                }
                if n.end() > end {
                    kept.push(crate::music::Note {
                        start: end,
                        duration: n.end() - end,
                        ..*n
                    });
                }
            }
            // Holds at the start of the span go on with the note cut at its edge.
            let leading = tokens.iter().take_while(|&&t| t == HOLD).count() as u64;
            if leading > 0
                && let Some(cut) = kept.iter_mut().find(|n| n.end() == start)
            {
                cut.duration += leading * step_ticks;
            }
            kept.extend(
                crate::data::encoding::tokens_to_grid_notes(tokens, &self.ranges.0[v], velocity)
                    .into_iter()
                    .map(|g| crate::music::Note {
                        pitch: g.pitch,
                        start: start + u64::from(g.start) * step_ticks,
                        duration: u64::from(g.duration) * step_ticks,
                        velocity: g.velocity,
                    }),
            );
            kept.sort_by_key(|n| (n.start, n.pitch));
            track.notes = kept;
        }
        Ok(out)
    }
}

/// The registry's `load`.
fn load(
    config: &super::ModelConfig,
    vocabulary: super::Vocabulary,
    path: &std::path::Path,
    device: &Device,
) -> Result<Box<dyn super::Trained>, String> {
    let (super::ModelConfig::DeepBach(c), super::Vocabulary::Voices(ranges)) = (config, vocabulary)
    else {
        return Err(super::missing_vocabulary(path));
    };
    Ok(Box::new(TrainedDeepBach {
        model: super::load_module(DeepBach::new(c, &ranges, device), path)?,
        ranges,
        config: c.clone(),
    }))
}

impl super::Trained for TrainedDeepBach {
    fn reharmonize(
        &self,
        score: &Score,
        span: (u64, u64),
        rewrite: [bool; 4],
        seed: u64,
        device: &Device,
    ) -> Option<Result<Score, String>> {
        Some(TrainedDeepBach::reharmonize(
            self, score, span.0, span.1, rewrite, seed, device,
        ))
    }

    fn harmonize(
        &self,
        melody: &Score,
        track: Option<&str>,
        seed: u64,
        device: &Device,
        progress: &mut dyn FnMut(f64),
    ) -> Option<Result<super::minibach::Harmonized, String>> {
        Some(TrainedDeepBach::harmonize(
            self, melody, track, seed, device, progress,
        ))
    }

    fn generate(&self, options: &super::GenerateOptions, device: &Device) -> Result<Score, String> {
        let melody = options
            .melody
            .as_ref()
            .ok_or("DeepBach harmonizes a melody: give one (--melody FILE.mid)")?;
        let done = self.harmonize(
            melody,
            options.track.as_deref(),
            options.seed,
            device,
            &mut |_| {},
        )?;
        if let Some(notice) = done.notice() {
            log::warn!("{notice}");
        }
        Ok(done.score)
    }

    fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String> {
        Ok(super::minibach::evaluate_harmonizer(
            self, data, options, device, progress,
        ))
    }
}

/// Metric positions of a window cut from a piece's start at a multiple of a bar: 4/4.
fn window_metric(steps: usize) -> Vec<usize> {
    (0..steps).map(|t| t % 16).collect()
}

impl Harmonizer for TrainedDeepBach {
    fn ranges(&self) -> VoiceRanges {
        self.ranges
    }

    fn voice_rows(&self, windows: &[&[Vec<usize>; 4]], device: &Device) -> [Vec<Vec<f32>>; 3] {
        let chorales: Vec<Chorale> = windows
            .iter()
            .map(|w| Chorale::new((*w).clone(), window_metric(w[0].len())))
            .collect();
        let layout = Layout::new(&self.ranges);
        let cells: Vec<(&Chorale, usize, i32)> = chorales
            .iter()
            .flat_map(|c| (0..c.len()).map(move |t| (c, t, 0)))
            .collect();
        let mut out: [Vec<Vec<f32>>; 3] = Default::default();
        for chunk in cells.chunks(SAMPLE_BATCH) {
            let inputs = self.model.inputs(&layout, chunk, &[1, 2, 3], device);
            for (v, logits) in self
                .model
                .logits(inputs, &[1, 2, 3])
                .into_iter()
                .enumerate()
            {
                out[v].extend(rows(logits));
            }
        }
        out
    }

    fn harmonize_all(
        &self,
        sopranos: &[&[usize]],
        rng: &mut rand::rngs::StdRng,
        device: &Device,
    ) -> Vec<[Vec<usize>; 4]> {
        let metrics: Vec<Vec<usize>> = sopranos.iter().map(|s| window_metric(s.len())).collect();
        let pairs: Vec<(&[usize], &[usize])> = sopranos
            .iter()
            .zip(&metrics)
            .map(|(s, m)| (*s, m.as_slice()))
            .collect();
        harmonize_tokens(
            &self.model,
            &self.ranges,
            &self.config,
            &pairs,
            rng,
            device,
            &mut |_| {},
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges() -> VoiceRanges {
        VoiceRanges([
            PitchRange { low: 60, high: 79 },
            PitchRange { low: 55, high: 74 },
            PitchRange { low: 48, high: 67 },
            PitchRange { low: 40, high: 60 },
        ])
    }

    #[test]
    fn fermatas_mark_the_long_soprano_notes_only() {
        let mut soprano = vec![5, HOLD, HOLD, HOLD, 7];
        soprano.extend([9].iter().chain([HOLD; 7].iter()));
        soprano.push(REST);
        let flags = fermatas(&soprano);
        assert_eq!(flags.iter().filter(|&&f| f).count(), 8);
        assert!(!flags[0] && !flags[4] && flags[5] && flags[12] && !flags[13]);
    }

    #[test]
    fn transpositions_keep_every_voice_in_its_range() {
        let r = ranges();
        let layout = Layout::new(&r);
        // Soprano from its lowest pitch + 2 to its highest − 3: two steps down, three up.
        let n = layout.vocab[0];
        let chorale = Chorale::new(
            [
                vec![4, HOLD, n - 4],
                vec![REST; 3],
                vec![REST; 3],
                vec![REST; 3],
            ],
            vec![0, 1, 2],
        );
        assert_eq!(
            transpositions(&chorale, &layout.vocab),
            vec![-2, -1, 0, 1, 2, 3]
        );
        assert_eq!(transpose(4, -2, n), 2);
        assert_eq!(transpose(HOLD, 5, n), HOLD);
    }

    /// The network of a voice never reads that voice at the step it predicts: changing it
    /// leaves the logits unchanged, changing another voice there changes them.
    #[test]
    fn a_voice_is_predicted_without_its_own_cell() {
        let _guard = super::super::test_rng();
        let device = Device::flex();
        let r = ranges();
        let config = DeepBachConfig {
            hidden: 8,
            embedding: 4,
            context: 4,
            dropout: 0.0,
            ..DeepBachConfig::default()
        };
        let model = DeepBach::new(&config, &r, &device);
        let layout = Layout::new(&r);
        let base = Chorale::new(
            [vec![5; 9], vec![6; 9], vec![7; 9], vec![8; 9]],
            (0..9).collect(),
        );
        let logits_of = |c: &Chorale| {
            let inputs = model.inputs(&layout, &[(c, 4, 0)], &[1], &device);
            rows(model.logits(inputs, &[1]).remove(0))
        };
        let mut own = base.clone();
        own.voices[1][4] = 9;
        let mut other = base.clone();
        other.voices[2][4] = 3;
        assert_eq!(logits_of(&base), logits_of(&own));
        assert_ne!(logits_of(&base), logits_of(&other));
    }

    /// Fixed cells stay as they are; free cells come out as valid tokens, with no hold after
    /// a rest, and the same seed gives the same chorale.
    #[test]
    fn sampling_keeps_the_fixed_cells_and_writes_valid_voices() {
        let _guard = super::super::test_rng();
        let device = Device::flex();
        let r = ranges();
        let config = DeepBachConfig {
            hidden: 8,
            embedding: 4,
            context: 4,
            sweeps: 3,
            ..DeepBachConfig::default()
        };
        let model = DeepBach::new(&config, &r, &device);
        let soprano: Vec<usize> = (0..32)
            .map(|t| if t % 4 == 0 { 4 + t / 4 } else { HOLD })
            .collect();
        let metric: Vec<usize> = (0..32).map(|t| t % 16).collect();
        let run = |seed| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            harmonize_tokens(
                &model,
                &r,
                &config,
                &[(&soprano, &metric)],
                &mut rng,
                &device,
                &mut |_| {},
            )
            .remove(0)
        };
        let voices = run(1);
        assert_eq!(voices[0], soprano);
        let layout = Layout::new(&r);
        for (voice, vocab) in voices.iter().zip(layout.vocab).skip(1) {
            assert_eq!(voice.len(), 32);
            assert!(voice.iter().all(|&t| t < vocab));
            assert!(voice[0] != HOLD);
            assert!(voice.windows(2).all(|w| !(w[0] == REST && w[1] == HOLD)));
        }
        assert_eq!(run(1), voices);
    }
}
