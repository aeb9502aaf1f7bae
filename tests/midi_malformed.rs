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
