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

#[test]
fn a_folder_of_folders_is_read_at_every_depth() {
    let root = common::temp_dir("nested-corpus");
    let tunes = common::all_corpus_files();
    let tune = tunes
        .iter()
        .find(|f| f.to_string_lossy().contains("celtic_oneills"))
        .expect("a bundled tune");
    for dir in ["reels", "jigs/slip"] {
        std::fs::create_dir_all(root.join(dir)).expect("folder");
    }
    for place in ["top.mid", "reels/one.mid", "jigs/slip/two.MIDI"] {
        std::fs::copy(tune, root.join(place)).expect("copy");
    }
    std::fs::write(root.join("jigs/broken.mid"), b"MThd not really").expect("write");
    std::fs::write(root.join("reels/notes.txt"), b"not music").expect("write");
    std::fs::create_dir_all(root.join("empty/deeper")).expect("folder");
    // A link back to the root: read once, not forever.
    #[cfg(unix)]
    std::os::unix::fs::symlink(&root, root.join("jigs/slip/loop")).expect("symlink");

    let (scores, skipped) = muselab::data::load_scores(&root, None).expect("reads");
    let names: Vec<&str> = scores.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["jigs/slip/two", "reels/one", "top"]);
    assert_eq!(skipped, 1, "the broken file is counted");
    // The listing the corpus browser shows is the same, and a limit takes the first in order.
    let listed = muselab::corpus::list_midi_files(&root).expect("lists");
    assert_eq!(listed.len(), 4);
    let (first, _) = muselab::data::load_scores(&root, Some(2)).expect("reads");
    assert_eq!(
        first.len(),
        1,
        "the second of the first two is the broken file"
    );

    let empty = muselab::data::load_scores(&root.join("empty"), None).expect_err("no music");
    assert!(empty.contains("no readable MIDI file"), "{empty}");
}

#[test]
fn a_parsed_corpus_is_cached_and_a_changed_file_is_read_again() {
    use std::sync::Mutex;
    let root = common::temp_dir("cached-corpus");
    let cache = common::temp_dir("corpus-cache");
    let tunes: Vec<_> = common::all_corpus_files()
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("celtic_oneills"))
        .take(4)
        .collect();
    std::fs::create_dir_all(root.join("reels")).expect("folder");
    for (tune, place) in tunes.iter().zip(["a.mid", "b.mid", "reels/c.mid"]) {
        std::fs::copy(tune, root.join(place)).expect("copy");
    }
    std::fs::write(root.join("broken.mid"), b"MThd not really").expect("write");
    // Loads the folder; returns the scores, the skipped count and how many files came from
    // the cache, and checks that progress counted every file.
    let load = || {
        let last = Mutex::new((0, 0));
        let progress = |done: usize, total: usize| {
            let mut last = last.lock().unwrap();
            *last = (last.0.max(done), total);
        };
        let loaded =
            muselab::data::load_scores_with(&root, None, Some(&cache), &progress).expect("reads");
        let (done, total) = last.into_inner().unwrap();
        assert_eq!(done, total, "progress reached the end");
        (loaded.scores, loaded.skipped, loaded.from_cache)
    };
    let (parsed, skipped, hits) = load();
    assert_eq!((parsed.len(), skipped, hits), (3, 1, 0));
    assert!(
        std::fs::read_dir(&cache).expect("cache folder").count() == 1,
        "one cache file for the folder"
    );
    // The second load reads every file from the cache and gives the same scores, the broken
    // file's verdict included.
    let (cached, skipped, hits) = load();
    assert_eq!((skipped, hits), (1, 4));
    assert_eq!(cached, parsed);
    // A file replaced by another tune is parsed again; a removed one is gone.
    std::fs::copy(&tunes[3], root.join("b.mid")).expect("copy");
    std::fs::remove_file(root.join("a.mid")).expect("remove");
    let (changed, _, hits) = load();
    assert_eq!(hits, 2, "the nested tune and the broken file are unchanged");
    let fresh = read_midi_file(&tunes[3]).expect("reads");
    let names: Vec<&str> = changed.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["b", "reels/c"]);
    assert_eq!(changed[0].tracks, fresh.tracks);
    assert_eq!(changed[1], parsed[2]);
    // A damaged cache is ignored and rewritten, never an error.
    for file in std::fs::read_dir(&cache).expect("cache folder") {
        std::fs::write(file.expect("entry").path(), b"not CBOR").expect("write");
    }
    let (again, _, hits) = load();
    assert_eq!(hits, 0);
    assert_eq!(again, changed);
    assert_eq!(load().2, 3, "rewritten");
}
