//! The datasets: 4-bar SATB windows of the chorales (mini-bach), 4-bar melody windows
//! (autoencoders) and whole tunes as token sequences (LSTM). Each keeps, per example, the index
//! of the piece it came from, so train and validation sets split by piece, never inside one.

use std::path::Path;

use super::encoding::{PitchRange, REST, pick_track, voice_tokens};
use crate::music::{Score, read_midi_file};

/// Every 10th piece goes to validation.
const VALIDATION_EVERY: usize = 10;

/// The split rule in words, recorded in each run's config beside the held-out pieces' names.
pub const SPLIT_RULE: &str = "every 10th piece of the corpus in file-name order (index % 10 == 9)";

/// True when piece `index` (its position among the corpus's readable files, in name order)
/// belongs to the validation set. Every dataset indexes pieces this way, before any filtering,
/// so that every model holds out the same pieces and `muselab evaluate` can find them again.
pub fn is_validation_piece(index: usize) -> bool {
    index % VALIDATION_EVERY == VALIDATION_EVERY - 1
}

/// Names of the held-out pieces among `scores` (a corpus as [`load_scores`] reads it).
pub fn held_out_names(scores: &[Score]) -> Vec<String> {
    scores
        .iter()
        .enumerate()
        .filter(|(i, _)| is_validation_piece(*i))
        .map(|(_, s)| s.name.clone())
        .collect()
}

/// Reads the MIDI files of a folder and its sub-folders (at most `limit`, in path order, parsed
/// in parallel, through the parse cache where `MUSELAB_CACHE` names one). Unreadable files are
/// skipped and counted; no readable file at all is an error.
///
/// `dir` may also be a benchmark file (pickle, JSON or `.mat` of the polyphonic benchmarks):
/// its train and valid pieces, ordered so that the valid ones are held out
/// ([`crate::benchmarks::Benchmark::scores`]).
pub fn load_scores(dir: &Path, limit: Option<usize>) -> Result<(Vec<Score>, usize), String> {
    let cache = super::cache::default_cache_dir();
    let loaded = load_scores_with(dir, limit, cache.as_deref(), &|_, _| {})?;
    Ok((loaded.scores, loaded.skipped))
}

/// A corpus as [`load_scores_with`] read it.
#[derive(Debug)]
pub struct LoadedCorpus {
    /// The readable pieces, in path order.
    pub scores: Vec<Score>,
    /// Files that could not be read.
    pub skipped: usize,
    /// Files whose parse came from the cache.
    pub from_cache: usize,
}

/// [`load_scores`] with the parse cache in `cache_dir` (none: parse every file) and a
/// `progress(done, total)` callback, called from the parsing threads as files finish.
pub fn load_scores_with(
    dir: &Path,
    limit: Option<usize>,
    cache_dir: Option<&Path>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<LoadedCorpus, String> {
    if dir.is_file() && !crate::corpus::is_midi_path(dir) {
        let benchmark = crate::benchmarks::Benchmark::read(dir).map_err(|e| e.to_string())?;
        let mut scores = benchmark.scores();
        scores.truncate(limit.unwrap_or(usize::MAX));
        return Ok(LoadedCorpus {
            scores,
            skipped: 0,
            from_cache: 0,
        });
    }
    let files =
        crate::corpus::list_midi_files(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let files = &files[..files.len().min(limit.unwrap_or(usize::MAX))];
    // A file in a sub-folder is named by its path below `dir` ("reels/tune"), so that tunes of
    // one name in two folders stay two held-out names; the same path keys the cache.
    let keys: Vec<String> = files
        .iter()
        .map(|file| {
            let relative = file.strip_prefix(dir).unwrap_or(file);
            let parts: Vec<_> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect();
            parts.join("/")
        })
        .collect();
    let mut cache = super::cache::CorpusCache::open(dir, cache_dir);
    let cached: Vec<Option<super::cache::Cached>> = keys
        .iter()
        .zip(files)
        .map(|(key, file)| cache.take(key, file))
        .collect();
    // Stored scores are unpacked and the rest parsed in parallel (rayon keeps their order).
    use rayon::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let total = files.len();
    let done = AtomicUsize::new(0);
    progress(0, total);
    let (results, fresh): (Vec<Result<Score, String>>, Vec<bool>) = cached
        .into_par_iter()
        .zip(files)
        .map(|(cached, file)| {
            let result = match cached.and_then(super::cache::Cached::unpack) {
                Some(result) => (result, false),
                None => (read_midi_file(file).map_err(|e| e.to_string()), true),
            };
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            result
        })
        .unzip();
    let hits = fresh.iter().filter(|f| !**f).count();
    for (key, _) in keys.iter().zip(&fresh).filter(|(_, fresh)| **fresh) {
        cache.parsed(key);
    }
    cache.save(keys.iter().map(String::as_str).zip(&results));
    let mut scores = Vec::with_capacity(results.len());
    let mut skipped = 0;
    for ((result, file), key) in results.into_iter().zip(files).zip(&keys) {
        match result {
            Ok(mut score) => {
                if file.parent() != Some(dir) {
                    score.name = key
                        .rsplit_once('.')
                        .map_or(key.as_str(), |(stem, _)| stem)
                        .to_string();
                }
                scores.push(score)
            }
            Err(e) => {
                log::warn!("skipping {e}");
                skipped += 1;
            }
        }
    }
    if scores.is_empty() {
        return Err(format!("{}: no readable MIDI file", dir.display()));
    }
    Ok(LoadedCorpus {
        scores,
        skipped,
        from_cache: hits,
    })
}

/// Four-voice windows of the chorales: soprano, alto, tenor, bass tokens per step.
#[derive(Clone, Debug)]
pub struct ChoraleWindows {
    /// Pitch range per voice (S, A, T, B).
    pub ranges: [PitchRange; 4],
    /// Steps per window.
    pub steps: usize,
    /// Per window: the four voices' tokens.
    pub windows: Vec<[Vec<usize>; 4]>,
    /// Per window: index of its piece.
    pub piece: Vec<usize>,
}

impl ChoraleWindows {
    /// Cuts every four-track score into windows of `steps` 16th notes every `stride` steps.
    /// Ranges cover the voices of these scores.
    pub fn from_scores(scores: &[Score], steps: usize, stride: usize) -> Self {
        let grids: Vec<_> = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| s.tracks.len() == 4)
            .map(|(i, s)| (i, s.to_grid(4)))
            .collect();
        let ranges = std::array::from_fn(|v| {
            PitchRange::covering(
                grids
                    .iter()
                    .flat_map(|(_, g)| g.tracks[v].notes.iter().map(|n| n.pitch)),
            )
        });
        Self::with_ranges(&grids, ranges, steps, stride)
    }

    /// Windows of already gridded four-voice pieces `(piece index, grid)` over given ranges
    /// (those of a trained model when it is evaluated).
    pub fn with_ranges(
        grids: &[(usize, crate::music::Grid)],
        ranges: [PitchRange; 4],
        steps: usize,
        stride: usize,
    ) -> Self {
        let mut windows = Vec::new();
        let mut piece = Vec::new();
        for (index, grid) in grids.iter().map(|(i, g)| (*i, g)) {
            let total = grid.total_steps() as usize;
            let mut from = 0;
            while from + steps <= total.max(steps) && from < total {
                let voices: [Vec<usize>; 4] = std::array::from_fn(|v| {
                    voice_tokens(&grid.tracks[v].notes, from as u32, steps, &ranges[v])
                });
                if voices[0].iter().any(|&t| t != REST) {
                    windows.push(voices);
                    piece.push(index);
                }
                from += stride.max(1);
            }
        }
        Self {
            ranges,
            steps,
            windows,
            piece,
        }
    }

    /// Indices of training and validation windows.
    pub fn split(&self) -> (Vec<usize>, Vec<usize>) {
        split(&self.piece)
    }
}

fn split(piece: &[usize]) -> (Vec<usize>, Vec<usize>) {
    (0..piece.len()).partition(|&i| !is_validation_piece(piece[i]))
}

/// Monophonic melody windows (the soprano of chorales, the tune of Celtic pieces).
#[derive(Clone, Debug)]
pub struct MelodyWindows {
    /// Pitch range of the tokens.
    pub range: PitchRange,
    /// Steps per window.
    pub steps: usize,
    /// Token windows.
    pub windows: Vec<Vec<usize>>,
    /// Per window: index of its piece.
    pub piece: Vec<usize>,
    /// Piece names, by piece index (empty for pieces without a melody).
    pub names: Vec<String>,
}

/// The melody track of each score that has one: (piece index, name, grid notes).
fn melodies_of(
    scores: &[Score],
    track: Option<&str>,
) -> Vec<(usize, String, Vec<crate::music::GridNote>)> {
    scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let grid = s.to_grid(4);
            pick_track(&grid.tracks, track).map(|t| (i, s.name.clone(), t.notes.clone()))
        })
        .collect()
}

impl MelodyWindows {
    /// Cuts the melody track (named `track`, else the first with notes) of each score into
    /// windows. `range` defaults to the range of the melodies.
    pub fn from_scores(
        scores: &[Score],
        track: Option<&str>,
        steps: usize,
        stride: usize,
        range: Option<PitchRange>,
    ) -> Self {
        let melodies = melodies_of(scores, track);
        let range = range.unwrap_or_else(|| {
            PitchRange::covering(
                melodies
                    .iter()
                    .flat_map(|(_, _, n)| n.iter().map(|n| n.pitch)),
            )
        });
        let mut windows = Vec::new();
        let mut piece = Vec::new();
        let mut names = vec![String::new(); scores.len()];
        for (index, name, notes) in &melodies {
            let index = *index;
            names[index] = name.clone();
            let total = notes
                .iter()
                .map(|n| (n.start + n.duration) as usize)
                .max()
                .unwrap_or(0);
            let mut from = 0;
            while from < total {
                let tokens = voice_tokens(notes, from as u32, steps, &range);
                if tokens.iter().filter(|&&t| t != REST).count() * 2 >= steps {
                    windows.push(tokens);
                    piece.push(index);
                }
                from += stride.max(1);
            }
        }
        Self {
            range,
            steps,
            windows,
            piece,
            names,
        }
    }

    /// Indices of training and validation windows.
    pub fn split(&self) -> (Vec<usize>, Vec<usize>) {
        split(&self.piece)
    }
}

/// Whole melodies as token sequences (for next-token models).
#[derive(Clone, Debug)]
pub struct TuneSequences {
    /// Pitch range of the tokens.
    pub range: PitchRange,
    /// One token sequence per tune.
    pub tunes: Vec<Vec<usize>>,
    /// Tune names.
    pub names: Vec<String>,
    /// Per tune: index of its piece in the corpus.
    pub piece: Vec<usize>,
    /// Per tune, per step: its position in the bar ([`super::encoding::metric_positions`]).
    pub positions: Vec<Vec<usize>>,
}

impl TuneSequences {
    /// The melody track of each score as one token sequence.
    pub fn from_scores(scores: &[Score], range: Option<PitchRange>) -> Self {
        let melodies = melodies_of(scores, None);
        let range = range.unwrap_or_else(|| {
            PitchRange::covering(
                melodies
                    .iter()
                    .flat_map(|(_, _, n)| n.iter().map(|n| n.pitch)),
            )
        });
        let tunes: Vec<Vec<usize>> = melodies
            .iter()
            .map(|(_, _, notes)| {
                let total = notes
                    .iter()
                    .map(|n| (n.start + n.duration) as usize)
                    .max()
                    .unwrap_or(0);
                voice_tokens(notes, 0, total, &range)
            })
            .collect();
        let positions = melodies
            .iter()
            .zip(&tunes)
            .map(|((i, _, _), tokens)| super::encoding::metric_positions(&scores[*i], tokens.len()))
            .collect();
        Self {
            range,
            tunes,
            positions,
            piece: melodies.iter().map(|(i, _, _)| *i).collect(),
            names: melodies.into_iter().map(|(_, n, _)| n).collect(),
        }
    }

    /// Indices of training and validation tunes.
    pub fn split(&self) -> (Vec<usize>, Vec<usize>) {
        split(&self.piece)
    }
}

/// One-bar piano rolls (16 sixteenth-note steps × a pitch range), all voices merged: the data of
/// the GAN. A cell is 1 where a note sounds.
#[derive(Clone, Debug)]
pub struct BarRolls {
    /// Lowest pitch of the roll.
    pub low: u8,
    /// Number of pitches.
    pub pitches: usize,
    /// Steps per bar.
    pub steps: usize,
    /// Flattened rolls, `steps * pitches` each, step-major.
    pub bars: Vec<Vec<f32>>,
    /// Per bar: index of its piece.
    pub piece: Vec<usize>,
}

impl BarRolls {
    /// Cuts every score into bars of `steps` steps; empty bars are skipped.
    pub fn from_scores(scores: &[Score], steps: usize) -> Self {
        let grids: Vec<_> = scores.iter().map(|s| s.to_grid(4)).collect();
        let range = PitchRange::covering(grids.iter().flat_map(|g| {
            g.tracks
                .iter()
                .flat_map(|t| t.notes.iter().map(|n| n.pitch))
        }));
        let pitches = usize::from(range.high - range.low) + 1;
        let mut bars = Vec::new();
        let mut piece = Vec::new();
        for (index, grid) in grids.iter().enumerate() {
            let total = grid.total_steps() as usize;
            let count = total.div_ceil(steps.max(1));
            let mut rolls = vec![vec![0.0f32; steps * pitches]; count];
            for note in grid.tracks.iter().flat_map(|t| t.notes.iter()) {
                for step in note.start..note.start + note.duration {
                    let (bar, within) = (step as usize / steps, step as usize % steps);
                    if let Some(roll) = rolls.get_mut(bar) {
                        roll[within * pitches + usize::from(note.pitch - range.low)] = 1.0;
                    }
                }
            }
            for roll in rolls {
                if roll.iter().any(|&v| v > 0.0) {
                    bars.push(roll);
                    piece.push(index);
                }
            }
        }
        Self {
            low: range.low,
            pitches,
            steps,
            bars,
            piece,
        }
    }

    /// Indices of training and validation bars.
    pub fn split(&self) -> (Vec<usize>, Vec<usize>) {
        split(&self.piece)
    }
}

/// The semitones (−5 to 6) that move a score's estimated tonic to C, by the shortest way; 0
/// for a score without notes.
pub fn shift_to_c(score: &Score) -> i32 {
    crate::music::key::estimate_key(score).map_or(0, |k| {
        let up = (12 - i32::from(k.tonic)) % 12;
        if up > 6 { up - 12 } else { up }
    })
}

/// A note on a grid: pitch, first step, steps.
type GridSpan = (u8, u32, u32);

/// Where a window of frames starts: (piece, first frame).
pub type WindowAt = (usize, usize);

/// Whole pieces as sequences of binary frames (the pitches sounding at each step of a grid, all
/// voices merged): the data of the Boltzmann machines, which learn the distribution of a frame
/// or of a short window of frames. Pieces may be transposed to C (major or minor, by their
/// estimated key), as Boulanger-Lewandowski et al. did with the chorales.
#[derive(Clone, Debug)]
pub struct FrameRolls {
    /// Lowest pitch of a frame.
    pub low: u8,
    /// Pitches per frame.
    pub pitches: usize,
    /// Grid steps per quarter note (1: the reference protocol's quarter notes; 4: 16ths).
    pub steps_per_quarter: u16,
    /// Per piece, its frames (`pitches` values each, 1 where a note sounds).
    pub pieces: Vec<Vec<Vec<f32>>>,
    /// Per piece, its index in the corpus (for the held-out split).
    pub index: Vec<usize>,
}

impl FrameRolls {
    /// The frames of every score on a grid of `steps_per_quarter`; with `to_c`, each piece is
    /// first moved (by at most a tritone) so that its estimated tonic is C. The pitch range
    /// covers the notes, or is `range` (lowest pitch, pitch count; notes outside it are left
    /// out) for a trained model's. Pieces without notes are left out.
    pub fn from_scores(
        scores: &[Score],
        steps_per_quarter: u16,
        to_c: bool,
        range: Option<(u8, usize)>,
    ) -> Self {
        let pieces: Vec<(usize, Vec<GridSpan>, usize)> = scores
            .iter()
            .enumerate()
            .filter_map(|(index, score)| {
                let shift = if to_c { shift_to_c(score) } else { 0 };
                let grid = score.to_grid(steps_per_quarter);
                let notes: Vec<GridSpan> = grid
                    .tracks
                    .iter()
                    .flat_map(|t| t.notes.iter())
                    .filter_map(|n| {
                        let pitch = u8::try_from(i32::from(n.pitch) + shift).ok()?;
                        (pitch <= 127).then_some((pitch, n.start, n.duration))
                    })
                    .collect();
                let total = grid.total_steps() as usize;
                (!notes.is_empty() && total > 0).then_some((index, notes, total))
            })
            .collect();
        let (low, pitches) = range.unwrap_or_else(|| {
            let covering =
                PitchRange::covering(pieces.iter().flat_map(|(_, n, _)| n.iter().map(|n| n.0)));
            (covering.low, usize::from(covering.high - covering.low) + 1)
        });
        let mut rolls = Self {
            low,
            pitches,
            steps_per_quarter,
            pieces: Vec::new(),
            index: Vec::new(),
        };
        for (index, notes, total) in pieces {
            let mut frames = vec![vec![0.0f32; pitches]; total];
            for (pitch, start, duration) in notes {
                let Some(row) = pitch.checked_sub(low).map(usize::from) else {
                    continue;
                };
                for step in start..start + duration {
                    if let Some(cell) = frames.get_mut(step as usize).and_then(|f| f.get_mut(row)) {
                        *cell = 1.0;
                    }
                }
            }
            rolls.pieces.push(frames);
            rolls.index.push(index);
        }
        rolls
    }

    /// Every window of `length` consecutive frames, as (piece, first frame), split into
    /// training and held-out windows by piece ([`is_validation_piece`]).
    pub fn windows(&self, length: usize) -> (Vec<WindowAt>, Vec<WindowAt>) {
        let mut all = Vec::new();
        for (p, frames) in self.pieces.iter().enumerate() {
            for start in 0..(frames.len() + 1).saturating_sub(length.max(1)) {
                all.push((p, start));
            }
        }
        all.into_iter()
            .partition(|&(p, _)| !is_validation_piece(self.index[p]))
    }

    /// Every frame of the training pieces (those not held out).
    pub fn training_frames(&self) -> Vec<Vec<f32>> {
        self.pieces
            .iter()
            .zip(&self.index)
            .filter(|(_, i)| !is_validation_piece(**i))
            .flat_map(|(p, _)| p.iter().cloned())
            .collect()
    }

    /// The window of `length` frames at (piece, first frame), flattened frame after frame.
    pub fn window(&self, (piece, start): WindowAt, length: usize) -> Vec<f32> {
        self.pieces[piece][start..start + length].concat()
    }
}

/// Turns a binary roll (`steps * pitches`, step-major, values ≥ 0.5 are on) into a score: runs
/// of consecutive on-steps of one pitch become one note.
pub fn roll_to_score(
    name: &str,
    roll: &[f32],
    steps: usize,
    low: u8,
    ticks_per_quarter: u16,
) -> Score {
    let pitches = roll.len() / steps.max(1);
    let step_ticks = u64::from(ticks_per_quarter) / 4;
    let mut notes = Vec::new();
    for p in 0..pitches {
        let mut start: Option<usize> = None;
        for s in 0..=steps {
            let on = s < steps && roll[s * pitches + p] >= 0.5;
            match (on, start) {
                (true, None) => start = Some(s),
                (false, Some(begin)) => {
                    notes.push(crate::music::Note {
                        pitch: low.saturating_add(p as u8).min(127),
                        start: begin as u64 * step_ticks,
                        duration: (s - begin) as u64 * step_ticks,
                        velocity: 80,
                    });
                    start = None;
                }
                _ => {}
            }
        }
    }
    Score::new(name, ticks_per_quarter).with_track(crate::music::Track::new("GAN", notes))
}
