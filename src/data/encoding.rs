//! Melody tokens, after MiniBach and folk-rnn: per 16th-note step one token out of
//! {rest, hold, pitch_low..=pitch_high}. A pitch token starts a note, hold extends the note
//! before it, rest is silence.

use crate::music::{GridNote, GridTrack, Note, Score, Track};

/// Token for a silent step.
pub const REST: usize = 0;
/// Token for "the previous note goes on".
pub const HOLD: usize = 1;
/// First pitch token.
const FIRST_PITCH: usize = 2;

/// The pitches a voice uses; tokens cover exactly this range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PitchRange {
    /// Lowest MIDI pitch.
    pub low: u8,
    /// Highest MIDI pitch.
    pub high: u8,
}

impl PitchRange {
    /// Number of tokens: rest, hold and one per pitch.
    pub fn vocab_size(&self) -> usize {
        usize::from(self.high - self.low) + 1 + FIRST_PITCH
    }

    /// The smallest range holding all the given pitches (C4..C5 for none).
    pub fn covering(pitches: impl IntoIterator<Item = u8>) -> Self {
        let (mut low, mut high) = (u8::MAX, 0u8);
        for p in pitches {
            low = low.min(p);
            high = high.max(p);
        }
        if low > high {
            Self { low: 60, high: 72 }
        } else {
            Self { low, high }
        }
    }

    /// Moves a pitch by octaves until it lies in the range (when the range spans an octave).
    pub fn fit(&self, pitch: u8) -> u8 {
        let mut p = i32::from(pitch);
        while p < i32::from(self.low) && p + 12 <= 127 {
            p += 12;
        }
        while p > i32::from(self.high) && p - 12 >= 0 {
            p -= 12;
        }
        p.clamp(i32::from(self.low), i32::from(self.high)) as u8
    }

    /// The token of a pitch (moved into the range by octaves first).
    pub fn token(&self, pitch: u8) -> usize {
        FIRST_PITCH + usize::from(self.fit(pitch) - self.low)
    }

    /// The pitch of a token, or `None` for rest and hold.
    pub fn pitch(&self, token: usize) -> Option<u8> {
        let offset = token.checked_sub(FIRST_PITCH)?;
        u8::try_from(offset)
            .ok()
            .and_then(|o| self.low.checked_add(o))
            .filter(|&p| p <= self.high)
    }
}

/// Most distinct metric positions (16th-note steps within a bar; longer bars share the last).
pub const METRIC_POSITIONS: usize = 48;

/// The position of each of the first `steps` 16th-note steps of `score` within its bar,
/// following the score's time signatures (a 4/4 bar has positions 0–15, 3/4 and 6/8 bars
/// 0–11), capped at [`METRIC_POSITIONS`] − 1.
pub fn metric_positions(score: &Score, steps: usize) -> Vec<usize> {
    let step_ticks = (u64::from(score.ticks_per_quarter) / 4).max(1);
    let lines = score.bar_lines(steps as u64 * step_ticks);
    let mut bar = 0;
    (0..steps as u64)
        .map(|s| {
            let tick = s * step_ticks;
            while lines.get(bar + 1).is_some_and(|&next| next <= tick) {
                bar += 1;
            }
            let from = lines.get(bar).copied().unwrap_or(0);
            (((tick - from.min(tick)) / step_ticks) as usize).min(METRIC_POSITIONS - 1)
        })
        .collect()
}

/// Tokens of a monophonic voice over `steps` steps starting at step `from`. Where notes
/// overlap, the highest sounding note wins.
pub fn voice_tokens(notes: &[GridNote], from: u32, steps: usize, range: &PitchRange) -> Vec<usize> {
    let mut tokens = vec![REST; steps];
    let mut pitch_at: Vec<Option<(u8, u32)>> = vec![None; steps];
    for note in notes {
        let end = note.start + note.duration;
        if end <= from || note.start >= from + steps as u32 {
            continue;
        }
        for step in note.start.max(from)..end.min(from + steps as u32) {
            let slot = &mut pitch_at[(step - from) as usize];
            if slot.is_none_or(|(p, _)| note.pitch > p) {
                *slot = Some((note.pitch, note.start));
            }
        }
    }
    for (i, slot) in pitch_at.iter().enumerate() {
        if let Some((pitch, start)) = *slot {
            let step = from + i as u32;
            let continues = i > 0 && pitch_at[i - 1].is_some_and(|prev| prev == (pitch, start));
            tokens[i] = if start == step || !continues {
                range.token(pitch)
            } else {
                HOLD
            };
        }
    }
    tokens
}

/// Decodes tokens into grid notes (a hold after a rest is a rest).
pub fn tokens_to_grid_notes(tokens: &[usize], range: &PitchRange, velocity: u8) -> Vec<GridNote> {
    let mut notes: Vec<GridNote> = Vec::new();
    let mut open = false;
    for (step, &token) in tokens.iter().enumerate() {
        match (token, range.pitch(token)) {
            (HOLD, _) if open => {
                if let Some(last) = notes.last_mut() {
                    last.duration += 1;
                }
            }
            (_, Some(pitch)) => {
                notes.push(GridNote {
                    pitch,
                    start: step as u32,
                    duration: 1,
                    velocity,
                });
                open = true;
            }
            _ => open = false,
        }
    }
    notes
}

/// Decodes tokens into a named track at `ticks_per_quarter`, 4 steps per quarter.
pub fn tokens_to_track(
    name: &str,
    tokens: &[usize],
    range: &PitchRange,
    ticks_per_quarter: u16,
) -> Track {
    let step_ticks = u64::from(ticks_per_quarter) / 4;
    let notes = tokens_to_grid_notes(tokens, range, 90)
        .into_iter()
        .map(|n| Note {
            pitch: n.pitch,
            start: u64::from(n.start) * step_ticks,
            duration: (u64::from(n.duration) * step_ticks).max(1),
            velocity: n.velocity,
        })
        .collect();
    Track::new(name, notes)
}

/// The first track of a grid that has notes, or the one named `name` if there is such a track.
pub fn pick_track<'a>(tracks: &'a [GridTrack], name: Option<&str>) -> Option<&'a GridTrack> {
    name.and_then(|n| tracks.iter().find(|t| t.name.eq_ignore_ascii_case(n)))
        .or_else(|| tracks.iter().find(|t| !t.notes.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(pitch: u8, start: u32, duration: u32) -> GridNote {
        GridNote {
            pitch,
            start,
            duration,
            velocity: 90,
        }
    }

    #[test]
    fn tokens_round_trip() {
        let range = PitchRange { low: 60, high: 72 };
        let notes = vec![n(60, 0, 2), n(62, 2, 1), n(64, 5, 3)];
        let tokens = voice_tokens(&notes, 0, 8, &range);
        assert_eq!(tokens, vec![2, HOLD, 4, REST, REST, 6, HOLD, HOLD]);
        assert_eq!(tokens_to_grid_notes(&tokens, &range, 90), notes);
        // A repeated pitch is two notes, not one long one.
        let repeated = vec![n(60, 0, 1), n(60, 1, 1)];
        assert_eq!(voice_tokens(&repeated, 0, 2, &range), vec![2, 2]);
    }

    #[test]
    fn out_of_range_pitches_move_by_octaves() {
        let range = PitchRange { low: 60, high: 79 };
        assert_eq!(range.fit(48), 60);
        assert_eq!(range.fit(50), 62);
        assert_eq!(range.fit(91), 79);
        assert_eq!(range.fit(84), 72);
        assert_eq!(range.pitch(range.token(50)), Some(62));
        assert_eq!(range.pitch(REST), None);
        assert_eq!(range.pitch(range.vocab_size()), None);
    }

    #[test]
    fn windows_cut_notes_at_their_edges() {
        let range = PitchRange { low: 60, high: 72 };
        // A note from step 2 to 6 seen through the window 4..8 starts with its pitch.
        let tokens = voice_tokens(&[n(65, 2, 4)], 4, 4, &range);
        assert_eq!(tokens, vec![7, HOLD, REST, REST]);
    }
}
