//! The polyphonic benchmarks: the bundled files read the same in all three formats and hold the
//! standard split; hostile files are errors; the per-key Bernoulli reproduces the data
//! README's figure; an RNN-NADE or LSTM that learned nothing scores no better than the
//! Bernoulli, one trained on a slice beats it.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use burn::tensor::Device;
use muselab::benchmarks::{BenchModel, Benchmark, BenchmarkOptions, run};

fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/benchmarks")
        .join(name)
}

fn measure(data: &Benchmark, options: &BenchmarkOptions) -> run::BenchmarkReport {
    run::run(
        data,
        options,
        &Device::flex(),
        "CPU",
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .expect("benchmark runs")
}

#[test]
fn the_three_formats_hold_the_same_standard_split() {
    let pickle = Benchmark::read(&asset("JSB Chorales.pickle")).unwrap();
    let json = Benchmark::read(&asset("JSB Chorales.json")).unwrap();
    let mat = Benchmark::read(&asset("JSB_Chorales.mat")).unwrap();
    for other in [&json, &mat] {
        assert_eq!(pickle.train, other.train);
        assert_eq!(pickle.valid, other.valid);
        assert_eq!(pickle.test, other.test);
    }
    let counts = |b: &Benchmark| {
        (
            [b.train.len(), b.valid.len(), b.test.len()],
            [
                Benchmark::steps(&b.train),
                Benchmark::steps(&b.valid),
                Benchmark::steps(&b.test),
            ],
        )
    };
    assert_eq!(counts(&pickle), ([229, 76, 77], [13_807, 4_602, 4_725]));
    let nottingham = Benchmark::read(&asset("Nottingham.mat")).unwrap();
    assert_eq!(
        counts(&nottingham),
        ([694, 173, 170], [176_561, 45_513, 44_463])
    );
}

#[test]
fn hostile_and_wrong_files_are_clear_errors() {
    let dir = std::env::temp_dir().join(format!("muselab-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let error = |path: &Path| Benchmark::read(path).unwrap_err().to_string();
    let hostile = write(
        "hostile.pickle",
        b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.",
    );
    assert!(
        error(&hostile).contains("only plain data"),
        "{}",
        error(&hostile)
    );
    let list = write("list.pickle", b"\x80\x02]q\x00.");
    assert!(error(&list).contains("expected a dict"));
    let mat = std::fs::read(asset("JSB_Chorales.mat")).unwrap();
    let cut = write("cut.mat", &mat[..2000]);
    assert!(!error(&cut).is_empty());
    let high = write(
        "high.json",
        br#"{"train":[[[60]]],"valid":[[[60]]],"test":[[[120]]]}"#,
    );
    assert!(error(&high).contains("outside the piano"));
    assert!(error(&dir.join("missing.pickle")).contains("cannot read"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_bernoulli_baseline_scores_the_published_sanity_figure() {
    let jsb = Benchmark::read(&asset("JSB Chorales.pickle")).unwrap();
    let report = measure(&jsb, &BenchmarkOptions::new(BenchModel::Bernoulli));
    // ../shared/data/benchmarks/README.md: a per-key Bernoulli fitted on train scores 11.06.
    assert!(
        (report.test_nll - 11.06).abs() < 0.02,
        "test NLL {}",
        report.test_nll
    );
    assert_eq!(report.test_steps, 4_725);
}

/// The Bernoulli, `options` untrained and `options` trained 12 epochs on a 24-piece JSB slice
/// (the same seed), printed side by side.
fn before_and_after(name: &str, mut options: BenchmarkOptions) -> [run::BenchmarkReport; 3] {
    let _guard = muselab::training::RNG_GUARD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let jsb = Benchmark::read(&asset("JSB Chorales.pickle"))
        .unwrap()
        .slice(24, 64);
    let bernoulli = measure(&jsb, &BenchmarkOptions::new(BenchModel::Bernoulli));
    options.batch = 4;
    options.learning_rate = 1e-2;
    options.patience = 0;
    options.epochs = 0;
    let untrained = measure(&jsb, &options);
    options.epochs = 12;
    let trained = measure(&jsb, &options);
    eprintln!(
        "JSB slice test NLL: Bernoulli {:.3}, untrained {name} {:.3}, trained {:.3} (valid {:.3}, epoch {})",
        bernoulli.test_nll,
        untrained.test_nll,
        trained.test_nll,
        trained.valid_nll,
        trained.best_epoch
    );
    [bernoulli, untrained, trained]
}

#[test]
fn an_rnn_nade_trained_on_a_slice_beats_the_bernoulli_an_untrained_one_does_not() {
    let mut options = BenchmarkOptions::new(BenchModel::RnnNade);
    options.hidden = 24;
    options.recurrent = 16;
    let [bernoulli, untrained, trained] = before_and_after("RNN-NADE", options);
    assert!(untrained.test_nll > bernoulli.test_nll - 0.05);
    assert!(trained.test_nll < bernoulli.test_nll - 0.3);
    assert!(trained.test_acc >= untrained.test_acc);
}

#[test]
fn an_lstm_trained_on_a_slice_beats_the_bernoulli_an_untrained_one_does_not() {
    let mut options = BenchmarkOptions::new(BenchModel::Lstm);
    options.hidden = 32;
    let [bernoulli, untrained, trained] = before_and_after("LSTM", options);
    assert!(untrained.test_nll > bernoulli.test_nll - 0.05);
    assert!(trained.test_nll < bernoulli.test_nll - 0.3);
    assert!(trained.test_acc > untrained.test_acc);
}

#[test]
fn a_benchmark_file_is_a_corpus_that_holds_out_valid_pieces_only() {
    let path = asset("JSB Chorales.pickle");
    let data = Benchmark::read(&path).unwrap();
    let (scores, skipped) = muselab::data::load_scores(&path, None).unwrap();
    assert_eq!(skipped, 0);
    // Nine train pieces, then one valid piece: 229 train and 229 / 9 = 25 valid.
    assert_eq!(scores.len(), 229 + 25);
    let held = muselab::data::held_out_names(&scores);
    assert_eq!(held.len(), 25);
    assert!(held.iter().all(|n| n.contains(" valid ")), "{held:?}");
    assert!(!scores.iter().any(|s| s.name.contains(" test ")));
    // The notes give back the frames, one quarter note per step.
    let quarter = u64::from(scores[0].ticks_per_quarter);
    for (score, piece) in scores
        .iter()
        .filter(|s| s.name.contains(" train "))
        .zip(&data.train)
    {
        let mut frames = vec![Vec::new(); piece.len()];
        for note in &score.tracks[0].notes {
            for t in note.start / quarter..note.end() / quarter {
                frames[t as usize].push(note.pitch);
            }
        }
        frames.iter_mut().for_each(|f| f.sort_unstable());
        assert_eq!(&frames, piece, "{}", score.name);
    }
}

#[test]
fn the_readme_table_is_the_table_of_the_saved_reports() {
    use muselab::benchmarks::results;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (reports, errors) = results::read_all(&root.join("models/benchmarks"));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        !reports.is_empty(),
        "models/benchmarks holds the README's reports"
    );
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert_eq!(
        results::table_in_readme(&readme),
        Some(results::markdown_table(&reports).as_str()),
        "the README's benchmark table is out of date: run `muselab benchmark-table --readme README.md`"
    );
}
