//! No input may panic the MIDI importer: random bytes, truncations and bit flips of real files
//! all give either a score or an error that names the file.

mod common;

use muselab::music::{MidiError, import_smf, read_midi_file};
use proptest::prelude::*;

fn corpus_samples() -> Vec<Vec<u8>> {
    let files = common::all_corpus_files();
    // A spread of files from both corpora.
    files
        .iter()
        .step_by(97)
        .map(|f| std::fs::read(f).expect("read corpus file"))
        .collect()
}

fn check(bytes: &[u8]) {
    match import_smf(bytes, "fuzz.mid") {
        Ok(score) => {
            // Whatever was read is usable downstream.
            let _ = muselab::music::metrics::compute(&score);
            let _ = muselab::music::export_smf(&score, "fuzz.mid");
        }
        Err(e) => assert!(e.to_string().starts_with("fuzz.mid: "), "{e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn random_bytes_after_a_valid_header_never_panic(
        tracks in 0u16..4, tpq in any::<u16>(), body in proptest::collection::vec(any::<u8>(), 0..512)
    ) {
        let mut bytes = b"MThd\0\0\0\x06\0\x01".to_vec();
        bytes.extend(tracks.to_be_bytes());
        bytes.extend(tpq.to_be_bytes());
        bytes.extend(b"MTrk");
        bytes.extend((body.len() as u32).to_be_bytes());
        bytes.extend(body);
        check(&bytes);
    }

    #[test]
    fn truncated_corpus_files_never_panic(file in 0usize..22, cut in 0.0f64..1.0) {
        let samples = corpus_samples();
        let bytes = &samples[file % samples.len()];
        check(&bytes[..(bytes.len() as f64 * cut) as usize]);
    }

    #[test]
    fn bit_flipped_corpus_files_never_panic(
        file in 0usize..22,
        flips in proptest::collection::vec((0.0f64..1.0, 0u8..8), 1..16)
    ) {
        let samples = corpus_samples();
        let mut bytes = samples[file % samples.len()].clone();
        let len = bytes.len();
        for (at, bit) in flips {
            let i = ((len as f64 * at) as usize).min(len - 1);
            bytes[i] ^= 1 << bit;
        }
        check(&bytes);
    }
}

#[test]
fn every_truncation_of_one_file_is_handled() {
    let bytes = std::fs::read(common::chorale()).expect("chorale");
    for len in 0..bytes.len() {
        check(&bytes[..len]);
    }
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = read_midi_file(std::path::Path::new("/no/such/piece.mid")).unwrap_err();
    assert!(matches!(err, MidiError::Io { .. }));
    assert!(err.to_string().contains("/no/such/piece.mid"), "{err}");
}

/// A format-0 file of one track with these events (delta-time bytes included), 96 ticks per
/// quarter note.
fn tiny_file(events: &[u8]) -> Vec<u8> {
    let mut bytes = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk".to_vec();
    let mut track = events.to_vec();
    track.extend_from_slice(&[0x00, 0xFF, 0x2F, 0x00]);
    bytes.extend_from_slice(&(track.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&track);
    bytes
}

/// Files of a few dozen bytes that declare pieces of days: a note held for 2^28 − 1 ticks, and
/// a tempo of 16.7 s per quarter note. Each is refused at once with a message saying how long
/// the piece is, before any later stage allocates in proportion to its length.
#[test]
fn tiny_files_that_last_for_days_are_refused_quickly() {
    let held = tiny_file(&[
        0x00, 0x90, 0x3C, 0x40, // note on C4
        0xFF, 0xFF, 0xFF, 0x7F, 0x80, 0x3C, 0x40, // off 2^28 − 1 ticks later
    ]);
    let slow = tiny_file(&[
        0x00, 0xFF, 0x51, 0x03, 0xFF, 0xFF, 0xFF, // tempo: 16.7 s per quarter
        0x00, 0x90, 0x3C, 0x40, // note on
        0x83, 0x60, 0x80, 0x3C, 0x40, // off 480 ticks (5 quarters) later… then many more
        0xFF, 0xFF, 0x7F, 0x90, 0x3E, 0x40, // a note 2^21 ticks later
        0x60, 0x80, 0x3E, 0x40,
    ]);
    for (name, bytes) in [("held.mid", held), ("slow.mid", slow)] {
        assert!(bytes.len() < 64, "{name} is tiny");
        let started = std::time::Instant::now();
        let error = import_smf(&bytes, name).expect_err("refused");
        assert!(started.elapsed().as_secs_f64() < 1.0, "{name} took long");
        assert!(
            matches!(error, MidiError::TooLong { .. }),
            "{name}: {error}"
        );
        assert!(error.to_string().contains("2 hours"), "{error}");
    }
    // A short piece of the same shape is read.
    let short = tiny_file(&[0x00, 0x90, 0x3C, 0x40, 0x60, 0x80, 0x3C, 0x40]);
    assert_eq!(
        import_smf(&short, "short.mid").expect("reads").note_count(),
        1
    );
}

/// A MIDI variable-length quantity.
fn vlq(mut value: u32) -> Vec<u8> {
    let mut out = vec![(value & 0x7F) as u8];
    value >>= 7;
    while value > 0 {
        out.insert(0, 0x80 | (value & 0x7F) as u8);
        value >>= 7;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Tiny files built to ask for much: huge delta times (up to 2^28 − 1 ticks), slow tempos
    /// (up to 16.7 s a quarter), a coarse resolution, notes never released. Each is refused or
    /// read into a score whose later stages — the grid, metrics, token encodings, audio length —
    /// stay within the documented limits.
    #[test]
    fn tiny_files_that_ask_for_much_stay_bounded(
        tpq in 1u16..2000,
        events in proptest::collection::vec((0u32..(1 << 28), 0u8..16, 0u8..128, 1u32..(1 << 24)), 1..60)
    ) {
        let mut bytes = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01".to_vec();
        bytes.extend(tpq.to_be_bytes());
        bytes.extend(b"MTrk");
        let mut track = Vec::new();
        for (delta, kind, pitch, tempo) in events {
            // Mostly short gaps, some long, a few huge.
            let delta = match kind {
                15 => delta,
                12..=14 => delta % (1 << 16),
                _ => delta % 512,
            };
            track.extend(vlq(delta));
            match kind {
                0..=5 | 12..=15 => track.extend([0x90, pitch, 64]),
                6..=9 => track.extend([0x80, pitch, 0]),
                _ => track.extend([0xFF, 0x51, 0x03, (tempo >> 16) as u8, (tempo >> 8) as u8, tempo as u8]),
            }
        }
        track.extend([0x00, 0xFF, 0x2F, 0x00]);
        bytes.extend((track.len() as u32).to_be_bytes());
        bytes.extend(track);
        match import_smf(&bytes, "fuzz.mid") {
            Ok(score) => {
                prop_assert!(score.duration_seconds() <= muselab::music::midi::MAX_PIECE_SECONDS);
                let grid = score.to_grid(4);
                let steps = grid.tracks.iter().flat_map(|t| &t.notes).map(|n| n.start + n.duration).max().unwrap_or(0);
                prop_assert!(u64::from(steps) <= muselab::music::midi::MAX_PIECE_STEPS + 1);
                let _ = muselab::music::metrics::compute(&score);
                let range = muselab::data::encoding::PitchRange { low: 0, high: 127 };
                for track in &grid.tracks {
                    let tokens = muselab::data::encoding::voice_tokens(&track.notes, 0, steps as usize, &range);
                    prop_assert_eq!(tokens.len(), steps as usize);
                }
                let slow = muselab::audio::SynthOptions { tempo_scale: 0.11, ..Default::default() };
                let samples = muselab::audio::synth::rendered_len(&score, &slow);
                prop_assert!(samples as f64 <= (muselab::audio::MAX_RENDER_SECONDS + 10.0) * 44_100.0);
                let long = muselab::audio::check_render_length(&score, &slow);
                prop_assert_eq!(long.is_ok(), score.duration_seconds() / 0.11 <= muselab::audio::MAX_RENDER_SECONDS);
            }
            Err(e) => prop_assert!(e.to_string().starts_with("fuzz.mid: "), "{}", e),
        }
    }
}
