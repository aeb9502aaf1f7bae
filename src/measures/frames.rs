//! Polyphonic music as tokens for the baselines of the piano-roll and event models (GAN,
//! C-RNN-GAN): each 16th-note step is one token, the set of pitches that start or go on there.
//! The vocabulary is the set of frames seen in training, so the baselines can only recombine
//! the corpus's own chords — in time, by frequency (unigram) or by the frames before (Markov).

use std::collections::HashMap;

use super::overlap::Excerpt;
use crate::music::GridNote;

/// A frame: (pitch, starts here) pairs, sorted.
type Frame = Vec<(u8, bool)>;

/// The frame vocabulary of a corpus.
#[derive(Clone, Debug, Default)]
pub struct Frames {
    frames: Vec<Frame>,
    ids: HashMap<Frame, usize>,
}

impl Frames {
    /// Collects the frames of the pieces (token 0 is silence).
    pub fn new(pieces: &[Vec<GridNote>]) -> Self {
        let mut vocab = Self::default();
        vocab.id_of(Vec::new());
        for piece in pieces {
            for frame in frames_of(piece) {
                vocab.id_of(frame);
            }
        }
        vocab
    }

    fn id_of(&mut self, frame: Frame) -> usize {
        if let Some(&id) = self.ids.get(&frame) {
            return id;
        }
        self.frames.push(frame.clone());
        self.ids.insert(frame, self.frames.len() - 1);
        self.frames.len() - 1
    }

    /// Number of distinct frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when there is no frame at all (never: silence is one).
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The tokens of a piece (frames not in the vocabulary become silence).
    pub fn tokens(&self, notes: &[GridNote]) -> Vec<usize> {
        frames_of(notes)
            .into_iter()
            .map(|f| self.ids.get(&f).copied().unwrap_or(0))
            .collect()
    }

    /// Turns tokens back into an excerpt: a pitch that starts, or did not sound the step
    /// before, begins a note; otherwise its note goes on.
    pub fn excerpt(&self, tokens: &[usize]) -> Excerpt {
        let mut notes: Vec<GridNote> = Vec::new();
        let mut open: HashMap<u8, usize> = HashMap::new();
        for (step, &token) in tokens.iter().enumerate() {
            let frame = self.frames.get(token).cloned().unwrap_or_default();
            let mut next_open = HashMap::new();
            for (pitch, starts) in frame {
                match open.get(&pitch) {
                    Some(&i) if !starts => {
                        notes[i].duration += 1;
                        next_open.insert(pitch, i);
                    }
                    _ => {
                        notes.push(GridNote {
                            pitch,
                            start: step as u32,
                            duration: 1,
                            velocity: 80,
                        });
                        next_open.insert(pitch, notes.len() - 1);
                    }
                }
            }
            open = next_open;
        }
        Excerpt {
            steps: tokens.len(),
            notes,
        }
    }
}

fn frames_of(notes: &[GridNote]) -> Vec<Frame> {
    let total = notes
        .iter()
        .map(|n| n.start as usize + n.duration as usize)
        .max()
        .unwrap_or(0);
    let mut frames: Vec<Frame> = vec![Vec::new(); total];
    for n in notes {
        for s in n.start..n.start + n.duration {
            frames[s as usize].push((n.pitch, s == n.start));
        }
    }
    for f in &mut frames {
        f.sort_unstable();
        f.dedup();
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let n = |pitch, start, duration| GridNote {
            pitch,
            start,
            duration,
            velocity: 80,
        };
        let notes = vec![n(48, 0, 4), n(60, 0, 2), n(60, 2, 2), n(64, 1, 3)];
        let vocab = Frames::new(std::slice::from_ref(&notes));
        let back = vocab.excerpt(&vocab.tokens(&notes));
        let mut sorted = back.notes.clone();
        sorted.sort_by_key(|n| (n.start, n.pitch));
        let mut expected = notes.clone();
        expected.sort_by_key(|n| (n.start, n.pitch));
        assert_eq!(sorted, expected);
        assert_eq!(back.steps, 4);
    }
}
