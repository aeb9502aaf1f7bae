//! Polyak averaging of a generator's weights (Yazıcı et al. 2019, "The unusual effectiveness
//! of averaging in GAN training"): a GAN's generator circles around a good solution as G and D
//! take turns, so its samples swing from epoch to epoch; an exponential moving average of its
//! weights sits nearer the centre, and is what the app samples from.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// Moves every parameter of `average` toward the same parameter of `current`:
/// average ← decay · average + (1 − decay) · current. Both must be copies of one network (the
/// parameters are matched by id); a parameter missing from `current` is left as it is.
pub fn update_average<M: Module>(average: M, current: &M, decay: f64) -> M {
    let mut collect = Collect(HashMap::new());
    current.visit(&mut collect);
    average.map(&mut Blend {
        current: collect.0,
        decay,
    })
}

/// Every float parameter, flattened, by id.
struct Collect(HashMap<ParamId, Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let count = value.shape().num_elements();
        self.0.insert(param.id, value.reshape([count]));
    }
}

struct Blend {
    current: HashMap<ParamId, Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(current) = self.current.remove(&param.id) else {
            return param;
        };
        let decay = self.decay;
        param.map(|average| {
            let dims = average.dims();
            average * decay + current.reshape(dims) * (1.0 - decay)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;

    fn weights(layer: &Linear) -> Vec<f32> {
        layer
            .weight
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .expect("floats")
    }

    #[test]
    fn the_average_moves_a_fraction_of_the_way() {
        let _rng = crate::models::test_rng();
        let device = Device::flex();
        let start = LinearConfig::new(3, 2).init(&device);
        let moved = start.clone().map(&mut Blend {
            current: HashMap::new(),
            decay: 0.0,
        });
        // A copy with every weight raised by 1 (same ids).
        let target = Linear {
            weight: moved.weight.clone().map(|w| w + 1.0),
            bias: moved.bias.clone(),
        };
        let average = update_average(start.clone(), &target, 0.75);
        for (a, s) in weights(&average).iter().zip(weights(&start)) {
            assert!((a - (s + 0.25)).abs() < 1e-6, "{a} vs {s}");
        }
    }
}
