//! Properties of the synthesiser and of WAV export.

mod common;

use muselab::audio::synth::rendered_len;
use muselab::audio::wav::write_wav_file;
use muselab::audio::{SAMPLE_RATE, SynthOptions, render};
use muselab::music::{Note, Score, Track, read_midi_file};

#[test]
fn empty_score_is_silence_of_release_length() {
    let options = SynthOptions::default();
    let samples = render(&Score::new("empty", 480), &options);
    assert_eq!(samples.len(), options.release_samples());
    assert!(samples.iter().all(|&s| s == 0.0));
}

#[test]
fn length_is_last_note_end_plus_release() {
    let score = Score::new("one", 480).with_track(Track::new(
        "m",
        vec![Note {
            pitch: 69,
            start: 480,
            duration: 960,
            velocity: 100,
        }],
    ));
    let options = SynthOptions::default();
    let samples = render(&score, &options);
    // Ends at 3 quarters = 1.5 s at 120 BPM.
    let expected = (1.5 * f64::from(SAMPLE_RATE)).round() as usize + options.release_samples();
    assert_eq!(samples.len(), expected);
    assert_eq!(rendered_len(&score, &options), expected);
    // Silent before the onset, sounding after it, faded out at the very end.
    assert!(
        samples[..(SAMPLE_RATE as usize / 2)]
            .iter()
            .all(|&s| s == 0.0)
    );
    assert!(
        samples[SAMPLE_RATE as usize..]
            .iter()
            .any(|&s| s.abs() > 0.05)
    );
    assert!(samples.last().is_some_and(|s| s.abs() < 1e-3));
    // Twice the tempo: half the music, same release.
    let fast = SynthOptions {
        tempo_scale: 2.0,
        ..options
    };
    assert_eq!(
        render(&score, &fast).len(),
        (0.75 * f64::from(SAMPLE_RATE)).round() as usize + options.release_samples()
    );
}

#[test]
fn never_clips_even_with_a_dense_cluster() {
    let notes = (40..100)
        .map(|p| Note {
            pitch: p,
            start: 0,
            duration: 480,
            velocity: 127,
        })
        .collect();
    let score = Score::new("cluster", 480).with_track(Track::new("m", notes));
    let samples = render(&score, &SynthOptions::default());
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(peak <= 1.0, "peak {peak}");
    assert!(peak > 0.5, "a loud cluster should be loud, peak {peak}");
}

#[test]
fn no_click_at_note_onset() {
    let score = Score::new("one", 480).with_track(Track::new(
        "m",
        vec![Note {
            pitch: 81,
            start: 0,
            duration: 480,
            velocity: 127,
        }],
    ));
    let samples = render(&score, &SynthOptions::default());
    // The attack ramps up: the first millisecond stays far below the peak.
    let first_ms = samples[..44].iter().fold(0.0f32, |m, s| m.max(s.abs()));
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(first_ms < peak * 0.2, "first ms {first_ms}, peak {peak}");
}

#[test]
fn chorale_renders_and_exports_as_wav() {
    let score = read_midi_file(&common::chorale()).expect("chorale");
    let samples = render(&score, &SynthOptions::default());
    assert!(samples.iter().all(|s| s.abs() <= 1.0));
    let dir = common::temp_dir("wav");
    let path = dir.join("chorale.wav");
    write_wav_file(&samples, &path).expect("wav written");
    let reader = hound::WavReader::open(&path).expect("wav reads");
    assert_eq!(reader.spec().sample_rate, SAMPLE_RATE);
    assert_eq!(reader.spec().channels, 1);
    assert_eq!(reader.len() as usize, samples.len());
}
