//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod gui;
pub mod sf2;

use std::path::PathBuf;

/// The bundled assets folder of this source tree.
pub fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// Every bundled MIDI file.
pub fn all_corpus_files() -> Vec<PathBuf> {
    muselab::corpus::list_bundled(&assets())
        .into_iter()
        .flat_map(|l| l.expect("bundled corpus is listed").files)
        .collect()
}

/// One chorale.
pub fn chorale() -> PathBuf {
    assets().join("corpora/bach_chorales/bwv10_7.mid")
}

/// A fresh temporary folder for a test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("muselab-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Holds burn's process-wide random generator for the calling test, so that tests running in
/// parallel do not interleave their draws (initial weights, dropout): each test is then
/// reproducible. Tests that spawn training runs must not hold it (the run takes it itself).
pub fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    muselab::training::RNG_GUARD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Trains `steps` steps, reshuffling at each epoch with a fixed generator; returns every step's
/// losses (callers assert on them).
pub fn train_steps(session: &mut dyn muselab::models::Session, steps: usize) -> Vec<Vec<f64>> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let per_epoch = session.steps_per_epoch().max(1);
    (0..steps)
        .map(|step| {
            if step % per_epoch == 0 {
                session.start_epoch(&mut rng);
            }
            session.train_step(step % per_epoch).read()
        })
        .collect()
}

/// Asserts that a run's events end with its successful finish (else shows how it ended).
pub fn assert_finished(events: &[muselab::training::TrainingEvent]) {
    assert!(
        matches!(
            events.last(),
            Some(muselab::training::TrainingEvent::Finished(Ok(_)))
        ),
        "{:?}",
        events.last()
    );
}

/// Starts a training run on the CPU with the bundled corpora.
pub fn start_run(
    config: muselab::training::RunConfig,
    models: &std::path::Path,
    resume: Option<PathBuf>,
) -> muselab::training::TrainingHandle {
    muselab::training::spawn(muselab::training::TrainingRequest {
        config,
        assets: assets(),
        models_dir: models.to_path_buf(),
        shipped_dir: None,
        resume_from: resume,
        compute: Some(muselab::compute::ComputeDevice::cpu("test")),
        notify: None,
    })
}

/// Collects a run's events up to and including `Finished` (two minutes at most between events).
pub fn collect(
    handle: &muselab::training::TrainingHandle,
) -> Vec<muselab::training::TrainingEvent> {
    let mut events = Vec::new();
    while let Ok(event) = handle
        .events
        .recv_timeout(std::time::Duration::from_secs(120))
    {
        let done = matches!(event, muselab::training::TrainingEvent::Finished(_));
        events.push(event);
        if done {
            break;
        }
    }
    events
}

/// The first sample of each epoch of a run's events.
pub fn first_samples(events: &[muselab::training::TrainingEvent]) -> Vec<muselab::music::Score> {
    events
        .iter()
        .filter_map(|e| match e {
            muselab::training::TrainingEvent::Epoch { samples, .. } => {
                Some(samples[0].score.clone())
            }
            _ => None,
        })
        .collect()
}

/// A fresh session of `config` on the CPU over a bundled corpus, with burn's random generator
/// seeded with the config's seed first (initial weights); also returns the scores and the
/// device for later use.
pub fn seeded_session(
    config: &mut muselab::training::RunConfig,
    corpus: &str,
) -> (
    Box<dyn muselab::models::Session>,
    Vec<muselab::music::Score>,
    burn::tensor::Device,
) {
    let dir = muselab::corpus::resolve(&assets(), corpus);
    let scores = muselab::data::load_scores(&dir, config.max_pieces)
        .expect("corpus")
        .0;
    let device = burn::tensor::Device::flex();
    device.seed(config.seed);
    let session = muselab::training::build_session(config, &scores, &device.clone().autodiff())
        .expect("session");
    (session, scores, device)
}

/// Evaluates a checkpoint on its held-out pieces with a few samples (CPU): the model's
/// measures beside the unigram and Markov baselines.
pub fn evaluate(run: &std::path::Path) -> muselab::evaluation::Report {
    let options = muselab::evaluation::EvaluateOptions {
        samples: 30,
        seed: 1,
    };
    muselab::evaluation::evaluate(run, &options, &burn::tensor::Device::flex(), &mut |_, _| {})
        .expect("evaluates")
}

/// The model's, the unigram's and the Markov chain's predictive measures of a report, printed.
pub fn predictive(
    report: &muselab::evaluation::Report,
) -> [muselab::evaluation::predictive::Predictive; 3] {
    let all = [
        report.measures.predictive.expect("model predicts"),
        report.baselines.unigram.predictive.expect("unigram"),
        report.baselines.markov.predictive.expect("markov"),
    ];
    for (name, p) in ["model", "unigram", "markov"].iter().zip(&all) {
        eprintln!(
            "{}: {name:8} NLL {:.3}  accuracy {:.3}  onset accuracy {:.3} ({} onsets)",
            report.model, p.nll_per_step, p.accuracy, p.onset_accuracy, p.onset_count
        );
    }
    all
}

/// Asserts that a resumed run's history is the uninterrupted run's: every step's losses at the
/// same global step, and each epoch's training losses and validation.
pub fn assert_same_history(
    resumed: &muselab::training::History,
    expected: &muselab::training::History,
    what: &str,
) {
    let steps = |h: &muselab::training::History| -> Vec<(usize, Vec<f64>)> {
        h.steps
            .iter()
            .map(|s| (s.global_step, s.losses.clone()))
            .collect()
    };
    assert_eq!(steps(resumed), steps(expected), "{what}: step losses");
    assert_eq!(
        resumed.epochs.len(),
        expected.epochs.len(),
        "{what}: epochs"
    );
    for (a, b) in resumed.epochs.iter().zip(&expected.epochs) {
        assert_eq!(a.train_losses, b.train_losses, "{what}: epoch losses");
        assert_eq!(a.validation, b.validation, "{what}: validation");
    }
}

/// The value of the measure `name` among a session's validation measures (panics, naming it,
/// when it is missing).
pub fn measure(validation: &[(String, f64)], name: &str) -> f64 {
    validation
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no validation measure {name:?}"))
}
