//! Each model really learns on a small slice of its corpus (CPU backend): the loss after a few
//! hundred steps is well below the first steps', and what it generates is valid music in the
//! corpus's range.

mod common;

use burn::tensor::Device;
use muselab::data::load_scores;
use muselab::models::Session;
use rand::SeedableRng;

fn scores(corpus: &str, limit: usize) -> Vec<muselab::music::Score> {
    let dir = muselab::corpus::resolve(&common::assets(), corpus);
    load_scores(&dir, Some(limit)).expect("corpus loads").0
}

/// Trains `steps` steps; returns (mean of the first 10 losses, mean of the last 10).
fn train(session: &mut dyn Session, steps: usize) -> (f64, f64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut losses = Vec::new();
    let per_epoch = session.steps_per_epoch();
    for step in 0..steps {
        if step % per_epoch == 0 {
            session.start_epoch(&mut rng);
        }
        let loss = session.train_step(step % per_epoch)[0];
        assert!(loss.is_finite(), "loss {loss} at step {step}");
        losses.push(loss);
    }
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let (first, last) = (mean(&losses[..10]), mean(&losses[steps - 10..]));
    eprintln!("first {first:.3} last {last:.3}");
    (first, last)
}

#[test]
fn minibach_learns_to_harmonize() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let config = muselab::models::minibach::MiniBachConfig { hidden: 64, ..Default::default() };
    let started = std::time::Instant::now();
    let mut session =
        muselab::models::minibach::MiniBachSession::new(config, &scores("bach", 30), 32, 2e-3, &device)
            .expect("session");
    let (first, last) = train(&mut session, 150);
    eprintln!("minibach: {:?}", started.elapsed());
    assert!(last < first * 0.6, "loss {first} → {last}");
}
