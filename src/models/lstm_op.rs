//! The CPU LSTM kernel ([`super::lstm_kernel`]) as one burn tensor operation with its own
//! backward pass, through burn's backend-extension mechanism: a forward implementation for the
//! CPU backend (`Flex`) and one for autodiff over it that registers the hand-written backward.
//!
//! Other backends (the GPU) do not implement it; [`super::recurrent::FusedLstm`] uses it only
//! when its tensors are on the CPU and composes burn operations elsewhere.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, Flex, backend_extension};
use burn::tensor::{Tensor, TensorData};

use super::lstm_kernel::{self, Dims, Saved};

/// A whole LSTM layer as one operation.
#[backend_extension(Flex, Autodiff)]
pub trait LstmBackend: burn::backend::Backend {
    /// `x`: `[batch, steps, input]`; `w_input`: `[input, 4h]`; `w_recurrent`: `[h, 4h]`;
    /// `bias`: `[4h]`; `h0`, `c0`: `[batch, h]`. Returns `[batch, steps, 2h]`: every step's
    /// hidden state, then its cell state.
    fn lstm_layer(
        x: FloatTensor<Self>,
        w_input: FloatTensor<Self>,
        w_recurrent: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        reverse: bool,
    ) -> FloatTensor<Self>;
}

/// A CPU tensor's values in row-major order.
fn values(tensor: &FlexTensor) -> Vec<f32> {
    let contiguous = tensor.to_contiguous();
    match contiguous.as_slice::<f32>() {
        Some(slice) => slice.to_vec(),
        None => contiguous
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 values"),
    }
}

fn tensor(values: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.to_vec()))
}

/// The inputs' values and the shapes they imply.
#[derive(Debug)]
struct Inputs {
    dims: Dims,
    x: Vec<f32>,
    w_input: Vec<f32>,
    w_recurrent: Vec<f32>,
    bias: Vec<f32>,
    h0: Vec<f32>,
    c0: Vec<f32>,
    reverse: bool,
}

impl Inputs {
    fn read([x, w_input, w_recurrent, bias, h0, c0]: [&FlexTensor; 6], reverse: bool) -> Self {
        let shape = x.layout().shape().clone();
        let [batch, steps, input] = [shape[0], shape[1], shape[2]];
        let hidden = w_recurrent.layout().shape()[0];
        Self {
            dims: Dims {
                batch,
                steps,
                input,
                hidden,
            },
            x: values(x),
            w_input: values(w_input),
            w_recurrent: values(w_recurrent),
            bias: values(bias),
            h0: values(h0),
            c0: values(c0),
            reverse,
        }
    }

    fn forward(&self) -> Saved {
        lstm_kernel::forward(
            self.dims,
            &self.x,
            &self.w_input,
            &self.w_recurrent,
            &self.bias,
            &self.h0,
            &self.c0,
            self.reverse,
        )
    }
}

/// `[batch, steps, 2h]`: hidden states then cell states per step.
fn output(dims: Dims, saved: &Saved) -> FlexTensor {
    let h = dims.hidden;
    let mut out = Vec::with_capacity(saved.hidden.len() * 2);
    for (hs, cs) in saved
        .hidden
        .chunks_exact(h)
        .zip(saved.cells.chunks_exact(h))
    {
        out.extend_from_slice(hs);
        out.extend_from_slice(cs);
    }
    tensor(out, &[dims.batch, dims.steps, 2 * h])
}

impl LstmBackend for Flex {
    fn lstm_layer(
        x: FlexTensor,
        w_input: FlexTensor,
        w_recurrent: FlexTensor,
        bias: FlexTensor,
        h0: FlexTensor,
        c0: FlexTensor,
        reverse: bool,
    ) -> FlexTensor {
        let inputs = Inputs::read([&x, &w_input, &w_recurrent, &bias, &h0, &c0], reverse);
        output(inputs.dims, &inputs.forward())
    }
}

/// The backward step: the kernel's backward pass over what the forward pass kept.
#[derive(Debug)]
struct LstmBackward;

impl Backward<Flex, 6> for LstmBackward {
    type State = Arc<(Inputs, Saved)>;

    fn backward(
        self,
        ops: Ops<Self::State, 6>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (inputs, saved) = ops.state.as_ref();
        let dims = inputs.dims;
        let h = dims.hidden;
        let d_out = values(&grads.consume::<Flex>(&ops.node));
        // The output's gradient, split into its hidden-state and cell-state halves.
        let mut d_hidden = Vec::with_capacity(d_out.len() / 2);
        let mut d_cells = Vec::with_capacity(d_out.len() / 2);
        for row in d_out.chunks_exact(2 * h) {
            d_hidden.extend_from_slice(&row[..h]);
            d_cells.extend_from_slice(&row[h..]);
        }
        let tracked = |i: usize| ops.parents[i].is_some();
        let wanted = lstm_kernel::Wanted {
            x: tracked(0),
            w_input: tracked(1),
            w_recurrent: tracked(2),
            bias: tracked(3),
        };
        let g = lstm_kernel::backward(
            dims,
            wanted,
            saved,
            &d_hidden,
            &d_cells,
            &inputs.x,
            &inputs.w_input,
            &inputs.w_recurrent,
            &inputs.h0,
            &inputs.c0,
            inputs.reverse,
        );
        let (b, t, i) = (dims.batch, dims.steps, dims.input);
        let results = [
            (g.x, vec![b, t, i]),
            (g.w_input, vec![i, 4 * h]),
            (g.w_recurrent, vec![h, 4 * h]),
            (g.bias, vec![4 * h]),
            (g.h0, vec![b, h]),
            (g.c0, vec![b, h]),
        ];
        for (parent, (values, shape)) in ops.parents.iter().zip(results) {
            if let Some(node) = parent {
                let id: NodeId = node.id;
                grads.register::<Flex>(id, tensor(values, &shape));
            }
        }
    }
}

impl<C: CheckpointStrategy> LstmBackend for Autodiff<Flex, C> {
    fn lstm_layer(
        x: FloatTensor<Self>,
        w_input: FloatTensor<Self>,
        w_recurrent: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        reverse: bool,
    ) -> FloatTensor<Self> {
        let nodes = [
            x.node(),
            w_input.node(),
            w_recurrent.node(),
            bias.node(),
            h0.node(),
            c0.node(),
        ];
        let inputs = Inputs::read(
            [
                x.primitive(),
                w_input.primitive(),
                w_recurrent.primitive(),
                bias.primitive(),
                h0.primitive(),
                c0.primitive(),
            ],
            reverse,
        );
        let saved = inputs.forward();
        let out = output(inputs.dims, &saved);
        match LstmBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(Arc::new((inputs, saved)), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }
}

/// Runs one LSTM layer on CPU tensors (see [`LstmBackend::lstm_layer`]); returns every step's
/// hidden and cell states, `[batch, steps, h]` each.
pub fn lstm_layer(
    x: Tensor<3>,
    w_input: Tensor<2>,
    w_recurrent: Tensor<2>,
    bias: Tensor<1>,
    (h0, c0): (Tensor<2>, Tensor<2>),
    reverse: bool,
) -> (Tensor<3>, Tensor<3>) {
    let h = w_recurrent.dims()[0];
    let out = Tensor::<3>::from_dispatch(<Dispatch as LstmBackend>::lstm_layer(
        x.into_dispatch(),
        w_input.into_dispatch(),
        w_recurrent.into_dispatch(),
        bias.into_dispatch(),
        h0.into_dispatch(),
        c0.into_dispatch(),
        reverse,
    ));
    (out.clone().narrow(2, 0, h), out.narrow(2, h, h))
}
