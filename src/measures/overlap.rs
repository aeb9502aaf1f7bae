//! Sample measures after Yang & Lerch, "On the evaluation of generative models in music"
//! (2019): each excerpt is described by a few musical features; for each feature, the distances
//! between generated and held-out excerpts (inter-set) are compared with the distances among the
//! held-out excerpts themselves (intra-set) through the overlapping area of their kernel density
//! estimates: 1 means the samples sit among the corpus as its own pieces do, 0 means they are
//! told apart by that feature alone. Also: how many samples are exact copies of a training
//! window (memorisation).

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use crate::music::GridNote;

/// A stretch of music on the 16th-note grid, from step 0 to `steps`, voices merged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Excerpt {
    /// Length in steps.
    pub steps: usize,
    /// Its notes, clipped to the excerpt.
    pub notes: Vec<GridNote>,
}

/// Steps per 4/4 bar on the 16th grid.
const BAR: usize = 16;

impl Excerpt {
    /// The notes of `notes` sounding in `[from, from + steps)`, moved to start at 0.
    pub fn cut(notes: &[GridNote], from: usize, steps: usize) -> Self {
        let (from, end) = (from as u64, (from + steps) as u64);
        let notes = notes
            .iter()
            .filter_map(|n| {
                let (start, stop) = (
                    u64::from(n.start),
                    u64::from(n.start) + u64::from(n.duration),
                );
                (stop > from && start < end).then(|| GridNote {
                    start: (start.max(from) - from) as u32,
                    duration: (stop.min(end) - start.max(from)) as u32,
                    ..*n
                })
            })
            .collect();
        Self { steps, notes }
    }

    /// Consecutive non-overlapping excerpts of `steps` with at least one note.
    pub fn windows(notes: &[GridNote], steps: usize) -> Vec<Self> {
        let total = notes
            .iter()
            .map(|n| n.start as usize + n.duration as usize)
            .max()
            .unwrap_or(0);
        (0..total / steps.max(1))
            .map(|i| Self::cut(notes, i * steps, steps))
            .filter(|e| !e.notes.is_empty())
            .collect()
    }

    /// The notes of every track of a score on the 16th grid, merged.
    pub fn all_notes(score: &crate::music::Score) -> Vec<GridNote> {
        let mut notes: Vec<GridNote> = score
            .to_grid(4)
            .tracks
            .into_iter()
            .flat_map(|t| t.notes)
            .collect();
        notes.sort_by_key(|n| (n.start, n.pitch));
        notes
    }

    /// The excerpt as a one-track score at 480 ticks per quarter, to listen to.
    pub fn to_score(&self, name: &str) -> crate::music::Score {
        let notes = self
            .notes
            .iter()
            .map(|n| crate::music::Note {
                pitch: n.pitch,
                start: u64::from(n.start) * 120,
                duration: u64::from(n.duration.max(1)) * 120,
                velocity: n.velocity,
            })
            .collect();
        crate::music::Score::new(name, 480).with_track(crate::music::Track::new("sample", notes))
    }

    /// Per step: a hash of what starts and what sounds there (for exact-copy checks).
    fn frame_hashes(&self) -> Vec<u64> {
        let mut frames: Vec<Vec<(u8, bool)>> = vec![Vec::new(); self.steps];
        for n in &self.notes {
            for s in n.start..n.start + n.duration {
                if let Some(frame) = frames.get_mut(s as usize) {
                    frame.push((n.pitch, s == n.start));
                }
            }
        }
        frames
            .into_iter()
            .map(|mut f| {
                f.sort_unstable();
                f.dedup();
                let mut h = std::collections::hash_map::DefaultHasher::new();
                f.hash(&mut h);
                h.finish()
            })
            .collect()
    }
}

/// The features, by name, in report order.
pub const FEATURES: [&str; 8] = [
    "pitch_class_histogram",
    "pitch_range",
    "pitch_count",
    "notes_per_bar",
    "inter_onset_interval",
    "pitch_interval",
    "polyphony",
    "scale_consistency",
];

/// The feature vectors of an excerpt, in [`FEATURES`] order (the histogram has 12 values,
/// the others one).
pub fn features(excerpt: &Excerpt) -> Vec<Vec<f64>> {
    let notes = &excerpt.notes;
    let mut histogram = vec![0.0; 12];
    for n in notes {
        histogram[usize::from(n.pitch % 12)] += 1.0;
    }
    let count = notes.len() as f64;
    if count > 0.0 {
        histogram.iter_mut().for_each(|h| *h /= count);
    }
    let (low, high) = notes
        .iter()
        .fold((u8::MAX, 0u8), |(l, h), n| (l.min(n.pitch), h.max(n.pitch)));
    let range = if notes.is_empty() {
        0.0
    } else {
        f64::from(high - low)
    };
    let distinct = notes.iter().map(|n| n.pitch).collect::<HashSet<_>>().len() as f64;
    let bars = (excerpt.steps as f64 / BAR as f64).max(1.0);
    let mut onsets: Vec<u32> = notes.iter().map(|n| n.start).collect();
    onsets.sort_unstable();
    onsets.dedup();
    let ioi = mean(onsets.windows(2).map(|w| f64::from(w[1] - w[0])));
    // The top voice's line: the highest note of each onset, in time order.
    let top: Vec<u8> = onsets
        .iter()
        .filter_map(|&o| notes.iter().filter(|n| n.start == o).map(|n| n.pitch).max())
        .collect();
    let interval = mean(
        top.windows(2)
            .map(|w| f64::from((i16::from(w[1]) - i16::from(w[0])).unsigned_abs())),
    );
    let mut sounding = vec![0u32; excerpt.steps];
    for n in notes {
        for s in n.start..n.start + n.duration {
            if let Some(c) = sounding.get_mut(s as usize) {
                *c += 1;
            }
        }
    }
    let polyphony = mean(sounding.iter().filter(|&&c| c > 0).map(|&c| f64::from(c)));
    // Scale consistency: the largest share of notes inside one major scale (its relative minor
    // has the same notes).
    const MAJOR: [usize; 7] = [0, 2, 4, 5, 7, 9, 11];
    let scale = (0..12)
        .map(|tonic| {
            MAJOR
                .iter()
                .map(|d| histogram[(tonic + d) % 12])
                .sum::<f64>()
        })
        .fold(0.0, f64::max);
    vec![
        histogram,
        vec![range],
        vec![distinct],
        vec![count / bars],
        vec![ioi],
        vec![interval],
        vec![polyphony],
        vec![scale],
    ]
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// At most this many distances per set go into a density estimate (an even subsample).
const MAX_DISTANCES: usize = 4000;

fn thin(mut values: Vec<f64>) -> Vec<f64> {
    if values.len() > MAX_DISTANCES {
        let stride = values.len() as f64 / MAX_DISTANCES as f64;
        values = (0..MAX_DISTANCES)
            .map(|i| values[(i as f64 * stride) as usize])
            .collect();
    }
    values
}

/// Overlapping area of the Gaussian kernel density estimates of two samples (Silverman's
/// bandwidth), integrated numerically: in [0, 1].
pub fn density_overlap(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let bandwidth = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        let sd = (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / x.len() as f64).sqrt();
        (1.06 * sd * (x.len() as f64).powf(-0.2)).max(1e-3)
    };
    let (ha, hb) = (bandwidth(a), bandwidth(b));
    let lo = a.iter().chain(b).copied().fold(f64::INFINITY, f64::min) - 4.0 * ha.max(hb);
    let hi = a.iter().chain(b).copied().fold(f64::NEG_INFINITY, f64::max) + 4.0 * ha.max(hb);
    const POINTS: usize = 512;
    let dx = (hi - lo) / (POINTS - 1) as f64;
    let density = |x: &[f64], h: f64, at: f64| {
        let norm = 1.0 / (x.len() as f64 * h * (std::f64::consts::TAU).sqrt());
        x.iter()
            .map(|v| (-0.5 * ((at - v) / h).powi(2)).exp())
            .sum::<f64>()
            * norm
    };
    let area: f64 = (0..POINTS)
        .map(|i| {
            let at = lo + i as f64 * dx;
            density(a, ha, at).min(density(b, hb, at))
        })
        .sum::<f64>()
        * dx;
    area.clamp(0.0, 1.0)
}

/// Per feature (in [`FEATURES`] order): the overlap of the inter-set distances (each sample to
/// each reference excerpt) with the intra-set distances of the reference excerpts.
pub fn feature_overlaps(samples: &[Excerpt], reference: &[Excerpt]) -> Vec<f64> {
    let sample_features: Vec<_> = samples.iter().map(features).collect();
    let reference_features: Vec<_> = reference.iter().map(features).collect();
    (0..FEATURES.len())
        .map(|f| {
            let mut intra = Vec::new();
            for (i, a) in reference_features.iter().enumerate() {
                for b in &reference_features[i + 1..] {
                    intra.push(distance(&a[f], &b[f]));
                }
            }
            let inter: Vec<f64> = sample_features
                .iter()
                .flat_map(|a| {
                    reference_features
                        .iter()
                        .map(move |b| distance(&a[f], &b[f]))
                })
                .collect();
            density_overlap(&thin(inter), &thin(intra))
        })
        .collect()
}

/// Every window of `steps` of the training excerpts (at every offset), hashed: a sample whose
/// hash is in the set is an exact copy of some training window.
pub struct TrainingWindows {
    steps: usize,
    hashes: HashSet<u64>,
}

impl TrainingWindows {
    /// Hashes the windows of `steps` steps of each training piece (its relevant notes).
    pub fn new(pieces: &[Vec<GridNote>], steps: usize) -> Self {
        let mut hashes = HashSet::new();
        for notes in pieces {
            let total = notes
                .iter()
                .map(|n| n.start as usize + n.duration as usize)
                .max()
                .unwrap_or(0);
            let frames = Excerpt::cut(notes, 0, total).frame_hashes();
            for window in frames.windows(steps.max(1)) {
                hashes.insert(hash_frames(window));
            }
        }
        Self { steps, hashes }
    }

    /// True when the excerpt (its first `steps` steps) copies a training window exactly.
    pub fn is_copy(&self, excerpt: &Excerpt) -> bool {
        if excerpt.notes.is_empty() {
            return false;
        }
        let mut cut = Excerpt::cut(&excerpt.notes, 0, self.steps);
        cut.steps = self.steps;
        self.hashes.contains(&hash_frames(&cut.frame_hashes()))
    }
}

fn hash_frames(frames: &[u64]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    frames.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(pitch: u8, start: u32, duration: u32) -> GridNote {
        GridNote {
            pitch,
            start,
            duration,
            velocity: 80,
        }
    }

    fn scale_run(low: u8, step: u32) -> Excerpt {
        let notes = (0..16)
            .map(|i| {
                n(
                    low + [0, 2, 4, 5, 7, 9, 11, 12][i % 8],
                    i as u32 * step,
                    step,
                )
            })
            .collect();
        Excerpt { steps: 64, notes }
    }

    #[test]
    fn features_of_a_known_excerpt() {
        let e = Excerpt {
            steps: 32,
            notes: vec![n(60, 0, 4), n(64, 4, 4), n(67, 8, 8), n(72, 16, 16)],
        };
        let f = features(&e);
        assert_eq!(f[0][0], 0.5); // two Cs of four notes
        assert_eq!(f[1], vec![12.0]);
        assert_eq!(f[2], vec![4.0]);
        assert_eq!(f[3], vec![2.0]);
        assert!((f[4][0] - 16.0 / 3.0).abs() < 1e-9);
        assert!((f[5][0] - 4.0).abs() < 1e-9);
        assert_eq!(f[6], vec![1.0]);
        assert_eq!(f[7], vec![1.0]);
    }

    #[test]
    fn like_sets_overlap_and_unlike_sets_do_not() {
        let reference: Vec<Excerpt> = (0..30).map(|i| scale_run(55 + i % 12, 4)).collect();
        let alike: Vec<Excerpt> = (0..30).map(|i| scale_run(56 + i % 11, 4)).collect();
        // One held note, far away in pitch and rhythm.
        let unlike: Vec<Excerpt> = (0..30)
            .map(|i| Excerpt {
                steps: 64,
                notes: vec![n(30 + (i % 3) as u8, 0, 64)],
            })
            .collect();
        let good = feature_overlaps(&alike, &reference);
        let bad = feature_overlaps(&unlike, &reference);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(mean(&good) > 0.6, "{good:?}");
        assert!(mean(&bad) < 0.3, "{bad:?}");
        assert!(good.iter().chain(&bad).all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn copies_are_found_at_any_offset() {
        let piece: Vec<GridNote> = (0..40).map(|i| n(60 + (i % 5) as u8, i * 2, 2)).collect();
        let windows = TrainingWindows::new(std::slice::from_ref(&piece), 16);
        assert!(windows.is_copy(&Excerpt::cut(&piece, 6, 16)));
        let mut changed = Excerpt::cut(&piece, 6, 16);
        changed.notes[0].pitch += 1;
        assert!(!windows.is_copy(&changed));
        assert!(!windows.is_copy(&Excerpt::default()));
    }
}
