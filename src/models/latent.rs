//! What the latent-variable models share: the KL term and its schedule, decoding logits into
//! melodies, interpolation, and the 2-D projection of a larger latent for the map.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Distribution, Int, Tensor};
use rand::{Rng, SeedableRng};

use super::{Sample, rows, sample_logits};
use crate::data::encoding::tokens_to_track;
use crate::data::{MelodyWindows, PitchRange};
use crate::music::Score;

/// A trained model with a latent space: encode melodies to means, decode latent points.
pub trait LatentModel: Send {
    /// Latent dimensions.
    fn latent_size(&self) -> usize;
    /// Steps per melody.
    fn steps(&self) -> usize;
    /// Pitch range of the tokens.
    fn range(&self) -> PitchRange;
    /// The mean of q(z | melody) for each melody (each `steps()` tokens).
    fn encode_mean(&self, melodies: &[&[usize]], device: &Device) -> Vec<Vec<f32>>;
    /// Per step of each melody, the logits of its reconstruction from the posterior mean
    /// (teacher-forced where the decoder reads its previous token): `steps()` rows per melody.
    fn reconstruction_logits(&self, melodies: &[&[usize]], device: &Device) -> Vec<Vec<f32>>;
    /// Decodes latent points into token melodies (temperature 0: the most likely tokens).
    fn decode(
        &self,
        z: &[Vec<f32>],
        temperature: f64,
        seed: u64,
        device: &Device,
    ) -> Vec<Vec<usize>>;
}

/// Draws a point of the prior N(0, I) for each seed-stream draw (Box–Muller).
pub fn prior_points(count: usize, latent: usize, rng: &mut impl Rng) -> Vec<Vec<f32>> {
    (0..count)
        .map(|_| (0..latent).map(|_| crate::measures::normal(rng)).collect())
        .collect()
}

/// A latent model's generation: one point of the prior, decoded.
pub fn generate_from_prior(
    model: &dyn LatentModel,
    temperature: f64,
    seed: u64,
    device: &Device,
) -> Score {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let z = prior_points(1, model.latent_size(), &mut rng);
    let tokens = model.decode(&z, temperature, seed, device).remove(0);
    melody_score("vae", &tokens, &model.range())
}

/// Every latent model is a trained model the same way: it generates from a point of the prior,
/// shows its latent space, and is measured by [`evaluate_latent`].
impl<T: LatentModel> super::Trained for T {
    fn generate(&self, options: &super::GenerateOptions, device: &Device) -> Result<Score, String> {
        Ok(generate_from_prior(
            self,
            options.temperature,
            options.seed,
            device,
        ))
    }

    fn latent(&self) -> Option<&dyn LatentModel> {
        Some(self)
    }

    fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String> {
        Ok(evaluate_latent(self, data, options, device, progress))
    }
}

/// How a latent model is measured: reconstructions of held-out windows from the posterior
/// mean, and melodies decoded from points of the prior.
pub fn evaluate_latent(
    model: &dyn LatentModel,
    data: &crate::measures::HeldOut<'_>,
    options: &crate::measures::EvaluateOptions,
    device: &Device,
    progress: crate::measures::Progress<'_>,
) -> crate::measures::Evaluated {
    use crate::measures::{batched_predictive, held_windows, melody_case, tokens_excerpt};
    let (range, steps) = (model.range(), model.steps());
    let held = held_windows(data, range, steps);
    progress(0.1, "reconstructing held-out melodies");
    let predictive = batched_predictive(&held, |batch| {
        let refs: Vec<&[usize]> = batch.iter().map(Vec::as_slice).collect();
        model.reconstruction_logits(&refs, device)
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    let z = prior_points(options.samples, model.latent_size(), &mut rng);
    let samples = model
        .decode(&z, 1.0, options.seed, device)
        .iter()
        .map(|t| tokens_excerpt(t, &range))
        .collect();
    melody_case(
        data,
        range,
        held,
        Some(predictive),
        samples,
        steps,
        options,
        progress,
    )
}

/// KL(q(z|x) ‖ N(0, I)) summed over latent dimensions, averaged over the batch.
///
/// # Shapes
/// - mean, log_var: `[batch, latent]`
/// - returns: `[1]`
pub fn kl_divergence(mean: Tensor<2>, log_var: Tensor<2>) -> Tensor<1> {
    let per_dim = log_var.clone() + 1.0 - mean.clone() * mean - log_var.exp(); // [batch, latent]
    per_dim.sum_dim(1).mean() * -0.5
}

/// The reparameterisation trick: z = mean + σ·ε with ε ~ N(0, I) while training (`sample`),
/// the mean itself otherwise.
pub fn reparameterise(mean: Tensor<2>, log_var: Tensor<2>, sample: bool) -> Tensor<2> {
    if !sample {
        return mean;
    }
    let noise = Tensor::<2>::random(mean.dims(), Distribution::Normal(0.0, 1.0), &mean.device());
    mean + (log_var * 0.5).exp() * noise
}

/// A VAE's losses for a batch of token melodies: the reconstruction cross-entropy of a whole
/// melody (per-step mean × steps), the KL term, and their sum with the schedule's weight at
/// `step`. Returns (total, reconstruction, KL).
///
/// # Shapes
/// - logits: `[batch * steps, vocab]`, targets: `[batch * steps]`, mean, log_var: `[batch, latent]`
pub fn vae_losses(
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    steps: usize,
    (mean, log_var): (Tensor<2>, Tensor<2>),
    schedule: &KlSchedule,
    step: usize,
) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let reconstruction = CrossEntropyLossConfig::new()
        .init(&logits.device())
        .forward(logits, targets)
        * steps as f64;
    let kl = kl_divergence(mean, log_var);
    let total = reconstruction.clone() + schedule.cost(kl.clone(), step);
    (total, reconstruction, kl)
}

/// β annealing and free bits, as MusicVAE uses them.
#[derive(Clone, Copy, Debug)]
pub struct KlSchedule {
    /// Final β.
    pub max_beta: f64,
    /// Steps of the linear ramp from 0 to `max_beta`.
    pub anneal_steps: usize,
    /// Bits of KL per melody that cost nothing.
    pub free_bits: f64,
}

impl KlSchedule {
    /// β at a step.
    pub fn beta(&self, step: usize) -> f64 {
        if self.anneal_steps == 0 {
            self.max_beta
        } else {
            self.max_beta * (step as f64 / self.anneal_steps as f64).min(1.0)
        }
    }

    /// The KL cost at a step: β · max(KL − free nats, 0).
    pub fn cost(&self, kl: Tensor<1>, step: usize) -> Tensor<1> {
        let free_nats = self.free_bits * std::f64::consts::LN_2;
        (kl - free_nats).clamp_min(0.0) * self.beta(step)
    }
}

/// Splits `[n * steps, vocab]` logits into `n` token melodies.
pub fn tokens_from_logits(
    logits: Tensor<2>,
    steps: usize,
    temperature: f64,
    seed: u64,
) -> Vec<Vec<usize>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let tokens: Vec<usize> = rows(logits)
        .iter()
        .map(|r| sample_logits(r, temperature, &mut rng))
        .collect();
    tokens.chunks(steps.max(1)).map(<[usize]>::to_vec).collect()
}

/// Linear interpolation between two latent points.
pub fn lerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + (y - x) * t).collect()
}

/// Spherical interpolation (MusicVAE's `slerp`): follows the great circle, which keeps points
/// at the typical radius of a high-dimensional Gaussian. Falls back to `lerp` for (anti)parallel
/// points.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na < 1e-6 || nb < 1e-6 {
        return lerp(a, b, t);
    }
    let cos = (a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / (na * nb)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    let sin = omega.sin();
    if sin.abs() < 1e-4 {
        return lerp(a, b, t);
    }
    let (wa, wb) = (((1.0 - t) * omega).sin() / sin, (t * omega).sin() / sin);
    a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
}

/// The path from `a` to `b` in `steps` points (both ends included).
pub fn interpolate(a: &[f32], b: &[f32], steps: usize, spherical: bool) -> Vec<Vec<f32>> {
    let n = steps.max(2);
    (0..n)
        .map(|i| {
            let t = i as f32 / (n - 1) as f32;
            if spherical {
                slerp(a, b, t)
            } else {
                lerp(a, b, t)
            }
        })
        .collect()
}

/// A 2-D view of the latent space: the latent itself when it has 2 dimensions, otherwise its
/// first two principal components over the corpus's codes (computed with nalgebra's SVD).
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    mean: Vec<f32>,
    axes: [Vec<f32>; 2],
}

impl Projection {
    /// Fits the projection to a set of codes.
    pub fn fit(codes: &[Vec<f32>], latent: usize) -> Self {
        let unit = |i: usize| {
            (0..latent)
                .map(|j| if i == j { 1.0 } else { 0.0 })
                .collect::<Vec<f32>>()
        };
        if latent <= 2 || codes.len() < 3 {
            let mut axes = [unit(0), unit(1.min(latent.saturating_sub(1)))];
            if latent < 2 {
                axes[1] = vec![0.0; latent];
            }
            return Self {
                mean: vec![0.0; latent],
                axes,
            };
        }
        let n = codes.len();
        let mean: Vec<f32> = (0..latent)
            .map(|j| {
                codes
                    .iter()
                    .map(|c| c.get(j).copied().unwrap_or(0.0))
                    .sum::<f32>()
                    / n as f32
            })
            .collect();
        let centred = nalgebra::DMatrix::from_fn(n, latent, |i, j| {
            codes[i].get(j).copied().unwrap_or(0.0) - mean[j]
        });
        let svd = centred.svd(false, true);
        let axes = match svd.v_t {
            Some(v_t) if v_t.nrows() >= 2 => {
                // Singular values come sorted, largest first.
                [0, 1].map(|k| v_t.row(k).iter().copied().collect::<Vec<f32>>())
            }
            _ => [unit(0), unit(1)],
        };
        Self { mean, axes }
    }

    /// The 2-D point of a code.
    pub fn project(&self, code: &[f32]) -> [f32; 2] {
        self.axes.clone().map(|axis| {
            axis.iter()
                .zip(code.iter().zip(&self.mean))
                .map(|(a, (c, m))| a * (c - m))
                .sum()
        })
    }

    /// A code for a 2-D point: the mean plus the point along the two axes.
    pub fn lift(&self, point: [f32; 2]) -> Vec<f32> {
        self.mean
            .iter()
            .enumerate()
            .map(|(j, m)| m + point[0] * self.axes[0][j] + point[1] * self.axes[1][j])
            .collect()
    }
}

/// A one-track score of a melody.
pub fn melody_score(name: &str, tokens: &[usize], range: &PitchRange) -> Score {
    let mut score = Score::new(name, 480);
    score
        .tracks
        .push(tokens_to_track("Melody", tokens, range, 480));
    score
}

/// Melodies one after the other, as one track (an interpolation path played as one piece).
pub fn sequence_score(name: &str, melodies: &[Vec<usize>], range: &PitchRange) -> Score {
    let all: Vec<usize> = melodies.iter().flatten().copied().collect();
    melody_score(name, &all, range)
}

/// The dashboard samples of a latent model: a held-out melody with its reconstruction, and a
/// melody decoded from a random point of the prior.
pub fn standard_samples(
    model: &dyn LatentModel,
    data: &MelodyWindows,
    validation: &[usize],
    seed: u64,
    device: &Device,
) -> Vec<Sample> {
    let Some(&index) = validation.first() else {
        return Vec::new();
    };
    let range = model.range();
    let original = data.windows[index].clone();
    let code = model.encode_mean(&[original.as_slice()], device);
    let rebuilt = model.decode(&code, 0.0, seed, device).remove(0);
    let mut score = Score::new("reconstruction", 480);
    score.tracks = vec![
        tokens_to_track("original", &original, &range, 480),
        tokens_to_track("reconstruction", &rebuilt, &range, 480),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let z: Vec<f32> = (0..model.latent_size())
        .map(|_| {
            // A standard normal draw (Box–Muller), from our own seeded generator.
            let (u, v): (f32, f32) = (rng.random_range(1e-6..1.0), rng.random());
            (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        })
        .collect();
    let generated = model.decode(&[z], 0.0, seed, device).remove(0);
    let piece = &data.names[data.piece[index]];
    vec![
        Sample {
            label: format!("{piece}: original and reconstruction"),
            score,
        },
        Sample {
            label: "decoded from a random latent point".into(),
            score: melody_score("generated", &generated, &range),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slerp_keeps_the_radius_and_hits_the_ends() {
        let (a, b) = ([1.0, 0.0], [0.0, 1.0]);
        let mid = slerp(&a, &b, 0.5);
        assert!((mid[0].hypot(mid[1]) - 1.0).abs() < 1e-5);
        assert_eq!(slerp(&a, &b, 0.0), vec![1.0, 0.0]);
        let end = slerp(&a, &b, 1.0);
        assert!((end[0]).abs() < 1e-6 && (end[1] - 1.0).abs() < 1e-6);
        let path = interpolate(&a, &b, 5, false);
        assert_eq!(path.len(), 5);
        assert_eq!(path[2], vec![0.5, 0.5]);
    }

    #[test]
    fn pca_finds_the_main_axis_and_lifts_back() {
        // Points along (1, 1, 0) with a little spread along (0, 0, 1).
        let codes: Vec<Vec<f32>> = (0..20)
            .map(|i| {
                let t = i as f32 - 10.0;
                vec![t, t, 0.1 * (i % 3) as f32]
            })
            .collect();
        let projection = Projection::fit(&codes, 3);
        let p = projection.project(&codes[15]);
        // The first axis carries the spread: |p0| ≈ |t − mean t| · √2, with t = 5 and mean −0.5.
        assert!((p[0].abs() - 5.5 * 2f32.sqrt()).abs() < 0.1, "{p:?}");
        assert!(p[1].abs() < 0.2, "{p:?}");
        let lifted = projection.lift(p);
        assert!((lifted[0] - codes[15][0]).abs() < 0.2 && (lifted[1] - codes[15][1]).abs() < 0.2);
    }

    #[test]
    fn kl_schedule_anneals_and_frees_bits() {
        let schedule = KlSchedule {
            max_beta: 0.5,
            anneal_steps: 100,
            free_bits: 0.0,
        };
        assert_eq!(schedule.beta(0), 0.0);
        assert_eq!(schedule.beta(50), 0.25);
        assert_eq!(schedule.beta(500), 0.5);

        // Free bits: KL below 2 bits costs nothing, above it the excess costs β per nat.
        let free = KlSchedule {
            max_beta: 1.0,
            anneal_steps: 100,
            free_bits: 2.0,
        };
        let device = Device::flex();
        let cost = |kl: f32, step: usize| {
            let kl = Tensor::<1>::from_data(burn::tensor::TensorData::new(vec![kl], [1]), &device);
            f64::from(free.cost(kl, step).into_scalar::<f32>())
        };
        let free_nats = 2.0 * std::f64::consts::LN_2;
        assert_eq!(cost(1.0, 100), 0.0);
        assert!((cost(3.0, 100) - (3.0 - free_nats)).abs() < 1e-5);
        assert!((cost(3.0, 50) - 0.5 * (3.0 - free_nats)).abs() < 1e-5);
        assert_eq!(cost(3.0, 0), 0.0);
    }
}
