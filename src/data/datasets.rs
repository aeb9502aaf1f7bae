//! The datasets: 4-bar SATB windows of the chorales (mini-bach), 4-bar melody windows
//! (autoencoders) and whole tunes as token sequences (LSTM). Each keeps, per example, the index
//! of the piece it came from, so train and validation sets split by piece, never inside one.

use std::path::Path;

use super::encoding::{PitchRange, REST, pick_track, voice_tokens};
use crate::music::{Score, read_midi_file};

/// Every 10th piece goes to validation.
const VALIDATION_EVERY: usize = 10;

/// True when piece `index` belongs to the validation set.
pub fn is_validation_piece(index: usize) -> bool {
    index % VALIDATION_EVERY == VALIDATION_EVERY - 1
}

/// Reads the MIDI files of a folder (at most `limit`, in name order). Unreadable files are
/// skipped and counted; no readable file at all is an error.
pub fn load_scores(dir: &Path, limit: Option<usize>) -> Result<(Vec<Score>, usize), String> {
    let files =
        crate::corpus::list_midi_files(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut scores = Vec::new();
    let mut skipped = 0;
    for file in files.iter().take(limit.unwrap_or(usize::MAX)) {
        match read_midi_file(file) {
            Ok(score) => scores.push(score),
            Err(e) => {
                log::warn!("skipping {e}");
                skipped += 1;
            }
        }
    }
    if scores.is_empty() {
        return Err(format!("{}: no readable MIDI file", dir.display()));
    }
    Ok((scores, skipped))
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
            .filter(|s| s.tracks.len() == 4)
            .map(|s| s.to_grid(4))
            .collect();
        let ranges = std::array::from_fn(|v| {
            PitchRange::covering(
                grids
                    .iter()
                    .flat_map(|g| g.tracks[v].notes.iter().map(|n| n.pitch)),
            )
        });
        let mut windows = Vec::new();
        let mut piece = Vec::new();
        for (index, grid) in grids.iter().enumerate() {
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
    /// Piece names, by piece index.
    pub names: Vec<String>,
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
        let melodies: Vec<_> = scores
            .iter()
            .filter_map(|s| {
                let grid = s.to_grid(4);
                pick_track(&grid.tracks, track).map(|t| (s.name.clone(), t.notes.clone()))
            })
            .collect();
        let range = range.unwrap_or_else(|| {
            PitchRange::covering(melodies.iter().flat_map(|(_, n)| n.iter().map(|n| n.pitch)))
        });
        let mut windows = Vec::new();
        let mut piece = Vec::new();
        for (index, (_, notes)) in melodies.iter().enumerate() {
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
            names: melodies.into_iter().map(|(n, _)| n).collect(),
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
}

impl TuneSequences {
    /// The melody track of each score as one token sequence.
    pub fn from_scores(scores: &[Score], range: Option<PitchRange>) -> Self {
        let melodies: Vec<_> = scores
            .iter()
            .filter_map(|s| {
                let grid = s.to_grid(4);
                pick_track(&grid.tracks, None).map(|t| (s.name.clone(), t.notes.clone()))
            })
            .collect();
        let range = range.unwrap_or_else(|| {
            PitchRange::covering(melodies.iter().flat_map(|(_, n)| n.iter().map(|n| n.pitch)))
        });
        let tunes = melodies
            .iter()
            .map(|(_, notes)| {
                let total = notes
                    .iter()
                    .map(|n| (n.start + n.duration) as usize)
                    .max()
                    .unwrap_or(0);
                voice_tokens(notes, 0, total, &range)
            })
            .collect();
        Self {
            range,
            tunes,
            names: melodies.into_iter().map(|(n, _)| n).collect(),
        }
    }

    /// Indices of training and validation tunes.
    pub fn split(&self) -> (Vec<usize>, Vec<usize>) {
        (0..self.tunes.len()).partition(|&i| !is_validation_piece(i))
    }
}
