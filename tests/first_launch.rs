//! The first launch of a fresh clone, clicked through with egui_kittest: the shipped runs are
//! listed (nothing trained), the "Start here" panel harmonizes a Celtic tune with the shipped
//! mini-bach, the latent map opens on the shipped VAE and a click on it plays a decoded melody.

mod common;

use std::path::PathBuf;

use common::gui::{click_map_until_decoded, harness_of, step_until};
use egui_kittest::kittest::Queryable;
use muselab::app::{AppConfig, MuseApp, Settings, View};
use muselab::audio::AudioOutput;
use muselab::models::ModelKind;

fn shipped() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

#[test]
fn the_first_launch_harmonizes_and_plays_the_latent_map_without_training() {
    let user = common::temp_dir("first-launch-user");
    let app = MuseApp::new(AppConfig {
        assets: common::assets(),
        settings: Settings::default(),
        audio: AudioOutput::disabled("disabled in tests"),
        probe_device: false,
        open: None,
        models_dir: user.clone(),
        shipped_dir: Some(shipped()),
        start_training: None,
        latent_map: None,
        gibbs: None,
        anticipation: None,
        sound: muselab::audio::SoundChoice::builtin(),
    });
    let mut harness = harness_of(app, 800.0);
    step_until(&mut harness, "the shipped runs and the corpora", |app| {
        app.dashboard.runs.len() >= ModelKind::ALL.len() && app.corpora.len() == 2
    });
    let runs = &harness.state().dashboard.runs;
    assert!(
        runs.iter().all(|r| r.shipped),
        "the user has trained nothing"
    );
    for kind in ModelKind::ALL {
        assert!(
            runs.iter().any(|r| r.model == kind),
            "no shipped {} run",
            kind.id()
        );
    }

    // Start here → Harmonize a Celtic tune: the tune opens, the shipped mini-bach writes
    // three voices under it.
    harness.get_by_label("Harmonize a Celtic tune").click();
    step_until(&mut harness, "the harmonisation", |app| {
        app.score.as_ref().is_some_and(|s| s.tracks.len() == 4) && !app.generating
    });
    let chorale = harness.state().score.clone().expect("a harmonisation");
    assert!(chorale.tracks.iter().all(|t| !t.notes.is_empty()));
    // What the model wrote plays on the organ (General MIDI), not on program 0.
    assert!(
        chorale
            .tracks
            .iter()
            .all(|t| t.program == muselab::music::instruments::CHURCH_ORGAN)
    );

    // The shipped runs generate from the dashboard: the LSTM continues the open piece, MidiNet
    // writes over a chord progression.
    harness.get_by_label("Training").click();
    harness.run_steps(2);
    for (run, button, tracks) in [
        ("lstm · shipped", "Continue the open piece", 1),
        ("midinet · shipped", "Generate over these chords", 2),
    ] {
        // (The list of sixteen runs is longer than the window: clicked through accessibility.)
        harness.get_by_label(run).click_accesskit();
        harness.run_steps(2);
        let before = harness.state().score.clone();
        harness.get_by_label(button).click_accesskit();
        step_until(&mut harness, button, |app| {
            !app.generating && app.score != before && app.score.is_some()
        });
        let score = harness.state().score.clone().expect("a piece");
        assert_eq!(score.tracks.len(), tracks, "{run}");
        assert!(score.note_count() > 0, "{run}");
        harness.get_by_label("Training").click();
        harness.run_steps(2);
    }

    // Start here → Click the latent map: it opens on the shipped VAE by itself.
    harness.get_by_label("Click the latent map").click();
    harness.run_steps(2);
    assert_eq!(harness.state().settings.view, View::LatentMap);
    step_until(&mut harness, "the shipped VAE's map", |app| {
        app.map.dots.len() > 100
    });
    let loaded = harness.state().map.loaded.clone().expect("a run").0;
    assert!(
        loaded.starts_with(shipped().join("vae")),
        "{}",
        loaded.display()
    );

    // Close the panel for good (it would cover part of the map), then click the map.
    harness.get_by_label("Don't show again").click();
    harness.run_steps(2);
    assert!(harness.state().settings.start_here_dismissed);
    assert!(harness.query_by_label("Harmonize a Celtic tune").is_none());
    click_map_until_decoded(&mut harness);
    step_until(&mut harness, "playback of the decoded point", |app| {
        app.playback.is_some()
    });
    // Nothing was written into the shipped folder or the user's.
    assert!(
        std::fs::read_dir(&user).map_or(true, |mut d| d.next().is_none()),
        "the user's folder stayed empty"
    );
}

#[test]
fn a_shipped_run_is_read_only_and_resumes_as_a_copy() {
    use muselab::training::shipped;
    // Pack a tiny fresh run, as scripts/pretrain.sh packs the real ones.
    let dir = common::temp_dir("shipped-resume");
    let (user, packed_root) = (dir.join("user"), dir.join("shipped"));
    let mut config = muselab::training::RunConfig::new(ModelKind::Autoencoder);
    config.epochs = 1;
    config.max_pieces = Some(20);
    config.max_steps_per_epoch = Some(3);
    config.device = muselab::compute::DeviceChoice::Cpu;
    let events = common::collect(&common::start_run(config, &dir.join("trained"), None));
    assert!(matches!(
        events.last(),
        Some(muselab::training::TrainingEvent::Finished(Ok(_)))
    ));
    let trained = muselab::training::list_runs(&dir.join("trained"))[0]
        .dir
        .clone();
    let packed = shipped::pack(&trained, &packed_root, "shipped", true).expect("packs");
    assert!(shipped::is_shipped(&packed));
    assert!(
        !packed.join("model.adam.bpk").exists(),
        "no optimiser state is shipped"
    );
    let full = std::fs::metadata(trained.join("model.bpk")).unwrap().len();
    let half = std::fs::metadata(packed.join("model.bpk")).unwrap().len();
    assert!(
        half * 10 < full * 6,
        "half precision: {half} bytes against {full}"
    );

    // Listed as shipped; a checkpoint write into it is refused.
    let runs = muselab::training::list_all_runs(&user, Some(&packed_root));
    assert_eq!(runs.len(), 1);
    assert!(runs[0].shipped);
    // Resuming it trains a copy in the user's folder; the shipped one is untouched.
    let before = std::fs::read(packed.join("model.bpk")).unwrap();
    let handle = muselab::training::spawn(muselab::training::TrainingRequest {
        config: {
            let mut c = runs[0].config.clone();
            c.epochs = 2;
            c
        },
        assets: common::assets(),
        models_dir: user.clone(),
        shipped_dir: Some(packed_root.clone()),
        resume_from: Some(packed.clone()),
        compute: Some(muselab::compute::ComputeDevice::cpu("test")),
        notify: None,
    });
    let events = common::collect(&handle);
    common::assert_finished(&events);
    assert_eq!(std::fs::read(packed.join("model.bpk")).unwrap(), before);
    let copies = muselab::training::list_runs(&user);
    assert_eq!(copies.len(), 1, "the resumed copy is the user's");
    assert!(!copies[0].shipped);
    assert_eq!(copies[0].epochs, 2);
}
