//! Each model really learns on a small slice of its corpus (CPU backend): the loss after a few
//! hundred steps is well below the first steps', what it generates is valid music in the
//! corpus's range, the same seed gives the same output, and save → load gives the same output.

mod common;

use burn::tensor::Device;
use muselab::data::load_scores;
use muselab::inference::{GenerateOptions, LoadedModel};
use muselab::models::{ModelKind, Session};
use muselab::music::Score;
use muselab::training::{ModelConfig, RunConfig, build_session, checkpoint};

fn scores(corpus: &str, limit: usize) -> Vec<Score> {
    let dir = muselab::corpus::resolve(&common::assets(), corpus);
    load_scores(&dir, Some(limit)).expect("corpus loads").0
}

/// Trains `steps` steps; returns (mean of the first 10 losses, mean of the last 10).
fn train(session: &mut dyn Session, steps: usize) -> (f64, f64) {
    let losses: Vec<f64> = common::train_steps(session, steps)
        .iter()
        .map(|l| l[0])
        .collect();
    for (step, loss) in losses.iter().enumerate() {
        assert!(loss.is_finite(), "loss {loss} at step {step}");
    }
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    (mean(&losses[..10]), mean(&losses[steps - 10..]))
}

fn config(kind: ModelKind, pieces: usize) -> RunConfig {
    let mut config = RunConfig::new(kind);
    config.max_pieces = Some(pieces);
    config.batch_size = 32;
    config.learning_rate = 2e-3;
    config.seed = 5;
    match &mut config.hyperparameters {
        ModelConfig::Minibach(c) => c.hidden = 128,
        ModelConfig::Autoencoder(c) => c.hidden = 128,
        ModelConfig::Lstm(c) => {
            c.hidden = 64;
            c.sequence = 32;
            c.generate_steps = 64;
        }
        _ => {}
    }
    config
}

/// Trains, checks the loss margin, saves, reloads and checks generation.
fn learns(kind: ModelKind, pieces: usize, steps: usize, margin: f64, melody: Option<Score>) {
    let _rng = common::rng_lock();
    let mut config = config(kind, pieces);
    let scores = scores(&config.corpus, pieces);
    let device = Device::flex();
    device.seed(config.seed);
    let mut session =
        build_session(&mut config, &scores, &device.clone().autodiff()).expect("session");
    let (first, last) = train(session.as_mut(), steps);
    eprintln!(
        "{}: loss {first:.3} → {last:.3} over {steps} steps",
        kind.id()
    );
    assert!(
        last < first * margin,
        "{}: loss {first} → {last}, wanted below {margin} × first",
        kind.id()
    );

    // Validation measures are finite and in range.
    for (name, value) in session.validate() {
        assert!(value.is_finite(), "{name} = {value}");
        if name.contains("accuracy") {
            assert!((0.0..=1.0).contains(&value), "{name} = {value}");
        }
    }

    // Save, load for inference, generate twice with the same seed.
    let dir = common::temp_dir(&format!("learn-{}", kind.id())).join("run");
    checkpoint::write(&dir, &config, &Default::default(), session.as_ref()).expect("checkpoint");
    let (model, _) = LoadedModel::load(&dir, Some(kind), &device).expect("loads");
    let options = GenerateOptions {
        seed: 11,
        temperature: 0.8,
        melody,
        track: None,
        prime_bars: 2,
        chords: None,
    };
    let a = model.generate(&options, &device).expect("generates");
    let b = model.generate(&options, &device).expect("generates");
    assert_eq!(a.tracks, b.tracks, "same seed, same output");
    assert!(
        a.note_count() > 4,
        "{}: only {} notes",
        kind.id(),
        a.note_count()
    );
    let (lo, hi) = a.pitch_range().expect("notes");
    let corpus_lo = scores
        .iter()
        .filter_map(Score::pitch_range)
        .map(|r| r.0)
        .min()
        .unwrap_or(0);
    let corpus_hi = scores
        .iter()
        .filter_map(Score::pitch_range)
        .map(|r| r.1)
        .max()
        .unwrap_or(127);
    assert!(
        lo >= corpus_lo && hi <= corpus_hi,
        "{lo}..{hi} outside {corpus_lo}..{corpus_hi}"
    );
    // The output is valid MIDI.
    let bytes = muselab::music::export_smf(&a, "x").expect("exports");
    muselab::music::import_smf(&bytes, "x").expect("re-imports");

    // A second load gives the same output (save → load is faithful).
    let (again, _) = LoadedModel::load(&dir, Some(kind), &device).expect("loads again");
    assert_eq!(
        again.generate(&options, &device).expect("generates").tracks,
        a.tracks
    );
}

#[test]
fn minibach_learns_and_harmonizes() {
    let melody = muselab::music::read_midi_file(
        &common::assets().join("corpora/celtic_oneills/oneills_0000.mid"),
    )
    .expect("tune");
    learns(ModelKind::Minibach, 40, 300, 0.5, Some(melody.clone()));
}

#[test]
fn autoencoder_learns_to_reconstruct() {
    learns(ModelKind::Autoencoder, 60, 300, 0.5, None);
}

#[test]
fn stacked_autoencoder_learns_to_reconstruct() {
    learns(ModelKind::StackedAutoencoder, 60, 300, 0.6, None);
}

#[test]
fn lstm_learns_next_steps_and_continues_a_tune() {
    let tune = muselab::music::read_midi_file(
        &common::assets().join("corpora/celtic_oneills/oneills_0002.mid"),
    )
    .expect("tune");
    learns(ModelKind::Lstm, 60, 200, 0.6, Some(tune));
}

#[test]
fn wrong_checkpoint_kind_is_refused_clearly() {
    let _rng = common::rng_lock();
    let mut config = config(ModelKind::Autoencoder, 10);
    let scores = scores("bach", 10);
    let device = Device::flex();
    let session = build_session(&mut config, &scores, &device.clone().autodiff()).expect("session");
    let dir = common::temp_dir("wrong-kind").join("run");
    checkpoint::write(&dir, &config, &Default::default(), session.as_ref()).expect("checkpoint");
    let err = LoadedModel::load(&dir, Some(ModelKind::Lstm), &device)
        .err()
        .expect("refused");
    assert!(
        err.contains("autoencoder checkpoint, not a lstm one"),
        "{err}"
    );
    let missing = LoadedModel::load(&dir.join("nope"), None, &device)
        .err()
        .expect("refused");
    assert!(missing.contains("not a muselab checkpoint"), "{missing}");
}
