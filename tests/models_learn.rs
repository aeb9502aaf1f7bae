//! Each model really learns on a small slice of its corpus (CPU backend): on held-out pieces it
//! predicts better than the unigram baseline (NLL) and, where a short run can, finds more note
//! onsets than the Markov baseline; what it generates is valid music in the corpus's range, the
//! same seed gives the same output, and save → load gives the same output.

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

/// Trains `steps` steps; every loss must be finite.
fn train(session: &mut dyn Session, steps: usize) {
    for (step, losses) in common::train_steps(session, steps).iter().enumerate() {
        assert!(losses[0].is_finite(), "loss {} at step {step}", losses[0]);
    }
}

/// What a short run must show on the held-out pieces: its NLL per step below the unigram's by
/// `nll_margin` nats, and (where a short run gets there) its onset accuracy above the Markov
/// chain's by `onset_margin`. Measured, then asserted a little below.
struct Expect {
    nll_margin: f64,
    onset_margin: Option<f64>,
}

fn config(kind: ModelKind, pieces: usize) -> RunConfig {
    let mut config = RunConfig::new(kind);
    config.max_pieces = Some(pieces);
    config.batch_size = 32;
    config.learning_rate = 2e-3;
    config.seed = 5;
    match &mut config.hyperparameters {
        ModelConfig::Minibach(c) => c.hidden = 128,
        ModelConfig::DeepBach(c) => {
            c.hidden = 24;
            c.embedding = 8;
            c.context = 8;
            c.sweeps = 4;
        }
        ModelConfig::Autoencoder(c) => c.hidden = 128,
        ModelConfig::Vrae(c) => c.hidden = 96,
        ModelConfig::Lstm(c) => {
            c.hidden = 64;
            c.sequence = 32;
            c.generate_steps = 64;
        }
        _ => {}
    }
    config
}

/// Trains, checks the held-out measures against the baselines, saves, reloads and checks
/// generation; returns the generated piece.
fn learns(
    kind: ModelKind,
    pieces: usize,
    steps: usize,
    expect: Expect,
    melody: Option<Score>,
) -> (Score, RunConfig) {
    let _rng = common::rng_lock();
    let mut config = config(kind, pieces);
    let scores = scores(&config.corpus, pieces);
    let device = Device::flex();
    device.seed(config.seed);
    let mut session =
        build_session(&mut config, &scores, &device.clone().autodiff()).expect("session");
    train(session.as_mut(), steps);

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
    let [model, unigram, markov] = common::predictive(&common::evaluate(&dir));
    assert!(
        model.nll_per_step < unigram.nll_per_step - expect.nll_margin,
        "{}: held-out NLL {} against the unigram's {}",
        kind.id(),
        model.nll_per_step,
        unigram.nll_per_step
    );
    if let Some(margin) = expect.onset_margin {
        assert!(
            model.onset_accuracy > markov.onset_accuracy + margin,
            "{}: onset accuracy {} against the Markov chain's {}",
            kind.id(),
            model.onset_accuracy,
            markov.onset_accuracy
        );
    }
    let (model, _) = LoadedModel::load(&dir, Some(kind), &device).expect("loads");
    let options = GenerateOptions {
        seed: 11,
        temperature: 0.8,
        melody,
        track: None,
        prime_bars: 2,
        chords: None,
        ..Default::default()
    };
    let a = model.generate(&options, &device).expect("generates");
    let b = model.generate(&options, &device).expect("generates");
    assert_eq!(a.tracks, b.tracks, "same seed, same output");
    // (A range check would hold by construction: tokens only name pitches of the range. The
    // held-out measures above are what can fail.) Another seed writes something else.
    let other = GenerateOptions {
        seed: 12,
        ..options.clone()
    };
    assert_ne!(
        model.generate(&other, &device).expect("generates").tracks,
        a.tracks,
        "{}: the seed changes nothing",
        kind.id()
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
    (a, config)
}

/// The tokens of a score's first track with notes, over `steps` steps.
fn first_track_tokens(
    score: &Score,
    steps: usize,
    range: &muselab::data::PitchRange,
) -> Vec<usize> {
    let grid = score.to_grid(4);
    let track =
        muselab::data::encoding::pick_track(&grid.tracks, None).expect("a track with notes");
    muselab::data::encoding::voice_tokens(&track.notes, 0, steps, range)
}

#[test]
fn minibach_learns_and_harmonizes() {
    let melody = muselab::music::read_midi_file(
        &common::assets().join("corpora/celtic_oneills/oneills_0000.mid"),
    )
    .expect("tune");
    let expect = Expect {
        // Measured here: NLL 0.694 against the unigram's 1.104; onset accuracy 0.133 stays
        // below the soprano-conditioned Markov chain's 0.235 after 300 steps, so it is not
        // asserted.
        nll_margin: 0.3,
        onset_margin: None,
    };
    let (harmonized, config) = learns(ModelKind::Minibach, 40, 300, expect, Some(melody.clone()));
    // Four voices, and the soprano is the melody given (moved by octaves into its range).
    assert_eq!(harmonized.tracks.len(), 4);
    let muselab::training::Vocabulary::Voices(ranges) = config.vocabulary else {
        panic!("mini-bach has voice ranges");
    };
    let steps = melody.to_grid(4).total_steps() as usize;
    let soprano = &ranges.0[0];
    let given = first_track_tokens(&melody, steps, soprano);
    assert!(given.iter().any(|&t| t > 1), "the melody has notes");
    assert_eq!(first_track_tokens(&harmonized, steps, soprano), given);
}

#[test]
fn deepbach_learns_from_the_context_and_keeps_the_melody() {
    let melody = muselab::music::read_midi_file(
        &common::assets().join("corpora/celtic_oneills/oneills_0000.mid"),
    )
    .expect("tune");
    let expect = Expect {
        // Measured here: held-out NLL 0.650 against the unigram's 1.052 after 800 steps of a
        // small network (24 units); its onset accuracy, 0.147, stays below the
        // soprano-conditioned Markov chain's 0.251 this early, so it is not asserted.
        nll_margin: 0.3,
        onset_margin: None,
    };
    let (harmonized, config) = learns(ModelKind::DeepBach, 30, 800, expect, Some(melody.clone()));
    assert_eq!(harmonized.tracks.len(), 4);
    let muselab::training::Vocabulary::Voices(ranges) = config.vocabulary else {
        panic!("DeepBach has voice ranges");
    };
    // The soprano is the melody, note for note.
    let steps = melody.to_grid(4).total_steps() as usize;
    let given = first_track_tokens(&melody, steps, &ranges.0[0]);
    assert_eq!(first_track_tokens(&harmonized, steps, &ranges.0[0]), given);
}

#[test]
fn autoencoder_learns_to_reconstruct() {
    let expect = Expect {
        // Measured here: NLL 0.704 against the unigram's 1.070, onset accuracy 0.086 against
        // the Markov chain's 0.012 (a reconstruction sees its input: after 300 steps it
        // still gets most onsets wrong, but far more of them than counting does).
        nll_margin: 0.25,
        onset_margin: Some(0.05),
    };
    learns(ModelKind::Autoencoder, 60, 300, expect, None);
}

#[test]
fn stacked_autoencoder_learns_to_reconstruct() {
    let expect = Expect {
        // Measured here: NLL 0.631 against 1.070, onset accuracy 0.128 against 0.012.
        nll_margin: 0.3,
        onset_margin: Some(0.08),
    };
    learns(ModelKind::StackedAutoencoder, 60, 300, expect, None);
}

#[test]
fn sparse_autoencoder_learns_to_reconstruct_with_a_sparse_code() {
    let expect = Expect {
        // Measured here: NLL 0.820 against 1.070, onset accuracy 0.062 against 0.012.
        nll_margin: 0.2,
        onset_margin: Some(0.03),
    };
    learns(ModelKind::SparseAutoencoder, 60, 300, expect, None);
}

/// The sparsity penalty pulls each code unit's mean activation ρ̂ from one half (sigmoid at
/// zero) to its target ρ.
#[test]
fn sparse_code_activation_moves_toward_its_target() {
    let activation = |sparsity_weight: f64| -> (Option<f64>, Option<f64>) {
        let _rng = common::rng_lock();
        let mut config = config(ModelKind::SparseAutoencoder, 60);
        if let ModelConfig::Autoencoder(c) = &mut config.hyperparameters {
            c.code = 128;
            c.sparsity_target = 0.05;
            c.sparsity_weight = sparsity_weight;
        }
        let scores = scores(&config.corpus, 60);
        let device = Device::flex();
        device.seed(config.seed);
        let mut session =
            build_session(&mut config, &scores, &device.clone().autodiff()).expect("session");
        let measure = |values: Vec<(String, f64)>| {
            values
                .into_iter()
                .find(|(n, _)| n == "mean code activation ρ̂")
                .map(|(_, v)| v)
        };
        let before = measure(session.validate());
        train(session.as_mut(), 200);
        (before, measure(session.validate()))
    };
    let (before, after) = activation(3.0);
    let (before, after) = (before.expect("ρ̂"), after.expect("ρ̂"));
    eprintln!("mean code activation ρ̂: {before:.3} before, {after:.3} after (target 0.05)");
    assert!(
        (before - 0.05).abs() > 0.3,
        "starts near one half: {before}"
    );
    assert!((after - 0.05).abs() < 0.05, "ends near the target: {after}");
}

#[test]
fn vrae_learns_to_reconstruct_through_its_latent() {
    let expect = Expect {
        // Measured here: NLL 1.319 against the unigram's 1.496, onset accuracy 0.064 against
        // the Markov chain's 0.018 (the unigram's is 0) — through a 2-D latent and a decoder
        // that never sees the true tokens. Since the importer stopped letting the Celtic
        // files' grace notes hang (more, shorter notes): onset accuracy 0.051 against 0.022.
        nll_margin: 0.12,
        onset_margin: Some(0.02),
    };
    learns(ModelKind::Vrae, 120, 400, expect, None);
}

#[test]
fn lstm_learns_next_steps_and_continues_a_tune() {
    let tune = muselab::music::read_midi_file(
        &common::assets().join("corpora/celtic_oneills/oneills_0002.mid"),
    )
    .expect("tune");
    let expect = Expect {
        // Measured here: NLL 1.398 against the unigram's 1.561. 200 steps of a 64-unit LSTM
        // do not reach the Markov chain (1.312, onset accuracy 0.021 against its 0.000): a
        // short run cannot, a default run does (see the README's evaluation table).
        nll_margin: 0.1,
        onset_margin: None,
    };
    let (continued, config) = learns(ModelKind::Lstm, 60, 200, expect, Some(tune.clone()));
    // The continuation starts with the two bars it was primed with.
    let muselab::training::Vocabulary::Melody(range) = config.vocabulary else {
        panic!("the LSTM has a melody range");
    };
    let primed = first_track_tokens(&tune, 32, &range);
    assert!(primed.iter().any(|&t| t > 1), "the tune opens with notes");
    assert_eq!(first_track_tokens(&continued, 32, &range), primed);
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
