//! Quantisation of a [`Score`] to a step grid (by default 4 steps per quarter: 16th notes) and
//! back. Models see the grid; views and audio see ticks. This is the only place that converts.

use super::{Note, Score, TempoChange, TimeSignature, Track};

/// Steps per quarter note of the default grid: 16th notes, 16 steps per 4/4 bar.
pub const SIXTEENTHS_PER_QUARTER: u16 = 4;

/// A note on the step grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GridNote {
    /// MIDI pitch.
    pub pitch: u8,
    /// Onset in steps.
    pub start: u32,
    /// Length in steps, at least 1.
    pub duration: u32,
    /// MIDI velocity.
    pub velocity: u8,
}

/// One voice on the step grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridTrack {
    /// Track name.
    pub name: String,
    /// General MIDI program.
    pub program: u8,
    /// Notes sorted by (start, pitch).
    pub notes: Vec<GridNote>,
}

/// A score snapped to a grid of `steps_per_quarter` steps per quarter note. Tempo and metre maps
/// are kept, with their positions in steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Grid resolution.
    pub steps_per_quarter: u16,
    /// Tempo map, positions in steps.
    pub tempos: Vec<TempoChange>,
    /// Time-signature map, positions in steps.
    pub time_signatures: Vec<TimeSignature>,
    /// The voices.
    pub tracks: Vec<GridTrack>,
}

fn to_step(tick: u64, tpq: u16, spq: u16) -> u64 {
    // Round to the nearest step: (tick * spq + tpq / 2) / tpq in integers.
    (tick * u64::from(spq) + u64::from(tpq) / 2) / u64::from(tpq.max(1))
}

impl Score {
    /// Snaps every note to the nearest step of a grid with `steps_per_quarter` steps per quarter
    /// note. A note shorter than half a step still lasts one step.
    pub fn to_grid(&self, steps_per_quarter: u16) -> Grid {
        let spq = steps_per_quarter.max(1);
        let tpq = self.ticks_per_quarter.max(1);
        let tracks = self
            .tracks
            .iter()
            .map(|track| {
                let mut notes: Vec<GridNote> = track
                    .notes
                    .iter()
                    .map(|n| {
                        let start = to_step(n.start, tpq, spq);
                        let end = to_step(n.end(), tpq, spq).max(start + 1);
                        GridNote {
                            pitch: n.pitch,
                            start: u32::try_from(start).unwrap_or(u32::MAX - 1),
                            duration: u32::try_from(end - start).unwrap_or(1),
                            velocity: n.velocity,
                        }
                    })
                    .collect();
                notes.sort_by_key(|n| (n.start, n.pitch));
                GridTrack {
                    name: track.name.clone(),
                    program: track.program,
                    notes,
                }
            })
            .collect();
        Grid {
            steps_per_quarter: spq,
            tempos: self
                .tempos
                .iter()
                .map(|t| TempoChange {
                    tick: to_step(t.tick, tpq, spq),
                    ..*t
                })
                .collect(),
            time_signatures: self
                .time_signatures
                .iter()
                .map(|s| TimeSignature {
                    tick: to_step(s.tick, tpq, spq),
                    ..*s
                })
                .collect(),
            tracks,
        }
    }

    /// The score with every note snapped to the grid (still in ticks at the same resolution).
    pub fn quantized(&self, steps_per_quarter: u16) -> Score {
        let mut score = self
            .to_grid(steps_per_quarter)
            .to_score(self.ticks_per_quarter);
        score.name = self.name.clone();
        score
    }
}

impl Grid {
    /// Total length in steps (end of the last note).
    pub fn total_steps(&self) -> u32 {
        self.tracks
            .iter()
            .flat_map(|t| t.notes.iter())
            .map(|n| n.start + n.duration)
            .max()
            .unwrap_or(0)
    }

    /// Converts back to ticks at `ticks_per_quarter` resolution.
    pub fn to_score(&self, ticks_per_quarter: u16) -> Score {
        let tpq = u64::from(ticks_per_quarter.max(1));
        let spq = u64::from(self.steps_per_quarter.max(1));
        let to_tick = |step: u64| step * tpq / spq;
        let mut score = Score::new("grid", ticks_per_quarter);
        if !self.tempos.is_empty() {
            score.tempos = self
                .tempos
                .iter()
                .map(|t| TempoChange {
                    tick: to_tick(t.tick),
                    ..*t
                })
                .collect();
        }
        if !self.time_signatures.is_empty() {
            score.time_signatures = self
                .time_signatures
                .iter()
                .map(|s| TimeSignature {
                    tick: to_tick(s.tick),
                    ..*s
                })
                .collect();
        }
        score.tracks = self
            .tracks
            .iter()
            .map(|track| {
                let notes = track
                    .notes
                    .iter()
                    .map(|n| {
                        let start = to_tick(u64::from(n.start));
                        let end = to_tick(u64::from(n.start + n.duration));
                        Note {
                            pitch: n.pitch,
                            start,
                            duration: (end - start).max(1),
                            velocity: n.velocity,
                        }
                    })
                    .collect();
                let mut t = Track::new(track.name.clone(), notes);
                t.program = track.program;
                t
            })
            .collect();
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(pitch: u8, start: u64, duration: u64) -> Note {
        Note {
            pitch,
            start,
            duration,
            velocity: 80,
        }
    }

    #[test]
    fn snaps_to_nearest_sixteenth() {
        // 480 ticks per quarter: a 16th is 120 ticks.
        let score = Score::new("q", 480).with_track(Track::new(
            "m",
            vec![note(60, 5, 110), note(62, 130, 20), note(64, 239, 481)],
        ));
        let grid = score.to_grid(SIXTEENTHS_PER_QUARTER);
        let got: Vec<_> = grid.tracks[0]
            .notes
            .iter()
            .map(|n| (n.pitch, n.start, n.duration))
            .collect();
        // 5..115 → step 0..1; 130..150 → 1..1 widened to one step; 239..720 → 2..6.
        assert_eq!(got, vec![(60, 0, 1), (62, 1, 1), (64, 2, 4)]);
        assert_eq!(grid.total_steps(), 6);
    }

    #[test]
    fn grid_round_trips_through_ticks() {
        let score = Score::new("q", 96).with_track(Track::new(
            "m",
            vec![note(60, 0, 24), note(67, 24, 72), note(65, 96, 48)],
        ));
        let grid = score.to_grid(4);
        let back = grid.to_score(96);
        assert_eq!(back.tracks[0].notes, score.tracks[0].notes);
        assert_eq!(back.to_grid(4), grid);
    }
}
