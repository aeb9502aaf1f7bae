//! The latent models: reconstruction accuracy on held-out melodies rises well above its start,
//! decoding the mean of an encoded melody gives back most of its notes, interpolation endpoints
//! decode to the endpoints' reconstructions, and the same melody lands on the same point.

mod common;

use burn::tensor::Device;

use muselab::inference::LoadedModel;
use muselab::models::ModelKind;
use muselab::models::latent::{LatentModel, interpolate};
use muselab::training::{ModelConfig, RunConfig, checkpoint};

fn accuracy_of(validation: &[(String, f64)]) -> f64 {
    validation
        .iter()
        .find(|(n, _)| n == "reconstruction accuracy")
        .map(|(_, v)| *v)
        .expect("reconstruction accuracy reported")
}

/// Trains a latent model, checks the accuracy rise, saves and reloads it.
fn trained(
    kind: ModelKind,
    steps: usize,
    tweak: impl FnOnce(&mut ModelConfig),
) -> (LoadedModel, Vec<Vec<usize>>) {
    let _rng = common::rng_lock();
    let mut config = RunConfig::new(kind);
    config.max_pieces = Some(120);
    config.batch_size = 32;
    config.learning_rate = 3e-3;
    config.seed = 9;
    tweak(&mut config.hyperparameters);
    let (mut session, scores, device) = common::seeded_session(&mut config, "celtic");
    let before = accuracy_of(&session.validate());
    for losses in common::train_steps(session.as_mut(), steps) {
        assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    }
    let after = accuracy_of(&session.validate());
    eprintln!(
        "{}: held-out reconstruction accuracy {before:.3} → {after:.3}",
        kind.id()
    );
    assert!(
        after > before + 0.25,
        "{}: accuracy {before} → {after}",
        kind.id()
    );

    let run = common::temp_dir(&format!("latent-{}", kind.id())).join("run");
    checkpoint::write(&run, &config, &Default::default(), session.as_ref()).expect("checkpoint");
    let (model, _) = LoadedModel::load(&run, Some(kind), &device).expect("loads");
    // Held-out melodies: the openings of the validation tunes (every 10th piece).
    let held_out = muselab::data::MelodyWindows::from_scores(
        &scores,
        None,
        model.latent().expect("latent").steps(),
        16,
        match config.vocabulary {
            muselab::training::Vocabulary::Melody(range) => Some(range),
            _ => None,
        },
    );
    let melodies: Vec<Vec<usize>> = held_out
        .windows
        .iter()
        .zip(&held_out.piece)
        .filter(|(_, p)| muselab::data::datasets::is_validation_piece(**p))
        .map(|(w, _)| w.clone())
        .take(40)
        .collect();
    (model, melodies)
}

fn check_latent(model: &dyn LatentModel, melodies: &[Vec<usize>], device: &Device) {
    let refs: Vec<&[usize]> = melodies.iter().map(Vec::as_slice).collect();
    let codes = model.encode_mean(&refs, device);
    assert_eq!(codes.len(), melodies.len());
    assert!(
        codes
            .iter()
            .all(|c| c.len() == model.latent_size() && c.iter().all(|v| v.is_finite()))
    );

    // The same melody lands on the same point (up to the float rounding of another batch size).
    let alone = model.encode_mean(&refs[..1], device).remove(0);
    assert!(
        alone
            .iter()
            .zip(&codes[0])
            .all(|(a, b)| (a - b).abs() < 1e-4),
        "{alone:?} vs {:?}",
        codes[0]
    );
    assert_eq!(
        model.encode_mean(&refs, device),
        codes,
        "same batch, same codes"
    );

    // Decoding the mean gives back most of the notes.
    let decoded = model.decode(&codes, 0.0, 0, device);
    let (mut same, mut total) = (0, 0);
    for (a, b) in decoded.iter().zip(melodies) {
        same += a.iter().zip(b).filter(|(x, y)| x == y).count();
        total += b.len();
    }
    let recovered = same as f64 / total as f64;
    eprintln!(
        "decoding the mean recovers {:.1} % of the steps",
        recovered * 100.0
    );
    assert!(recovered > 0.5, "only {recovered} of the steps come back");

    // The ends of an interpolation decode to the ends' reconstructions.
    let path = interpolate(&codes[0], &codes[1], 5, model.latent_size() > 2);
    let along = model.decode(&path, 0.0, 0, device);
    assert_eq!(along[0], decoded[0]);
    assert_eq!(along[4], decoded[1]);
}

#[test]
fn vae_learns_a_smooth_two_dimensional_map() {
    let device = Device::flex();
    let (model, melodies) = trained(ModelKind::Vae, 400, |_| {});
    let latent = model.latent().expect("latent");
    assert_eq!(latent.latent_size(), 2);
    check_latent(latent, &melodies, &device);
}

#[test]
fn rnn_vae_learns_to_reconstruct() {
    let device = Device::flex();
    let (model, melodies) = trained(ModelKind::RnnVae, 300, |c| {
        if let ModelConfig::RnnVae(c) = c {
            c.encoder_hidden = 64;
            c.decoder_hidden = 96;
            c.latent = 16;
            c.anneal_steps = 300;
        }
    });
    check_latent(model.latent().expect("latent"), &melodies, &device);
}
