//! `muselab benchmark`: a model trained and measured on a standard polyphonic benchmark file
//! (see [`crate::benchmarks`]), its figures printed beside the published ones.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crate::benchmarks::protocol::published;
use crate::benchmarks::results;
use crate::benchmarks::{BenchModel, Benchmark, BenchmarkOptions, Progress};
use crate::compute::{self, DeviceChoice};

/// Arguments of `muselab benchmark`.
#[derive(Debug, clap::Args)]
pub struct BenchmarkArgs {
    /// The benchmark file: the dataset's pickle, its JSON form or the .mat copy (e.g.
    /// "../shared/data/benchmarks/JSB Chorales.pickle").
    #[arg(long)]
    pub dataset: PathBuf,
    /// bernoulli, rbm, rnn-rbm, rnn-nade or lstm (88 independent outputs).
    #[arg(long)]
    pub model: String,
    /// Training epochs (default: the model's; the best validation epoch is kept).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Seed of the weights, batch order and samplers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Hidden units of the RBM / NADE / LSTM (the paper: 150).
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Units of the recurrence (the paper: 100).
    #[arg(long)]
    pub recurrent: Option<usize>,
    /// Adam's learning rate.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Sequences per step.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Stop after this many validations without a better NLL (0: never).
    #[arg(long)]
    pub patience: Option<usize>,
    /// Epochs between validations.
    #[arg(long)]
    pub validate_every: Option<usize>,
    /// Halve the learning rate after each run of N validations without a better NLL (0: never).
    #[arg(long)]
    pub lr_plateau: Option<usize>,
    /// AIS chains per time step for the test figure (RBM, RNN-RBM).
    #[arg(long)]
    pub ais_chains: Option<usize>,
    /// AIS temperatures for the test figure.
    #[arg(long)]
    pub ais_betas: Option<usize>,
    /// Use only the first N pieces of each split (a quick look; not the benchmark).
    #[arg(long)]
    pub max_pieces: Option<usize>,
    /// The last line is one JSON object with the figures.
    #[arg(long)]
    pub json: bool,
    /// Also save the report in this folder (for `muselab benchmark-table`; the repository's
    /// reports are in models/benchmarks).
    #[arg(long)]
    pub save: Option<PathBuf>,
}

/// Arguments of `muselab benchmark-table`.
#[derive(Debug, clap::Args)]
pub struct TableArgs {
    /// The folder of saved reports.
    #[arg(long, default_value = "models/benchmarks")]
    pub dir: PathBuf,
    /// Rewrite the table between the markers of this file (the README) instead of printing it.
    #[arg(long)]
    pub readme: Option<PathBuf>,
}

/// Prints or rewrites the table of saved reports; exit code 1 on any error.
pub fn table(args: &TableArgs) -> i32 {
    let (reports, errors) = results::read_all(&args.dir);
    for e in &errors {
        eprintln!("muselab benchmark-table: {e}");
    }
    if reports.is_empty() {
        eprintln!(
            "muselab benchmark-table: no reports in {} (make them with `muselab benchmark --save DIR`)",
            args.dir.display()
        );
        return 1;
    }
    let table = results::markdown_table(&reports);
    let Some(readme) = &args.readme else {
        print!("{table}");
        return 0;
    };
    let rewritten = std::fs::read_to_string(readme)
        .map_err(|e| format!("cannot read {}: {e}", readme.display()))
        .and_then(|text| results::replace_in_readme(&text, &table))
        .and_then(|text| {
            crate::util::write_atomically(readme, text.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", readme.display()))
        });
    match rewritten {
        Ok(()) => {
            eprintln!(
                "{}: {} rows from {}",
                readme.display(),
                reports.len(),
                args.dir.display()
            );
            0
        }
        Err(e) => {
            eprintln!("muselab benchmark-table: {e}");
            1
        }
    }
}

/// Runs the benchmark; exit code 1 on any error.
pub fn benchmark(args: BenchmarkArgs, device: DeviceChoice) -> i32 {
    match run(&args, device) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("muselab benchmark: {e}");
            1
        }
    }
}

fn run(args: &BenchmarkArgs, device: DeviceChoice) -> Result<(), String> {
    let model = BenchModel::parse(&args.model)?;
    let mut data = Benchmark::read(&args.dataset).map_err(|e| e.to_string())?;
    if let Some(n) = args.max_pieces {
        data = data.slice(n.max(1), usize::MAX);
    }
    let mut options = BenchmarkOptions::new(model);
    options.seed = args.seed;
    let set = |slot: &mut usize, value: Option<usize>| {
        if let Some(v) = value {
            *slot = v;
        }
    };
    set(&mut options.epochs, args.epochs);
    set(&mut options.hidden, args.hidden);
    set(&mut options.recurrent, args.recurrent);
    set(&mut options.batch, args.batch);
    set(&mut options.patience, args.patience);
    set(&mut options.validate_every, args.validate_every);
    set(&mut options.lr_plateau, args.lr_plateau);
    set(&mut options.ais.chains, args.ais_chains);
    set(&mut options.ais.betas, args.ais_betas);
    if let Some(lr) = args.learning_rate {
        if !(lr.is_finite() && lr > 0.0 && lr < 1.0) {
            return Err(format!("--learning-rate {lr} must lie in (0, 1)"));
        }
        options.learning_rate = lr;
    }
    if options.hidden == 0 || options.recurrent == 0 || options.batch == 0 {
        return Err("--hidden, --recurrent and --batch must be at least 1".into());
    }
    let compute = match device {
        DeviceChoice::Gpu => compute::probe_with_timeout(device, compute::PROBE_LIMIT),
        _ => compute::ComputeDevice::cpu("benchmarks run on the CPU unless --device gpu"),
    };
    let label = compute.label();
    eprintln!(
        "{} on {} ({} / {} / {} pieces, {} / {} / {} steps) on {label}",
        model.id(),
        data.name,
        data.train.len(),
        data.valid.len(),
        data.test.len(),
        Benchmark::steps(&data.train),
        Benchmark::steps(&data.valid),
        Benchmark::steps(&data.test),
    );
    let bar = indicatif::ProgressBar::new(options.epochs.max(1) as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} epochs {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut on_progress = |p: Progress| match p {
        Progress::Epoch {
            epoch,
            train_loss,
            valid_nll,
            eta,
            ..
        } => {
            bar.set_position(epoch as u64);
            let valid = valid_nll.map_or(String::new(), |v| format!(", valid NLL {v:.3}"));
            bar.set_message(format!("loss {train_loss:.3}{valid}, ETA {eta:.0} s"));
            if valid_nll.is_some() {
                let line = format!("epoch {epoch}: loss {train_loss:.4}{valid}, ETA {eta:.0} s");
                super::say(&bar, line);
            }
        }
        Progress::Phase(what, done) => bar.set_message(format!("{what} {:.0} %", done * 100.0)),
    };
    let stop = AtomicBool::new(false);
    let report = crate::benchmarks::run::run(
        &data,
        &options,
        compute.device(),
        &label,
        &mut on_progress,
        &stop,
    )?;
    bar.finish_and_clear();
    let paper = published(&report.model, &report.dataset);
    println!(
        "{} on {}: test NLL {:.3} per step ({:.3} without first steps{}), frame accuracy {:.1} %, valid NLL {:.3} (epoch {} of {}), {:.0} s, seed {}",
        report.model,
        report.dataset,
        report.test_nll,
        report.test_nll_after_first,
        report
            .ais_spread
            .map_or(String::new(), |s| format!("; AIS spread {s:.3}")),
        report.test_acc * 100.0,
        report.valid_nll,
        report.best_epoch,
        report.epochs,
        report.seconds,
        report.seed
    );
    if let Some(p) = paper {
        let acc = p
            .accuracy
            .map_or(String::new(), |a| format!(", accuracy {:.1} %", a * 100.0));
        println!("published: NLL {:.2}{acc} ({})", p.nll, p.source);
    }
    if let Some(dir) = &args.save {
        let path = results::save(dir, &report)?;
        eprintln!("report saved to {}", path.display());
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
    }
    Ok(())
}
