//! The main window, clicked through with egui_kittest: open a chorale from the browser, see its
//! four voices in the piano roll, play and stop, export.

mod common;

use common::gui::{click_map_until_decoded, harness_of, step_until};

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use muselab::app::{AppConfig, MuseApp, Settings};
use muselab::audio::AudioOutput;

fn new_app(name: &str) -> MuseApp {
    MuseApp::new(config(name))
}

/// The app's start-up settings in a test: no device probe, no audio device, the built-in
/// synthesiser, an empty models folder of its own, no Start here panel.
fn config(name: &str) -> AppConfig {
    AppConfig {
        assets: common::assets(),
        settings: Settings {
            start_here_dismissed: true,
            ..Settings::default()
        },
        audio: AudioOutput::disabled("disabled in tests"),
        probe_device: false,
        open: None,
        models_dir: common::temp_dir(&format!("ui-models-{name}")),
        shipped_dir: None,
        start_training: None,
        latent_map: None,
        gibbs: None,
        anticipation: None,
        sound: muselab::audio::SoundChoice::builtin(),
    }
}

fn harness(name: &str) -> Harness<'static, MuseApp> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, 760.0))
        .build_ui_state(|ui, app: &mut MuseApp| app.show(ui), new_app(name))
}

/// Lists the saved runs and waits until there are some.
fn list_runs(harness: &mut Harness<'_, MuseApp>) {
    harness.state_mut().dashboard.refresh_runs(None);
    step_until(harness, "the runs list", |app| {
        !app.dashboard.runs.is_empty()
    });
}

/// Opens the bundled chorale and waits until it is open.
fn open_chorale(harness: &mut Harness<'_, MuseApp>) {
    harness
        .state_mut()
        .push(muselab::app::AppCommand::OpenPiece(common::chorale()));
    step_until(harness, "the chorale", |app| app.score.is_some());
}

/// Opens the Training view and starts a small CPU run of `model` (20 pieces, batch 16);
/// `adjust` sets the rest of its form.
fn start_small_run(
    harness: &mut Harness<'_, MuseApp>,
    model: muselab::models::ModelKind,
    adjust: impl FnOnce(&mut muselab::training::RunConfig),
) {
    harness.get_by_label("Training").click();
    harness.run_steps(2);
    {
        let settings = &mut harness.state_mut().dashboard.settings;
        settings.model = model;
        let config = settings.config_mut();
        config.max_pieces = Some(20);
        config.batch_size = 16;
        config.device = muselab::compute::DeviceChoice::Cpu;
        adjust(config);
    }
    harness.run_steps(2);
    harness.get_by_label("Train").click();
}

#[test]
fn open_chorale_play_stop_and_export() {
    let mut harness = harness("open");
    step_until(&mut harness, "corpora", |app| app.corpora.len() == 2);
    // Collapsing the chorales brings the Celtic tunes into view; expand them again.
    harness.get_by_label_contains("Bach chorales (365)").click();
    harness.run_steps(3);
    harness.get_by_label_contains("O'Neill's Celtic tunes (1739)");
    harness.get_by_label_contains("Bach chorales (365)").click();
    harness.run_steps(3);

    // Search, then click the chorale in the browser.
    let search = harness.get_by_role(Role::TextInput);
    search.focus();
    harness.step();
    harness.get_by_role(Role::TextInput).type_text("bwv10_7");
    harness.step();
    harness.step();
    harness.get_by_label_contains("Bach chorales (1)");
    harness.get_by_label("bwv10_7").click();
    step_until(&mut harness, "the chorale", |app| app.score.is_some());

    // The piano roll shows its four voices, with their names in the legend.
    let score = harness.state().score.clone().expect("score");
    assert_eq!(score.name, "bwv10_7");
    for voice in ["Soprano", "Alto", "Tenor", "Bass"] {
        harness.get_by_label(voice);
    }
    harness.get_by_label_contains("bwv10_7: 4 tracks");

    // Play, see the playhead move, stop.
    harness.get_by_label("Play").click();
    step_until(&mut harness, "playback", |app| app.playback.is_some());
    std::thread::sleep(Duration::from_millis(120));
    harness.step();
    assert!(harness.state().playhead_tick().is_some_and(|t| t > 0));
    harness.get_by_label("Stop").click();
    harness.step();
    harness.step();
    assert!(harness.state().playback.is_none());
    harness.get_by_label("Play");

    // Export through the path field (the system dialog needs a desktop portal).
    let dir = common::temp_dir("ui-export");
    let midi = dir.join("out.mid");
    let wav = dir.join("out.wav");
    harness.get_by_label("Path").click();
    harness.step();
    harness.state_mut().path_field = midi.display().to_string();
    harness.step();
    harness.get_by_label("Save MIDI here").click();
    step_until(&mut harness, "MIDI export", |_| midi.is_file());
    harness.state_mut().path_field = wav.display().to_string();
    harness.step();
    harness.get_by_label("Save WAV here").click();
    step_until(&mut harness, "WAV export", |_| wav.is_file());
    let back = muselab::music::read_midi_file(&midi).expect("exported MIDI reads");
    assert_eq!(back.tracks, score.tracks);
}

#[test]
fn broken_file_shows_an_error_and_keeps_the_piece() {
    let dir = common::temp_dir("ui-broken");
    let broken = dir.join("broken.mid");
    std::fs::write(&broken, b"MThd\0\0\0\x06\0\x01\0\x01").expect("write");
    let mut harness = harness("broken");
    open_chorale(&mut harness);
    harness
        .state_mut()
        .push(muselab::app::AppCommand::OpenPiece(broken));
    step_until(&mut harness, "the error", |app| !app.messages.is_empty());
    let message = &harness.state().messages[0];
    assert!(message.is_error);
    assert!(message.text.contains("broken.mid"), "{}", message.text);
    harness.get_by_label_contains("broken.mid: not a valid MIDI file");
    // The chorale is still open.
    assert_eq!(
        harness.state().score.as_ref().map(|s| s.name.as_str()),
        Some("bwv10_7")
    );
    harness.get_by_label("no audio output: disabled in tests");
}

/// A file missing its second half opens with what could be read, and the status bar says it is
/// damaged and where reading stopped.
#[test]
fn a_damaged_file_opens_with_a_notice() {
    let dir = common::temp_dir("ui-damaged");
    let cut = dir.join("cut.mid");
    let bytes = std::fs::read(common::chorale()).expect("chorale");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let mut harness = harness("damaged");
    harness
        .state_mut()
        .push(muselab::app::AppCommand::OpenPiece(cut));
    step_until(&mut harness, "the piece", |app| app.score.is_some());
    let notes = harness.state().score.as_ref().map_or(0, |s| s.note_count());
    assert!(notes > 0);
    harness.get_by_label_contains(&format!(
        "cut.mid: damaged file: read {notes} notes before byte"
    ));
}

#[test]
fn train_from_the_dashboard_watch_the_curve_and_stop() {
    let mut harness = harness("train");
    start_small_run(
        &mut harness,
        muselab::models::ModelKind::Minibach,
        |config| {
            config.epochs = 500;
            if let muselab::training::ModelConfig::Minibach(c) = &mut config.hyperparameters {
                c.hidden = 32;
            }
        },
    );
    step_until(&mut harness, "first steps", |app| {
        app.dashboard
            .run
            .as_ref()
            .is_some_and(|r| r.steps.len() >= 3)
    });
    let first = harness
        .state()
        .dashboard
        .run
        .as_ref()
        .map_or(0.0, |r| r.progress());
    step_until(&mut harness, "more steps", |app| {
        app.dashboard
            .run
            .as_ref()
            .is_some_and(|r| r.progress() > first && r.steps.len() >= 20)
    });
    // The curve has points, the device and the progress are shown.
    harness.get_by_label_contains("device: CPU");
    harness.get_by_label_contains("steps/s");
    harness.get_by_label("Stop").click();
    step_until(&mut harness, "the run to stop", |app| {
        app.dashboard
            .run
            .as_ref()
            .is_some_and(|r| r.finished.is_some())
    });
    let run = harness.state().dashboard.run.as_ref().expect("run");
    let message = run
        .finished
        .clone()
        .expect("finished")
        .expect("stopped cleanly");
    assert!(message.contains("stopped"), "{message}");
    // The run appears in the list of saved runs and is selected for generation.
    step_until(&mut harness, "the runs list", |app| {
        !app.dashboard.runs.is_empty()
    });
    harness.get_by_label("Harmonize the open piece");
}

/// Trains a small 2-D VAE into `models` (a few seconds on the CPU).
fn small_vae(models: &std::path::Path) -> std::path::PathBuf {
    use muselab::training::{RunConfig, TrainingEvent, TrainingRequest, spawn};
    let mut config = RunConfig::new(muselab::models::ModelKind::Vae);
    config.max_pieces = Some(150);
    config.epochs = 3;
    config.device = muselab::compute::DeviceChoice::Cpu;
    let handle = spawn(TrainingRequest {
        config,
        assets: common::assets(),
        models_dir: models.to_path_buf(),
        shipped_dir: None,
        resume_from: None,
        compute: Some(muselab::compute::ComputeDevice::cpu("test")),
        notify: None,
    });
    while let Ok(event) = handle.events.recv_timeout(Duration::from_secs(120)) {
        if let TrainingEvent::Finished(result) = event {
            result.expect("vae trains");
            break;
        }
    }
    muselab::training::list_runs(models)[0].dir.clone()
}

#[test]
fn click_the_latent_map_and_hear_the_point() {
    let app = new_app("map");
    let models = app.dashboard.models_dir.clone();
    let run = small_vae(&models);
    let mut harness = harness_of(app, 760.0);
    list_runs(&mut harness);
    // The first visit opens the map on the user's VAE run by itself.
    harness.get_by_label("Latent map").click();
    step_until(&mut harness, "the corpus on the map", |app| {
        app.map.dots.len() > 100
    });
    assert_eq!(
        harness.state().map.loaded.as_ref().map(|l| &l.0),
        Some(&run)
    );
    harness.get_by_label_contains("melodies on the map · axes: the latent itself");
    // The same melody is at the same place when the checkpoint is loaded again.
    let first = harness.state().map.dots[0].1;

    // Click on the plane away from any dot (a click on a dot opens that tune instead; where
    // the dots lie depends on the training run): the side piano roll gets a decoded melody.
    assert!(harness.state().map.current_score.is_none());
    click_map_until_decoded(&mut harness);
    let score = harness.state().map.current_score.clone().expect("score");
    assert!(score.note_count() > 0);
    // The decoded melody became the current piece and plays.
    step_until(&mut harness, "playback", |app| app.playback.is_some());
    harness.get_by_label_contains("decode + synthesis:");

    harness.get_by_label("Reload").click();
    harness.step();
    assert!(
        harness.state().map.dots.is_empty(),
        "reloading clears the map first"
    );
    step_until(&mut harness, "the reloaded map", |app| {
        app.map.dots.len() > 100
    });
    assert_eq!(harness.state().map.dots[0].1, first);

    // A drag decodes point after point; the worker drops the superseded ones. Once it has
    // answered, the idle app asks for no more repaints (the map used to repaint every 30 ms
    // for ever after a drag: it counted answers, and dropped requests never answer).
    harness.state_mut().map.settings.play_on_click = false;
    harness.state_mut().push(muselab::app::AppCommand::Stop);
    // (These tests skip the device probe; its spinner would animate.)
    harness.state_mut().compute = Some(muselab::compute::ComputeDevice::cpu("test"));
    let ctx = harness.ctx.clone();
    for i in 0..40 {
        let point = [first[0] + 0.01 * i as f32, first[1]];
        harness.state_mut().map.decode_at(&ctx, point);
    }
    step_until(&mut harness, "the worker to settle", |app| !app.map.busy());
    harness.run_steps(3);
    let delay = harness.output().viewport_output[&egui::ViewportId::ROOT].repaint_delay;
    assert!(
        delay >= Duration::from_secs(1),
        "the idle map still repaints every {delay:?}: {:?}",
        harness.ctx.repaint_causes()
    );
}

#[test]
fn a_gan_run_shows_both_adversarial_plots_moving() {
    let mut harness = harness("gan");
    start_small_run(&mut harness, muselab::models::ModelKind::Gan, |config| {
        config.epochs = 200;
    });
    step_until(&mut harness, "GAN steps", |app| {
        app.dashboard
            .run
            .as_ref()
            .is_some_and(|r| r.steps.len() >= 5)
    });
    let first = harness
        .state()
        .dashboard
        .run
        .as_ref()
        .map_or(0, |r| r.steps.len());
    step_until(&mut harness, "more GAN steps", |app| {
        app.dashboard
            .run
            .as_ref()
            .is_some_and(|r| r.steps.len() >= first + 10)
    });
    // The plots are drawn and fed: G/D losses, D(x) and D(G(z)), G's gradient, every step.
    harness.get_by_label_contains("D(x) and D(G(z))");
    harness.get_by_label_contains("G gradient: size of the generator's");
    harness.get_by_label("Health");
    let run = harness.state().dashboard.run.as_ref().expect("run");
    assert_eq!(
        run.loss_names,
        ["D loss", "G loss", "D(x)", "D(G(z))", "G gradient"]
    );
    assert!(
        run.steps.iter().all(|s| s.losses.len() == 5
            && (0.0..=1.0).contains(&s.losses[2])
            && s.losses[4] >= 0.0)
    );
    // Moving: each plotted series takes more than one value over the steps so far.
    for (i, name) in run.loss_names.iter().enumerate() {
        let first = run.steps[0].losses[i];
        assert!(
            run.steps.iter().any(|s| s.losses[i] != first),
            "{name} stays at {first}"
        );
    }
    harness.get_by_label("Stop").click();
    step_until(&mut harness, "the run to stop", |app| {
        app.dashboard
            .run
            .as_ref()
            .is_some_and(|r| r.finished.is_some())
    });
}

#[test]
fn a_midinet_epoch_fills_the_gallery_and_the_chord_rates() {
    let mut harness = harness("midinet");
    start_small_run(
        &mut harness,
        muselab::models::ModelKind::Midinet,
        |config| {
            config.epochs = 1;
            config.max_steps_per_epoch = Some(5);
        },
    );
    step_until(&mut harness, "the MidiNet epoch", |app| {
        app.dashboard
            .run
            .as_ref()
            .is_some_and(|r| r.finished.is_some())
    });
    harness.run_steps(2);
    // Eight melodies at fixed noise, each playable, and the chord-following measures.
    harness.get_by_label("Gallery: the same noise vectors every epoch");
    harness.get_by_label("z8");
    harness.get_by_label("chord-tone rate, chord not given");
    let run = harness.state().dashboard.run.as_ref().expect("run");
    assert_eq!(
        run.samples.len(),
        9,
        "the progression and 8 gallery melodies"
    );
    assert!(run.samples.iter().all(|s| s.score.note_count() > 0));
}

#[test]
fn compare_evaluates_a_run_in_the_background_beside_the_baselines() {
    let mut harness = harness("compare");
    let models = harness.state().dashboard.models_dir.clone();
    let run = small_vae(&models);
    list_runs(&mut harness);
    harness.get_by_label("Compare").click();
    harness.run_steps(2);
    harness.get_by_label("O'Neill's Celtic tunes").click();
    harness.state_mut().compare.settings.samples = 20;
    harness.run_steps(2);
    harness.get_by_label("Evaluate 1 new").click();
    harness.run_steps(1);
    // The UI keeps drawing while the evaluation thread works, with a progress bar.
    assert!(harness.state().compare.is_evaluating());
    harness.get_by_label_contains("evaluating");
    step_until(&mut harness, "the report", |app| {
        app.compare.reports.contains_key(&run)
    });
    let report = &harness.state().compare.reports[&run];
    assert_eq!(report.model, "vae");
    assert!(report.measures.predictive.is_some() && report.baselines.markov.predictive.is_some());
    // Saved beside the checkpoint, read back the same (to JSON's float precision).
    let saved = muselab::evaluation::read_report(&run).expect("saved");
    assert_eq!(
        (saved.run.as_str(), saved.held_out_pieces),
        (report.run.as_str(), report.held_out_pieces)
    );
    let nll =
        |r: &muselab::evaluation::Report| r.measures.predictive.expect("predictive").nll_per_step;
    assert!((nll(&saved) - nll(report)).abs() < 1e-9);
    harness.get_by_label("Re-evaluate");
    harness.get_by_label_contains("Overlap with the held-out music");
    // A melody model writes no four voices: its part-writing cell is empty.
    harness.get_by_label("part-writing");
    assert!(report.measures.harmony.is_none());
    harness.get_by_label("Hear").click();
    harness.run_steps(2);
    assert!(
        harness.state().score.is_some(),
        "the sample is the piece now"
    );
}

#[test]
fn the_dashboard_shows_onset_accuracy_against_the_baselines() {
    let mut harness = harness("onset");
    start_small_run(
        &mut harness,
        muselab::models::ModelKind::Minibach,
        |config| {
            config.epochs = 2;
            config.max_steps_per_epoch = Some(5);
            if let muselab::training::ModelConfig::Minibach(c) = &mut config.hyperparameters {
                c.hidden = 32;
            }
        },
    );
    step_until(&mut harness, "an epoch", |app| {
        app.dashboard
            .run
            .as_ref()
            .is_some_and(|r| !r.epochs.is_empty())
    });
    harness.get_by_label_contains("Held-out onset accuracy");
    let run = harness.state().dashboard.run.as_ref().expect("run");
    let names: Vec<&str> = run.epochs[0]
        .validation
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    for name in [
        "onset accuracy",
        "unigram onset accuracy",
        "markov onset accuracy",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    // The model card beside the form, with the parameter count of the network the run built.
    harness.get_by_label("Model card").click();
    harness.run_steps(2);
    harness.get_by_label_contains("Feedforward (one hidden layer)");
    let count = {
        let run = harness.state().dashboard.run.as_ref().expect("run");
        muselab::models::card::parameter_count(&run.layers)
    };
    assert!(count > 0);
    harness.get_by_label(&format!("{count} parameters"));
}

/// Trains one small epoch of `kind` on the CPU into `models` (12 pieces, (batch, steps), the
/// hyperparameters `sets`) and returns its run folder.
fn one_small_epoch(
    kind: muselab::models::ModelKind,
    models: &std::path::Path,
    (batch, steps): (usize, usize),
    sets: &[(&str, &str)],
) -> std::path::PathBuf {
    let mut config = muselab::training::RunConfig::new(kind);
    config.max_pieces = Some(12);
    config.epochs = 1;
    config.batch_size = batch;
    config.max_steps_per_epoch = Some(steps);
    config.device = muselab::compute::DeviceChoice::Cpu;
    for (name, value) in sets {
        config.hyperparameters.set(name, value).expect("valid");
    }
    let events = common::collect(&common::start_run(config, models, None));
    assert!(matches!(
        events.last(),
        Some(muselab::training::TrainingEvent::Finished(Ok(_)))
    ));
    muselab::training::list_runs(models)[0].dir.clone()
}

/// A saved run is resumed from the list of runs: it trains on for the form's number of epochs
/// and the list then shows the new total.
#[test]
fn resume_a_saved_run_from_the_runs_list() {
    let app = new_app("resume");
    let models = app.dashboard.models_dir.clone();
    one_small_epoch(
        muselab::models::ModelKind::Minibach,
        &models,
        (16, 3),
        &[("hidden", "16")],
    );
    let mut harness = harness_of(app, 760.0);
    harness.get_by_label("Training").click();
    harness.state_mut().dashboard.refresh_runs(None);
    step_until(&mut harness, "the runs list", |app| {
        app.dashboard.runs.len() == 1
    });
    harness
        .state_mut()
        .dashboard
        .settings
        .config_for(muselab::models::ModelKind::Minibach)
        .epochs = 2;
    harness.run_steps(2);
    harness.get_by_label("Resume").click();
    step_until(&mut harness, "the resumed run to finish", |app| {
        app.dashboard
            .run
            .as_ref()
            .is_some_and(|r| r.finished.is_some())
    });
    let run = harness.state().dashboard.run.as_ref().expect("run");
    let message = run.finished.clone().expect("finished").expect("trains");
    assert!(message.contains("finished 3 epochs"), "{message}");
    assert_eq!(
        run.epochs.len(),
        2,
        "epochs 2 and 3 trained in this session"
    );
    harness.state_mut().dashboard.refresh_runs(None);
    step_until(&mut harness, "the list to show 3 epochs", |app| {
        app.dashboard.runs.first().is_some_and(|r| r.epochs == 3)
    });
}

/// Closing the app while a run trains returns within 2 s, also when the UI had stopped reading
/// the run's events (a minimised window), and the run keeps a checkpoint.
#[test]
fn closing_while_training_returns_within_two_seconds() {
    let mut harness = harness("close");
    start_small_run(
        &mut harness,
        muselab::models::ModelKind::Minibach,
        |config| {
            config.epochs = 100_000;
            config.max_steps_per_epoch = Some(1);
            config.hyperparameters.set("hidden", "16").expect("valid");
        },
    );
    step_until(&mut harness, "the first steps", |app| {
        app.dashboard
            .run
            .as_ref()
            .is_some_and(|r| r.steps.len() >= 2)
    });
    let models = harness.state().dashboard.models_dir.clone();
    // No frames for a while: the run's events pile up unread.
    std::thread::sleep(Duration::from_secs(3));
    let closing = Instant::now();
    drop(harness);
    let took = closing.elapsed();
    assert!(took < Duration::from_secs(2), "closing took {took:?}");
    let runs = muselab::training::list_runs(&models);
    assert_eq!(runs.len(), 1, "the run's checkpoint is kept");
    assert!(runs[0].epochs > 0);
}

/// The Gibbs chain view: an RBM run is chosen, the chain runs and is watched step by step, and
/// its piece opens in the piano roll; with the open piece's melody clamped, the result keeps it.
#[test]
fn watch_an_rbm_gibbs_chain_and_open_its_piece() {
    let app = new_app("gibbs");
    let models = app.dashboard.models_dir.clone();
    let run = one_small_epoch(
        muselab::models::ModelKind::Rbm,
        &models,
        (16, 3),
        &[("hidden", "16")],
    );
    let mut harness = harness_of(app, 760.0);
    list_runs(&mut harness);
    harness.get_by_label("Gibbs chain").click();
    harness.run_steps(2);
    {
        let gibbs = &mut harness.state_mut().gibbs;
        gibbs.selected = Some(run);
        gibbs.settings.frames = 6;
        gibbs.settings.steps = 4;
        gibbs.settings.speed = 100_000.0;
    }
    harness.run_steps(2);
    harness.get_by_label("Run chain").click();
    step_until(&mut harness, "the chain to finish", |app| {
        app.gibbs.result.is_some()
    });
    assert_eq!(harness.state().gibbs.energies.len(), 6 * 4);
    assert_eq!(harness.state().gibbs.frames.len(), 6);
    // The strongest hidden units' weights are drawn: 12 of the 16, a window of frames each.
    assert_eq!(harness.state().gibbs.features.len(), 12);
    harness.get_by_label_contains("wrote 6 frames in 24 Gibbs steps");
    harness.get_by_label("Open in piano roll").click();
    step_until(&mut harness, "the piece", |app| app.score.is_some());

    // Clamp a chorale's soprano: the result has the soprano and the machine's voices.
    harness
        .state_mut()
        .push(muselab::app::AppCommand::OpenPiece(common::chorale()));
    step_until(&mut harness, "the chorale", |app| {
        app.score.as_ref().is_some_and(|s| s.name == "bwv10_7")
    });
    harness.state_mut().settings.view = muselab::app::View::Gibbs;
    harness.state_mut().gibbs.settings.clamp_melody = true;
    harness.run_steps(2);
    harness.get_by_label("Run chain").click();
    step_until(&mut harness, "the harmonisation", |app| {
        app.gibbs
            .result
            .as_ref()
            .is_some_and(|s| s.tracks.len() == 2)
    });
    let result = harness.state().gibbs.result.clone().expect("result");
    assert_eq!(result.tracks[0].name, "Soprano");
    assert_eq!(result.tracks[1].name, "Boltzmann voices");
}

/// A C-RBM in the Gibbs chain view: with the open chorale as template, each round reports its
/// constraint costs and temperature, the template's self-similarity is shown, and the chain's
/// piece opens.
#[test]
fn watch_a_constrained_crbm_chain() {
    let app = new_app("crbm");
    let models = app.dashboard.models_dir.clone();
    let run = one_small_epoch(
        muselab::models::ModelKind::Crbm,
        &models,
        (8, 2),
        &[("filters", "8"), ("window", "16"), ("gibbs_steps", "3")],
    );
    let mut harness = harness_of(app, 760.0);
    open_chorale(&mut harness);
    list_runs(&mut harness);
    harness.get_by_label("Gibbs chain").click();
    {
        let gibbs = &mut harness.state_mut().gibbs;
        gibbs.selected = Some(run);
        gibbs.settings.rounds = 12;
        gibbs.settings.speed = 100_000.0;
        gibbs.settings.clamp_melody = true;
    }
    harness.run_steps(2);
    harness.get_by_label("the open piece as template");
    harness.get_by_label("Run chain").click();
    step_until(&mut harness, "the constrained chain to finish", |app| {
        app.gibbs.result.is_some()
    });
    let constrained = harness
        .state()
        .gibbs
        .constrained
        .as_ref()
        .expect("a C-RBM chain");
    assert_eq!(constrained.costs.len(), 12);
    assert_eq!(constrained.temperatures.first().copied(), Some(3.0));
    assert_eq!(constrained.temperatures.last().copied(), Some(1.0));
    assert!(
        constrained
            .similarity
            .as_ref()
            .is_some_and(|s| s.len() >= 8)
    );
    harness.get_by_label_contains("in 12 constrained rounds");
}

/// An RNN-RBM in the Gibbs chain view continues the open chorale: its first bar primes the
/// recurrence (copied, all clamped), the heat map holds each written frame's probabilities,
/// and a cell pinned on the roll holds in the next chain.
#[test]
fn an_rnn_rbm_chain_continues_the_open_piece_and_keeps_painted_pins() {
    let app = new_app("rnn-rbm-chain");
    let models = app.dashboard.models_dir.clone();
    let run = one_small_epoch(
        muselab::models::ModelKind::RnnRbm,
        &models,
        (4, 2),
        &[("hidden", "16"), ("recurrent", "8"), ("cd_steps", "2")],
    );
    let mut harness = harness_of(app, 760.0);
    open_chorale(&mut harness);
    list_runs(&mut harness);
    harness.get_by_label("Gibbs chain").click();
    {
        let gibbs = &mut harness.state_mut().gibbs;
        gibbs.selected = Some(run);
        gibbs.settings.frames = 10;
        gibbs.settings.steps = 3;
        gibbs.settings.prime_bars = 1;
        gibbs.settings.speed = 100_000.0;
        gibbs.settings.clamp_melody = true;
        gibbs.settings.heat_map = true;
    }
    harness.run_steps(2);
    harness.get_by_label("continue the open piece");
    harness.get_by_label("Run chain").click();
    step_until(&mut harness, "the chain to finish", |app| {
        app.gibbs.result.is_some()
    });
    let gibbs = &harness.state().gibbs;
    // One bar of quarter notes primes (4 frames, one step each), 6 new frames of 3 steps.
    assert_eq!(gibbs.frames.len(), 10);
    assert_eq!(gibbs.energies.len(), 4 + 6 * 3);
    assert_eq!(gibbs.heat.len(), 10);
    assert!(gibbs.heat.iter().flatten().all(|p| (0.0..=1.0).contains(p)));
    harness.get_by_label_contains("wrote 10 frames");

    // Pin the lowest pitch on in frame 6 and off everywhere in frame 7, and run again.
    let pitches = harness.state().gibbs.frames[0].len();
    {
        let gibbs = &mut harness.state_mut().gibbs;
        gibbs.toggle_pin(6, 0, pitches, true);
        for row in 0..pitches {
            gibbs.toggle_pin(7, row, pitches, true);
            gibbs.toggle_pin(7, row, pitches, true);
        }
        gibbs.settings.seed = 2;
    }
    harness.run_steps(2);
    harness.get_by_label(&format!("Clear {} pins", pitches + 1));
    harness.get_by_label("Run chain").click();
    harness.step();
    assert!(
        harness.state().gibbs.result.is_none(),
        "a new chain started"
    );
    step_until(&mut harness, "the pinned chain", |app| {
        app.gibbs.result.is_some()
    });
    let frames = &harness.state().gibbs.frames;
    assert_eq!(frames[6][0], 1.0);
    assert!(frames[7].iter().all(|&v| v == 0.0), "{:?}", frames[7]);
}

/// The Anticipation view: a run is chosen, two notes are pinned on the roll, Fill writes a
/// melody that meets both under the hard clamp; filling again keeps the pins.
#[test]
fn pin_two_notes_and_fill_around_them() {
    let app = new_app("anticipation");
    let models = app.dashboard.models_dir.clone();
    let run = one_small_epoch(
        muselab::models::ModelKind::AnticipationRnn,
        &models,
        (8, 2),
        &[("hidden", "16"), ("layers", "1"), ("sequence", "16")],
    );
    let mut harness = harness_of(app, 760.0);
    list_runs(&mut harness);
    harness.get_by_label("Anticipation").click();
    harness.run_steps(2);
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .anticipation
        .open(&ctx, run.clone(), Some("0:rest".into()));
    step_until(&mut harness, "the model", |app| {
        app.anticipation.range().is_some() && !app.anticipation.busy
    });
    // Not evaluated yet: the view says where its anticipation curve comes from.
    harness.get_by_label_contains("to see its anticipation curve here");
    let range = harness.state().anticipation.range().expect("range");
    let (low, high) = (range.token(range.low), range.token(range.high));
    {
        let view = &mut harness.state_mut().anticipation;
        // The command line's pin came in; free it and pin two notes instead.
        assert_eq!(view.pins[0], Some(muselab::data::REST));
        view.toggle_pin(0, muselab::data::REST);
        view.toggle_pin(4, low);
        view.toggle_pin(20, high);
        view.settings.clamp = true;
        view.written = None;
    }
    harness.run_steps(2);
    harness.get_by_label("Clear 2 pins");
    harness.get_by_label("Fill").click();
    step_until(&mut harness, "the melody", |app| {
        app.anticipation.written.is_some()
    });
    let view = &harness.state().anticipation;
    let written = view.written.clone().expect("written");
    assert_eq!(written.len(), 64);
    assert_eq!((written[4], written[20]), (low, high));
    harness.get_by_label_contains("2 of 2 pins met");
    assert!(harness.state().anticipation.result().is_some());

    harness.get_by_label("Fill again").click();
    harness.step();
    step_until(&mut harness, "the second melody", |app| {
        !app.anticipation.busy
    });
    assert_eq!(harness.state().anticipation.settings.seed, 2);
    assert_eq!(
        harness.state().anticipation.pins.iter().flatten().count(),
        2
    );
    harness.get_by_label_contains("2 of 2 pins met");

    // Once the run has a saved evaluation, the view draws its anticipation curve and says how
    // many random pins it met with the pins read and hidden.
    use muselab::measures::constraints::{ConstraintScores, Satisfaction};
    let satisfaction = |rate: f64| Satisfaction {
        rates: [("random".to_string(), rate)].into(),
        pins: [("random".to_string(), 8)].into(),
        anticipation: vec![0.1; 9],
    };
    let mut report = muselab::evaluation::Report::default();
    report.measures.constraints = Some(ConstraintScores {
        model: satisfaction(0.5),
        blind: Some(satisfaction(0.25)),
        ..Default::default()
    });
    muselab::evaluation::save_report(&run, &report).expect("saves");
    harness.state_mut().anticipation.open(&ctx, run, None);
    step_until(&mut harness, "the evaluated model", |app| {
        app.anticipation.scores.is_some()
    });
    harness.run_steps(2);
    harness.get_by_label_contains("pins met sampling freely 50 %, pins hidden 25 %");
}

/// The Code units view: a sparse autoencoder's units are each decoded alone into a pattern;
/// switching two on decodes their combination.
#[test]
fn code_units_of_a_sparse_autoencoder_are_drawn_and_combined() {
    let app = new_app("code-units");
    let models = app.dashboard.models_dir.clone();
    let run = one_small_epoch(
        muselab::models::ModelKind::SparseAutoencoder,
        &models,
        (16, 3),
        &[("code", "24")],
    );
    let mut harness = harness_of(app, 760.0);
    list_runs(&mut harness);
    harness.get_by_label("Code units").click();
    harness.run_steps(2);
    let ctx = harness.ctx.clone();
    {
        let view = &mut harness.state_mut().code_units;
        view.selected = Some(run);
        view.load_selected(&ctx);
    }
    step_until(&mut harness, "the units' patterns", |app| {
        app.code_units.patterns.len() == 24
    });
    assert!(
        harness
            .state()
            .code_units
            .patterns
            .iter()
            .all(|p| p.len() == 64)
    );
    harness.get_by_label_contains("24 units");
    {
        let view = &mut harness.state_mut().code_units;
        view.toggle(&ctx, 3, false);
        view.toggle(&ctx, 7, false);
    }
    step_until(&mut harness, "the combination", |app| {
        app.code_units.melody.is_some()
    });
    assert_eq!(harness.state().code_units.on.len(), 2);
    harness.get_by_label("All 2 off").click();
    harness.run_steps(2);
    assert!(harness.state().code_units.on.is_empty());
}

/// RL-Tuner from the dashboard: the form asks which lstm run to start from; with one chosen
/// the run trains and its validation reports the rules' statistics beside the start's.
#[test]
fn tune_an_lstm_from_the_dashboard() {
    let app = new_app("rl-tuner");
    let models = app.dashboard.models_dir.clone();
    let lstm = one_small_epoch(
        muselab::models::ModelKind::Lstm,
        &models,
        (8, 3),
        &[("hidden", "16"), ("layers", "1"), ("sequence", "16")],
    );
    let mut harness = harness_of(app, 1600.0);
    list_runs(&mut harness);
    start_small_run(
        &mut harness,
        muselab::models::ModelKind::RlTuner,
        |config| {
            config.epochs = 1;
            config.max_steps_per_epoch = Some(40);
            config.from = Some(lstm);
        },
    );
    // The tuner's form is long: the window above is tall enough to show its Train button.
    harness.get_by_label("Start from");
    step_until(&mut harness, "the tuner to finish", |app| {
        app.dashboard.run.as_ref().is_some_and(|r| !r.is_running())
    });
    let run = harness.state().dashboard.run.as_ref().expect("a run");
    let validation = run
        .epochs
        .last()
        .map(|e| e.validation.clone())
        .unwrap_or_default();
    assert!(
        validation
            .iter()
            .any(|(name, _)| name == "excessively repeated (start)"),
        "{validation:?}"
    );
}

/// The track legend changes a voice's instrument; a SoundFont given at start is what plays (the
/// status bar says so); MIDI out without a MIDI system is a state in its menu, not an error.
#[test]
fn instruments_sound_and_midi_out_from_the_toolbar() {
    let dir = common::temp_dir("ui-sound");
    let font = common::sf2::write_tiny_soundfont(&dir);
    let app = MuseApp::new(AppConfig {
        sound: muselab::audio::SoundChoice {
            soundfont: Some(font),
            builtin: false,
        },
        ..config("sound")
    });
    let mut harness = harness_of(app, 760.0);
    step_until(&mut harness, "the SoundFont", |app| {
        matches!(app.sound, muselab::audio::Sound::SoundFont(_)) && !app.sound_pending
    });
    harness.get_by_label_contains("sound: SoundFont tiny.sf2");
    open_chorale(&mut harness);
    // A bundled chorale's program 0 means "not chosen": its voices get the organ.
    let programs: Vec<u8> = harness
        .state()
        .score
        .as_ref()
        .unwrap()
        .tracks
        .iter()
        .map(|t| t.program)
        .collect();
    assert_eq!(programs, vec![muselab::music::instruments::CHURCH_ORGAN; 4]);
    // The legend's first instrument box is the soprano's.
    harness
        .get_all_by_role(Role::ComboBox)
        .next()
        .expect("a legend entry")
        .click();
    harness.run_steps(2);
    // (One near the top of the list: the popup shows the first few of 128.)
    harness.get_by_label("Harpsichord").click();
    harness.run_steps(2);
    let soprano = harness.state().score.as_ref().unwrap().tracks[0].program;
    assert_eq!(
        soprano, 6,
        "Harpsichord is General MIDI program 7, numbered 6 from 0"
    );
    // The piece plays through the SoundFont (rendered off the UI thread).
    harness.get_by_label("Play").click();
    step_until(&mut harness, "playback", |app| app.playback.is_some());
    harness.get_by_label("Stop").click();
    harness.run_steps(2);

    // Sound → Built-in synthesiser.
    harness.get_by_label("Sound").click();
    harness.run_steps(2);
    harness.get_by_label("Built-in synthesiser").click();
    step_until(&mut harness, "the built-in synthesiser", |app| {
        matches!(app.sound, muselab::audio::Sound::Builtin) && !app.sound_pending
    });
    harness.get_by_label_contains("sound: built-in synthesiser");

    // MIDI out: here (no ALSA sequencer) the menu says why there are no ports.
    harness.get_by_label("MIDI out").click();
    harness.run_steps(3);
    let state = harness.state().midi_out.as_ref().map(|m| m.state());
    match state {
        Some(muselab::audio::midi_out::MidiOutState::Unavailable(_)) => {
            harness.get_by_label_contains("no MIDI ports:");
        }
        Some(muselab::audio::midi_out::MidiOutState::Off(ports)) if ports.is_empty() => {
            harness.get_by_label_contains("no MIDI ports:");
        }
        other => println!("a MIDI system with ports here: {other:?}"),
    }

    // Copy as MIDI file: a file in the temporary folder, its path for the clipboard.
    harness.get_by_label("Copy as MIDI file").click();
    step_until(&mut harness, "the MIDI file", |app| {
        app.copied_midi.is_some()
    });
    let copied = harness.state().copied_midi.clone().expect("a file written");
    let back = muselab::music::read_midi_file(&copied).unwrap();
    assert_eq!(back.tracks[0].program, 6);
    assert_eq!(
        back.tracks[1].program,
        muselab::music::instruments::CHURCH_ORGAN
    );
}

#[test]
fn benchmark_a_model_from_its_view_and_see_the_report_beside_the_paper() {
    use muselab::benchmarks::Benchmark;
    // A slice of JSB Chorales (6 pieces of each split, 32 steps each) in the JSON form, named
    // as the dataset so that the published figures are matched.
    let jsb = Benchmark::read(&common::assets().join("benchmarks/JSB Chorales.json"))
        .unwrap()
        .slice(6, 32);
    let dir = common::temp_dir("ui-benchmark-data");
    let file = dir.join("JSB Chorales.json");
    let json = serde_json::json!({"train": jsb.train, "valid": jsb.valid, "test": jsb.test});
    std::fs::write(&file, json.to_string()).unwrap();
    let mut harness = harness("benchmarks");
    harness.state_mut().settings.view = muselab::app::View::Benchmarks;
    harness.run_steps(2);
    {
        let settings = &mut harness.state_mut().benchmarks.settings;
        settings.dataset = file;
        settings.model = muselab::benchmarks::BenchModel::Lstm;
        settings.epochs = 2;
        settings.hidden = 8;
    }
    harness.get_by_label("Train and measure").click();
    harness.run_steps(2);
    assert!(harness.state().benchmarks.is_running());
    step_until(&mut harness, "the benchmark run", |app| {
        !app.benchmarks.is_running()
    });
    let app = harness.state();
    let (report, shipped) = app
        .benchmarks
        .reports
        .last()
        .expect("a report in the table");
    assert!(!shipped);
    assert_eq!((report.model.as_str(), report.epochs), ("lstm", 2));
    assert_eq!(report.valid_curve.len(), 2, "validated after each epoch");
    assert!(report.test_nll.is_finite() && report.test_nll > 0.0);
    let saved = app
        .dashboard
        .models_dir
        .join("benchmarks/jsb-chorales.lstm.seed1.json");
    assert!(saved.is_file(), "{} saved", saved.display());
    // The published LSTM figure on JSB stands beside ours in the table.
    harness.get_by_label("8.45");
}

#[test]
fn reharmonize_selected_bars_with_deepbach_keeps_the_rest_and_undoes() {
    let mut config = config("reharmonize");
    config.shipped_dir = Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"));
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1200.0, 760.0))
        .build_ui_state(|ui, app: &mut MuseApp| app.show(ui), MuseApp::new(config));
    open_chorale(&mut harness);
    list_runs(&mut harness);
    let before = harness.state().score.clone().expect("the chorale");
    let tpq = u64::from(before.ticks_per_quarter);
    // Bars 2 and 3 of the chorale (4/4).
    let span = (4 * tpq, 12 * tpq);
    harness.state_mut().settings.piano_roll.selection = Some(span);
    harness.run_steps(2);
    harness.get_by_label("Re-harmonize").click();
    harness.run_steps(2);
    step_until(&mut harness, "the rewrite", |app| !app.rewriting);
    let after = harness.state().score.clone().expect("a piece");
    assert_ne!(after.tracks, before.tracks, "the selection was rewritten");
    let outside = |notes: &[muselab::music::Note]| -> Vec<muselab::music::Note> {
        notes
            .iter()
            .filter(|n| n.end() <= span.0 || n.start >= span.1)
            .copied()
            .collect()
    };
    assert_eq!(
        after.tracks[0], before.tracks[0],
        "the soprano is not ticked"
    );
    for v in 1..4 {
        assert_eq!(
            outside(&after.tracks[v].notes),
            outside(&before.tracks[v].notes),
            "voice {v} outside the selection"
        );
    }
    harness.get_by_label("Undo").click();
    harness.run_steps(3);
    assert_eq!(harness.state().score.as_deref(), Some(before.as_ref()));
}
