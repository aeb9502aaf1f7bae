//! The LSTM row of the polyphonic benchmarks (Bai, Kolter & Koltun 2018, Table 1, and the
//! papers before it): one LSTM layer over the frames and, for the next frame, 88 independent
//! Bernoulli outputs
//!
//! p(v_t | v_<t) = Π_i σ(±(W_o h_{t−1} + b_o)_i),  h_t = LSTM(v_t, h_{t−1}),  h_{−1} = 0,
//!
//! so each key of a frame is predicted from the past alone, never from the other keys of the
//! same frame — the gap that the RNN-RBM and RNN-NADE close. The first frame of a piece is
//! predicted from one step of the LSTM over an empty frame from the zero state.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{log_sigmoid, sigmoid};
use burn::tensor::{Device, Tensor};

use super::recurrent::FusedLstm;

/// The written part of the model card.
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "LSTM-88: p(v_t | v_<t) = Π_i σ(±(W_o h_{t−1} + b_o)_i), h_t = LSTM(v_t, h_{t−1})",
    reference: "Bai, Kolter & Koltun, \"An Empirical Evaluation of Generic Convolutional and Recurrent Networks for Sequence Modeling\" (2018), Table 1 (LSTM row on JSB Chorales and Nottingham)",
    deviations: &[(
        "one layer of 150 units, Adam, no dropout",
        "the papers tune depth, width and dropout per dataset; one small setting is kept for every dataset so that the row is a fixed programme",
    )],
};

/// The network: one LSTM layer and the 88 logits of the next frame.
#[derive(Module, Debug)]
pub struct PolyLstm {
    lstm: FusedLstm,
    output: Linear,
}

impl PolyLstm {
    /// `keys` inputs and outputs, `hidden` units; `frequencies` (each key's share of frames
    /// on) set the output biases to the data's log-odds, so that the untrained model starts as
    /// the independent Bernoulli.
    pub fn new(keys: usize, hidden: usize, frequencies: Option<&[f32]>, device: &Device) -> Self {
        let mut output = LinearConfig::new(hidden.max(1), keys).init(device);
        if let Some(f) = frequencies {
            output.bias = Some(super::log_odds(f, device));
        }
        Self {
            lstm: FusedLstm::new(keys, hidden.max(1), device),
            output,
        }
    }

    /// The logits of each frame given the frames before it: frames `[batch, length, keys]` →
    /// `[batch * length, keys]`, rows in (sequence, frame) order.
    pub fn logits(&self, v: Tensor<3>) -> Tensor<2> {
        let [batch, length, keys] = v.dims();
        // The input at step t is frame t−1 (zeros before the first): the frames are data, so
        // slicing them costs no gradient bookkeeping.
        let before = Tensor::cat(
            vec![
                Tensor::zeros([batch, 1, keys], &v.device()),
                v.narrow(1, 0, length.saturating_sub(1)),
            ],
            1,
        );
        let (hidden, _) = self.lstm.forward_sequence(before, None, false);
        let units = self.lstm.hidden_size();
        self.output.forward(hidden.reshape([batch * length, units]))
    }

    /// log p(v_t | v_<t) of each frame, `[rows]`, from frames `[rows, keys]` and their logits.
    pub fn log_likelihood(v: Tensor<2>, logits: Tensor<2>) -> Tensor<1> {
        (v.clone() * log_sigmoid(logits.clone()) + (v.neg() + 1.0) * log_sigmoid(logits.neg()))
            .sum_dim(1)
            .squeeze_dim::<1>(1)
    }

    /// The most likely frame: each key on where its probability is at least ½ (the keys are
    /// independent given the past, so this is the exact mode).
    pub fn mode(logits: Tensor<2>) -> Tensor<2> {
        sigmoid(logits).greater_equal_elem(0.5).float()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// Frame t's logits depend on the frames before t only: changing the last frame leaves
    /// every logit unchanged, changing the first changes the later ones but not the first.
    #[test]
    fn each_frame_is_predicted_from_the_past_alone() {
        let device = Device::default();
        let model = PolyLstm::new(6, 8, Some(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), &device);
        let frames = |first: f32, last: f32| {
            let mut data = vec![0.0f32; 3 * 6];
            data[0] = first;
            data[2 * 6 + 5] = last;
            Tensor::<3>::from_data(TensorData::new(data, [1, 3, 6]), &device)
        };
        let values = |t: Tensor<2>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let base = values(model.logits(frames(0.0, 0.0)));
        let last = values(model.logits(frames(0.0, 1.0)));
        let first = values(model.logits(frames(1.0, 0.0)));
        assert_eq!(base, last);
        assert_eq!(base[..6], first[..6]);
        assert_ne!(base[6..], first[6..]);
    }
}
