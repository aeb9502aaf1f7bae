//! Note lengths of piano rolls: how long a unit stays on once it starts, as a histogram, and
//! how much two such histograms share — the C-RBM's check that steering keeps the corpus's
//! held notes instead of breaking them into repeated ones.

/// Longest length counted apart, in frames; longer notes share the last bin.
pub const MAX_LENGTH: usize = 16;

/// The share of notes of each length 1..=[`MAX_LENGTH`] (index 0: one frame) in rolls given
/// frame by frame (`rolls[piece][frame][unit]`, on where above 0.5). A note cut by a roll's end
/// counts with the length it has there. All zeros where no unit ever sounds.
pub fn length_histogram(rolls: &[Vec<Vec<f32>>]) -> Vec<f64> {
    let mut counts = vec![0.0; MAX_LENGTH];
    for frames in rolls {
        let units = frames.first().map_or(0, Vec::len);
        for unit in 0..units {
            let mut run = 0usize;
            for frame in frames.iter().map(|f| f.get(unit).copied().unwrap_or(0.0)) {
                if frame > 0.5 {
                    run += 1;
                } else if run > 0 {
                    counts[run.min(MAX_LENGTH) - 1] += 1.0;
                    run = 0;
                }
            }
            if run > 0 {
                counts[run.min(MAX_LENGTH) - 1] += 1.0;
            }
        }
    }
    let total: f64 = counts.iter().sum();
    if total > 0.0 {
        counts.iter_mut().for_each(|c| *c /= total);
    }
    counts
}

/// The overlap of two length histograms: Σ min(p, q), 1 where they are the same, 0 where they
/// share no length.
pub fn histogram_overlap(p: &[f64], q: &[f64]) -> f64 {
    p.iter().zip(q).map(|(a, b)| a.min(*b)).sum()
}

/// The mean note length in frames of a histogram (lengths past [`MAX_LENGTH`] count as it).
pub fn mean_length(histogram: &[f64]) -> f64 {
    histogram
        .iter()
        .enumerate()
        .map(|(i, share)| (i + 1) as f64 * share)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roll(unit: &[u8]) -> Vec<Vec<f32>> {
        unit.iter().map(|&on| vec![f32::from(on)]).collect()
    }

    #[test]
    fn held_and_repeated_notes_have_different_lengths() {
        let held = length_histogram(&[roll(&[1, 1, 1, 1, 0, 1, 1, 1, 1])]);
        assert_eq!(held[3], 1.0);
        assert_eq!(mean_length(&held), 4.0);
        let repeated = length_histogram(&[roll(&[1, 0, 1, 0, 1, 0, 1, 1, 0])]);
        assert!((repeated[0] - 0.75).abs() < 1e-12 && (repeated[1] - 0.25).abs() < 1e-12);
        assert_eq!(histogram_overlap(&held, &held), 1.0);
        assert_eq!(histogram_overlap(&held, &repeated), 0.0);
        assert_eq!(length_histogram(&[roll(&[0, 0])]), vec![0.0; MAX_LENGTH]);
    }
}
