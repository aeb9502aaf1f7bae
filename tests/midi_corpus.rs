//! Every bundled file reads, and survives export and re-import unchanged.

mod common;

use muselab::music::{export_smf, import_smf, read_midi_file};

#[test]
fn corpora_are_bundled_with_provenance() {
    let files = common::all_corpus_files();
    let bach = files
        .iter()
        .filter(|f| f.to_string_lossy().contains("bach_chorales"))
        .count();
    let celtic = files
        .iter()
        .filter(|f| f.to_string_lossy().contains("celtic_oneills"))
        .count();
    assert_eq!(bach, 365);
    assert_eq!(celtic, 1739);
    assert!(common::assets().join("corpora/PROVENANCE.md").is_file());
}

#[test]
fn every_bundled_file_round_trips() {
    let files = common::all_corpus_files();
    assert!(files.len() > 2000);
    for file in &files {
        let score = read_midi_file(file).unwrap_or_else(|e| panic!("{e}"));
        assert!(score.note_count() > 0, "{}: no notes", file.display());
        assert_eq!(score.damage, None, "{}", file.display());
        let bytes = export_smf(&score, &score.name).unwrap_or_else(|e| panic!("{e}"));
        let back = import_smf(&bytes, &score.name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            back.ticks_per_quarter,
            score.ticks_per_quarter,
            "{}",
            file.display()
        );
        assert_eq!(back.tempos, score.tempos, "{}", file.display());
        assert_eq!(
            back.time_signatures,
            score.time_signatures,
            "{}",
            file.display()
        );
        assert_eq!(back.tracks.len(), score.tracks.len(), "{}", file.display());
        for (a, b) in score.tracks.iter().zip(&back.tracks) {
            assert_eq!(a.name, b.name, "{}", file.display());
            assert_eq!(a.notes, b.notes, "{}: track {}", file.display(), a.name);
        }
    }
}

#[test]
fn chorales_have_four_named_voices_on_a_sixteenth_grid() {
    let score = read_midi_file(&common::chorale()).expect("chorale reads");
    let names: Vec<_> = score.tracks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Soprano", "Alto", "Tenor", "Bass"]);
    // The provenance note says quantising chorales to 16ths loses nothing.
    let quantized = score.quantized(4);
    assert_eq!(quantized.tracks, score.tracks);
}
