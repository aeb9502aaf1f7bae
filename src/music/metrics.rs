//! Objective metrics of a [`Score`], after muspy, MuseGAN and C-RNN-GAN. They describe generated
//! music next to the training corpus's own values, so every one is defined for any score,
//! including an empty one (where a rate has nothing to count it is 0).

use std::collections::HashSet;

use super::{Note, Score};

/// The metric values of one score. Field docs give the exact definitions.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    /// Number of tracks.
    pub tracks: usize,
    /// Number of notes over all tracks.
    pub notes: usize,
    /// Seconds from the start to the end of the last note, following the tempo map.
    pub duration_seconds: f64,
    /// Lowest MIDI pitch, if any note.
    pub lowest_pitch: Option<u8>,
    /// Highest MIDI pitch, if any note.
    pub highest_pitch: Option<u8>,
    /// Tone span (C-RNN-GAN): highest minus lowest pitch in semitones.
    pub tone_span: u8,
    /// Polyphony rate (muspy): of the 16th-note steps where at least one pitch sounds, the
    /// fraction where two or more distinct pitches sound.
    pub polyphony_rate: f64,
    /// Pitch-class entropy (muspy): Shannon entropy in bits of the histogram of the 12 pitch
    /// classes over all notes; 0 for one pitch class, log2(12) ≈ 3.585 for a uniform spread.
    pub pitch_class_entropy: f64,
    /// Scale consistency (muspy): the largest fraction of notes that fit one major scale (its
    /// relative natural minor has the same notes).
    pub scale_consistency: f64,
    /// Used pitch classes per bar (MuseGAN): mean number of distinct pitch classes sounding in a
    /// bar, over the bars that are not empty.
    pub used_pitch_classes_per_bar: f64,
    /// Empty-bar rate (MuseGAN): fraction of bars, up to the end of the last note, in which no
    /// note sounds.
    pub empty_bar_rate: f64,
    /// Qualified-note rate (MuseGAN): fraction of notes at least a 32nd note long.
    pub qualified_note_rate: f64,
    /// Repetitions (C-RNN-GAN): per track, in onset order, the number of 2-, 3- and 4-note pitch
    /// patterns that already occurred earlier in the track, summed over tracks.
    pub repetitions: [usize; 3],
}

/// Computes all metrics of a score.
pub fn compute(score: &Score) -> Metrics {
    let (lowest, highest) = score.pitch_range().unzip();
    Metrics {
        tracks: score.tracks.len(),
        notes: score.note_count(),
        duration_seconds: score.duration_seconds(),
        lowest_pitch: lowest,
        highest_pitch: highest,
        tone_span: highest.zip(lowest).map_or(0, |(h, l)| h - l),
        polyphony_rate: polyphony_rate(score),
        pitch_class_entropy: pitch_class_entropy(score),
        scale_consistency: scale_consistency(score),
        used_pitch_classes_per_bar: bar_statistics(score).0,
        empty_bar_rate: bar_statistics(score).1,
        qualified_note_rate: qualified_note_rate(score),
        repetitions: repetitions(score),
    }
}

/// The metrics the dashboard compares between generated samples and the corpus, by name.
pub fn summary(m: &Metrics) -> Vec<(String, f64)> {
    vec![
        ("pitch-class entropy".into(), m.pitch_class_entropy),
        ("scale consistency".into(), m.scale_consistency),
        ("pitch classes per bar".into(), m.used_pitch_classes_per_bar),
        ("empty-bar rate".into(), m.empty_bar_rate),
        ("polyphony rate".into(), m.polyphony_rate),
        ("qualified-note rate".into(), m.qualified_note_rate),
        ("tone span".into(), f64::from(m.tone_span)),
    ]
}

/// The mean of [`summary`] over several scores (empty for none).
pub fn mean_summary<'a>(scores: impl IntoIterator<Item = &'a Score>) -> Vec<(String, f64)> {
    let mut total: Vec<(String, f64)> = Vec::new();
    let mut count = 0usize;
    for score in scores {
        let values = summary(&compute(score));
        if total.is_empty() {
            total = values;
        } else {
            for (t, (_, v)) in total.iter_mut().zip(values) {
                t.1 += v;
            }
        }
        count += 1;
    }
    for t in &mut total {
        t.1 /= count.max(1) as f64;
    }
    total
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn pitch_class_histogram(score: &Score) -> [usize; 12] {
    let mut histogram = [0usize; 12];
    for note in score.notes() {
        histogram[usize::from(note.pitch % 12)] += 1;
    }
    histogram
}

/// See [`Metrics::pitch_class_entropy`].
pub fn pitch_class_entropy(score: &Score) -> f64 {
    let histogram = pitch_class_histogram(score);
    let total: usize = histogram.iter().sum();
    histogram
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let p = count as f64 / total as f64;
            -p * p.log2()
        })
        .sum::<f64>()
        + 0.0 // One pitch class gives -0.0; adding 0 makes it 0.
}

/// See [`Metrics::scale_consistency`].
pub fn scale_consistency(score: &Score) -> f64 {
    const MAJOR: [usize; 7] = [0, 2, 4, 5, 7, 9, 11];
    let histogram = pitch_class_histogram(score);
    let total: usize = histogram.iter().sum();
    let best = (0..12)
        .map(|root| {
            MAJOR
                .iter()
                .map(|i| histogram[(root + i) % 12])
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0);
    ratio(best, total)
}

/// See [`Metrics::polyphony_rate`].
pub fn polyphony_rate(score: &Score) -> f64 {
    let grid = score.to_grid(super::quantize::SIXTEENTHS_PER_QUARTER);
    let steps = grid.total_steps() as usize;
    let mut pitches_at: Vec<HashSet<u8>> = vec![HashSet::new(); steps];
    for note in grid.tracks.iter().flat_map(|t| t.notes.iter()) {
        let end = (note.start + note.duration) as usize;
        for set in &mut pitches_at[note.start as usize..end.min(steps)] {
            set.insert(note.pitch);
        }
    }
    let sounding = pitches_at.iter().filter(|s| !s.is_empty()).count();
    let polyphonic = pitches_at.iter().filter(|s| s.len() >= 2).count();
    ratio(polyphonic, sounding)
}

/// Returns (used pitch classes per non-empty bar, empty-bar rate).
fn bar_statistics(score: &Score) -> (f64, f64) {
    let end = score.end_tick();
    if end == 0 {
        return (0.0, 0.0);
    }
    let lines = score.bar_lines(end);
    let mut used_total = 0usize;
    let mut filled = 0usize;
    let mut bars = 0usize;
    for pair in lines.windows(2) {
        let (start, stop) = (pair[0], pair[1]);
        if start >= end {
            break;
        }
        bars += 1;
        let classes: HashSet<u8> = score
            .notes()
            .filter(|n| n.start < stop && n.end() > start)
            .map(|n| n.pitch % 12)
            .collect();
        if !classes.is_empty() {
            filled += 1;
            used_total += classes.len();
        }
    }
    (ratio(used_total, filled), ratio(bars - filled, bars))
}

/// See [`Metrics::qualified_note_rate`].
pub fn qualified_note_rate(score: &Score) -> f64 {
    // A 32nd note is an eighth of a quarter; a resolution too coarse to hold one counts 1 tick.
    let threshold = (u64::from(score.ticks_per_quarter) / 8).max(1);
    let qualified = score.notes().filter(|n| n.duration >= threshold).count();
    ratio(qualified, score.note_count())
}

/// See [`Metrics::repetitions`].
pub fn repetitions(score: &Score) -> [usize; 3] {
    let mut counts = [0usize; 3];
    for track in &score.tracks {
        let mut notes: Vec<&Note> = track.notes.iter().collect();
        notes.sort_by_key(|n| (n.start, n.pitch));
        let pitches: Vec<u8> = notes.iter().map(|n| n.pitch).collect();
        for (slot, len) in (2..=4).enumerate() {
            let mut seen = HashSet::new();
            for window in pitches.windows(len) {
                if !seen.insert(window) {
                    counts[slot] += 1;
                }
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::Track;

    fn note(pitch: u8, start: u64, duration: u64) -> Note {
        Note {
            pitch,
            start,
            duration,
            velocity: 80,
        }
    }

    /// Four 4/4 bars at 4 ticks per quarter (1 tick = a 16th): a melody C D E C D E over the
    /// first two bars, an empty third bar, a G filling the fourth; a bass C3 under the first half
    /// bar.
    fn hand_built() -> Score {
        let melody = [60, 62, 64, 60, 62, 64]
            .iter()
            .enumerate()
            .map(|(i, &p)| note(p, 4 * i as u64, 4))
            .chain([note(67, 48, 16)])
            .collect();
        Score::new("hand", 4)
            .with_track(Track::new("melody", melody))
            .with_track(Track::new("bass", vec![note(48, 0, 8)]))
    }

    #[test]
    fn values_worked_out_by_hand() {
        let m = compute(&hand_built());
        assert_eq!(m.tracks, 2);
        assert_eq!(m.notes, 8);
        // 64 ticks = 16 quarters at 120 BPM.
        assert!((m.duration_seconds - 8.0).abs() < 1e-9);
        assert_eq!(
            (m.lowest_pitch, m.highest_pitch, m.tone_span),
            (Some(48), Some(67), 19)
        );
        // Sounding steps: 0..24 and 48..64 = 40; two pitches during 0..8.
        assert!((m.polyphony_rate - 8.0 / 40.0).abs() < 1e-12);
        // Pitch classes C:3, D:2, E:2, G:1 of 8.
        let expected = 3.0 / 8.0 * (8.0f64 / 3.0).log2() + 2.0 * 0.25 * 2.0 + 1.0 / 8.0 * 3.0;
        assert!((m.pitch_class_entropy - expected).abs() < 1e-12);
        assert!((m.scale_consistency - 1.0).abs() < 1e-12);
        // Bars: {C,D,E}, {D,E}, empty, {G} → (3 + 2 + 1) / 3 used, 1 of 4 empty.
        assert!((m.used_pitch_classes_per_bar - 2.0).abs() < 1e-12);
        assert!((m.empty_bar_rate - 0.25).abs() < 1e-12);
        assert!((m.qualified_note_rate - 1.0).abs() < 1e-12);
        // CD, DE repeat once each; CDE repeats once; no 4-note pattern repeats.
        assert_eq!(m.repetitions, [2, 1, 0]);
    }

    #[test]
    fn chromatic_notes_and_short_notes() {
        // At 96 ticks per quarter a 32nd note is 12 ticks; a 6-tick note does not qualify.
        let score = Score::new("c", 96).with_track(Track::new(
            "m",
            vec![note(60, 0, 6), note(61, 6, 90), note(62, 96, 96)],
        ));
        let m = compute(&score);
        assert!((m.qualified_note_rate - 2.0 / 3.0).abs() < 1e-12);
        // No major scale holds three semitones in a row: at best two of C, C#, D fit.
        assert!((m.scale_consistency - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.pitch_class_entropy - 3f64.log2()).abs() < 1e-12);
    }

    #[test]
    fn empty_score_has_zero_metrics() {
        let m = compute(&Score::new("empty", 480));
        assert_eq!(m.notes, 0);
        assert_eq!(m.tone_span, 0);
        assert_eq!(m.empty_bar_rate, 0.0);
        assert_eq!(m.pitch_class_entropy, 0.0);
        assert_eq!(m.repetitions, [0, 0, 0]);
    }
}
