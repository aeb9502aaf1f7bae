//! Adam in one pass over memory per parameter on the CPU.
//!
//! Why not burn's `Adam` as it is: it updates a parameter with about a dozen whole-tensor
//! operations (scale the moments, add, square, square root, divide, subtract), each one a pass
//! over the parameter's memory and a fresh allocation. For mini-bach's 2.5 million weights that
//! was a quarter of a training step on this 2-core CPU (measured with `perf`), more than the
//! backward pass. Here the same arithmetic runs as one loop over (parameter, gradient, first
//! moment, second moment), split over the CPU's cores.
//!
//! The state is burn's own [`AdamState`], so optimiser files written by either load in the
//! other; on a GPU the step is burn's (reading tensors back there would cost far more than the
//! extra passes save).

use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

/// Adam's hyperparameters, with burn's defaults (β₂ = 0.999, ε = 1e-5).
#[derive(Clone)]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// burn's own Adam with the same settings, for tensors that are not on the CPU.
    elsewhere: Adam,
}

/// A whole-module Adam optimiser with first-moment decay `beta_1` (0.9 in most models, 0.5 in
/// the GANs, after Radford et al.).
pub fn adam(beta_1: f32) -> ModuleOptimizer {
    ModuleOptimizer::from(FusedAdam::new(beta_1))
}

impl FusedAdam {
    /// Adam with burn's defaults but `beta_1`.
    pub fn new(beta_1: f32) -> Self {
        let config = AdamConfig::new().with_beta_1(beta_1);
        Self {
            beta_1,
            beta_2: 0.999,
            epsilon: 1e-5,
            elsewhere: config.build(),
        }
    }
}

/// Parameters below this many values are updated on one thread (a thread hand-off costs more).
const PARALLEL_FROM: usize = 1 << 15;

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let device = tensor.device();
        if !super::is_cpu(&device) || tensor.dtype() != DType::F32 || grad.dtype() != DType::F32 {
            return self.elsewhere.step(lr, tensor, grad, state);
        }
        let mut params = tensor.into_data();
        let gradient = grad.into_data();
        let shape = params.shape().clone();
        let (time, mut first, mut second) = match state {
            Some(state) => (
                state.momentum.time + 1,
                state.momentum.moment_1.into_data(),
                state.momentum.moment_2.into_data(),
            ),
            // Zero moments give burn's first step exactly: m = (1 − β₁)·g, v = (1 − β₂)·g².
            None => (
                1,
                TensorData::zeros::<f32, _>(shape.clone()),
                TensorData::zeros::<f32, _>(shape.clone()),
            ),
        };
        let t = time as i32;
        // burn's bias correction, folded the same way: m̂/(√v̂ + ε) = c·m / (√v + ε·√(1 − β₂ᵗ)).
        let correction_2 = (1.0 - self.beta_2.powi(t)).sqrt();
        let step_size = lr as f32 * correction_2 / (1.0 - self.beta_1.powi(t));
        let epsilon = self.epsilon * correction_2;
        let (b1, b2) = (self.beta_1, self.beta_2);
        let update = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *p -= step_size * *m / (v.sqrt() + epsilon);
            }
        };
        {
            let p = params.as_mut_slice::<f32>().expect("f32 parameters");
            let g = gradient.as_slice::<f32>().expect("f32 gradient");
            let m = first.as_mut_slice::<f32>().expect("f32 first moment");
            let v = second.as_mut_slice::<f32>().expect("f32 second moment");
            if p.len() < PARALLEL_FROM {
                update(p, g, m, v);
            } else {
                let chunk = p.len().div_ceil(rayon::current_num_threads().max(1) * 4);
                p.par_chunks_mut(chunk)
                    .zip(g.par_chunks(chunk))
                    .zip(m.par_chunks_mut(chunk))
                    .zip(v.par_chunks_mut(chunk))
                    .for_each(|(((p, g), m), v)| update(p, g, m, v));
            }
        }
        let momentum = AdaptiveMomentumState {
            time,
            moment_1: Tensor::from_data(first, &device),
            moment_2: Tensor::from_data(second, &device),
            max_moment_2: None,
        };
        (
            Tensor::from_data(params, &device),
            Some(AdamState::new(momentum)),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;

    /// Three steps of a small linear layer under both optimisers, from the same weights and
    /// inputs: the weights must agree to float rounding (larger layers take the threaded path).
    fn compare(inputs: usize, outputs: usize) {
        let device = Device::flex().autodiff();
        device.seed(3);
        let start: Linear = LinearConfig::new(inputs, outputs).init(&device);
        let x = Tensor::<2>::random(
            [8, inputs],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let train = |mut optimizer: ModuleOptimizer| {
            let mut layer = start.clone();
            for _ in 0..3 {
                let loss = layer.forward(x.clone()).powf_scalar(2.0).mean();
                let grads = GradientsParams::from_grads(loss.backward(), &layer);
                layer = optimizer.step(1e-2, layer, grads);
            }
            layer.weight.val().into_data().try_to_vec::<f32>().unwrap()
        };
        let ours = train(adam(0.9));
        let burns = train(AdamConfig::new().init());
        let start_weights = start.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let moved = ours
            .iter()
            .zip(&start_weights)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(moved > 1e-3, "the weights did not move ({moved})");
        for (a, b) in ours.iter().zip(&burns) {
            assert!((a - b).abs() < 1e-5, "fused {a} against burn's {b}");
        }
    }

    #[test]
    fn matches_burns_adam_on_small_and_large_parameters() {
        let _rng = crate::models::test_rng();
        compare(5, 3);
        compare(300, 200);
    }

    #[test]
    fn saved_state_loads_into_burns_adam() {
        let _rng = crate::models::test_rng();
        let device = Device::flex().autodiff();
        let mut layer: Linear = LinearConfig::new(4, 2).init(&device);
        let mut optimizer = adam(0.9);
        let loss = layer
            .forward(Tensor::<2>::ones([3, 4], &device))
            .sum()
            .reshape([1]);
        let grads = GradientsParams::from_grads(loss.backward(), &layer);
        layer = optimizer.step(1e-2, layer, grads);
        let bytes = optimizer.into_bytes().expect("serialises");
        let loaded = AdamConfig::new().init().from_bytes(bytes);
        assert!(loaded.is_ok(), "burn's Adam reads the fused state");
        let _ = layer.num_params();
    }
}
