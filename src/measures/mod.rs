//! Measuring a trained model against music it never saw, beside dumb baselines — the parts of
//! `muselab evaluate` that know music and data but no particular model, so that each model's
//! file can say how it is measured (`models::Trained::evaluate`) with these pieces:
//!
//! - [`predictive`]: NLL per step, step accuracy and onset accuracy (accuracy on steps that
//!   start a note, which always predicting HOLD cannot win);
//! - [`ngram`]: the baselines, a unigram model and a Markov chain fitted on the training pieces;
//! - [`overlap`]: feature overlaps with the held-out pieces after Yang & Lerch, exact copies;
//! - [`frames`]: polyphonic music as tokens, for the baselines of the all-voice models;
//! - [`constraints`]: pinned notes (the Anticipation-RNN): constraint sets and how well a
//!   melody meets them;
//! - [`lengths`]: note lengths of piano rolls and their overlap (the C-RBM's held notes);
//! - [`frame_accuracy`]: frame-level accuracy and NLL of polyphonic prediction, and the
//!   independent Bernoulli baseline (the Boltzmann machines);
//! - the cases below: a melody model's or an all-voice model's whole measurement.

pub mod ais;
pub mod constraints;
pub mod frame_accuracy;
pub mod frames;
pub mod lengths;
pub mod ngram;
pub mod overlap;
pub mod predictive;
pub mod rules;

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};

use crate::data::encoding::{pick_track, tokens_to_grid_notes, voice_tokens};
use crate::data::{MelodyWindows, PitchRange};
use crate::music::harmony::Harmony;
use crate::music::{GridNote, Score};
use ngram::{Ngram, Stream};
use overlap::{Excerpt, FEATURES, TrainingWindows};
use predictive::{Predictive, PredictiveSum};

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvaluateOptions {
    /// Samples per model and baseline.
    pub samples: usize,
    /// Seed of the samples.
    pub seed: u64,
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        Self {
            samples: 200,
            seed: 1,
        }
    }
}

/// Most samples `evaluate` draws (each is compared with every reference excerpt).
pub const MAX_SAMPLES: usize = 2000;
/// Most held-out excerpts the samples are compared with (an even selection).
pub const MAX_REFERENCE: usize = 300;
/// Longest held-out tune the LSTM is scored on, in steps (longer ones are cut).
pub const MAX_TUNE_STEPS: usize = 2048;
/// Examples per forward pass while scoring.
pub const BATCH: usize = 128;

/// How samples compare with the held-out pieces.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SampleScores {
    /// Samples measured.
    pub count: usize,
    /// Per feature: overlap of inter-set with intra-set distances, in [0, 1].
    pub overlap: BTreeMap<String, f64>,
    /// Mean of the overlaps.
    pub overlap_mean: f64,
    /// Share of samples that copy a training window exactly.
    pub nearest_copy_rate: f64,
}

/// The measures of one model or baseline. In JSON the frame-level measures sit beside the
/// per-step ones under "predictive" (`frame_accuracy`, `nll_per_frame`), where a reader looks
/// for "how well does it predict".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "ScoresJson", from = "ScoresJson")]
pub struct Scores {
    /// Predictive measures (absent for models that give no distribution, the GANs).
    pub predictive: Option<Predictive>,
    /// Sample measures.
    pub samples: Option<SampleScores>,
    /// Part-writing measures of harmonizations (mini-bach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harmony: Option<Harmony>,
    /// Frame-level prediction of polyphony (the Boltzmann machines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<frame_accuracy::FrameScores>,
    /// How well pinned notes are met (the Anticipation-RNN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<constraints::ConstraintScores>,
    /// How a sparse code is used on the held-out melodies (the sparse autoencoder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeUsage>,
    /// RL-Tuner's Table 1: the music-theory rules on the samples' first 32 steps (melodies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<rules::RuleStats>,
    /// The predictive measures of each written voice apart (the harmonizers: alto, tenor,
    /// bass); empty where the model writes one stream.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voices: Vec<Predictive>,
}

/// How a sparse autoencoder's code units are used on held-out melodies.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CodeUsage {
    /// Mean activation ρ̂ over units and melodies.
    pub mean_activation: f64,
    /// The target ρ it was trained toward.
    pub target: f64,
    /// Share of units whose mean activation stays below 0.001.
    pub dead_units: f64,
    /// Code units.
    pub units: usize,
}

/// [`Scores`] as written: both kinds of predictive measure under one key.
#[derive(serde::Serialize, serde::Deserialize)]
struct ScoresJson {
    predictive: Option<PredictiveJson>,
    samples: Option<SampleScores>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    harmony: Option<Harmony>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    constraints: Option<constraints::ConstraintScores>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<CodeUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rules: Option<rules::RuleStats>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    voices: Vec<Predictive>,
}

/// Per-step measures, frame measures, or both (their field names differ).
#[derive(serde::Serialize, serde::Deserialize)]
struct PredictiveJson {
    #[serde(flatten)]
    steps: Option<Predictive>,
    #[serde(flatten)]
    frames: Option<frame_accuracy::FrameScores>,
}

impl From<Scores> for ScoresJson {
    fn from(s: Scores) -> Self {
        let predictive = (s.predictive.is_some() || s.frames.is_some()).then_some(PredictiveJson {
            steps: s.predictive,
            frames: s.frames,
        });
        Self {
            predictive,
            samples: s.samples,
            harmony: s.harmony,
            constraints: s.constraints,
            code: s.code,
            rules: s.rules,
            voices: s.voices,
        }
    }
}

impl From<ScoresJson> for Scores {
    fn from(s: ScoresJson) -> Self {
        let (predictive, frames) = s.predictive.map_or((None, None), |p| (p.steps, p.frames));
        Self {
            predictive,
            samples: s.samples,
            harmony: s.harmony,
            frames,
            constraints: s.constraints,
            code: s.code,
            rules: s.rules,
            voices: s.voices,
        }
    }
}

/// The baselines.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Baselines {
    /// Token frequencies.
    pub unigram: Scores,
    /// A Markov chain of order [`ngram::MARKOV_ORDER`].
    pub markov: Scores,
    /// Independent Bernoulli pitches (frame-level baseline of the Boltzmann machines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bernoulli: Option<Scores>,
    /// A plain RBM without recurrence, trained as long on the same frames (the RNN-RBM's
    /// second baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbm: Option<Scores>,
}

/// Reports progress: (fraction done, what is being done).
pub type Progress<'a> = &'a mut dyn FnMut(f32, &str);

/// The pieces a run trained on and those it never saw.
pub struct HeldOut<'a> {
    /// Training pieces.
    pub train: &'a [Score],
    /// Held-out pieces.
    pub held: &'a [Score],
    /// How the run was trained — epochs, batch size, seed — for baselines that are trained
    /// themselves (they get as much).
    pub training: (usize, usize, u64),
}

/// The melody of a score (its soprano, else its first track with notes) on the 16th grid.
pub fn melody_notes(score: &Score) -> Vec<GridNote> {
    let grid = score.to_grid(4);
    pick_track(&grid.tracks, Some("Soprano"))
        .map(|t| t.notes.clone())
        .unwrap_or_default()
}

pub fn total_steps(notes: &[GridNote]) -> usize {
    notes
        .iter()
        .map(|n| n.start as usize + n.duration as usize)
        .max()
        .unwrap_or(0)
}

pub fn melody_tokens(notes: &[GridNote], range: &PitchRange) -> Vec<usize> {
    voice_tokens(notes, 0, total_steps(notes), range)
}

pub fn tokens_excerpt(tokens: &[usize], range: &PitchRange) -> Excerpt {
    Excerpt {
        steps: tokens.len(),
        notes: tokens_to_grid_notes(tokens, range, 90),
    }
}

/// At most [`MAX_REFERENCE`] excerpts, evenly chosen.
pub fn thin_reference(mut excerpts: Vec<Excerpt>) -> Vec<Excerpt> {
    if excerpts.len() > MAX_REFERENCE {
        let stride = excerpts.len() as f64 / MAX_REFERENCE as f64;
        excerpts = (0..MAX_REFERENCE)
            .map(|i| excerpts[(i as f64 * stride) as usize].clone())
            .collect();
    }
    excerpts
}

/// Measures samples against the reference excerpts and the training windows. Melodies leave
/// polyphony out: one voice sounds at a time in samples and corpus alike, and the density
/// estimate of two near-constant sets says nothing but its bandwidth.
pub fn sample_scores(
    samples: &[Excerpt],
    reference: &[Excerpt],
    copies: &TrainingWindows,
    melodies: bool,
) -> SampleScores {
    let overlaps: Vec<(&str, f64)> = FEATURES
        .iter()
        .copied()
        .zip(overlap::feature_overlaps(samples, reference))
        .filter(|(f, _)| !(melodies && *f == "polyphony"))
        .collect();
    let copied = samples.iter().filter(|s| copies.is_copy(s)).count();
    SampleScores {
        count: samples.len(),
        overlap_mean: overlaps.iter().map(|(_, v)| v).sum::<f64>() / overlaps.len().max(1) as f64,
        overlap: overlaps
            .iter()
            .map(|(f, v)| ((*f).to_string(), *v))
            .collect(),
        nearest_copy_rate: copied as f64 / samples.len().max(1) as f64,
    }
}

/// Scores n-gram predictions of streams.
pub fn ngram_predictive(model: &Ngram, streams: &[Stream<'_>]) -> Predictive {
    let mut sum = PredictiveSum::default();
    for stream in streams {
        for (probs, &target) in model.predict(stream).iter().zip(stream.tokens) {
            sum.add_probs(probs, target);
        }
    }
    sum.finish()
}

/// What one model's evaluation found.
pub struct Evaluated {
    /// The model's measures.
    pub model: Scores,
    /// The model's first sample.
    pub example: Option<Excerpt>,
    /// The baselines' measures.
    pub baselines: Baselines,
    /// Steps per sample.
    pub steps: usize,
    /// Part-writing of the corpus's own voices (harmonizing models).
    pub corpus_harmony: Option<Harmony>,
    /// RL-Tuner's Table 1 on the held-out melodies' openings (melody models).
    pub corpus_rules: Option<rules::RuleStats>,
}

impl Evaluated {
    /// The same with frame-level measures: the model's and the independent Bernoulli
    /// baseline's (the Boltzmann machines).
    pub fn with_frames(
        mut self,
        model: frame_accuracy::FrameScores,
        bernoulli: frame_accuracy::FrameScores,
    ) -> Self {
        self.model.frames = Some(model);
        self.baselines.bernoulli = Some(Scores {
            frames: Some(bernoulli),
            ..Default::default()
        });
        self
    }

    /// Measures without part-writing.
    pub fn new(
        model: Scores,
        baselines: Baselines,
        steps: usize,
        example: Option<Excerpt>,
    ) -> Self {
        Self {
            model,
            example,
            baselines,
            steps,
            corpus_harmony: None,
            corpus_rules: None,
        }
    }
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut impl Rng) -> f32 {
    let (u, v): (f32, f32) = (rng.random_range(1e-6..1.0), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

/// Non-overlapping held-out melody windows of `steps` (at least half of them sounding, as in
/// training).
pub fn held_windows(data: &HeldOut<'_>, range: PitchRange, steps: usize) -> Vec<Vec<usize>> {
    MelodyWindows::from_scores(data.held, Some("Soprano"), steps, steps, Some(range)).windows
}

/// Scores `logits_of(batch)` (rows of logits, `steps` per example) against the examples.
pub fn batched_predictive(
    examples: &[Vec<usize>],
    mut logits_of: impl FnMut(&[Vec<usize>]) -> Vec<Vec<f32>>,
) -> Predictive {
    let mut sum = PredictiveSum::default();
    for batch in examples.chunks(BATCH) {
        let logits = logits_of(batch);
        for (row, &target) in logits.iter().zip(batch.iter().flatten()) {
            sum.add_logits(row, target);
        }
    }
    sum.finish()
}

/// Everything but the model's own predictions for a melody model: the reference excerpts,
/// the copy check and both baselines.
#[allow(clippy::too_many_arguments)]
pub fn melody_case(
    data: &HeldOut<'_>,
    range: PitchRange,
    held_streams: Vec<Vec<usize>>,
    predictive: Option<Predictive>,
    samples: Vec<Excerpt>,
    steps: usize,
    options: &EvaluateOptions,
    progress: Progress<'_>,
) -> Evaluated {
    progress(0.7, "fitting the baselines");
    let train_notes: Vec<Vec<GridNote>> = data.train.iter().map(melody_notes).collect();
    let held_notes: Vec<Vec<GridNote>> = data.held.iter().map(melody_notes).collect();
    let train_tokens: Vec<Vec<usize>> = train_notes
        .iter()
        .map(|n| melody_tokens(n, &range))
        .collect();
    let streams: Vec<Stream<'_>> = train_tokens.iter().map(|t| Stream::plain(t)).collect();
    let vocab = range.vocab_size();
    let baselines = [
        Ngram::unigram(vocab, &streams),
        Ngram::markov(vocab, &streams),
    ];
    let held: Vec<Stream<'_>> = held_streams.iter().map(|t| Stream::plain(t)).collect();
    progress(0.8, "comparing samples with held-out music");
    let reference = thin_reference(
        held_notes
            .iter()
            .flat_map(|n| Excerpt::windows(n, steps))
            .collect(),
    );
    let copies = TrainingWindows::new(&train_notes, steps);
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    let mut baseline_scores = baselines.iter().map(|model| {
        let samples: Vec<Excerpt> = (0..options.samples)
            .map(|_| tokens_excerpt(&model.sample(steps, None, &mut rng), &range))
            .collect();
        Scores {
            predictive: (!held.is_empty()).then(|| ngram_predictive(model, &held)),
            samples: Some(sample_scores(&samples, &reference, &copies, true)),
            rules: Some(excerpt_rules(&samples, &range)),
            ..Scores::default()
        }
    });
    let unigram = baseline_scores.next().unwrap_or_default();
    let markov = baseline_scores.next().unwrap_or_default();
    progress(1.0, "done");
    let corpus: Vec<Vec<usize>> = held_notes
        .iter()
        .map(|n| voice_tokens(n, 0, rules::COMPOSITION_STEPS, &range))
        .collect();
    let mut evaluated = Evaluated::new(
        Scores {
            predictive,
            samples: Some(sample_scores(&samples, &reference, &copies, true)),
            rules: Some(excerpt_rules(&samples, &range)),
            ..Scores::default()
        },
        Baselines {
            unigram,
            markov,
            ..Baselines::default()
        },
        steps,
        samples.first().cloned(),
    );
    evaluated.corpus_rules = Some(rules::rule_stats(&corpus, &range));
    evaluated
}

/// RL-Tuner's Table 1 on the first [`rules::COMPOSITION_STEPS`] steps of each sample.
fn excerpt_rules(samples: &[Excerpt], range: &PitchRange) -> rules::RuleStats {
    let compositions: Vec<Vec<usize>> = samples
        .iter()
        .map(|e| voice_tokens(&e.notes, 0, rules::COMPOSITION_STEPS.min(e.steps), range))
        .collect();
    rules::rule_stats(&compositions, range)
}

/// Piano-roll and event models (all voices): samples only; the baselines are n-grams over the
/// corpus's frames (see [`frames`]).
pub fn polyphonic_case(
    data: &HeldOut<'_>,
    samples: Vec<Excerpt>,
    steps: usize,
    options: &EvaluateOptions,
    progress: Progress<'_>,
) -> Evaluated {
    progress(0.6, "fitting the baselines");
    let train_notes: Vec<Vec<GridNote>> = data.train.iter().map(Excerpt::all_notes).collect();
    let reference = thin_reference(
        data.held
            .iter()
            .flat_map(|s| Excerpt::windows(&Excerpt::all_notes(s), steps))
            .collect(),
    );
    let vocab = frames::Frames::new(&train_notes);
    let tokens: Vec<Vec<usize>> = train_notes.iter().map(|n| vocab.tokens(n)).collect();
    let streams: Vec<Stream<'_>> = tokens.iter().map(|t| Stream::plain(t)).collect();
    let copies = TrainingWindows::new(&train_notes, steps);
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    let mut baseline = |model: Ngram| {
        let samples: Vec<Excerpt> = (0..options.samples)
            .map(|_| vocab.excerpt(&model.sample(steps, None, &mut rng)))
            .collect();
        Scores {
            predictive: None,
            samples: Some(sample_scores(&samples, &reference, &copies, false)),
            harmony: None,
            frames: None,
            constraints: None,
            code: None,
            rules: None,
            voices: Vec::new(),
        }
    };
    let unigram = baseline(Ngram::unigram(vocab.len(), &streams));
    let markov = baseline(Ngram::markov(vocab.len(), &streams));
    progress(1.0, "done");
    Evaluated::new(
        Scores {
            predictive: None,
            samples: Some(sample_scores(&samples, &reference, &copies, false)),
            harmony: None,
            frames: None,
            constraints: None,
            code: None,
            rules: None,
            voices: Vec::new(),
        },
        Baselines {
            unigram,
            markov,
            ..Baselines::default()
        },
        steps,
        samples.first().cloned(),
    )
}
