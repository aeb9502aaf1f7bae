//! A dense layer — matrix product, bias and activation — as one burn tensor operation on the
//! CPU, with its own backward pass, through burn's backend-extension mechanism (as
//! [`super::lstm_op`] does for the LSTM). burn composes the same layer from three operations,
//! each with a fresh output buffer and an autodiff node; here the product writes straight into
//! a buffer that already holds the bias, the activation runs in place, and the backward pass
//! computes only the gradients of the inputs that take one (a frozen discriminator's weights
//! take none).
//!
//! Other backends (the GPU) do not implement it: [`dense`] composes burn operations there.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, Flex, backend_extension};
use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData};

use super::lstm_kernel::{View, product};

/// The activation applied after the product and the bias.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// None: `y = x·W + b`.
    Identity,
    /// `max(0, z)`.
    Relu,
    /// `z` above 0, `slope · z` below.
    LeakyRelu(f32),
    /// `1 / (1 + e^−z)`.
    Sigmoid,
}

impl Activation {
    fn apply(self, values: &mut [f32]) {
        match self {
            Self::Identity => {}
            Self::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
            Self::LeakyRelu(slope) => values
                .iter_mut()
                .for_each(|v| *v = if *v > 0.0 { *v } else { *v * slope }),
            Self::Sigmoid => values
                .iter_mut()
                .for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
        }
    }

    /// Multiplies `grad` (the output's gradient) by the activation's derivative, read from its
    /// output `y`.
    fn chain(self, grad: &mut [f32], y: &[f32]) {
        match self {
            Self::Identity => {}
            Self::Relu => grad
                .iter_mut()
                .zip(y)
                .for_each(|(g, &y)| *g = if y > 0.0 { *g } else { 0.0 }),
            Self::LeakyRelu(slope) => grad
                .iter_mut()
                .zip(y)
                .for_each(|(g, &y)| *g = if y > 0.0 { *g } else { *g * slope }),
            Self::Sigmoid => grad
                .iter_mut()
                .zip(y)
                .for_each(|(g, &y)| *g *= y * (1.0 - y)),
        }
    }

    /// The same activation composed of burn operations (for other backends).
    fn compose(self, z: Tensor<2>) -> Tensor<2> {
        use burn::tensor::activation::{leaky_relu, relu, sigmoid};
        match self {
            Self::Identity => z,
            Self::Relu => relu(z),
            Self::LeakyRelu(slope) => leaky_relu(z, f64::from(slope)),
            Self::Sigmoid => sigmoid(z),
        }
    }
}

/// A dense layer as one operation.
#[backend_extension(Flex, Autodiff)]
pub trait DenseBackend: burn::backend::Backend {
    /// `x`: `[rows, input]`; `weight`: `[input, output]`; `bias`: `[output]`. Returns
    /// `activation(x·weight + bias)`, `[rows, output]`.
    fn dense_layer(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        activation: Activation,
    ) -> FloatTensor<Self>;
}

/// A CPU tensor in row-major order (no copy when it already is).
fn contiguous(tensor: &FlexTensor) -> FlexTensor {
    if tensor.as_slice::<f32>().is_some() {
        tensor.clone()
    } else {
        tensor.to_contiguous()
    }
}

fn slice(tensor: &FlexTensor) -> &[f32] {
    tensor.as_slice::<f32>().expect("a contiguous f32 tensor")
}

fn tensor(values: Vec<f32>, shape: [usize; 2]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.to_vec()))
}

/// The forward pass on contiguous inputs: `(rows, input, output)` and the output values.
fn forward_values(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    activation: Activation,
) -> ([usize; 3], Vec<f32>) {
    let x_shape = x.layout().shape();
    let rows = x_shape[0];
    let input = x_shape[1];
    let output = weight.layout().shape()[1];
    let b = slice(bias);
    // The bias first, then the product accumulated onto it: no zero-fill, no separate pass.
    let mut y = Vec::with_capacity(rows * output);
    for _ in 0..rows {
        y.extend_from_slice(b);
    }
    product(
        &mut y,
        View::dense(rows, output),
        true,
        slice(x),
        View::dense(rows, input),
        false,
        slice(weight),
        View::dense(input, output),
        false,
        true,
    );
    activation.apply(&mut y);
    ([rows, input, output], y)
}

impl DenseBackend for Flex {
    fn dense_layer(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        activation: Activation,
    ) -> FlexTensor {
        let (x, weight, bias) = (contiguous(&x), contiguous(&weight), contiguous(&bias));
        let ([rows, _, output], y) = forward_values(&x, &weight, &bias, activation);
        tensor(y, [rows, output])
    }
}

/// What the backward pass reads: the inputs and the output.
#[derive(Debug)]
struct Saved {
    x: FlexTensor,
    weight: FlexTensor,
    y: FlexTensor,
    dims: [usize; 3],
    activation: Activation,
}

#[derive(Debug)]
struct DenseBackward;

impl Backward<Flex, 3> for DenseBackward {
    type State = Arc<Saved>;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let saved = ops.state.as_ref();
        let [rows, input, output] = saved.dims;
        let d_y = contiguous(&grads.consume::<Flex>(&ops.node));
        let mut d_z = slice(&d_y).to_vec();
        saved.activation.chain(&mut d_z, slice(&saved.y));
        let [x_node, w_node, b_node] = &ops.parents;
        if let Some(node) = x_node {
            let mut d_x = vec![0.0; rows * input];
            product(
                &mut d_x,
                View::dense(rows, input),
                false,
                &d_z,
                View::dense(rows, output),
                false,
                slice(&saved.weight),
                View::dense(input, output),
                true,
                true,
            );
            let id: NodeId = node.id;
            grads.register::<Flex>(id, tensor(d_x, [rows, input]));
        }
        if let Some(node) = w_node {
            let mut d_w = vec![0.0; input * output];
            product(
                &mut d_w,
                View::dense(input, output),
                false,
                slice(&saved.x),
                View::dense(rows, input),
                true,
                &d_z,
                View::dense(rows, output),
                false,
                true,
            );
            grads.register::<Flex>(node.id, tensor(d_w, [input, output]));
        }
        if let Some(node) = b_node {
            let mut d_b = vec![0.0f32; output];
            for row in d_z.chunks_exact(output) {
                d_b.iter_mut().zip(row).for_each(|(acc, v)| *acc += v);
            }
            let values = FlexTensor::from_data(TensorData::new(d_b, vec![output]));
            grads.register::<Flex>(node.id, values);
        }
    }
}

impl<C: CheckpointStrategy> DenseBackend for Autodiff<Flex, C> {
    fn dense_layer(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        activation: Activation,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        let (xp, wp, bp) = (
            contiguous(x.primitive()),
            contiguous(weight.primitive()),
            contiguous(bias.primitive()),
        );
        let (dims, y) = forward_values(&xp, &wp, &bp, activation);
        let out = tensor(y, [dims[0], dims[2]]);
        match DenseBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let saved = Saved {
                    x: xp,
                    weight: wp,
                    y: out.clone(),
                    dims,
                    activation,
                };
                prep.finish(Arc::new(saved), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }
}

/// `activation(layer(x))` for `x` of `[rows, input]`: one fused operation on the CPU, burn's
/// composition elsewhere (and for a layer without bias).
pub fn dense(layer: &Linear, x: Tensor<2>, activation: Activation) -> Tensor<2> {
    let Some(bias) = layer.bias.as_ref().filter(|_| super::is_cpu(&x.device())) else {
        return activation.compose(layer.forward(x));
    };
    Tensor::<2>::from_dispatch(<Dispatch as DenseBackend>::dense_layer(
        x.into_dispatch(),
        layer.weight.val().into_dispatch(),
        bias.val().into_dispatch(),
        activation,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::LinearConfig;
    use burn::tensor::{Device, Distribution};

    fn values(tensor: Tensor<2>) -> Vec<f32> {
        tensor
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .expect("f32")
    }

    fn gap(a: Vec<f32>, b: Vec<f32>) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn matches_burns_composition_in_outputs_and_gradients() {
        let _rng = crate::models::test_rng();
        let device = Device::flex().autodiff();
        let (rows, input, output) = (5, 7, 6);
        let layer = LinearConfig::new(input, output).init(&device);
        let data = Tensor::<2>::random(
            [rows, input],
            Distribution::Normal(0.0, 1.0),
            &Device::flex(),
        )
        .into_data();
        // A loss that weighs every output differently, so that each gradient entry counts.
        let weights = Tensor::<2>::from_data(
            TensorData::new(
                (0..rows * output)
                    .map(|i| (i % 5) as f32 - 2.0)
                    .collect::<Vec<f32>>(),
                [rows, output],
            ),
            &device,
        );
        for activation in [
            Activation::Identity,
            Activation::Relu,
            Activation::LeakyRelu(0.2),
            Activation::Sigmoid,
        ] {
            let x_ref = Tensor::<2>::from_data(data.clone(), &device).require_grad();
            let expected = activation.compose(layer.forward(x_ref.clone()));
            let x = Tensor::<2>::from_data(data.clone(), &device).require_grad();
            let got = dense(&layer, x.clone(), activation);
            assert!(gap(values(got.clone()), values(expected.clone())) < 1e-5);
            let g_ref = (expected * weights.clone()).sum().backward();
            let g = (got * weights.clone()).sum().backward();
            let grad = |t: &Tensor<2>, g| values(t.grad(g).expect("grad"));
            assert!(
                gap(grad(&x, &g), grad(&x_ref, &g_ref)) < 1e-4,
                "{activation:?}"
            );
            let w = &layer.weight.val();
            assert!(gap(grad(w, &g), grad(w, &g_ref)) < 1e-4, "{activation:?}");
            let b = layer.bias.as_ref().expect("bias").val();
            let db = |g| {
                b.grad(g)
                    .expect("grad")
                    .into_data()
                    .try_to_vec::<f32>()
                    .expect("f32")
            };
            assert!(gap(db(&g), db(&g_ref)) < 1e-4, "{activation:?}");
        }
        // A frozen layer: the input's gradient only, the same as before.
        let frozen = layer.clone().no_grad();
        let x = Tensor::<2>::from_data(data, &device).require_grad();
        let g = (dense(&frozen, x.clone(), Activation::Relu) * weights)
            .sum()
            .backward();
        assert!(x.grad(&g).is_some());
        assert!(frozen.weight.val().grad(&g).is_none());
    }
}
