//! Model cards: what a model is in Briot's compound notation, where it comes from, how it
//! differs from the reference and why — beside its parameters and tensor shapes read from the
//! module itself, never typed in.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// The written part of a card, kept in each model's file.
#[derive(Clone, Copy, Debug)]
pub struct CardText {
    /// Briot's compound formula, e.g. "GAN(Bidirectional-LSTM², LSTM²)".
    pub formula: &'static str,
    /// The reference paper or code.
    pub reference: &'static str,
    /// Deviations from the reference: (what, why).
    pub deviations: &'static [(&'static str, &'static str)],
}

/// One parameter tensor of a module.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerShape {
    /// Its path in the module ("encoder.0.weight"; "G."/"D." for adversarial pairs).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
}

/// A deviation from the reference.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deviation {
    /// What differs.
    pub what: String,
    /// Why.
    pub why: String,
}

/// A whole card, as `muselab models --json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelCard {
    /// Model id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Briot's compound formula.
    pub formula: String,
    /// Reference.
    pub reference: String,
    /// Trainable parameters, counted from the built module.
    pub parameters: usize,
    /// Parameter tensors and their shapes.
    pub layers: Vec<LayerShape>,
    /// Deviations from the reference.
    pub deviations: Vec<Deviation>,
}

impl ModelCard {
    /// A card from the written part and the layers of a built model.
    pub fn new(kind: super::ModelKind, layers: Vec<LayerShape>) -> Self {
        let text = kind.card();
        Self {
            id: kind.id().into(),
            title: kind.title().into(),
            formula: text.formula.into(),
            reference: text.reference.into(),
            parameters: parameter_count(&layers),
            layers,
            deviations: text
                .deviations
                .iter()
                .map(|(what, why)| Deviation {
                    what: (*what).into(),
                    why: (*why).into(),
                })
                .collect(),
        }
    }
}

/// Total number of values in the layers.
pub fn parameter_count(layers: &[LayerShape]) -> usize {
    layers
        .iter()
        .map(|l| l.shape.iter().product::<usize>())
        .sum()
}

/// The float parameters of a module with their paths, each prefixed with `prefix`.
/// Floating-point operations of the matrix products in one forward pass, per example: 2 per
/// weight of every 2-D weight matrix, times how often the example applies it (`uses`, by the
/// parameter's name: once for a feedforward layer, once per time step for a recurrent one).
/// Embedding tables are looked up, not multiplied, and bias adds and activations are left out,
/// so this is a lower bound of the work.
pub fn matmul_flops(layers: &[LayerShape], uses: impl Fn(&str) -> f64) -> f64 {
    layers
        .iter()
        .filter(|l| l.shape.len() == 2 && l.name.ends_with("weight") && !l.name.contains("embed"))
        .map(|l| 2.0 * (l.shape[0] * l.shape[1]) as f64 * uses(&l.name))
        .sum()
}

/// Forward and backward together cost about three forward passes (the backward pass computes
/// the gradients of both the inputs and the weights of each product).
pub const TRAINING_PASSES: f64 = 3.0;

pub fn layers<M: Module>(prefix: &str, module: &M) -> Vec<LayerShape> {
    struct Collect {
        path: Vec<String>,
        layers: Vec<LayerShape>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.layers.push(LayerShape {
                name: self.path.join("."),
                shape: param.val().dims().to_vec(),
            });
        }
    }
    let mut visitor = Collect {
        path: if prefix.is_empty() {
            Vec::new()
        } else {
            vec![prefix.to_string()]
        },
        layers: Vec::new(),
    };
    module.visit(&mut visitor);
    visitor.layers
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;

    #[test]
    fn layers_are_read_from_the_module() {
        let _rng = crate::models::test_rng();
        let device = burn::tensor::Device::flex();
        let linear = LinearConfig::new(3, 5).init(&device);
        let found = layers("", &linear);
        let shapes: Vec<&[usize]> = found.iter().map(|l| l.shape.as_slice()).collect();
        assert_eq!(shapes, [&[3usize, 5][..], &[5][..]]);
        assert_eq!(parameter_count(&found), 20);
        assert_eq!(linear.num_params(), 20);
    }
}
