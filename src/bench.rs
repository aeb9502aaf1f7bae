//! `muselab bench`: throughput of the hot paths, measured in one run so the ratios compare.

use std::time::Instant;

use crate::audio::{SAMPLE_RATE, SynthOptions, render};
use crate::corpus;
use crate::music::{export_smf, import_smf, metrics};

fn report(json: bool, value: serde_json::Value, text: String) {
    if json {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

/// Runs the benchmarks and prints one line (or JSON object) each; returns the exit code.
pub fn run(json: bool) -> i32 {
    let assets = corpus::assets_dir();
    let mut files = Vec::new();
    for listing in corpus::list_bundled(&assets) {
        match listing {
            Ok(listing) => files.extend(listing.files),
            Err(e) => {
                eprintln!("muselab bench: {e}");
                return 1;
            }
        }
    }
    let bytes: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter_map(|f| Some((f.display().to_string(), std::fs::read(f).ok()?)))
        .collect();
    let total_bytes: usize = bytes.iter().map(|(_, b)| b.len()).sum();

    // Parsing alone (files already in memory), then reading from disk as the app does.
    let started = Instant::now();
    let scores: Vec<_> = bytes
        .iter()
        .filter_map(|(name, b)| import_smf(b, name).ok())
        .collect();
    let parse = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let from_disk = files
        .iter()
        .filter(|f| crate::music::read_midi_file(f).is_ok())
        .count();
    let load = started.elapsed().as_secs_f64();
    report(
        json,
        serde_json::json!({"bench": "load_corpus", "files": from_disk, "bytes": total_bytes,
            "seconds": load, "parse_only_seconds": parse, "files_per_second": from_disk as f64 / load}),
        format!(
            "load every bundled file: {from_disk} files ({:.1} MB) in {load:.3} s ({:.0} files/s; parsing alone {parse:.3} s)",
            total_bytes as f64 / 1e6,
            from_disk as f64 / load
        ),
    );

    let started = Instant::now();
    let exported = scores
        .iter()
        .filter(|s| export_smf(s, &s.name).is_ok())
        .count();
    let export = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for score in &scores {
        std::hint::black_box(metrics::compute(score));
    }
    let metric_seconds = started.elapsed().as_secs_f64();
    report(
        json,
        serde_json::json!({"bench": "export_and_metrics", "files": exported,
            "export_seconds": export, "metrics_seconds": metric_seconds}),
        format!("export all as MIDI: {export:.3} s; metrics of all: {metric_seconds:.3} s"),
    );

    // Synthesis of the chorales (four voices): seconds of audio per second of work.
    let chorales: Vec<_> = scores
        .iter()
        .filter(|s| s.tracks.len() == 4)
        .take(40)
        .collect();
    let options = SynthOptions::default();
    let started = Instant::now();
    let mut audio_samples = 0usize;
    for score in &chorales {
        audio_samples += std::hint::black_box(render(score, &options)).len();
    }
    let work = started.elapsed().as_secs_f64();
    let audio = audio_samples as f64 / f64::from(SAMPLE_RATE);
    report(
        json,
        serde_json::json!({"bench": "synth", "pieces": chorales.len(), "audio_seconds": audio,
            "render_seconds": work, "realtime_factor": audio / work}),
        format!(
            "synthesis: {:.0} s of four-voice audio from {} chorales in {work:.3} s = {:.0}× real time",
            audio,
            chorales.len(),
            audio / work
        ),
    );
    soundfont_speed(json, &chorales);
    map_click_latency(json);
    harmonize_speed(json, &chorales);
    0
}

/// Bars of the melody that [`harmonize_speed`] harmonizes.
const HARMONIZE_BARS: u64 = 64;

/// Harmonizing a 64-bar melody (the sopranos of the first chorales, end to end, in 4/4) with
/// the shipped DeepBach run at its own sweeps, on the CPU: the figure the harmonizer's speed
/// goal is stated in.
fn harmonize_speed(json: bool, chorales: &[&crate::music::Score]) {
    use crate::music::{Note, Score, TimeSignature, Track};
    let Some(run) = corpus::shipped_dir().map(|d| d.join("deepbach").join("shipped")) else {
        return;
    };
    let device = crate::compute::ComputeDevice::cpu("benchmark");
    let (model, config) = match crate::inference::LoadedModel::load(&run, None, device.device()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("muselab bench: harmonize: {e}");
            return;
        }
    };
    let tpq = 480u16;
    let bar = 4 * u64::from(tpq);
    let mut notes: Vec<Note> = Vec::new();
    let mut at = 0u64;
    'fill: for score in chorales.iter().cycle().take(200) {
        let scale = |t: u64| t * u64::from(tpq) / u64::from(score.ticks_per_quarter.max(1));
        let soprano = &score.tracks[0].notes;
        let end = soprano.last().map_or(0, |n| scale(n.end()));
        for n in soprano {
            let start = at + scale(n.start);
            if start >= HARMONIZE_BARS * bar {
                break 'fill;
            }
            let duration = scale(n.duration).min(HARMONIZE_BARS * bar - start);
            notes.push(Note {
                start,
                duration,
                ..*n
            });
        }
        at += end.div_ceil(bar) * bar;
    }
    let melody = Score {
        name: "64 bars".into(),
        ticks_per_quarter: tpq,
        tempos: vec![crate::music::TempoChange {
            tick: 0,
            micros_per_quarter: 500_000,
        }],
        time_signatures: vec![TimeSignature {
            tick: 0,
            numerator: 4,
            denominator: 4,
        }],
        tracks: vec![Track::new("Melody", notes)],
        damage: None,
        key_signature: None,
    };
    let started = Instant::now();
    let done = model.harmonize(&melody, None, 1, device.device(), &mut |_| {});
    let seconds = started.elapsed().as_secs_f64();
    let sweeps = match &config.hyperparameters {
        crate::models::ModelConfig::DeepBach(c) => c.sweeps,
        _ => 0,
    };
    match done {
        Some(Ok(_)) => report(
            json,
            serde_json::json!({"bench": "harmonize_64_bars", "run": run.display().to_string(),
                "sweeps": sweeps, "seconds": seconds, "cpu": crate::compute::machine_description()}),
            format!(
                "harmonize {HARMONIZE_BARS} bars with the shipped DeepBach ({sweeps} sweeps) on the CPU: {seconds:.2} s"
            ),
        ),
        Some(Err(e)) => eprintln!("muselab bench: harmonize: {e}"),
        None => eprintln!(
            "muselab bench: harmonize: {} is not a harmonizer",
            run.display()
        ),
    }
}

/// The same chorales through the system's General MIDI SoundFont (rustysynth), beside the
/// built-in synthesiser's figure above: the ratio of the two is measured in one run.
fn soundfont_speed(json: bool, chorales: &[&crate::music::Score]) {
    let Some(path) = crate::audio::soundfont::find() else {
        report(
            json,
            serde_json::json!({"bench": "soundfont", "skipped": "no General MIDI SoundFont found"}),
            "SoundFont synthesis: skipped (no General MIDI SoundFont found; scripts/setup.sh installs one)".into(),
        );
        return;
    };
    let started = Instant::now();
    let bank = match crate::audio::soundfont::Bank::load(&path) {
        Ok(bank) => bank,
        Err(e) => {
            report(
                json,
                serde_json::json!({"bench": "soundfont", "skipped": e}),
                format!("SoundFont synthesis: skipped ({e})"),
            );
            return;
        }
    };
    let load = started.elapsed().as_secs_f64();
    let options = SynthOptions::default();
    let organ: Vec<_> = chorales
        .iter()
        .map(|s| crate::music::instruments::with_default_programs((*s).clone()))
        .collect();
    let started = Instant::now();
    let mut audio_samples = 0usize;
    for score in &organ {
        audio_samples += bank
            .render(score, &options)
            .map(|s| std::hint::black_box(s).len())
            .unwrap_or(0);
    }
    let work = started.elapsed().as_secs_f64();
    let audio = audio_samples as f64 / f64::from(SAMPLE_RATE);
    report(
        json,
        serde_json::json!({"bench": "soundfont", "soundfont": path.display().to_string(),
            "load_seconds": load, "pieces": chorales.len(), "audio_seconds": audio,
            "render_seconds": work, "realtime_factor": audio / work}),
        format!(
            "SoundFont synthesis ({}, loaded in {:.0} ms): {:.0} s of organ chorales in {work:.3} s = {:.0}× real time",
            bank.name(),
            load * 1000.0,
            audio,
            audio / work
        ),
    );
}

/// Training throughput of each model (default hyperparameters, `batch` examples per step) on
/// the CPU and, when a real GPU adapter exists (or `--device gpu`), on the GPU; and the time to
/// generate a sample.
/// The resident memory of this process in bytes (Linux; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Empties the kernel's file cache (Linux, root only): the next reads come from the disk.
fn drop_file_cache() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sync(2) takes no arguments and cannot fail.
        unsafe { libc::sync() };
        std::fs::write("/proc/sys/vm/drop_caches", "3")
            .map_err(|e| format!("cannot empty the file cache ({e}); passes read warm"))
    }
    #[cfg(not(target_os = "linux"))]
    Err("emptying the file cache needs Linux; passes read warm".into())
}

/// `muselab bench --corpus DIR`: reads a folder of MIDI files three ways, as training does —
/// parsed in parallel without the cache, parsed and written to a fresh cache, and read back
/// from that cache — and reports the time of each and the memory the scores hold. `cold`
/// empties the system's file cache before each pass.
pub fn corpus_scale(json: bool, dir: &std::path::Path, cold: bool) -> i32 {
    let cache = std::env::temp_dir().join(format!("muselab-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let started = Instant::now();
    let listed = match corpus::list_midi_files(dir) {
        Ok(files) => files.len(),
        Err(e) => {
            eprintln!("muselab bench: {}: {e}", dir.display());
            return 1;
        }
    };
    let list = started.elapsed().as_secs_f64();
    let before = resident_bytes();
    for (pass, cache_dir) in [
        ("parse, no cache", None),
        ("parse, writing the cache", Some(cache.as_path())),
        ("from the cache", Some(cache.as_path())),
    ] {
        if cold && let Err(e) = drop_file_cache() {
            eprintln!("muselab bench: {e}");
        }
        let started = Instant::now();
        let loaded = crate::data::load_scores_with(dir, None, cache_dir, &|_, _| {});
        let seconds = started.elapsed().as_secs_f64();
        let (scores, skipped) = match loaded {
            Ok(loaded) => (loaded.scores, loaded.skipped),
            Err(e) => {
                eprintln!("muselab bench: {e}");
                return 1;
            }
        };
        let memory = resident_bytes()
            .zip(before)
            .map(|(after, before)| after.saturating_sub(before));
        let notes: usize = scores
            .iter()
            .flat_map(|s| &s.tracks)
            .map(|t| t.notes.len())
            .sum();
        report(
            json,
            serde_json::json!({"bench": "corpus_scale", "pass": pass, "cold": cold, "files": listed,
                "scores": scores.len(), "skipped": skipped, "notes": notes, "seconds": seconds,
                "list_seconds": list, "files_per_second": listed as f64 / seconds,
                "resident_bytes_added": memory, "threads": rayon::current_num_threads()}),
            format!(
                "{pass}: {listed} files ({} read, {skipped} skipped, {notes} notes) in {seconds:.2} s ({:.0} files/s){}",
                scores.len(),
                listed as f64 / seconds,
                memory.map_or(String::new(), |m| format!(
                    "; resident memory +{:.0} MB",
                    m as f64 / 1e6
                ))
            ),
        );
        drop(scores);
    }
    let cache_size: u64 = std::fs::read_dir(&cache)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    report(
        json,
        serde_json::json!({"bench": "corpus_cache", "bytes": cache_size, "list_seconds": list}),
        format!(
            "listing {listed} files took {list:.2} s; the cache file is {:.1} MB",
            cache_size as f64 / 1e6
        ),
    );
    let _ = std::fs::remove_dir_all(&cache);
    0
}

pub fn run_models(
    json: bool,
    only: Option<&str>,
    batch: usize,
    choice: crate::compute::DeviceChoice,
) -> i32 {
    use crate::compute::{ComputeDevice, DeviceChoice, PROBE_LIMIT, probe_with_timeout};
    use crate::models::{ModelKind, read_steps};
    let kinds: Vec<ModelKind> = match only {
        Some(id) => match ModelKind::from_id(id) {
            Some(kind) => vec![kind],
            None => {
                eprintln!("muselab bench: unknown model '{id}'");
                return 2;
            }
        },
        None => ModelKind::ALL.to_vec(),
    };
    let mut devices = Vec::new();
    if choice != DeviceChoice::Gpu {
        devices.push(ComputeDevice::cpu("benchmark"));
    }
    if choice != DeviceChoice::Cpu {
        let gpu = probe_with_timeout(choice, PROBE_LIMIT);
        if gpu.is_gpu() {
            devices.push(gpu);
        } else if choice == DeviceChoice::Gpu {
            eprintln!("muselab bench: no GPU: {}", gpu.label());
            return 1;
        }
    }
    let assets = corpus::assets_dir();
    for kind in kinds {
        let mut config = crate::training::RunConfig::new(kind);
        config.batch_size = batch;
        config.max_pieces = Some(if kind == ModelKind::Lstm { 400 } else { 120 });
        let scores = match crate::data::load_scores(&config.corpus_dir(&assets), config.max_pieces)
        {
            Ok((scores, _)) => scores,
            Err(e) => {
                eprintln!("muselab bench: {e}");
                return 1;
            }
        };
        for device in &devices {
            let autodiff = device.device().clone().autodiff();
            device.device().seed(1);
            let mut session = match crate::training::build_session(&mut config, &scores, &autodiff)
            {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("muselab bench: {}: {e}", kind.id());
                    return 1;
                }
            };
            let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
            session.start_epoch(&mut rng);
            let per_epoch = session.steps_per_epoch().max(1);
            // Warm-up: the allocator on the CPU (3 steps); on a GPU, kernel compilation and
            // autotuning, which go on for dozens of steps as new shapes appear (an H100 and an
            // H200 spent ~1 s per step for the first ~30 steps of a GAN, and a fixed 15 s
            // warm-up left compilation inside the measurement). There the warm-up runs in
            // rounds of 8 steps and ends at a plateau of fast steps (a round no faster than
            // the one before, under 0.25 s a step: compiling steps take about a second), or
            // after `GPU_WARM_UP_LIMIT`.
            let warming = Instant::now();
            let mut warm = 0;
            if device.is_gpu() {
                let mut previous = f64::INFINITY;
                while warming.elapsed() < GPU_WARM_UP_LIMIT {
                    let round = Instant::now();
                    let losses: Vec<_> = (0..8)
                        .map(|i| session.train_step((warm + i) % per_epoch))
                        .collect();
                    read_steps(losses);
                    warm += 8;
                    let took = round.elapsed().as_secs_f64();
                    if took >= 0.85 * previous && took / 8.0 < 0.25 {
                        break;
                    }
                    previous = took;
                }
            } else {
                while warm < 3 {
                    session.train_step(warm % per_epoch).read();
                    warm += 1;
                }
            }
            // Losses are read back as the trainer reads them: in batches of 16 steps, and all
            // at the end, so the clock stops when the device has finished.
            let mut pending = Vec::new();
            let warm_up_seconds = warming.elapsed().as_secs_f64();
            let started = Instant::now();
            let mut steps = 0;
            while started.elapsed().as_secs_f64() < 3.0 || steps < 5 {
                pending.push(session.train_step(steps % per_epoch));
                steps += 1;
                if pending.len() == 16 {
                    read_steps(std::mem::take(&mut pending));
                }
            }
            read_steps(std::mem::take(&mut pending));
            let seconds = started.elapsed().as_secs_f64();
            let examples_per_second = (steps * config.batch_size) as f64 / seconds;
            session.samples(1);
            let started = Instant::now();
            std::hint::black_box(session.samples(2));
            let generate_ms = started.elapsed().as_secs_f64() * 1e3;
            let device_name = if device.is_gpu() { "gpu" } else { "cpu" };
            let flops = session.flops_per_example();
            let gflops = flops.map(|f| f * examples_per_second / 1e9);
            let peak = (!device.is_gpu()).then(cpu_peak_gflops).flatten();
            let peak_fraction = gflops.zip(peak).map(|(g, p)| g / p);
            // The parameter shapes, so that a peer (scripts/peers/) builds the same network.
            let layers: Vec<_> = session
                .layers()
                .into_iter()
                .map(|l| serde_json::json!([l.name, l.shape]))
                .collect();
            report(
                json,
                serde_json::json!({"model": kind.id(), "device": device_name, "adapter": device.label(),
                    "batch": config.batch_size, "train_examples_per_second": examples_per_second,
                    "steps": steps, "warm_up_steps": warm, "warm_up_seconds": warm_up_seconds,
                    "generate_ms": generate_ms, "layers": layers, "flops_per_example": flops,
                    "gflops_per_second": gflops, "cpu_peak_gflops": peak,
                    "peak_fraction": peak_fraction}),
                format!(
                    "{:<20} {device_name}: {examples_per_second:>9.0} examples/s ({steps} steps of {batch} in {seconds:.1} s), sample in {generate_ms:.1} ms{}",
                    kind.id(),
                    match (gflops, peak_fraction) {
                        (Some(g), Some(f)) =>
                            format!("; {g:.1} GFLOP/s = {:.0}% of the CPU's peak", f * 100.0),
                        (Some(g), None) => format!("; {g:.1} GFLOP/s"),
                        _ => String::new(),
                    }
                ),
            );
        }
    }
    0
}

/// This CPU's peak single-precision rate in GFLOP/s: cores × 32 operations per cycle (two
/// fused multiply-add units of eight f32 lanes, the AVX2 width of burn's matrix kernels) × the
/// clock that /proc/cpuinfo reports. `None` where that file does not exist.
pub fn cpu_peak_gflops() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mhz: f64 = info
        .lines()
        .find(|l| l.starts_with("cpu MHz"))?
        .split(':')
        .nth(1)?
        .trim()
        .parse()
        .ok()?;
    let cores = std::thread::available_parallelism().ok()?.get() as f64;
    Some(cores * 32.0 * mhz / 1e3)
}

/// The longest a GPU warm-up may take before measuring anyway.
const GPU_WARM_UP_LIMIT: std::time::Duration = std::time::Duration::from_secs(90);

/// Latency of a click on the latent map: decoding one 2-bar point and synthesising its audio,
/// for the default VAE (2-D) and recurrent VAE (32-D), averaged over 50 clicks after a warm-up.
pub fn map_click_latency(json: bool) {
    use crate::models::latent::LatentModel;
    use crate::models::rnn_vae::{RnnVae, RnnVaeConfig, RnnVaeModel};
    use crate::models::vae::{Vae, VaeConfig, VaeModel};
    let device = burn::tensor::Device::flex();
    device.seed(1);
    // The Celtic tunes' melody range, as a trained checkpoint would have it.
    let range = crate::data::PitchRange { low: 50, high: 93 };
    let vae_config = VaeConfig::default();
    let rnn_config = RnnVaeConfig::default();
    let models: Vec<(&str, Box<dyn LatentModel>)> = vec![
        (
            "vae",
            Box::new(VaeModel {
                model: Vae::new(&vae_config, range.vocab_size(), &device),
                config: vae_config,
                range,
            }),
        ),
        (
            "rnn-vae",
            Box::new(RnnVaeModel {
                model: RnnVae::new(&rnn_config, range.vocab_size(), &device),
                config: rnn_config,
                range,
            }),
        ),
    ];
    for (name, model) in models {
        let z = vec![0.3f32; model.latent_size()];
        let clicks = 50;
        let (mut decode, mut synth) = (0.0, 0.0);
        for i in 0..clicks + 5 {
            let started = Instant::now();
            let tokens = model
                .decode(std::slice::from_ref(&z), 0.0, 0, &device)
                .remove(0);
            let decoded = started.elapsed().as_secs_f64();
            let score = crate::models::latent::melody_score("click", &tokens, &range);
            let started = Instant::now();
            std::hint::black_box(render(&score, &SynthOptions::default()));
            if i >= 5 {
                decode += decoded;
                synth += started.elapsed().as_secs_f64();
            }
        }
        let (decode_ms, synth_ms) = (decode / clicks as f64 * 1e3, synth / clicks as f64 * 1e3);
        report(
            json,
            serde_json::json!({"bench": "map_click", "model": name, "latent": model.latent_size(),
                "decode_ms": decode_ms, "synth_ms": synth_ms, "total_ms": decode_ms + synth_ms}),
            format!(
                "map click ({name}, {}-D, 2 bars): decode {decode_ms:.2} ms + synthesis {synth_ms:.2} ms = {:.2} ms",
                model.latent_size(),
                decode_ms + synth_ms
            ),
        );
    }
}
