//! Proof of learning: a trained run measured on the held-out pieces of its corpus, beside two
//! dumb baselines fitted on the same training pieces — a unigram model (token frequencies) and
//! a Markov chain — so that "the loss fell" becomes "it predicts and writes music better than
//! counting does".
//!
//! - **predictive** (models that give a distribution per step): NLL per step, step accuracy and
//!   onset accuracy (see [`predictive`]; the baselines are in [`ngram`]). VAEs and autoencoders reconstruct from the posterior
//!   mean — a task that sees its own input, so they should beat the baselines by far.
//! - **samples** (every model): feature overlaps with the held-out pieces after Yang & Lerch
//!   and the share of exact copies of a training window (see [`overlap`]).
//!
//! Used by `muselab evaluate` and the Compare view.

pub mod frames;
pub mod overlap;
pub mod worker;

pub use crate::models::{ngram, predictive};

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use crate::data::encoding::{pick_track, tokens_to_grid_notes, voice_tokens};
use crate::data::{ChoraleWindows, MelodyWindows, PitchRange, REST, SPLIT_RULE};
use crate::inference::LoadedModel;
use crate::models::minibach::{self, VoiceRanges};
use crate::models::{autoencoder, crnn_gan, gan, lstm, midinet, one_hot, rows};
use crate::music::harmony::{self, Harmony};
use crate::music::{GridNote, Score};
use crate::training::RunConfig;
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
const MAX_REFERENCE: usize = 300;
/// Longest held-out tune the LSTM is scored on, in steps (longer ones are cut).
const MAX_TUNE_STEPS: usize = 2048;
/// Examples per forward pass while scoring.
const BATCH: usize = 128;

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

/// The measures of one model or baseline.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scores {
    /// Predictive measures (absent for models that give no distribution, the GANs).
    pub predictive: Option<Predictive>,
    /// Sample measures.
    pub samples: Option<SampleScores>,
    /// Part-writing measures of harmonizations (mini-bach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harmony: Option<Harmony>,
}

/// The two baselines.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Baselines {
    /// Token frequencies.
    pub unigram: Scores,
    /// A Markov chain of order [`ngram::MARKOV_ORDER`].
    pub markov: Scores,
}

/// The evaluation of one run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// The checkpoint folder.
    pub run: String,
    /// Model id.
    pub model: String,
    /// Corpus.
    pub corpus: String,
    /// Pieces held out from training.
    pub held_out_pieces: usize,
    /// How they were chosen.
    pub split: String,
    /// Steps per sample (and per reference excerpt).
    pub sample_steps: usize,
    /// Predictive measures of the model.
    pub predictive: Option<Predictive>,
    /// Sample measures of the model.
    pub samples: Option<SampleScores>,
    /// Part-writing measures of the model's harmonizations (mini-bach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harmony: Option<Harmony>,
    /// The same part-writing measures of the corpus's own voices for the same sopranos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus_harmony: Option<Harmony>,
    /// The baselines, measured the same way.
    pub baselines: Baselines,
    /// Seconds the evaluation took.
    pub seconds: f64,
    /// The model's first sample, to listen to beside the figures (kept in the saved report,
    /// left out of `muselab evaluate --json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Score>,
}

/// The report's file in a checkpoint folder (replaced with the checkpoint when a run goes on).
pub const REPORT_FILE: &str = "evaluation.json";

/// Saves a report beside its checkpoint (written to a temporary name, then renamed).
pub fn save_report(dir: &Path, report: &Report) -> Result<(), String> {
    let path = dir.join(REPORT_FILE);
    let text = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
    crate::util::write_atomically(&path, &text)
        .map_err(|e| format!("{}: cannot save the evaluation: {e}", path.display()))
}

/// The saved report of a checkpoint, if there is a readable one.
pub fn read_report(dir: &Path) -> Option<Report> {
    let text = std::fs::read(dir.join(REPORT_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Reports progress: (fraction done, what is being done).
pub type Progress<'a> = &'a mut dyn FnMut(f32, &str);

/// Evaluates the checkpoint in `dir` on `device`.
pub fn evaluate(
    dir: &Path,
    options: &EvaluateOptions,
    device: &Device,
    progress: Progress<'_>,
) -> Result<Report, String> {
    let started = std::time::Instant::now();
    if options.samples == 0 || options.samples > MAX_SAMPLES {
        return Err(format!(
            "samples must be between 1 and {MAX_SAMPLES} (got {})",
            options.samples
        ));
    }
    progress(0.0, "loading the checkpoint");
    let (model, config) = LoadedModel::load(dir, None, device)?;
    progress(0.05, "reading the corpus");
    let corpus = config.corpus_dir(&crate::corpus::assets_dir());
    let (scores, _) = crate::data::load_scores(&corpus, config.max_pieces)?;
    let (train, held) = split(&config, scores);
    if held.is_empty() {
        return Err(format!(
            "{}: no held-out piece ({SPLIT_RULE}): the run saw fewer than 10 pieces",
            config.corpus
        ));
    }
    let data = Split {
        train: &train,
        held: &held,
    };
    let evaluated = evaluate_model(&model, &data, options, device, progress)?;
    Ok(Report {
        run: dir.display().to_string(),
        model: config.model.id().into(),
        corpus: config.corpus.clone(),
        held_out_pieces: held.len(),
        split: SPLIT_RULE.into(),
        sample_steps: evaluated.steps,
        predictive: evaluated.model.predictive,
        samples: evaluated.model.samples,
        harmony: evaluated.model.harmony,
        corpus_harmony: evaluated.corpus_harmony,
        baselines: evaluated.baselines,
        seconds: started.elapsed().as_secs_f64(),
        example: evaluated
            .example
            .map(|e| e.to_score(&format!("{} sample", config.model.id()))),
    })
}

/// The run's training and held-out pieces: those named in its config, else the split rule's.
fn split(config: &RunConfig, scores: Vec<Score>) -> (Vec<Score>, Vec<Score>) {
    let named: std::collections::HashSet<&str> =
        config.held_out.iter().map(String::as_str).collect();
    scores.into_iter().enumerate().fold(
        (Vec::new(), Vec::new()),
        |(mut train, mut held), (i, score)| {
            let held_out = if named.is_empty() {
                crate::data::datasets::is_validation_piece(i)
            } else {
                named.contains(score.name.as_str())
            };
            if held_out {
                held.push(score);
            } else {
                train.push(score);
            }
            (train, held)
        },
    )
}

struct Split<'a> {
    train: &'a [Score],
    held: &'a [Score],
}

/// The melody of a score (its soprano, else its first track with notes) on the 16th grid.
fn melody_notes(score: &Score) -> Vec<GridNote> {
    let grid = score.to_grid(4);
    pick_track(&grid.tracks, Some("Soprano"))
        .map(|t| t.notes.clone())
        .unwrap_or_default()
}

fn total_steps(notes: &[GridNote]) -> usize {
    notes
        .iter()
        .map(|n| n.start as usize + n.duration as usize)
        .max()
        .unwrap_or(0)
}

fn melody_tokens(notes: &[GridNote], range: &PitchRange) -> Vec<usize> {
    voice_tokens(notes, 0, total_steps(notes), range)
}

fn tokens_excerpt(tokens: &[usize], range: &PitchRange) -> Excerpt {
    Excerpt {
        steps: tokens.len(),
        notes: tokens_to_grid_notes(tokens, range, 90),
    }
}

/// At most [`MAX_REFERENCE`] excerpts, evenly chosen.
fn thin_reference(mut excerpts: Vec<Excerpt>) -> Vec<Excerpt> {
    if excerpts.len() > MAX_REFERENCE {
        let stride = excerpts.len() as f64 / MAX_REFERENCE as f64;
        excerpts = (0..MAX_REFERENCE)
            .map(|i| excerpts[(i as f64 * stride) as usize].clone())
            .collect();
    }
    excerpts
}

/// Measures samples against the reference excerpts and the training windows.
fn sample_scores(
    samples: &[Excerpt],
    reference: &[Excerpt],
    copies: &TrainingWindows,
) -> SampleScores {
    let overlaps = overlap::feature_overlaps(samples, reference);
    let copied = samples.iter().filter(|s| copies.is_copy(s)).count();
    SampleScores {
        count: samples.len(),
        overlap_mean: overlaps.iter().sum::<f64>() / overlaps.len().max(1) as f64,
        overlap: FEATURES
            .iter()
            .zip(&overlaps)
            .map(|(f, v)| ((*f).to_string(), *v))
            .collect(),
        nearest_copy_rate: copied as f64 / samples.len().max(1) as f64,
    }
}

/// Scores n-gram predictions of streams.
fn ngram_predictive(model: &Ngram, streams: &[Stream<'_>]) -> Predictive {
    let mut sum = PredictiveSum::default();
    for stream in streams {
        for (probs, &target) in model.predict(stream).iter().zip(stream.tokens) {
            sum.add_probs(probs, target);
        }
    }
    sum.finish()
}

/// What one model's evaluation found.
struct Evaluated {
    model: Scores,
    /// The model's first sample.
    example: Option<Excerpt>,
    baselines: Baselines,
    /// Steps per sample.
    steps: usize,
    /// Part-writing of the corpus's own voices (harmonizing models).
    corpus_harmony: Option<Harmony>,
}

impl Evaluated {
    fn new(model: Scores, baselines: Baselines, steps: usize, example: Option<Excerpt>) -> Self {
        Self {
            model,
            example,
            baselines,
            steps,
            corpus_harmony: None,
        }
    }
}

fn evaluate_model(
    model: &LoadedModel,
    data: &Split<'_>,
    options: &EvaluateOptions,
    device: &Device,
    progress: Progress<'_>,
) -> Result<Evaluated, String> {
    let n = options.samples;
    let seed = options.seed;
    match model {
        LoadedModel::Lstm {
            model,
            config,
            range,
        } => {
            let held: Vec<Vec<usize>> = data
                .held
                .iter()
                .map(|s| {
                    let mut t = melody_tokens(&melody_notes(s), range);
                    t.truncate(MAX_TUNE_STEPS);
                    t
                })
                .filter(|t| !t.is_empty())
                .collect();
            progress(0.1, "scoring held-out tunes");
            let predictive = lstm_predictive(model, range, &held, device);
            let steps = config.generate_steps.clamp(16, 512);
            let samples = (0..n)
                .map(|i| {
                    if i % 10 == 0 {
                        progress(0.3 + 0.4 * i as f32 / n as f32, "sampling");
                    }
                    let tokens =
                        lstm::generate(model, range, &[], steps, 1.0, seed + i as u64, device);
                    tokens_excerpt(&tokens, range)
                })
                .collect();
            Ok(melody_case(
                data,
                *range,
                held,
                Some(predictive),
                samples,
                steps,
                options,
                progress,
            ))
        }
        LoadedModel::Autoencoder {
            model,
            config,
            range,
        } => {
            let steps = autoencoder::STEPS;
            let held = held_windows(data, *range, steps);
            progress(0.1, "reconstructing held-out melodies");
            let vocab = range.vocab_size();
            let predictive = batched_predictive(&held, |batch| {
                let refs: Vec<&[usize]> = batch.iter().map(Vec::as_slice).collect();
                rows(model.decode(model.encode(one_hot(&refs, vocab, device)), vocab))
            });
            let samples = autoencoder::generate(model, config, range, n, seed, 1.0, device)
                .iter()
                .map(|t| tokens_excerpt(t, range))
                .collect();
            Ok(melody_case(
                data,
                *range,
                held,
                Some(predictive),
                samples,
                steps,
                options,
                progress,
            ))
        }
        LoadedModel::Latent(latent) => {
            let (range, steps) = (latent.range(), latent.steps());
            let held = held_windows(data, range, steps);
            progress(0.1, "reconstructing held-out melodies");
            let predictive = batched_predictive(&held, |batch| {
                let refs: Vec<&[usize]> = batch.iter().map(Vec::as_slice).collect();
                latent.reconstruction_logits(&refs, device)
            });
            // Points of the prior N(0, I), from the seed.
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let z: Vec<Vec<f32>> = (0..n)
                .map(|_| {
                    (0..latent.latent_size())
                        .map(|_| normal(&mut rng))
                        .collect()
                })
                .collect();
            let samples = latent
                .decode(&z, 1.0, seed, device)
                .iter()
                .map(|t| tokens_excerpt(t, &range))
                .collect();
            Ok(melody_case(
                data,
                range,
                held,
                Some(predictive),
                samples,
                steps,
                options,
                progress,
            ))
        }
        LoadedModel::Midinet {
            generator,
            config,
            low,
            pitches,
        } => {
            let range = PitchRange {
                low: *low,
                high: low.saturating_add(pitches.saturating_sub(1) as u8),
            };
            let bars = 8;
            let steps = bars * midinet::STEPS;
            let mut progressions: Vec<Vec<crate::music::chords::Chord>> = data
                .held
                .iter()
                .flat_map(|s| {
                    crate::music::chords::chords_per_bar(s)
                        .chunks_exact(bars)
                        .map(<[_]>::to_vec)
                        .collect::<Vec<_>>()
                })
                .collect();
            if progressions.is_empty() {
                progressions.push(crate::music::chords::parse_progression("C G Am F C F G C")?);
            }
            let samples = (0..n)
                .map(|i| {
                    let chords = &progressions[i % progressions.len()];
                    let score = midinet::generate(
                        generator,
                        config,
                        *low,
                        *pitches,
                        chords,
                        seed + i as u64,
                        device,
                    );
                    // The melody only: the second track holds the chords it was given.
                    let melody = score.to_grid(4).tracks.into_iter().next();
                    Excerpt::cut(&melody.map(|t| t.notes).unwrap_or_default(), 0, steps)
                })
                .collect();
            Ok(melody_case(
                data,
                range,
                Vec::new(),
                None,
                samples,
                steps,
                options,
                progress,
            ))
        }
        LoadedModel::Minibach { model, ranges } => Ok(minibach_case(
            model, ranges, data, options, device, progress,
        )),
        LoadedModel::Gan {
            generator,
            config,
            low,
            steps,
        } => {
            let score = gan::generate(generator, config, *low, *steps, n, seed, device);
            let notes = Excerpt::all_notes(&score);
            let samples = (0..n)
                .map(|i| Excerpt::cut(&notes, i * steps, *steps))
                .collect();
            Ok(polyphonic_case(data, samples, *steps, options, progress))
        }
        LoadedModel::CrnnGan { generator, config } => {
            let scores: Vec<Score> = (0..n)
                .map(|i| crnn_gan::generate(generator, config, seed + i as u64, device))
                .collect();
            let mut lengths: Vec<usize> = scores
                .iter()
                .map(|s| total_steps(&Excerpt::all_notes(s)))
                .collect();
            lengths.sort_unstable();
            // Samples and reference excerpts share one length: the median sample's, in bars.
            let steps = (lengths[lengths.len() / 2].div_ceil(16) * 16).clamp(16, 256);
            let samples = scores
                .iter()
                .map(|s| Excerpt::cut(&Excerpt::all_notes(s), 0, steps))
                .collect();
            Ok(polyphonic_case(data, samples, steps, options, progress))
        }
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut impl Rng) -> f32 {
    let (u, v): (f32, f32) = (rng.random_range(1e-6..1.0), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

/// Non-overlapping held-out melody windows of `steps` (at least half of them sounding, as in
/// training).
fn held_windows(data: &Split<'_>, range: PitchRange, steps: usize) -> Vec<Vec<usize>> {
    MelodyWindows::from_scores(data.held, Some("Soprano"), steps, steps, Some(range)).windows
}

/// Scores `logits_of(batch)` (rows of logits, `steps` per example) against the examples.
fn batched_predictive(
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

/// The LSTM's next-token predictions over whole held-out tunes (from the start token on).
fn lstm_predictive(
    model: &lstm::LstmMelody,
    range: &PitchRange,
    tunes: &[Vec<usize>],
    device: &Device,
) -> Predictive {
    let mut order: Vec<usize> = (0..tunes.len()).collect();
    order.sort_by_key(|&i| tunes[i].len());
    let mut sum = PredictiveSum::default();
    for chunk in order.chunks(16) {
        let len = chunk.iter().map(|&i| tunes[i].len()).max().unwrap_or(0);
        let data: Vec<i64> = chunk
            .iter()
            .flat_map(|&i| {
                let tune = &tunes[i];
                std::iter::once(lstm::start_token(range))
                    .chain(tune[..tune.len() - 1].iter().copied())
                    .chain(std::iter::repeat(REST))
                    .take(len)
                    .map(|t| t as i64)
            })
            .collect();
        let input = Tensor::<2, Int>::from_data(TensorData::new(data, [chunk.len(), len]), device);
        let (logits, _) = model.forward(input, None);
        let logits = rows(logits);
        for (b, &i) in chunk.iter().enumerate() {
            for (s, &target) in tunes[i].iter().enumerate() {
                sum.add_logits(&logits[b * len + s], target);
            }
        }
    }
    sum.finish()
}

/// Everything but the model's own predictions for a melody model: the reference excerpts,
/// the copy check and both baselines.
#[allow(clippy::too_many_arguments)]
fn melody_case(
    data: &Split<'_>,
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
    let mut baseline_scores = baselines.iter().map(|model| Scores {
        predictive: (!held.is_empty()).then(|| ngram_predictive(model, &held)),
        samples: Some({
            let samples: Vec<Excerpt> = (0..options.samples)
                .map(|_| tokens_excerpt(&model.sample(steps, None, &mut rng), &range))
                .collect();
            sample_scores(&samples, &reference, &copies)
        }),
        harmony: None,
    });
    let unigram = baseline_scores.next().unwrap_or_default();
    let markov = baseline_scores.next().unwrap_or_default();
    progress(1.0, "done");
    Evaluated::new(
        Scores {
            predictive,
            samples: Some(sample_scores(&samples, &reference, &copies)),
            harmony: None,
        },
        Baselines { unigram, markov },
        steps,
        samples.first().cloned(),
    )
}

/// mini-bach: the three lower voices predicted from held-out sopranos, and harmonizations of
/// those sopranos compared with Bach's own four voices; the baselines predict each voice from
/// the soprano's token and the voice's previous tokens.
fn minibach_case(
    model: &minibach::MiniBach,
    ranges: &VoiceRanges,
    data: &Split<'_>,
    options: &EvaluateOptions,
    device: &Device,
    progress: Progress<'_>,
) -> Evaluated {
    let steps = minibach::STEPS;
    let windows_of = |scores: &[Score]| {
        let grids: Vec<_> = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| s.tracks.len() == 4)
            .map(|(i, s)| (i, s.to_grid(4)))
            .collect();
        ChoraleWindows::with_ranges(&grids, ranges.0, steps, steps).windows
    };
    let held = windows_of(data.held);
    let train = windows_of(data.train);
    progress(0.1, "harmonizing held-out sopranos");
    let mut sum = PredictiveSum::default();
    for batch in held.chunks(BATCH) {
        let sopranos: Vec<&[usize]> = batch.iter().map(|w| w[0].as_slice()).collect();
        let voices = minibach::voice_rows(model, ranges, &sopranos, device);
        for (v, logits) in voices.iter().enumerate() {
            let truth = batch.iter().flat_map(|w| w[v + 1].iter());
            for (row, &target) in logits.iter().zip(truth) {
                sum.add_logits(row, target);
            }
        }
    }
    let voice_notes = |voices: &[Vec<usize>; 4]| -> [Vec<GridNote>; 4] {
        std::array::from_fn(|v| tokens_to_grid_notes(&voices[v], &ranges.0[v], 90))
    };
    let excerpt = |voices: &[Vec<GridNote>; 4]| {
        let mut notes: Vec<GridNote> = voices.iter().flatten().copied().collect();
        notes.sort_by_key(|n| (n.start, n.pitch));
        Excerpt { steps, notes }
    };
    let bach: Vec<[Vec<GridNote>; 4]> = held.iter().map(&voice_notes).collect();
    let reference = thin_reference(bach.iter().map(&excerpt).collect());
    let count = options.samples;
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    // Each held-out soprano is harmonized once (at temperature 1), as many as `samples` allows.
    let sopranos: Vec<&Vec<usize>> = held.iter().map(|w| &w[0]).take(count).collect();
    let harmonized: Vec<[Vec<GridNote>; 4]> = sopranos
        .iter()
        .map(|soprano| {
            let voices = minibach::harmonize_tokens(model, ranges, soprano, 1.0, &mut rng, device);
            voice_notes(&voices)
        })
        .collect();
    let samples: Vec<Excerpt> = harmonized.iter().map(&excerpt).collect();
    let part_writing =
        |set: &[[Vec<GridNote>; 4]]| harmony::measure(set.iter().map(|v| (v, steps)));
    progress(0.6, "fitting the baselines");
    let train_notes: Vec<Vec<GridNote>> = data
        .train
        .iter()
        .filter(|s| s.tracks.len() == 4)
        .map(Excerpt::all_notes)
        .collect();
    let copies = TrainingWindows::new(&train_notes, steps);
    let fit = |v: usize, markov: bool| {
        let streams: Vec<Stream<'_>> = train
            .iter()
            .map(|w| Stream {
                tokens: &w[v],
                condition: Some(&w[0]),
            })
            .collect();
        let vocab = ranges.0[v].vocab_size();
        if markov {
            Ngram::markov(vocab, &streams)
        } else {
            Ngram::unigram(vocab, &streams)
        }
    };
    let mut baseline = |markov: bool| {
        let models: Vec<Ngram> = (1..4).map(|v| fit(v, markov)).collect();
        let mut sum = PredictiveSum::default();
        for w in &held {
            for (v, model) in models.iter().enumerate() {
                let stream = Stream {
                    tokens: &w[v + 1],
                    condition: Some(&w[0]),
                };
                for (probs, &t) in model.predict(&stream).iter().zip(stream.tokens) {
                    sum.add_probs(probs, t);
                }
            }
        }
        let written: Vec<[Vec<GridNote>; 4]> = sopranos
            .iter()
            .map(|soprano| {
                let voices: [Vec<usize>; 4] = std::array::from_fn(|v| {
                    if v == 0 {
                        (*soprano).clone()
                    } else {
                        models[v - 1].sample(steps, Some(soprano), &mut rng)
                    }
                });
                voice_notes(&voices)
            })
            .collect();
        let samples: Vec<Excerpt> = written.iter().map(&excerpt).collect();
        Scores {
            predictive: Some(sum.finish()),
            samples: Some(sample_scores(&samples, &reference, &copies)),
            harmony: Some(part_writing(&written)),
        }
    };
    let unigram = baseline(false);
    let markov = baseline(true);
    progress(1.0, "done");
    Evaluated {
        example: samples.first().cloned(),
        model: Scores {
            predictive: Some(sum.finish()),
            samples: Some(sample_scores(&samples, &reference, &copies)),
            harmony: Some(part_writing(&harmonized)),
        },
        baselines: Baselines { unigram, markov },
        steps,
        corpus_harmony: Some(part_writing(&bach[..sopranos.len()])),
    }
}

/// Piano-roll and event models (all voices): samples only; the baselines are n-grams over the
/// corpus's frames (see [`frames`]).
fn polyphonic_case(
    data: &Split<'_>,
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
            samples: Some(sample_scores(&samples, &reference, &copies)),
            harmony: None,
        }
    };
    let unigram = baseline(Ngram::unigram(vocab.len(), &streams));
    let markov = baseline(Ngram::markov(vocab.len(), &streams));
    progress(1.0, "done");
    Evaluated::new(
        Scores {
            predictive: None,
            samples: Some(sample_scores(&samples, &reference, &copies)),
            harmony: None,
        },
        Baselines { unigram, markov },
        steps,
        samples.first().cloned(),
    )
}

/// The report as a small text table: the model beside the baselines.
pub fn table(report: &Report) -> String {
    let mut out = format!(
        "{} ({} on {}, {} held-out pieces, samples of {} steps, {:.1} s)\n",
        report.run,
        report.model,
        report.corpus,
        report.held_out_pieces,
        report.sample_steps,
        report.seconds
    );
    out.push_str(&format!(
        "  {:<26}{:>10}{:>10}{:>10}\n",
        "", "model", "unigram", "markov"
    ));
    let all = [
        (report.predictive, report.samples.as_ref()),
        (
            report.baselines.unigram.predictive,
            report.baselines.unigram.samples.as_ref(),
        ),
        (
            report.baselines.markov.predictive,
            report.baselines.markov.samples.as_ref(),
        ),
    ];
    let mut line = |name: &str, value: &dyn Fn(usize) -> Option<f64>| {
        let cells: Vec<String> = (0..3)
            .map(|i| value(i).map_or("—".into(), |v| format!("{v:.3}")))
            .map(|s| format!("{s:>10}"))
            .collect();
        out.push_str(&format!("  {name:<26}{}\n", cells.concat()));
    };
    if all.iter().any(|(p, _)| p.is_some()) {
        line("NLL per step (nats)", &|i| all[i].0.map(|p| p.nll_per_step));
        line("step accuracy", &|i| all[i].0.map(|p| p.accuracy));
        line("onset accuracy", &|i| all[i].0.map(|p| p.onset_accuracy));
    }
    line("overlap mean", &|i| all[i].1.map(|s| s.overlap_mean));
    for feature in FEATURES {
        line(&format!("  {feature}"), &|i| {
            all[i].1.and_then(|s| s.overlap.get(feature).copied())
        });
    }
    line("exact-copy rate", &|i| {
        all[i].1.map(|s| s.nearest_copy_rate)
    });
    if let (Some(model), Some(corpus)) = (report.harmony, report.corpus_harmony) {
        let harmonies = [
            Some(model),
            report.baselines.unigram.harmony,
            report.baselines.markov.harmony,
            Some(corpus),
        ];
        out.push_str(&format!(
            "  {:<26}{:>10}{:>10}{:>10}{:>10}\n",
            "part-writing", "model", "unigram", "markov", "corpus"
        ));
        type Measure = fn(&Harmony) -> f64;
        let rows: [(&str, Measure); 5] = [
            ("chord rate", |h| h.chord_rate),
            ("parallel 5ths / 100 beats", |h| h.parallel_fifths),
            ("parallel 8ves / 100 beats", |h| h.parallel_octaves),
            ("crossings / 100 beats", |h| h.crossings),
            ("notes out of range", |h| h.out_of_range),
        ];
        for (name, value) in rows {
            let cells: Vec<String> = harmonies
                .iter()
                .map(|h| {
                    h.as_ref()
                        .map_or("—".into(), |h| format!("{:.3}", value(h)))
                })
                .map(|s| format!("{s:>10}"))
                .collect();
            out.push_str(&format!("  {name:<26}{}\n", cells.concat()));
        }
    }
    out
}
