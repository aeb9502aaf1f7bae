//! `muselab train` and `muselab generate`: the training engine and inference, headless, with a
//! progress bar on the terminal. They write and read the same checkpoints as the GUI.

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{GenerateArgs, TrainArgs};
use crate::compute::{self, DeviceChoice};
use crate::inference::{GenerateOptions, LoadedModel};
use crate::models::ModelKind;
use crate::training::{RunConfig, TrainingEvent, TrainingRequest, spawn};

/// Builds the run a `train` command asks for.
pub fn run_config(args: &TrainArgs, device: DeviceChoice) -> Result<RunConfig, String> {
    let kind = ModelKind::from_id(&args.model).ok_or_else(|| {
        let ids: Vec<_> = ModelKind::ALL.iter().map(|k| k.id()).collect();
        format!(
            "unknown model '{}': choose one of {}",
            args.model,
            ids.join(", ")
        )
    })?;
    // A resumed run starts from its saved settings; the options given change them (the
    // training thread refuses the changes a saved run cannot take).
    let mut config = match &args.resume {
        Some(dir) => {
            crate::training::checkpoint::read(dir, Some(kind))
                .map_err(|e| e.to_string())?
                .0
        }
        None => RunConfig::new(kind),
    };
    config.device = device;
    if let Some(corpus) = &args.corpus {
        config.corpus.clone_from(corpus);
    }
    config.epochs = args.epochs.unwrap_or(config.epochs);
    config.batch_size = args.batch_size.unwrap_or(config.batch_size);
    config.learning_rate = args.learning_rate.unwrap_or(config.learning_rate);
    config.seed = args.seed.unwrap_or(config.seed);
    if args.max_pieces.is_some() {
        config.max_pieces = args.max_pieces;
    }
    if args.steps_per_epoch.is_some() {
        config.max_steps_per_epoch = args.steps_per_epoch;
    }
    config.patience = args.patience.unwrap_or(config.patience);
    if args.from.is_some() {
        config.from.clone_from(&args.from);
    }
    config.hyperparameters.set_all(&args.set)?;
    config.check()?;
    Ok(config)
}

/// `muselab train`: returns the exit code.
pub fn train(args: TrainArgs, device: DeviceChoice) -> i32 {
    let config = match run_config(&args, device) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("muselab train: {e}");
            return 2;
        }
    };
    let handle = spawn(TrainingRequest {
        config,
        assets: crate::corpus::assets_dir(),
        models_dir: args.out.clone().unwrap_or_else(crate::corpus::models_dir),
        shipped_dir: crate::corpus::shipped_dir(),
        resume_from: args.resume.clone(),
        compute: None,
        notify: None,
    });
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps, {msg} ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut epochs = 0;
    let mut first_epoch = 1;
    let mut names = Vec::new();
    while let Ok(event) = handle.events.recv() {
        match event {
            TrainingEvent::Status(line) => super::say(&bar, line),
            TrainingEvent::Started {
                run_dir,
                device,
                loss_names,
                steps_per_epoch,
                first_epoch: first,
                epochs: total,
                ..
            } => {
                super::say(
                    &bar,
                    format!("training on {device}; checkpoints in {}", run_dir.display()),
                );
                epochs = total;
                first_epoch = first;
                names = loss_names;
                bar.set_length((steps_per_epoch * (total + 1 - first)) as u64);
            }
            TrainingEvent::Step {
                record,
                steps_per_second,
                ..
            } => {
                bar.set_prefix(format!("epoch {}/{epochs}", record.epoch));
                bar.inc(1);
                let loss = record.losses.first().copied().unwrap_or(f64::NAN);
                let name = names.first().map_or("loss", String::as_str);
                bar.set_message(format!("{name} {loss:.4}, {steps_per_second:.1} steps/s"));
            }
            TrainingEvent::Epoch { record, .. } => {
                let validation: Vec<String> = record
                    .validation
                    .iter()
                    .map(|(name, value)| format!("{name} {value:.4}"))
                    .collect();
                let train: Vec<String> = names
                    .iter()
                    .zip(&record.train_losses)
                    .map(|(n, v)| format!("{n} {v:.4}"))
                    .collect();
                super::say(
                    &bar,
                    format!(
                        "epoch {}: {} | {}",
                        record.epoch,
                        train.join(", "),
                        validation.join(", ")
                    ),
                );
            }
            TrainingEvent::Checkpoint(_) => {}
            TrainingEvent::Finished(result) => {
                bar.finish_and_clear();
                let _ = first_epoch;
                return match result {
                    Ok(message) => {
                        println!("{message}");
                        0
                    }
                    Err(e) => {
                        eprintln!("muselab train: {e}");
                        1
                    }
                };
            }
        }
    }
    eprintln!("muselab train: the training thread ended without a result");
    1
}

/// `muselab generate`: returns the exit code.
pub fn generate(args: GenerateArgs, device: DeviceChoice) -> i32 {
    match generate_file(&args, device) {
        Ok(message) => {
            println!("{message}");
            0
        }
        Err(e) => {
            eprintln!("muselab generate: {e}");
            1
        }
    }
}

fn generate_file(args: &GenerateArgs, device: DeviceChoice) -> Result<String, String> {
    if !(args.temperature.is_finite() && (0.0..=100.0).contains(&args.temperature)) {
        return Err(format!(
            "--temperature must be between 0 and 100 (it is {})",
            args.temperature
        ));
    }
    if args.bars.is_some_and(|b| !(1..=256).contains(&b)) {
        return Err(format!(
            "--bars must be between 1 and 256 (it is {})",
            args.bars.unwrap_or(0)
        ));
    }
    if args.gibbs_steps.is_some_and(|k| !(1..=10_000).contains(&k)) {
        return Err(format!(
            "--gibbs-steps must be between 1 and 10000 (it is {})",
            args.gibbs_steps.unwrap_or(0)
        ));
    }
    let beats = match &args.meter {
        Some(text) => Some(crate::models::crbm::parse_meter(text).ok_or_else(|| {
            format!("--meter: '{text}' is not a meter muselab writes (write 4/4, 3/4 or 2/4)")
        })?),
        None => None,
    };
    if args.prime_bars > 64 {
        return Err(format!(
            "--prime-bars must be at most 64 (it is {})",
            args.prime_bars
        ));
    }
    // Generation is a handful of small steps: the CPU answers faster than a GPU's launch cost
    // unless the user asks for the GPU.
    let compute = match device {
        DeviceChoice::Gpu => compute::probe_with_timeout(device, compute::PROBE_LIMIT),
        _ => compute::ComputeDevice::cpu("generation runs on the CPU"),
    };
    let (model, _) = LoadedModel::load(&args.checkpoint, None, compute.device())?;
    let melody = match args.melody.as_ref().or(args.template.as_ref()) {
        Some(path) => Some(crate::music::read_midi_file(path).map_err(|e| e.to_string())?),
        None => None,
    };
    let constraint_weights = match &args.constraint_weights {
        Some(text) => {
            let values: Vec<f64> = text
                .split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("--constraint-weights: '{text}' ({e}); write s,k,m"))?;
            match values[..] {
                [s, k, m]
                    if [s, k, m]
                        .iter()
                        .all(|w| w.is_finite() && (0.0..=100.0).contains(w)) =>
                {
                    Some([s, k, m])
                }
                _ => {
                    return Err(format!(
                        "--constraint-weights takes three weights between 0 and 100, like 1,1,1 (it is {text})"
                    ));
                }
            }
        }
        None => None,
    };
    let options = GenerateOptions {
        seed: args.seed,
        temperature: args.temperature,
        melody,
        track: args.track.clone(),
        prime_bars: args.prime_bars,
        chords: args.chords.clone(),
        bars: args.bars,
        gibbs_steps: args.gibbs_steps,
        key: args.key.clone(),
        constraint_weights,
        beats,
        constraints: args.constraints.clone(),
        clamp: args.clamp,
    };
    let score = crate::music::instruments::with_default_programs(
        model.generate(&options, compute.device())?,
    );
    let is_wav = args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    if is_wav {
        super::write_wav(&score, &crate::audio::SynthOptions::default(), &args.out)?;
    } else {
        crate::music::write_midi_file(&score, &args.out).map_err(|e| e.to_string())?;
    }
    Ok(format!(
        "wrote {} ({} tracks, {} notes, {:.1} s)",
        args.out.display(),
        score.tracks.len(),
        score.note_count(),
        score.duration_seconds()
    ))
}
