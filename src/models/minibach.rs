//! mini-bach, after Briot's book and napulen/MiniBach: a feedforward network that reads the
//! soprano of a 4-bar chorale excerpt (64 sixteenth-note steps, one-hot per step over the
//! soprano's range plus rest and hold) and writes alto, tenor and bass the same way.
//!
//! One hidden ReLU layer with dropout; per voice and step a softmax; the loss is the sum of the
//! three voices' cross-entropies; Adam. Trained, it harmonizes any melody window by window.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::{Batches, Sample, Session, accuracy, one_hot, rows, sample_logits, scalar};
use crate::data::encoding::{tokens_to_track, voice_tokens};
use crate::data::{ChoraleWindows, PitchRange, REST};
use crate::music::{GridNote, Score, Track};

/// The written part of the model card (the layers come from the module).
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "Feedforward (one hidden layer): soprano one-hot → alto, tenor, bass softmax per step",
    reference: "Briot, Hadjeres & Pachet, Deep Learning Techniques for Music Generation (2019), §6.2.2 MiniBach; napulen/MiniBach",
    deviations: &[
        (
            "dropout after the hidden layer (0.2 by default)",
            "the hidden layer has over a million weights and the chorales give a few thousand windows; dropout is a standard guard against memorising them",
        ),
        (
            "trained with Adam on windows every bar (stride 16)",
            "more windows from the same 365 chorales; Adam needs no learning-rate tuning per corpus",
        ),
    ],
};

/// This model's entry in the registry ([`super::ModelKind::info`]).
pub const INFO: super::ModelInfo = super::ModelInfo {
    id: "minibach",
    title: "mini-bach (feedforward harmonizer)",
    description: "Reads the soprano of 4 bars and writes alto, tenor and bass; then harmonizes any melody.",
    default_corpus: "bach",
    learning_rate: 1e-3,
    family: super::Family::Predictive,
    card: CARD,
    default_config: || super::ModelConfig::Minibach(MiniBachConfig::default()),
    session: build_session,
    load,
};

/// Builds this model's training session (the registry's `session`).
fn build_session(
    config: &super::ModelConfig,
    args: &super::SessionArgs<'_>,
) -> Result<(Box<dyn Session>, super::Vocabulary), String> {
    use super::ModelConfig;
    let ModelConfig::Minibach(c) = config else {
        return Err(super::wrong_config(INFO.id));
    };
    let s = MiniBachSession::new(
        c.clone(),
        args.scores,
        args.batch,
        args.learning_rate,
        args.device,
    )?;
    let vocabulary = super::Vocabulary::Voices(s.ranges());
    Ok((Box::new(s), vocabulary))
}

crate::hyperparameters! {
    /// Hyperparameters of mini-bach.
    pub struct MiniBachConfig {
        /// Hidden units of the single hidden layer (ReLU); MiniBach uses 200 to 400.
        pub hidden: usize = 400; 1..=4096,
        /// Dropout probability after the hidden layer while training (0 turns it off).
        pub dropout: f64 = 0.2; 0.0..=0.95,
        /// Step between two training windows, in 16th notes (16 = one bar).
        pub stride: usize = 16; 1..=64,
    }
}

/// Steps per example: 64 sixteenth notes, four bars of 4/4.
pub const STEPS: usize = 64;
/// Names of the generated voices.
pub const VOICES: [&str; 4] = ["Soprano", "Alto", "Tenor", "Bass"];

/// The network.
#[derive(Module, Debug)]
pub struct MiniBach {
    hidden: Linear,
    output: Linear,
    dropout: Dropout,
}

/// Vocabulary sizes the network was built for: soprano in, alto/tenor/bass out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VoiceRanges(pub [PitchRange; 4]);

impl VoiceRanges {
    fn vocab(&self, voice: usize) -> usize {
        self.0[voice].vocab_size()
    }
    fn output_width(&self) -> usize {
        (1..4).map(|v| self.vocab(v)).sum()
    }
}

impl MiniBach {
    /// Builds the network for these voice ranges.
    pub fn new(config: &MiniBachConfig, ranges: &VoiceRanges, device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(STEPS * ranges.vocab(0), config.hidden).init(device),
            output: LinearConfig::new(config.hidden, STEPS * ranges.output_width()).init(device),
            dropout: DropoutConfig::new(config.dropout).init(),
        }
    }

    /// # Shapes
    /// - soprano: `[batch, STEPS * soprano_vocab]` one-hot
    /// - returns: `[batch, STEPS, alto_vocab + tenor_vocab + bass_vocab]` logits
    pub fn forward(&self, soprano: Tensor<2>, ranges: &VoiceRanges) -> Tensor<3> {
        let [batch, _] = soprano.dims();
        use super::dense_op::{Activation, dense};
        let h = dense(&self.hidden, soprano, Activation::Relu);
        let h = super::dropout(&self.dropout, h); // [batch, hidden]
        dense(&self.output, h, Activation::Identity) // [batch, STEPS * out]
            .reshape([batch, STEPS, ranges.output_width()])
    }
}

/// The logits of voice `v` (1 = alto, 2 = tenor, 3 = bass) as `[batch * STEPS, vocab]`.
fn voice_logits(logits: &Tensor<3>, ranges: &VoiceRanges, v: usize) -> Tensor<2> {
    let [batch, steps, _] = logits.dims();
    let start: usize = (1..v).map(|u| ranges.vocab(u)).sum();
    let width = ranges.vocab(v);
    logits
        .clone()
        .narrow(2, start, width)
        .reshape([batch * steps, width])
}

/// Harmonizes soprano tokens (any length; padded with rests to whole windows) into four voices.
/// With `temperature` 0 the most likely token wins at each step.
pub fn harmonize_tokens(
    model: &MiniBach,
    ranges: &VoiceRanges,
    soprano: &[usize],
    temperature: f64,
    rng: &mut impl rand::Rng,
    device: &Device,
) -> [Vec<usize>; 4] {
    let windows = soprano.len().div_ceil(STEPS).max(1);
    let mut padded = soprano.to_vec();
    padded.resize(windows * STEPS, REST);
    let chunks: Vec<&[usize]> = padded.chunks(STEPS).collect();
    let logits = model.forward(one_hot(&chunks, ranges.vocab(0), device), ranges);
    let mut voices: [Vec<usize>; 4] = [padded.clone(), Vec::new(), Vec::new(), Vec::new()];
    for (v, voice) in voices.iter_mut().enumerate().skip(1) {
        *voice = rows(voice_logits(&logits, ranges, v))
            .iter()
            .map(|row| sample_logits(row, temperature, rng))
            .collect();
    }
    for voice in &mut voices {
        voice.truncate(soprano.len());
    }
    voices
}

/// Per lower voice (alto, tenor, bass), the logits of every step of every soprano window
/// (`STEPS` tokens each): `[batch * STEPS]` rows per voice.
pub fn voice_rows(
    model: &MiniBach,
    ranges: &VoiceRanges,
    sopranos: &[&[usize]],
    device: &Device,
) -> [Vec<Vec<f32>>; 3] {
    let logits = model.forward(one_hot(sopranos, ranges.vocab(0), device), ranges);
    std::array::from_fn(|v| rows(voice_logits(&logits, ranges, v + 1)))
}

/// Builds a four-track score from voice tokens.
pub fn voices_to_score(name: &str, voices: &[Vec<usize>; 4], ranges: &VoiceRanges) -> Score {
    let mut score = Score::new(name, 480);
    score.tracks = (0..4)
        .map(|v| tokens_to_track(VOICES[v], &voices[v], &ranges.0[v], 480))
        .collect::<Vec<Track>>();
    score
}

/// The whole-melody transposition in semitones (−12…12) that puts the most of `notes` inside
/// `range`; among equals the smallest shift, so a melody that fits is not moved.
pub fn fitting_shift(notes: &[GridNote], range: &PitchRange) -> i32 {
    let outside = |shift: i32| {
        notes
            .iter()
            .filter(|n| {
                let p = i32::from(n.pitch) + shift;
                p < i32::from(range.low) || p > i32::from(range.high)
            })
            .count()
    };
    (0..=12)
        .flat_map(|d| [d, -d])
        .min_by_key(|&shift| (outside(shift), shift.abs()))
        .unwrap_or(0)
}

/// Steps of the melody where two or more of its notes sound at once (the top one is taken).
pub fn chord_steps(notes: &[GridNote]) -> usize {
    let end = notes
        .iter()
        .map(|n| n.start + n.duration)
        .max()
        .unwrap_or(0) as usize;
    let mut sounding = vec![0u8; end];
    for n in notes {
        for step in n.start..n.start + n.duration {
            sounding[step as usize] = sounding[step as usize].saturating_add(1);
        }
    }
    sounding.iter().filter(|&&c| c > 1).count()
}

/// A harmonization and what was done to the melody on the way.
pub struct Harmonized {
    /// Soprano (the melody, note for note), alto, tenor, bass.
    pub score: Score,
    /// Semitones the melody was moved to fit the soprano's range while harmonizing (the
    /// output is moved back: 0 when it fitted).
    pub shift: i32,
    /// Melody steps with more than one note, where the top note was taken as the melody.
    pub chord_steps: usize,
    /// Melody notes outside the soprano's range even after the shift (the model read them an
    /// octave in; the output keeps them as written).
    pub folded: usize,
}

impl Harmonized {
    /// What a user should be told, or `None` when the melody went in as it was.
    pub fn notice(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.shift != 0 {
            parts.push(format!(
                "the melody lies outside the soprano's range: harmonized {} semitones {} and moved back",
                self.shift.abs(),
                if self.shift > 0 { "up" } else { "down" }
            ));
        }
        if self.chord_steps > 0 {
            parts.push(format!(
                "the melody track has chords on {} steps: its top line was harmonized",
                self.chord_steps
            ));
        }
        if self.folded > 0 {
            parts.push(format!(
                "{} notes lie beyond the soprano's range: the harmony under them was written for them an octave in",
                self.folded
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Harmonizes the melody of `melody` (its track named `track`, else its first track with notes).
/// The soprano of the result is the melody note for note: a melody outside the soprano's range
/// is harmonized transposed by [`fitting_shift`] and the harmony moved back.
pub fn harmonize_score(
    model: &MiniBach,
    ranges: &VoiceRanges,
    melody: &Score,
    track: Option<&str>,
    temperature: f64,
    rng: &mut impl rand::Rng,
    device: &Device,
) -> Result<Harmonized, String> {
    harmonize_melody(ranges, melody, track, &mut |soprano, _| {
        Ok(harmonize_tokens(
            model,
            ranges,
            soprano,
            temperature,
            rng,
            device,
        ))
    })
}

/// Writes four voices' tokens from soprano tokens and metric positions (see [`harmonize_melody`]).
pub type WriteVoices<'a> = dyn FnMut(&[usize], &[usize]) -> Result<[Vec<usize>; 4], String> + 'a;

/// What a harmonizer does to a melody: `write` turns soprano tokens and the melody's metric
/// positions (16th steps within the bar, [`crate::data::encoding::metric_positions`]) into the
/// four voices' tokens (the soprano's as given). Shared by every harmonizer (mini-bach,
/// DeepBach), so that each keeps the melody note for note in the same way: a melody outside
/// the soprano's range goes in transposed by [`fitting_shift`] and the harmony comes back
/// moved the other way; a chordal melody gives its top line.
pub fn harmonize_melody(
    ranges: &VoiceRanges,
    melody: &Score,
    track: Option<&str>,
    write: &mut WriteVoices<'_>,
) -> Result<Harmonized, String> {
    let grid = melody.to_grid(4);
    let chosen = crate::data::encoding::pick_track(&grid.tracks, track)
        .ok_or_else(|| format!("{}: no notes to harmonize", melody.name))?;
    let melody_notes = trim_legato(&chosen.notes);
    let shift = fitting_shift(&melody_notes, &ranges.0[0]);
    let moved: Vec<GridNote> = melody_notes
        .iter()
        .map(|n| GridNote {
            pitch: (i32::from(n.pitch) + shift).clamp(0, 127) as u8,
            ..*n
        })
        .collect();
    let folded = moved
        .iter()
        .filter(|n| n.pitch < ranges.0[0].low || n.pitch > ranges.0[0].high)
        .count();
    let soprano = voice_tokens(&moved, 0, grid.total_steps() as usize, &ranges.0[0]);
    let metric = crate::data::encoding::metric_positions(melody, soprano.len());
    let voices = write(&soprano, &metric)?;
    let mut score = voices_to_score(&format!("{} harmonized", melody.name), &voices, ranges);
    for track in &mut score.tracks[1..] {
        for note in &mut track.notes {
            note.pitch = (i32::from(note.pitch) - shift).clamp(0, 127) as u8;
        }
    }
    // The melody itself, as given — its notes at their own times, not as the grid or the model
    // read them, so that fast ornaments sharing a 16th step stay apart — as one line.
    let index = grid
        .tracks
        .iter()
        .position(|t| std::ptr::eq(t, chosen))
        .unwrap_or(0);
    let given = melody.tracks.get(index).map_or(&[][..], |t| &t.notes[..]);
    let scale = |t: u64| {
        t * u64::from(score.ticks_per_quarter) / u64::from(melody.ticks_per_quarter.max(1))
    };
    let notes: Vec<crate::music::Note> = melody_line(given)
        .into_iter()
        .map(|n| crate::music::Note {
            start: scale(n.start),
            duration: scale(n.duration).max(1),
            ..n
        })
        .collect();
    score.tracks[0] = Track::new(VOICES[0], notes);
    score.tempos = melody
        .tempos
        .iter()
        .map(|t| crate::music::TempoChange {
            tick: t.tick * 480 / u64::from(melody.ticks_per_quarter.max(1)),
            ..*t
        })
        .collect();
    // The melody's metre and key, on the output's 480 ticks a quarter.
    score.time_signatures = melody
        .time_signatures
        .iter()
        .map(|t| crate::music::TimeSignature {
            tick: t.tick * 480 / u64::from(melody.ticks_per_quarter.max(1)),
            ..*t
        })
        .collect();
    if score.time_signatures.is_empty() {
        score.time_signatures = Score::new("", 480).time_signatures;
    }
    score.key_signature = melody.key_signature;
    Ok(Harmonized {
        score,
        shift,
        chord_steps: chord_steps(&melody_notes),
        folded,
    })
}

/// A melody's notes with legato overlaps removed: a note that goes on for at most one step
/// (a 16th) past the next note's onset ends at that onset, as it was played. Without this a
/// repeated note tied into its repetition, or a note held into a lower one, would read as a
/// chord, and the top line would swallow the later onset.
pub fn trim_legato(notes: &[GridNote]) -> Vec<GridNote> {
    let mut out = notes.to_vec();
    out.sort_by_key(|n| (n.start, std::cmp::Reverse(n.pitch)));
    let onsets: Vec<u32> = out.iter().map(|n| n.start).collect();
    for n in &mut out {
        let end = n.start + n.duration;
        let next = onsets.iter().copied().find(|&o| o > n.start);
        if let Some(next) = next
            && end > next
            && end - next <= 1
        {
            n.duration = next - n.start;
        }
    }
    out
}

/// A melody as one line: the top note of each chord (notes starting together), each note
/// ending where the next begins if it was held past it. Every onset of the melody is kept.
fn melody_line(notes: &[crate::music::Note]) -> Vec<crate::music::Note> {
    let mut line: Vec<crate::music::Note> = Vec::new();
    let mut sorted = notes.to_vec();
    sorted.sort_by_key(|n| (n.start, std::cmp::Reverse(n.pitch)));
    for n in sorted {
        match line.last_mut() {
            Some(last) if last.start == n.start => continue,
            Some(last) if last.end() > n.start => last.duration = n.start - last.start,
            _ => {}
        }
        line.push(n);
    }
    line
}

/// What the harmonizer evaluation needs from a model that writes alto, tenor and bass under a
/// soprano (mini-bach, DeepBach): its voice ranges, each lower voice's logits at every step of
/// Bach's windows, and harmonizations of sopranos.
pub trait Harmonizer {
    /// The voice ranges it was built for.
    fn ranges(&self) -> VoiceRanges;
    /// Per lower voice (alto, tenor, bass), the logits of every step of every window (rows in
    /// window, step order), each step predicted from what the model reads of the window:
    /// mini-bach the soprano alone, DeepBach every other cell.
    fn voice_rows(&self, windows: &[&[Vec<usize>; 4]], device: &Device) -> [Vec<Vec<f32>>; 3];
    /// Four voices under each soprano (tokens), at sampling temperature 1.
    fn harmonize_all(
        &self,
        sopranos: &[&[usize]],
        rng: &mut rand::rngs::StdRng,
        device: &Device,
    ) -> Vec<[Vec<usize>; 4]>;
}

/// A trained mini-bach, ready to harmonize and to be measured.
pub struct TrainedMiniBach {
    model: MiniBach,
    ranges: VoiceRanges,
}

/// The registry's `load`.
fn load(
    config: &super::ModelConfig,
    vocabulary: super::Vocabulary,
    path: &std::path::Path,
    device: &Device,
) -> Result<Box<dyn super::Trained>, String> {
    let (super::ModelConfig::Minibach(c), super::Vocabulary::Voices(ranges)) = (config, vocabulary)
    else {
        return Err(super::missing_vocabulary(path));
    };
    Ok(Box::new(TrainedMiniBach {
        model: super::load_module(build(c, &ranges, device), path)?,
        ranges,
    }))
}

impl super::Trained for TrainedMiniBach {
    fn harmonize(
        &self,
        melody: &Score,
        track: Option<&str>,
        seed: u64,
        device: &Device,
        progress: &mut dyn FnMut(f64),
    ) -> Option<Result<Harmonized, String>> {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        let done = harmonize_score(
            &self.model,
            &self.ranges,
            melody,
            track,
            1.0,
            &mut rng,
            device,
        );
        progress(1.0);
        Some(done)
    }

    fn generate(&self, options: &super::GenerateOptions, device: &Device) -> Result<Score, String> {
        let melody = options
            .melody
            .as_ref()
            .ok_or("mini-bach harmonizes a melody: give one (--melody FILE.mid)")?;
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(options.seed);
        harmonize_score(
            &self.model,
            &self.ranges,
            melody,
            options.track.as_deref(),
            options.temperature,
            &mut rng,
            device,
        )
        .map(|h| {
            if let Some(notice) = h.notice() {
                log::warn!("{notice}");
            }
            h.score
        })
    }

    fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String> {
        Ok(evaluate_harmonizer(self, data, options, device, progress))
    }
}

impl Harmonizer for TrainedMiniBach {
    fn ranges(&self) -> VoiceRanges {
        self.ranges
    }

    fn voice_rows(&self, windows: &[&[Vec<usize>; 4]], device: &Device) -> [Vec<Vec<f32>>; 3] {
        let sopranos: Vec<&[usize]> = windows.iter().map(|w| w[0].as_slice()).collect();
        voice_rows(&self.model, &self.ranges, &sopranos, device)
    }

    fn harmonize_all(
        &self,
        sopranos: &[&[usize]],
        rng: &mut rand::rngs::StdRng,
        device: &Device,
    ) -> Vec<[Vec<usize>; 4]> {
        sopranos
            .iter()
            .map(|s| harmonize_tokens(&self.model, &self.ranges, s, 1.0, rng, device))
            .collect()
    }
}

/// A harmonizer (mini-bach, DeepBach): the three lower voices predicted in held-out windows,
/// and harmonizations of those sopranos compared with Bach's own four voices; the baselines
/// predict each voice from the soprano's token and the voice's previous tokens.
pub fn evaluate_harmonizer(
    harmonizer: &dyn Harmonizer,
    data: &crate::measures::HeldOut<'_>,
    options: &crate::measures::EvaluateOptions,
    device: &Device,
    progress: crate::measures::Progress<'_>,
) -> crate::measures::Evaluated {
    use crate::measures::ngram::{Ngram, Stream};
    use crate::measures::overlap::{Excerpt, TrainingWindows};
    use crate::measures::predictive::PredictiveSum;
    use crate::measures::{BATCH, Baselines, Evaluated, Scores, sample_scores, thin_reference};
    use crate::music::GridNote;
    use crate::music::harmony;
    use rand::SeedableRng;
    let steps = STEPS;
    let ranges = &harmonizer.ranges();
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
    progress(0.1, "predicting the lower voices of held-out windows");
    let mut sum = PredictiveSum::default();
    let mut per_voice: [PredictiveSum; 3] = Default::default();
    for batch in held.chunks(BATCH) {
        let windows: Vec<&[Vec<usize>; 4]> = batch.iter().collect();
        let voices = harmonizer.voice_rows(&windows, device);
        for (v, logits) in voices.iter().enumerate() {
            let truth = batch.iter().flat_map(|w| w[v + 1].iter());
            for (row, &target) in logits.iter().zip(truth) {
                sum.add_logits(row, target);
                per_voice[v].add_logits(row, target);
            }
        }
    }
    let voice_notes = |voices: &[Vec<usize>; 4]| -> [Vec<GridNote>; 4] {
        std::array::from_fn(|v| {
            crate::data::encoding::tokens_to_grid_notes(&voices[v], &ranges.0[v], 90)
        })
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
    progress(0.3, "harmonizing held-out sopranos");
    let slices: Vec<&[usize]> = sopranos.iter().map(|s| s.as_slice()).collect();
    let harmonized: Vec<[Vec<GridNote>; 4]> = harmonizer
        .harmonize_all(&slices, &mut rng, device)
        .iter()
        .map(&voice_notes)
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
        let mut per_voice: [PredictiveSum; 3] = Default::default();
        for w in &held {
            for (v, model) in models.iter().enumerate() {
                let stream = Stream {
                    tokens: &w[v + 1],
                    condition: Some(&w[0]),
                };
                for (probs, &t) in model.predict(&stream).iter().zip(stream.tokens) {
                    sum.add_probs(probs, t);
                    per_voice[v].add_probs(probs, t);
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
            samples: Some(sample_scores(&samples, &reference, &copies, false)),
            harmony: Some(part_writing(&written)),
            frames: None,
            constraints: None,
            code: None,
            rules: None,
            voices: per_voice.iter().map(PredictiveSum::finish).collect(),
        }
    };
    let unigram = baseline(false);
    let markov = baseline(true);
    progress(1.0, "done");
    Evaluated {
        example: samples.first().cloned(),
        model: Scores {
            predictive: Some(sum.finish()),
            samples: Some(sample_scores(&samples, &reference, &copies, false)),
            harmony: Some(part_writing(&harmonized)),
            frames: None,
            constraints: None,
            code: None,
            rules: None,
            voices: per_voice.iter().map(PredictiveSum::finish).collect(),
        },
        baselines: Baselines {
            unigram,
            markov,
            ..Baselines::default()
        },
        steps,
        corpus_harmony: Some(part_writing(&bach[..sopranos.len()])),
        corpus_rules: None,
    }
}

/// mini-bach under training.
pub struct MiniBachSession {
    model: MiniBach,
    optimizer: burn::optim::ModuleOptimizer,
    ranges: VoiceRanges,
    data: ChoraleWindows,
    train: Batches,
    validation: Vec<usize>,
    learning_rate: f64,
    device: Device,
    /// The baselines' onset accuracy on the validation windows (lower voices).
    baselines: Vec<(String, f64)>,
}

impl MiniBachSession {
    /// Prepares the data (windows of the four-voice scores) and a fresh network.
    pub fn new(
        config: MiniBachConfig,
        scores: &[Score],
        batch_size: usize,
        learning_rate: f64,
        device: &Device,
    ) -> Result<Self, String> {
        let data = ChoraleWindows::from_scores(scores, STEPS, config.stride);
        if data.windows.is_empty() {
            return Err("mini-bach needs four-voice pieces (SATB); this corpus has none".into());
        }
        let ranges = VoiceRanges(data.ranges);
        let (train, mut validation) = data.split();
        if validation.is_empty() {
            validation = train.iter().copied().take(8).collect();
        }
        let baselines = voice_baselines(&data, &train, &validation);
        Ok(Self {
            baselines,
            model: MiniBach::new(&config, &ranges, device),
            optimizer: super::optim::adam(0.9),
            ranges,
            train: Batches::new(train, batch_size),
            validation,
            data,
            learning_rate,
            device: device.clone(),
        })
    }

    /// The voice ranges (saved in the checkpoint's config).
    pub fn ranges(&self) -> VoiceRanges {
        self.ranges
    }

    fn batch(&self, indices: &[usize]) -> (Tensor<2>, [Vec<usize>; 3]) {
        let soprano: Vec<&[usize]> = indices
            .iter()
            .map(|&i| self.data.windows[i][0].as_slice())
            .collect();
        let x = one_hot(&soprano, self.ranges.vocab(0), &self.device);
        let ys = std::array::from_fn(|v| {
            indices
                .iter()
                .flat_map(|&i| self.data.windows[i][v + 1].iter().copied())
                .collect()
        });
        (x, ys)
    }

    fn losses(
        &self,
        model: &MiniBach,
        indices: &[usize],
    ) -> (Tensor<1>, Vec<Tensor<1>>, Tensor<3>) {
        let (x, ys) = self.batch(indices);
        let logits = model.forward(x, &self.ranges);
        let [batch, steps, width] = logits.dims();
        // The three voices' cross-entropies in one pass over the logits (one fused operation
        // on the CPU): rows are (example, step), as the targets are.
        let segments = super::cross_entropy_op::Segments {
            widths: (1..4).map(|v| self.ranges.vocab(v)).collect(),
            targets: ys.to_vec(),
        };
        let losses = super::cross_entropy_op::voices_cross_entropy(
            logits.clone().reshape([batch * steps, width]),
            segments,
        );
        let per_voice: Vec<Tensor<1>> = (0..3).map(|v| losses.clone().narrow(0, v, 1)).collect();
        let total = per_voice[0].clone() + per_voice[1].clone() + per_voice[2].clone();
        (total, per_voice, logits)
    }
}

impl Session for MiniBachSession {
    fn loss_names(&self) -> Vec<String> {
        vec!["loss".into(), "alto".into(), "tenor".into(), "bass".into()]
    }

    fn steps_per_epoch(&self) -> usize {
        self.train.len()
    }

    fn start_epoch(&mut self, rng: &mut rand::rngs::StdRng) {
        self.train.shuffle(rng);
    }

    fn train_step(&mut self, step: usize) -> super::StepLosses {
        let indices = self.train.get(step).to_vec();
        let (total, per_voice, _) = self.losses(&self.model, &indices);
        super::optimize(
            &mut self.optimizer,
            self.learning_rate,
            &mut self.model,
            total.backward(),
        );
        super::StepLosses::new(std::iter::once(total).chain(per_voice))
    }

    fn validate(&mut self) -> Vec<(String, f64)> {
        let model = self.model.valid();
        let indices: Vec<usize> = self.validation.iter().copied().take(512).collect();
        let (total, _, logits) = self.losses(&model, &indices);
        let (_, ys) = self.batch(&indices);
        let mut out = vec![("validation loss".to_string(), scalar(total))];
        let mut onsets = crate::measures::predictive::PredictiveSum::default();
        for v in 1..4 {
            let voice = voice_logits(&logits, &self.ranges, v);
            for (row, &t) in rows(voice.clone()).iter().zip(&ys[v - 1]) {
                onsets.add_logits(row, t);
            }
            let acc = accuracy(voice, &ys[v - 1]);
            out.push((format!("{} accuracy", VOICES[v].to_lowercase()), acc));
        }
        out.push(("onset accuracy".into(), onsets.finish().onset_accuracy));
        out.extend(self.baselines.iter().cloned());
        out
    }

    fn samples(&mut self, seed: u64) -> Vec<Sample> {
        let model = self.model.valid();
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        let Some(&index) = self.validation.first() else {
            return Vec::new();
        };
        let soprano = self.data.windows[index][0].clone();
        let voices = harmonize_tokens(&model, &self.ranges, &soprano, 0.0, &mut rng, &self.device);
        vec![Sample {
            label: "harmonization of a held-out soprano".into(),
            score: voices_to_score("mini-bach sample", &voices, &self.ranges),
        }]
    }

    fn flops_per_example(&self) -> Option<f64> {
        let layers = self.layers();
        Some(super::card::matmul_flops(&layers, |_| 1.0) * super::card::TRAINING_PASSES)
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

/// The baselines' onset accuracy over the three lower voices of the validation windows, each
/// voice predicted from the soprano's token and its own previous tokens.
fn voice_baselines(
    data: &ChoraleWindows,
    train: &[usize],
    validation: &[usize],
) -> Vec<(String, f64)> {
    use crate::measures::ngram::{Ngram, Stream};
    let streams = |indices: &[usize], v: usize| -> Vec<Stream<'_>> {
        indices
            .iter()
            .map(|&i| Stream {
                tokens: &data.windows[i][v],
                condition: Some(&data.windows[i][0]),
            })
            .collect()
    };
    let held: Vec<usize> = validation.iter().copied().take(512).collect();
    let mut sums = [
        crate::measures::predictive::PredictiveSum::default(),
        crate::measures::predictive::PredictiveSum::default(),
    ];
    for v in 1..4 {
        let vocab = data.ranges[v].vocab_size();
        let fitted = streams(train, v);
        let models = [
            Ngram::unigram(vocab, &fitted),
            Ngram::markov(vocab, &fitted),
        ];
        for (model, sum) in models.iter().zip(&mut sums) {
            for stream in streams(&held, v) {
                for (probs, &t) in model.predict(&stream).iter().zip(stream.tokens) {
                    sum.add_probs(probs, t);
                }
            }
        }
    }
    vec![
        (
            "unigram onset accuracy".into(),
            sums[0].finish().onset_accuracy,
        ),
        (
            "markov onset accuracy".into(),
            sums[1].finish().onset_accuracy,
        ),
    ]
}

/// Reads `config` for the hyperparameters when building for inference.
pub fn build(config: &MiniBachConfig, ranges: &VoiceRanges, device: &Device) -> MiniBach {
    MiniBach::new(config, ranges, device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(pitch: u8, start: u32, duration: u32) -> GridNote {
        GridNote {
            pitch,
            start,
            duration,
            velocity: 90,
        }
    }

    #[test]
    fn a_high_melody_is_harmonized_moved_and_comes_back_note_for_note() {
        let ranges = VoiceRanges([
            PitchRange { low: 60, high: 79 },
            PitchRange { low: 55, high: 74 },
            PitchRange { low: 48, high: 67 },
            PitchRange { low: 40, high: 60 },
        ]);
        // Up to B5 (83): four semitones above the soprano's range, eight semitones wide.
        let line = [(75u8, 0u32), (79, 4), (83, 8), (81, 12), (77, 16)];
        let notes: Vec<GridNote> = line.iter().map(|&(p, s)| note(p, s, 4)).collect();
        assert_eq!(fitting_shift(&notes, &ranges.0[0]), -4);
        assert_eq!(fitting_shift(&notes[..2], &ranges.0[0]), 0);
        let mut melody = Score::new("high", 480);
        melody.tracks.push(Track::new(
            "Melody",
            notes
                .iter()
                .map(|n| crate::music::Note {
                    pitch: n.pitch,
                    start: u64::from(n.start) * 120,
                    duration: u64::from(n.duration) * 120,
                    velocity: 90,
                })
                .collect(),
        ));
        let device = Device::flex();
        let model = MiniBach::new(&MiniBachConfig::default(), &ranges, &device);
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
        let done = harmonize_score(&model, &ranges, &melody, None, 1.0, &mut rng, &device).unwrap();
        assert_eq!(done.shift, -4);
        assert_eq!(done.folded, 0);
        assert!(
            done.notice()
                .is_some_and(|n| n.contains("4 semitones down"))
        );
        assert_eq!(done.score.tracks.len(), 4);
        let soprano: Vec<(u8, u64, u64)> = done.score.tracks[0]
            .notes
            .iter()
            .map(|n| (n.pitch, n.start, n.duration))
            .collect();
        let given: Vec<(u8, u64, u64)> = melody.tracks[0]
            .notes
            .iter()
            .map(|n| (n.pitch, n.start, n.duration))
            .collect();
        assert_eq!(soprano, given);
    }

    #[test]
    fn a_legato_overlap_is_not_a_chord_and_a_repeated_note_keeps_its_onset() {
        // A repeated G held one step into its repetition, then an A held into a lower F.
        let notes = [
            note(67, 0, 5),
            note(67, 4, 4),
            note(69, 8, 5),
            note(65, 12, 4),
        ];
        let trimmed = trim_legato(&notes);
        assert_eq!(chord_steps(&trimmed), 0);
        let line: Vec<(u8, u64)> = melody_line(&ticks(&trimmed))
            .iter()
            .map(|n| (n.pitch, n.start))
            .collect();
        assert_eq!(line, vec![(67, 0), (67, 4), (69, 8), (65, 12)]);
        // A real chord (a longer overlap) stays a chord.
        assert_eq!(
            chord_steps(&trim_legato(&[note(72, 0, 8), note(60, 4, 4)])),
            4
        );
    }

    #[test]
    fn a_chordal_melody_becomes_one_line_and_is_counted() {
        // A held C under which E begins, then a chord D/B: C ends at E, B goes.
        let notes = [
            note(60, 0, 8),
            note(64, 4, 4),
            note(62, 8, 4),
            note(59, 8, 4),
        ];
        assert_eq!(chord_steps(&notes), 8);
        let line: Vec<(u8, u64, u64)> = melody_line(&ticks(&notes))
            .iter()
            .map(|n| (n.pitch, n.start, n.duration))
            .collect();
        assert_eq!(line, vec![(60, 0, 4), (64, 4, 4), (62, 8, 4)]);
    }

    /// Grid notes as notes of one tick a step.
    fn ticks(notes: &[GridNote]) -> Vec<crate::music::Note> {
        notes
            .iter()
            .map(|n| crate::music::Note {
                pitch: n.pitch,
                start: u64::from(n.start),
                duration: u64::from(n.duration),
                velocity: n.velocity,
            })
            .collect()
    }
}
