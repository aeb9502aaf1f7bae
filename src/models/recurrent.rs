//! muselab's own recurrent cell: an LSTM whose four gates share one input product and one
//! recurrent product per step.
//!
//! Why not burn's `Lstm`: it runs each step as eight small matrix products (one per gate and
//! source) plus bias adds, and writes each step's output into a whole-sequence tensor with a
//! slice assignment, whose backward pass builds a zero tensor of the whole sequence at every
//! step. Here the gates' weights sit side by side (`[input, 4·hidden]` and `[hidden, 4·hidden]`,
//! gate order input, forget, cell, output), so a step is two larger products instead of eight;
//! inputs and outputs are per-step tensors in a `Vec`, stacked once by the caller, never written
//! into a sequence tensor inside the loop. (Slice per-step inputs only from data that needs no
//! gradient: the backward pass of each slice of a tensor that does fills a zero tensor of the
//! whole sequence.)
//!
//! Measured (release, 2 cores, the LSTM melody model at batch 64): no speed gain over burn's
//! cells at these sizes (88–107 against 91–101 examples/s, alternating) — the time goes to
//! per-operation overhead, not to the products. It is kept as the base of a fused backward pass.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, LstmState};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Tensor};

/// Said when a recurrent model's checkpoint does not fit: those written with burn's own LSTM
/// cells (before these fused ones) do not, and are not converted.
pub const OLD_LAYOUT: &str = " (checkpoints of this model written before its LSTM cells were \
     fused, in muselab 0.1, cannot be read: train it again)";

/// An LSTM layer with fused gate weights.
#[derive(Module, Debug)]
pub struct FusedLstm {
    /// Input → the four gates' pre-activations, with the gates' biases.
    input: Linear,
    /// Previous hidden state → the four gates' pre-activations (no bias: one is enough).
    recurrent: Linear,
    /// Units.
    hidden: usize,
}

impl FusedLstm {
    /// A layer from `input` features to `hidden` units.
    pub fn new(input: usize, hidden: usize, device: &Device) -> Self {
        Self {
            input: LinearConfig::new(input, 4 * hidden).init(device),
            recurrent: LinearConfig::new(hidden, 4 * hidden)
                .with_bias(false)
                .init(device),
            hidden,
        }
    }

    /// Units.
    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Runs the layer over a sequence `[batch, steps, input]`, in order or reversed. Returns
    /// every step's hidden state `[batch, steps, hidden]` (in the inputs' order) and the final
    /// state. On the CPU the whole layer is one operation with a hand-written backward pass
    /// ([`super::lstm_op`]); elsewhere it is composed of burn operations step by step.
    pub fn forward_sequence(
        &self,
        x: Tensor<3>,
        state: Option<LstmState<2>>,
        reverse: bool,
    ) -> (Tensor<3>, LstmState<2>) {
        let [batch, steps, _] = x.dims();
        let device = x.device();
        let (c0, h0) = state
            .unwrap_or_else(|| LstmState::initial([batch, self.hidden], &device))
            .unpack();
        if steps == 0 || !super::is_cpu(&device) {
            return self.composed_sequence(x, LstmState::new(c0, h0), reverse);
        }
        let bias = match &self.input.bias {
            Some(b) => b.val(),
            None => Tensor::zeros([4 * self.hidden], &device),
        };
        let (hidden, cells) = super::lstm_op::lstm_layer(
            x,
            self.input.weight.val(),
            self.recurrent.weight.val(),
            bias,
            (h0, c0),
            reverse,
        );
        let last = if reverse { 0 } else { steps - 1 };
        let final_state = LstmState::new(
            cells.narrow(1, last, 1).reshape([batch, self.hidden]),
            hidden
                .clone()
                .narrow(1, last, 1)
                .reshape([batch, self.hidden]),
        );
        (hidden, final_state)
    }

    /// [`Self::forward_sequence`] composed of burn operations step by step (the path off the
    /// CPU).
    fn composed_sequence(
        &self,
        x: Tensor<3>,
        state: LstmState<2>,
        reverse: bool,
    ) -> (Tensor<3>, LstmState<2>) {
        let [batch, steps, features] = x.dims();
        let device = x.device();
        let inputs: Vec<Tensor<2>> = (0..steps)
            .map(|t| x.clone().narrow(1, t, 1).reshape([batch, features]))
            .collect();
        let (outputs, state) = self.forward_steps(&inputs, Some(state), reverse);
        if outputs.is_empty() {
            return (Tensor::zeros([batch, 0, self.hidden], &device), state);
        }
        (stack_steps(outputs), state)
    }

    /// Runs the layer over per-step inputs (`[batch, input]` each), in order or reversed.
    /// Returns the hidden state of every step, in the inputs' order, and the final state.
    pub fn forward_steps(
        &self,
        inputs: &[Tensor<2>],
        state: Option<LstmState<2>>,
        reverse: bool,
    ) -> (Vec<Tensor<2>>, LstmState<2>) {
        let Some(first) = inputs.first() else {
            let device = self.input.weight.val().device();
            return (Vec::new(), LstmState::initial([0, self.hidden], &device));
        };
        let [batch, _] = first.dims();
        let device = first.device();
        let (mut cell, mut hidden) = state
            .unwrap_or_else(|| LstmState::initial([batch, self.hidden], &device))
            .unpack();
        let h = self.hidden;
        let mut outputs: Vec<Option<Tensor<2>>> = vec![None; inputs.len()];
        let order: Box<dyn Iterator<Item = usize>> = if reverse {
            Box::new((0..inputs.len()).rev())
        } else {
            Box::new(0..inputs.len())
        };
        for t in order {
            // [batch, 4h]: the four gates' pre-activations in two products.
            let gates =
                self.input.forward(inputs[t].clone()) + self.recurrent.forward(hidden.clone());
            let input_gate = sigmoid(gates.clone().narrow(1, 0, h));
            let forget_gate = sigmoid(gates.clone().narrow(1, h, h));
            let candidate = tanh(gates.clone().narrow(1, 2 * h, h));
            let output_gate = sigmoid(gates.narrow(1, 3 * h, h));
            cell = forget_gate * cell + input_gate * candidate;
            hidden = output_gate * tanh(cell.clone());
            outputs[t] = Some(hidden.clone());
        }
        let outputs = outputs.into_iter().flatten().collect();
        (outputs, LstmState::new(cell, hidden))
    }
}

/// A bidirectional layer: one [`FusedLstm`] reads the sequence forwards, one backwards; their
/// hidden states stand side by side.
#[derive(Module, Debug)]
pub struct FusedBiLstm {
    forward: FusedLstm,
    reverse: FusedLstm,
}

impl FusedBiLstm {
    /// A layer from `input` features to `hidden` units per direction.
    pub fn new(input: usize, hidden: usize, device: &Device) -> Self {
        Self {
            forward: FusedLstm::new(input, hidden, device),
            reverse: FusedLstm::new(input, hidden, device),
        }
    }

    /// `[batch, steps, input]` → every step's states `[batch, steps, 2 · hidden]` (forward,
    /// then reverse) and the two directions' final hidden states `[batch, 2 · hidden]` (the
    /// forward one after the last step, the reverse one after the first).
    pub fn forward_sequence(&self, x: Tensor<3>) -> (Tensor<3>, Tensor<2>) {
        let (forwards, forward_end) = self.forward.forward_sequence(x.clone(), None, false);
        let (backwards, reverse_end) = self.reverse.forward_sequence(x, None, true);
        (
            Tensor::cat(vec![forwards, backwards], 2),
            Tensor::cat(vec![forward_end.hidden, reverse_end.hidden], 1),
        )
    }
}

/// Stacks per-step outputs `[batch, features]` into `[batch, steps, features]`.
pub fn stack_steps(outputs: Vec<Tensor<2>>) -> Tensor<3> {
    let parts: Vec<Tensor<3>> = outputs.into_iter().map(|o| o.unsqueeze_dim(1)).collect();
    Tensor::cat(parts, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::LstmConfig;
    use burn::tensor::{Distribution, TensorData};

    /// Per-step slices `[batch, features]` of a sequence `[batch, steps, features]`.
    fn steps_of(sequence: Tensor<3>) -> Vec<Tensor<2>> {
        let [batch, steps, features] = sequence.dims();
        (0..steps)
            .map(|t| sequence.clone().narrow(1, t, 1).reshape([batch, features]))
            .collect()
    }

    fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
        tensor
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("floats")
    }

    /// A fused layer with the weights of burn's reference `Lstm` (gates side by side, the two
    /// biases of each gate summed).
    fn fused_from(reference: &burn::nn::Lstm, input: usize, hidden: usize) -> FusedLstm {
        let device = Device::flex();
        let gates = [
            &reference.input_gate,
            reference.forget_gate.as_ref().expect("forget gate"),
            &reference.cell_gate,
            &reference.output_gate,
        ];
        let cat = |f: &dyn Fn(&burn::nn::GateController) -> Tensor<2>| {
            Tensor::cat(gates.iter().map(|g| f(g)).collect(), 1)
        };
        let w_in = cat(&|g| g.input_transform.weight.val());
        let w_rec = cat(&|g| g.hidden_transform.weight.val());
        let bias: Tensor<1> = Tensor::cat(
            gates
                .iter()
                .map(|g| {
                    let b = |l: &Linear| l.bias.as_ref().expect("bias").val();
                    b(&g.input_transform) + b(&g.hidden_transform)
                })
                .collect(),
            0,
        );
        let mut fused = FusedLstm::new(input, hidden, &device);
        fused.input.weight = Param::from_tensor(w_in.detach());
        fused.input.bias = Some(Param::from_tensor(bias.detach()));
        fused.recurrent.weight = Param::from_tensor(w_rec.detach());
        fused
    }

    #[test]
    fn matches_burns_lstm_in_outputs_and_gradients() {
        let _rng = crate::models::test_rng();
        let device = Device::flex().autodiff();
        let (batch, steps, input, hidden) = (3, 7, 5, 4);
        let reference = LstmConfig::new(input, hidden, true).init(&device);
        let fused = fused_from(&reference, input, hidden).to_device(&device);
        let data = Tensor::<3>::random(
            [batch, steps, input],
            Distribution::Normal(0.0, 1.0),
            &Device::flex(),
        )
        .into_data();
        let x_ref = Tensor::<3>::from_data(data.clone(), &device).require_grad();
        let (expected, expected_state) = reference.forward(x_ref.clone(), None);
        let x_fused = Tensor::<3>::from_data(data, &device).require_grad();
        let (outputs, state) = fused.forward_steps(&steps_of(x_fused.clone()), None, false);
        let got = stack_steps(outputs);

        let close = |a: Tensor<3>, b: Tensor<3>| {
            let (a, b) = (values(a), values(b));
            assert_eq!(a.len(), b.len());
            a.iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max)
        };
        assert!(close(got.clone(), expected.clone()) < 1e-5);
        let final_gap = close(
            state.cell.clone().unsqueeze_dim(1),
            expected_state.cell.clone().unsqueeze_dim(1),
        );
        assert!(final_gap < 1e-5);

        // The same loss gives the same gradient with respect to the inputs.
        let weights = Tensor::<3>::from_data(
            TensorData::new(
                (0..batch * steps * hidden)
                    .map(|i| (i % 7) as f32 - 3.0)
                    .collect::<Vec<f32>>(),
                [batch, steps, hidden],
            ),
            &device,
        );
        let g_ref = (expected * weights.clone()).sum().backward();
        let g_fused = (got * weights).sum().backward();
        let (a, b) = (
            x_ref.grad(&g_ref).expect("grad"),
            x_fused.grad(&g_fused).expect("grad"),
        );
        assert!(close(a, b) < 1e-4);
    }

    #[test]
    fn reverse_runs_from_the_last_step_and_keeps_the_order() {
        let _rng = crate::models::test_rng();
        let device = Device::flex();
        let layer = FusedLstm::new(2, 3, &device);
        let x = Tensor::<3>::random([1, 4, 2], Distribution::Normal(0.0, 1.0), &device);
        let steps = steps_of(x);
        let reversed_input: Vec<Tensor<2>> = steps.iter().rev().cloned().collect();
        let (backward, _) = layer.forward_steps(&steps, None, true);
        let (forward_on_reversed, _) = layer.forward_steps(&reversed_input, None, false);
        for (a, b) in backward.iter().zip(forward_on_reversed.iter().rev()) {
            assert_eq!(values(a.clone()), values(b.clone()));
        }
    }

    /// The CPU kernel (one operation per layer, hand-written backward) against the same layer
    /// composed of burn operations step by step (the path a GPU takes): outputs, final state and the gradients of the
    /// inputs, the weights and the initial state, forwards and reversed.
    #[test]
    fn sequence_kernel_matches_the_composed_layer() {
        let _rng = crate::models::test_rng();
        let device = Device::flex().autodiff();
        let (batch, steps, input, hidden) = (3, 6, 5, 4);
        let random = |shape: [usize; 3]| {
            Tensor::<3>::random(shape, Distribution::Normal(0.0, 1.0), &Device::flex()).into_data()
        };
        let x_data = random([batch, steps, input]);
        let state_data = random([2, batch, hidden]);
        let mixing = Tensor::<3>::from_data(random([batch, steps, hidden]), &device);
        for reverse in [false, true] {
            device.seed(5);
            let layer = FusedLstm::new(input, hidden, &device);
            let run = |kernel: bool| {
                let x = Tensor::<3>::from_data(x_data.clone(), &device).require_grad();
                let state = Tensor::<3>::from_data(state_data.clone(), &device).require_grad();
                let c0 = state.clone().narrow(0, 0, 1).reshape([batch, hidden]);
                let h0 = state.clone().narrow(0, 1, 1).reshape([batch, hidden]);
                let initial = LstmState::new(c0, h0);
                let (out, last) = if kernel {
                    layer.forward_sequence(x.clone(), Some(initial), reverse)
                } else {
                    layer.composed_sequence(x.clone(), initial, reverse)
                };
                let loss = (out.clone() * mixing.clone()).sum()
                    + (last.cell.clone() * last.hidden.clone()).sum();
                let grads = loss.backward();
                let grad_of = |t: &Tensor<2>| values(t.grad(&grads).expect("weight gradient"));
                (
                    values(out),
                    values(last.cell),
                    values(x.grad(&grads).expect("input gradient")),
                    values(state.grad(&grads).expect("state gradient")),
                    grad_of(&layer.input.weight.val()),
                    grad_of(&layer.recurrent.weight.val()),
                )
            };
            let (kernel, composed) = (run(true), run(false));
            let pairs = [
                ("outputs", &kernel.0, &composed.0),
                ("final cell", &kernel.1, &composed.1),
                ("input gradient", &kernel.2, &composed.2),
                ("initial state gradient", &kernel.3, &composed.3),
                ("input weight gradient", &kernel.4, &composed.4),
                ("recurrent weight gradient", &kernel.5, &composed.5),
            ];
            for (what, a, b) in pairs {
                assert_eq!(a.len(), b.len(), "{what}");
                let gap = a
                    .iter()
                    .zip(b.iter())
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0f32, f32::max);
                assert!(gap < 1e-4, "{what} (reverse {reverse}): off by {gap}");
            }
        }
    }
}
