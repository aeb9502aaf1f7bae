//! The soak test (not in CI: run it with `scripts/soak.sh [SECONDS]`). The whole app runs
//! headless under egui_kittest while the LSTM trains on the Celtic tunes from the dashboard,
//! the latent map decodes a point every half second (each decode plays) and the views change
//! every 10 s. Every 10 s it prints the process's resident memory, the UI frames' times and
//! how far the UI is behind the run; at the end it checks that memory stopped growing, that no
//! frame of the UI thread took over 50 ms, and that the run's events did not back up.

mod common;

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use muselab::app::{AppCommand, AppConfig, MuseApp, Settings, View};
use muselab::audio::AudioOutput;
use muselab::models::ModelKind;
use muselab::training::RunConfig;

/// Resident memory of this process in MB (Linux).
fn resident_mb() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |pages| pages * 4096.0 / 1e6)
}

/// CPU time of the calling thread in ms (Linux): a frame's own work, apart from the time the
/// thread waited for a core.
fn thread_cpu_ms() -> f64 {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through the valid pointer it is given.
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time);
    }
    time.tv_sec as f64 * 1000.0 + time.tv_nsec as f64 / 1e6
}

#[test]
#[ignore = "long: run by scripts/soak.sh"]
fn soak_training_latent_map_and_playback() {
    let seconds: u64 = std::env::var("MUSELAB_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1200);
    // As the app does at start: compute threads at background priority.
    muselab::compute::background_compute_pool();
    let models = common::temp_dir("soak-models");

    // A small 2-D VAE for the latent map (a few seconds).
    let mut vae = RunConfig::new(ModelKind::Vae);
    vae.max_pieces = Some(150);
    vae.epochs = 2;
    vae.device = muselab::compute::DeviceChoice::Cpu;
    let events = common::collect(&common::start_run(vae, &models, None));
    assert!(matches!(
        events.last(),
        Some(muselab::training::TrainingEvent::Finished(Ok(_)))
    ));
    let vae_run = muselab::training::list_runs(&models)[0].dir.clone();

    let app = MuseApp::new(AppConfig {
        assets: common::assets(),
        settings: Settings {
            start_here_dismissed: true,
            ..Settings::default()
        },
        audio: AudioOutput::disabled("soak test"),
        probe_device: false,
        open: None,
        models_dir: models.clone(),
        shipped_dir: None,
        start_training: None,
        latent_map: None,
        gibbs: None,
        anticipation: None,
        sound: muselab::audio::SoundChoice::builtin(),
    });
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(|ui, app: &mut MuseApp| app.show(ui), app);
    harness.state_mut().compute = Some(muselab::compute::ComputeDevice::cpu("soak"));
    let ctx = harness.ctx.clone();
    let celtic = muselab::corpus::resolve(&common::assets(), "celtic");
    harness.state_mut().map.load(&ctx, vae_run, vec![celtic]);

    // The LSTM with its defaults, on the CPU, for longer than the soak.
    {
        let app = harness.state_mut();
        app.settings.view = View::Training;
        app.dashboard.settings.model = ModelKind::Lstm;
        let config = app.dashboard.settings.config_mut();
        config.device = muselab::compute::DeviceChoice::Cpu;
        config.epochs = 1000;
    }
    harness.step();
    harness.state_mut().dashboard.start(None, &ctx);

    let started = Instant::now();
    let mut frames: Vec<f64> = Vec::new();
    let mut work: Vec<f64> = Vec::new();
    let mut memory: Vec<(f64, f64)> = Vec::new();
    let (mut last_report, mut last_decode, mut last_switch) =
        (Instant::now(), Instant::now(), Instant::now());
    let mut decodes = 0u64;
    println!(
        "seconds,resident_mb,frames,max_frame_ms,p99_frame_ms,frames_over_50ms,frames_behind,steps_shown,global_step"
    );
    while started.elapsed() < Duration::from_secs(seconds) {
        let frame = Instant::now();
        let cpu = thread_cpu_ms();
        harness.step();
        frames.push(frame.elapsed().as_secs_f64() * 1000.0);
        work.push(thread_cpu_ms() - cpu);
        if last_decode.elapsed() >= Duration::from_millis(500) {
            last_decode = Instant::now();
            decodes += 1;
            let t = decodes as f32 * 0.37;
            harness
                .state_mut()
                .map
                .decode_at(&ctx, [t.sin() * 2.0, t.cos() * 2.0]);
        }
        if last_switch.elapsed() >= Duration::from_secs(10) {
            last_switch = Instant::now();
            let app = harness.state_mut();
            app.settings.view = match app.settings.view {
                View::Training => View::LatentMap,
                _ => View::Training,
            };
            app.push(AppCommand::TogglePlay);
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            let at = started.elapsed().as_secs_f64();
            let mb = resident_mb();
            memory.push((at, mb));
            let mut sorted = frames.clone();
            sorted.sort_by(f64::total_cmp);
            let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
            let app = harness.state();
            let run = app.dashboard.run.as_ref().expect("the run");
            let global = run.steps.last().map_or(0, |s| s.global_step);
            println!(
                "{at:.0},{mb:.1},{},{:.1},{p99:.1},{},{:.1},{},{},{global}",
                frames.len(),
                sorted.last().copied().unwrap_or(0.0),
                frames.iter().filter(|&&f| f > 50.0).count(),
                work.iter().copied().fold(0.0, f64::max),
                app.dashboard.frames_behind,
                run.steps.len(),
            );
            assert!(run.finished.is_none(), "the run ended: {:?}", run.finished);
        }
        // About 30 frames a second, as an open window showing a running plot asks for.
        std::thread::sleep(Duration::from_millis(33).saturating_sub(frame.elapsed()));
    }

    let slowest = frames.iter().copied().fold(0.0, f64::max);
    let over = frames.iter().filter(|&&f| f > 50.0).count();
    let busiest = work.iter().copied().fold(0.0, f64::max);
    // Memory after the first 3 minutes (the corpus, the map and the allocator's pools are in
    // place by then) against the end.
    let settled = memory
        .iter()
        .find(|(at, _)| *at >= 180.0)
        .or(memory.first())
        .map_or(f64::NAN, |m| m.1);
    let end = memory.last().map_or(f64::NAN, |m| m.1);
    let behind = harness.state().dashboard.frames_behind;
    println!(
        "summary: {} frames, slowest {slowest:.1} ms ({busiest:.1} ms of the UI thread's own CPU time at most), {over} over 50 ms; resident {settled:.1} MB after 3 min, {end:.1} MB at the end; {behind} frames behind the run",
        frames.len()
    );
    assert_eq!(over, 0, "frames over 50 ms (slowest {slowest:.1} ms)");
    assert!(
        end - settled < 50.0,
        "memory grew from {settled:.1} to {end:.1} MB"
    );
    assert_eq!(behind, 0, "the run's events backed up");
}
