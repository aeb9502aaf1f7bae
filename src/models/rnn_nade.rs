//! RNN-NADE (Boulanger-Lewandowski, Bengio & Vincent 2012, the paper's best model): the
//! RNN-RBM's recurrence u_t = tanh(b_u + v_t W_vu + u_{t−1} W_uu) over the frames, but each
//! frame's distribution is a NADE (Larochelle & Murray 2011) whose biases come from u_{t−1}:
//!
//! p(v_t | v_<t) = Π_i p(v_t,i | v_t,<i, u_{t−1}),
//! h_i = σ(c_t + W_{<i}ᵀ v_t,<i),  p(v_t,i = 1 | …) = σ(b_t,i + V_i · h_i),
//! b_t = b + u_{t−1} W_ub,  c_t = c + u_{t−1} W_uc,
//!
//! keys ordered low to high. Unlike the RBM the likelihood is exact and differentiable, so the
//! model trains by gradient descent on it directly (the paper's best figures used Hessian-free
//! optimisation; Adam is the usual substitute).

use burn::module::{Module, Param};
use burn::tensor::activation::{log_sigmoid, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};

/// The written part of the model card.
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "RNN-NADE: p(v_t | v_<t) = Π_i σ(±(b_t,i + V_i·σ(c_t + W_<iᵀ v_t,<i))), with b_t, c_t affine in the RNN state u_{t−1}",
    reference: "Boulanger-Lewandowski, Bengio & Vincent, \"Modeling Temporal Dependencies in High-Dimensional Sequences\" (ICML 2012), section 4; Larochelle & Murray, \"The Neural Autoregressive Distribution Estimator\" (AISTATS 2011)",
    deviations: &[
        (
            "Adam instead of Hessian-free optimisation",
            "Hessian-free needs a second-order solver per update; Adam on the exact likelihood is the common substitute in later reproductions",
        ),
        (
            "the NADE's running sum W_<iᵀ v_<i as one masked matrix product",
            "O(88² · H) per frame instead of O(88 · H), but one large product is faster on a CPU or GPU than 88 small ones",
        ),
    ],
};

use super::rnn_rbm::normal;

/// The network: the NADE's weights and biases, the recurrence and the maps from its state to
/// the NADE's biases.
#[derive(Module, Debug)]
pub struct RnnNade {
    /// Visible → NADE hidden, `[visible, hidden]`.
    input_weights: Param<Tensor<2>>,
    /// NADE hidden → each key's logit, `[visible, hidden]`.
    output_weights: Param<Tensor<2>>,
    visible_bias: Param<Tensor<1>>,
    hidden_bias: Param<Tensor<1>>,
    u_to_visible: Param<Tensor<2>>,
    u_to_hidden: Param<Tensor<2>>,
    v_to_u: Param<Tensor<2>>,
    u_to_u: Param<Tensor<2>>,
    u_bias: Param<Tensor<1>>,
}

impl RnnNade {
    /// NADE weights N(0, 0.01) (scaled by fan-in for the output), recurrent weights N(0, 0.01),
    /// zero biases; `frequencies` (each key's share of frames on) set the visible biases to the
    /// data's log-odds, so that the untrained model starts as the independent Bernoulli.
    pub fn new(
        visible: usize,
        hidden: usize,
        recurrent: usize,
        frequencies: Option<&[f32]>,
        device: &Device,
    ) -> Self {
        let visible_bias = match frequencies {
            Some(f) => super::log_odds(f, device),
            None => Param::from_tensor(Tensor::zeros([visible], device)),
        };
        Self {
            input_weights: normal([visible, hidden], 0.01, device),
            output_weights: normal([visible, hidden], 0.01, device),
            visible_bias,
            hidden_bias: Param::from_tensor(Tensor::zeros([hidden], device)),
            u_to_visible: normal([recurrent, visible], 0.01, device),
            u_to_hidden: normal([recurrent, hidden], 0.01, device),
            v_to_u: normal([visible, recurrent], 0.01, device),
            u_to_u: normal([recurrent, recurrent], 0.01, device),
            u_bias: Param::from_tensor(Tensor::zeros([recurrent], device)),
        }
    }

    fn sizes(&self) -> (usize, usize, usize) {
        let [visible, hidden] = self.input_weights.val().dims();
        (visible, hidden, self.u_bias.val().dims()[0])
    }

    /// The state before each frame, u_{t−1} (u_{−1} = 0): frames `[batch, length, visible]` →
    /// `[batch * length, recurrent]`, rows in (sequence, frame) order.
    pub fn previous_states(&self, v: Tensor<3>) -> Tensor<2> {
        super::rnn_rbm::tanh_recurrence(v, self.v_to_u.val(), self.u_to_u.val(), self.u_bias.val())
    }

    /// The NADE biases of each frame from the states before it: (b_t `[rows, visible]`, c_t
    /// `[rows, hidden]`).
    pub fn biases(&self, previous: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        (
            previous.clone().matmul(self.u_to_visible.val())
                + self.visible_bias.val().unsqueeze_dim::<2>(0),
            previous.matmul(self.u_to_hidden.val()) + self.hidden_bias.val().unsqueeze_dim::<2>(0),
        )
    }

    /// Each key's logit given the keys below it: frames `[rows, visible]` → `[rows, visible]`.
    pub fn logits(&self, v: Tensor<2>, b: Tensor<2>, c: Tensor<2>) -> Tensor<2> {
        let (visible, hidden, _) = self.sizes();
        let rows = v.dims()[0];
        let device = v.device();
        // below[i, j] = 1 where j < i: row i of the mask keeps the keys under key i.
        let below: Vec<f32> = (0..visible * visible)
            .map(|k| f32::from(u8::from(k % visible < k / visible)))
            .collect();
        let below = Tensor::<2>::from_data(TensorData::new(below, [visible, visible]), &device);
        let masked = v.unsqueeze_dim::<3>(1) * below.unsqueeze_dim::<3>(0); // [rows, i, j]
        let a = masked
            .reshape([rows * visible, visible])
            .matmul(self.input_weights.val())
            .reshape([rows, visible, hidden])
            + c.unsqueeze_dim::<3>(1);
        let h = sigmoid(a);
        let out = (h * self.output_weights.val().unsqueeze_dim::<3>(0))
            .sum_dim(2)
            .reshape([rows, visible]);
        out + b
    }

    /// log p(v_t | v_<t) of each frame, `[rows]`.
    pub fn log_likelihood(&self, v: Tensor<2>, b: Tensor<2>, c: Tensor<2>) -> Tensor<1> {
        let logits = self.logits(v.clone(), b, c);
        (v.clone() * log_sigmoid(logits.clone()) + (v.neg() + 1.0) * log_sigmoid(logits.neg()))
            .sum_dim(1)
            .squeeze_dim::<1>(1)
    }

    /// The most likely frame, key by key from the lowest (each key on where its probability
    /// given the keys already chosen below it is at least ½): the greedy mode of the NADE.
    pub fn greedy(&self, b: Tensor<2>, c: Tensor<2>) -> Tensor<2> {
        let (visible, hidden, _) = self.sizes();
        let rows = b.dims()[0];
        let w = self.input_weights.val();
        let out_w = self.output_weights.val();
        let mut a = c;
        let mut keys = Vec::with_capacity(visible);
        for i in 0..visible {
            let h = sigmoid(a.clone());
            let vi = out_w.clone().slice([i..i + 1, 0..hidden]); // [1, hidden]
            let logit = (h * vi).sum_dim(1) + b.clone().slice([0..rows, i..i + 1]);
            let on = logit.greater_equal_elem(0.0).float(); // [rows, 1]
            a = a + on.clone().matmul(w.clone().slice([i..i + 1, 0..hidden]));
            keys.push(on);
        }
        Tensor::cat(keys, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The masked product equals the NADE's definition computed key by key, and the
    /// probabilities of all 2^D frames of a small model sum to one.
    #[test]
    fn likelihood_is_a_normalised_autoregressive_product() {
        let _rng = super::super::test_rng();
        let device = Device::flex();
        device.seed(5);
        let (visible, hidden) = (6, 4);
        let mut model = RnnNade::new(visible, hidden, 3, None, &device);
        model.input_weights = normal([visible, hidden], 1.0, &device);
        model.output_weights = normal([visible, hidden], 1.0, &device);
        let frames: Vec<f32> = (0..1usize << visible)
            .flat_map(|s| (0..visible).map(move |i| f32::from(u8::from(s >> i & 1 == 1))))
            .collect();
        let rows = 1 << visible;
        let v = Tensor::<2>::from_data(TensorData::new(frames, [rows, visible]), &device);
        let b = Tensor::<2>::random(
            [1, visible],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        )
        .repeat_dim(0, rows);
        let c = Tensor::<2>::random(
            [1, hidden],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        )
        .repeat_dim(0, rows);
        let ll: Vec<f32> = model
            .log_likelihood(v, b.clone(), c.clone())
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let total: f64 = ll.iter().map(|&x| f64::from(x).exp()).sum();
        assert!((total - 1.0).abs() < 1e-4, "Σ p = {total}");
        // The greedy frame is one of the frames, and at least as likely as the average one.
        let g = model.greedy(b.slice([0..1, 0..visible]), c.slice([0..1, 0..hidden]));
        let bits: Vec<f32> = g.into_data().try_into_vec::<f32>().unwrap();
        let index: usize = bits
            .iter()
            .enumerate()
            .map(|(i, &x)| usize::from(x > 0.5) << i)
            .sum();
        assert!(f64::from(ll[index]).exp() >= 1.0 / rows as f64);
    }
}
