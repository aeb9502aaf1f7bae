//! Annealed importance sampling (Salakhutdinov & Murray 2008) for the partition function of a
//! binary RBM at any hidden size, many machines at once: each row of the biases is a machine of
//! its own over shared weights, as the RNN-RBM gives every time step. Plain tensors in, no
//! model type: the Boltzmann machines of `models` call it with their weights.
//!
//! The chain anneals from a base machine with no weights, whose partition function is exact, to
//! the target through β_0 = 0 < … < β_K = 1:
//! log p*_β(v) = (1 − β) v·a + β v·b + Σ_j softplus(β (vW + c)_j),
//! one Gibbs transition per β, and log Z ≈ log Z_base + log-mean-exp of the weights over the
//! chains. The base's visible biases `a` are the target's mean-field marginals (their
//! log-odds), row by row: the nearer the base lies to the target, the fewer βs and chains an
//! estimate needs. log Z_base = Σ_i softplus(a_i) + H ln 2.

use burn::tensor::activation::{sigmoid, softplus};
use burn::tensor::{Distribution, Tensor};

/// How hard to anneal.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AisOptions {
    /// Parallel chains per machine (at least 2; split into [`GROUPS`] groups for the spread).
    pub chains: usize,
    /// Intermediate temperatures K.
    pub betas: usize,
}

impl Default for AisOptions {
    fn default() -> Self {
        Self {
            chains: 16,
            betas: 1000,
        }
    }
}

/// Groups of chains whose separate estimates give the spread.
pub const GROUPS: usize = 4;

/// The estimate for one machine.
#[derive(Clone, Debug, PartialEq)]
pub struct LogPartition {
    /// log Z from all chains.
    pub log_z: f64,
    /// log Z from each of [`GROUPS`] disjoint groups of chains (their spread shows how far the
    /// estimate can be trusted).
    pub groups: Vec<f64>,
}

/// The βs: denser near 1, where the distributions change fastest (a fifth of them up to 0.5,
/// three tenths up to 0.9, half from 0.9 to 1, as in Salakhutdinov & Murray's schedule).
pub fn schedule(betas: usize) -> Vec<f64> {
    let k = betas.max(3);
    let (a, b) = (k / 5, k / 5 + (3 * k) / 10);
    (0..=k)
        .map(|i| {
            if i <= a {
                0.5 * i as f64 / a.max(1) as f64
            } else if i <= b {
                0.5 + 0.4 * (i - a) as f64 / (b - a).max(1) as f64
            } else {
                0.9 + 0.1 * (i - b) as f64 / (k - b).max(1) as f64
            }
        })
        .collect()
}

fn log_unnormalised(
    v: &Tensor<2>,
    vw: &Tensor<2>,
    (a, b, c): (&Tensor<2>, &Tensor<2>, &Tensor<2>),
    beta: f64,
) -> Tensor<1> {
    let visible = (v.clone() * (a.clone() * (1.0 - beta) + b.clone() * beta)).sum_dim(1);
    let hidden = softplus((vw.clone() + c.clone()) * beta, 1.0).sum_dim(1);
    (visible + hidden).squeeze_dim::<1>(1)
}

/// Mean-field marginals of each machine's visible units (20 rounds from σ(b)).
pub fn mean_field(weights: &Tensor<2>, b: &Tensor<2>, c: &Tensor<2>) -> Tensor<2> {
    let mut v = sigmoid(b.clone());
    for _ in 0..20 {
        let h = sigmoid(v.matmul(weights.clone()) + c.clone());
        v = sigmoid(h.matmul(weights.clone().transpose()) + b.clone());
    }
    v
}

/// log Z of each machine: `weights` `[visible, hidden]`, visible biases `b` `[machines,
/// visible]`, hidden biases `c` `[machines, hidden]`. The device's generator draws the samples
/// (seed it for a repeatable estimate). `progress` hears the fraction done.
pub fn log_partition(
    weights: &Tensor<2>,
    b: &Tensor<2>,
    c: &Tensor<2>,
    options: AisOptions,
    progress: &mut dyn FnMut(f64),
) -> Vec<LogPartition> {
    let [machines, visible] = b.dims();
    let hidden = weights.dims()[1];
    let chains = options.chains.max(GROUPS).div_ceil(GROUPS) * GROUPS;
    let device = b.device();
    // The base: each machine's mean-field marginals, kept away from 0 and 1.
    let marginals = mean_field(weights, b, c).clamp(1e-4, 1.0 - 1e-4);
    let base = (marginals.clone() / (marginals.neg() + 1.0)).log();
    let log_z_base = softplus(base.clone(), 1.0).sum_dim(1).squeeze_dim::<1>(1)
        + hidden as f64 * std::f64::consts::LN_2;
    // Rows in (machine, chain) order.
    let repeat = |t: &Tensor<2>| -> Tensor<2> {
        let [m, d] = t.dims();
        t.clone()
            .unsqueeze_dim::<3>(1)
            .repeat_dim(1, chains)
            .reshape([m * chains, d])
    };
    let (a, bb, cc) = (repeat(&base), repeat(b), repeat(c));
    let rows = machines * chains;
    let uniform =
        |shape: [usize; 2]| Tensor::<2>::random(shape, Distribution::Uniform(0.0, 1.0), &device);
    let mut v = sigmoid(a.clone()).greater(uniform([rows, visible])).float();
    let mut log_w = Tensor::<1>::zeros([rows], &device);
    let betas = schedule(options.betas);
    let mut vw = v.clone().matmul(weights.clone());
    for (k, pair) in betas.windows(2).enumerate() {
        let (previous, beta) = (pair[0], pair[1]);
        log_w = log_w + log_unnormalised(&v, &vw, (&a, &bb, &cc), beta)
            - log_unnormalised(&v, &vw, (&a, &bb, &cc), previous);
        // One Gibbs transition that leaves p_β invariant.
        let h = sigmoid((vw.clone() + cc.clone()) * beta)
            .greater(uniform([rows, hidden]))
            .float();
        let input =
            a.clone() * (1.0 - beta) + (h.matmul(weights.clone().transpose()) + bb.clone()) * beta;
        v = sigmoid(input).greater(uniform([rows, visible])).float();
        vw = v.clone().matmul(weights.clone());
        if k % 50 == 0 {
            progress(k as f64 / betas.len() as f64);
        }
    }
    progress(1.0);
    let log_w: Vec<f32> = log_w
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    let base: Vec<f32> = log_z_base
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    log_w
        .chunks(chains)
        .zip(base)
        .map(|(w, base)| {
            let per_group = chains / GROUPS;
            LogPartition {
                log_z: f64::from(base) + log_mean_exp(w),
                groups: w
                    .chunks(per_group)
                    .map(|g| f64::from(base) + log_mean_exp(g))
                    .collect(),
            }
        })
        .collect()
}

/// log((1/n) Σ exp xᵢ), computed stably in f64.
pub fn log_mean_exp(values: &[f32]) -> f64 {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    if !max.is_finite() {
        return max;
    }
    let sum: f64 = values.iter().map(|&x| (f64::from(x) - max).exp()).sum();
    max + (sum / values.len() as f64).ln()
}

/// log Z by summing over every hidden state (2^H terms; `None` above 20 hidden units):
/// log Z = logsumexp_h (c·h + Σ_i softplus(b_i + (W h)_i)), for each machine (row of `b`, `c`).
pub fn exact_log_partition(weights: &Tensor<2>, b: &Tensor<2>, c: &Tensor<2>) -> Option<Vec<f64>> {
    let [visible, hidden] = weights.dims();
    if hidden > 20 {
        return None;
    }
    let states = 1usize << hidden;
    let device = weights.device();
    let bits: Vec<f32> = (0..states)
        .flat_map(|s| (0..hidden).map(move |j| f32::from(u8::from(s >> j & 1 == 1))))
        .collect();
    let h = Tensor::<2>::from_data(
        burn::tensor::TensorData::new(bits, [states, hidden]),
        &device,
    );
    let wh = h.clone().matmul(weights.clone().transpose()); // [states, visible]
    let [machines, _] = b.dims();
    let mut out = Vec::with_capacity(machines);
    for m in 0..machines {
        let bm = b.clone().slice([m..m + 1, 0..visible]);
        let cm = c.clone().slice([m..m + 1, 0..hidden]);
        let terms = (h.clone() * cm).sum_dim(1) + softplus(wh.clone() + bm, 1.0).sum_dim(1);
        let terms: Vec<f32> = terms
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        out.push(log_mean_exp(&terms) + (states as f64).ln());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn schedule_runs_from_zero_to_one_denser_near_one() {
        let betas = schedule(1000);
        assert_eq!(betas.len(), 1001);
        assert_eq!(betas[0], 0.0);
        assert!((betas[1000] - 1.0).abs() < 1e-12);
        assert!(betas.windows(2).all(|w| w[1] > w[0]));
        assert!(betas[1000] - betas[999] < betas[1] - betas[0]);
    }

    #[test]
    fn matches_enumeration_on_small_machines() {
        let _rng = crate::models::test_rng();
        let device = Device::flex();
        device.seed(3);
        // Two machines over shared weights, strong enough that the base alone is far off.
        let weights = Tensor::<2>::random([20, 12], Distribution::Normal(0.0, 1.0), &device);
        let b = Tensor::<2>::random([2, 20], Distribution::Normal(-1.0, 1.0), &device);
        let c = Tensor::<2>::random([2, 12], Distribution::Normal(0.0, 1.0), &device);
        let exact = exact_log_partition(&weights, &b, &c).unwrap();
        let estimate = log_partition(
            &weights,
            &b,
            &c,
            AisOptions {
                chains: 200,
                betas: 2000,
            },
            &mut |_| {},
        );
        for (e, a) in exact.iter().zip(&estimate) {
            assert!((e - a.log_z).abs() < 0.1, "exact {e}, AIS {}", a.log_z);
            assert_eq!(a.groups.len(), GROUPS);
        }
        // A one-β anneal is plain importance sampling from the base: its error is what AIS
        // removes.
        let crude = log_partition(
            &weights,
            &b,
            &c,
            AisOptions {
                chains: 8,
                betas: 3,
            },
            &mut |_| {},
        );
        let error = |e: &[LogPartition]| -> f64 {
            exact.iter().zip(e).map(|(x, y)| (x - y.log_z).abs()).sum()
        };
        assert!(error(&estimate) < error(&crude));
    }
}
