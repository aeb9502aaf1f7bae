//! Softmax cross-entropy of several categorical outputs side by side in one logit row (the
//! voices of a harmonizer: alto, tenor and bass columns of one output layer) as one burn tensor
//! operation on the CPU, with its own backward pass (burn's backend extension, as
//! [`super::dense_op`]). Composed of burn operations, each voice takes a slice, a reshape and a
//! log-softmax of six operations, each with its buffer and autodiff node; here one pass over
//! the rows computes every voice's loss and keeps the probabilities the backward pass needs.
//!
//! Other backends (the GPU) do not implement it: [`voices_cross_entropy`] composes burn
//! operations there.

use std::sync::Arc;

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, Flex, backend_extension};
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

/// Where each output lies in a row, and the right class of every row for each output.
#[derive(Clone, Debug)]
pub struct Segments {
    /// Width of each output, in row order (their sum is the row's width).
    pub widths: Vec<usize>,
    /// Per output: the target class of every row (below that output's width).
    pub targets: Vec<Vec<usize>>,
}

/// Several softmax cross-entropies in one operation.
#[backend_extension(Flex, Autodiff)]
pub trait CrossEntropyBackend: burn::backend::Backend {
    /// `logits`: `[rows, Σ widths]`. Returns `[outputs]`: each output's cross-entropy averaged
    /// over the rows.
    fn segmented_cross_entropy(
        logits: FloatTensor<Self>,
        segments: Arc<Segments>,
    ) -> FloatTensor<Self>;
}

/// Rows per parallel block.
const BLOCK: usize = 256;

/// The losses (summed over rows, per output) and every row's softmax probabilities.
fn forward_values(logits: &FlexTensor, segments: &Segments) -> (Vec<f64>, Vec<f32>) {
    let contiguous = logits.to_contiguous();
    let values = contiguous.as_slice::<f32>().expect("f32 logits");
    let width: usize = segments.widths.iter().sum();
    let rows = values.len() / width.max(1);
    let outputs = segments.widths.len();
    for (targets, &w) in segments.targets.iter().zip(&segments.widths) {
        assert!(
            targets.len() == rows && targets.iter().all(|&t| t < w),
            "cross-entropy targets: one per row, each below its output's width"
        );
    }
    let mut probabilities = vec![0.0f32; values.len()];
    let losses = probabilities
        .par_chunks_mut(BLOCK * width)
        .zip(values.par_chunks(BLOCK * width))
        .enumerate()
        .map(|(block, (probs, logits))| {
            let mut losses = vec![0.0f64; outputs];
            for (r, (p_row, l_row)) in probs
                .chunks_exact_mut(width)
                .zip(logits.chunks_exact(width))
                .enumerate()
            {
                let row = block * BLOCK + r;
                let mut offset = 0;
                for (v, &w) in segments.widths.iter().enumerate() {
                    let x = &l_row[offset..offset + w];
                    let p = &mut p_row[offset..offset + w];
                    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut sum = 0.0f32;
                    for (p, &x) in p.iter_mut().zip(x) {
                        *p = (x - max).exp();
                        sum += *p;
                    }
                    let inverse = 1.0 / sum;
                    p.iter_mut().for_each(|p| *p *= inverse);
                    let target = segments.targets[v][row];
                    losses[v] += f64::from(max + sum.ln() - x[target]);
                    offset += w;
                }
            }
            losses
        })
        .reduce(
            || vec![0.0; outputs],
            |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
        );
    (losses, probabilities)
}

fn means(losses: &[f64], rows: usize) -> FlexTensor {
    let values: Vec<f32> = losses
        .iter()
        .map(|l| (l / rows.max(1) as f64) as f32)
        .collect();
    FlexTensor::from_data(TensorData::new(values, vec![losses.len()]))
}

fn rows_of(logits: &FlexTensor) -> usize {
    logits.layout().shape()[0]
}

impl CrossEntropyBackend for Flex {
    fn segmented_cross_entropy(logits: FlexTensor, segments: Arc<Segments>) -> FlexTensor {
        let (losses, _) = forward_values(&logits, &segments);
        means(&losses, rows_of(&logits))
    }
}

#[derive(Debug)]
struct Saved {
    probabilities: Vec<f32>,
    segments: Arc<Segments>,
    rows: usize,
}

#[derive(Debug)]
struct CrossEntropyBackward;

impl Backward<Flex, 1> for CrossEntropyBackward {
    type State = Arc<Saved>;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let saved = ops.state.as_ref();
        let d_out = grads.consume::<Flex>(&ops.node).to_contiguous();
        let d_out = d_out.as_slice::<f32>().expect("f32 gradient").to_vec();
        let [Some(node)] = &ops.parents else {
            return;
        };
        let segments = &saved.segments;
        let width: usize = segments.widths.iter().sum();
        let scale: Vec<f32> = d_out.iter().map(|d| d / saved.rows.max(1) as f32).collect();
        // d loss_v / d logit = (probability − [class is the target]) / rows, per output.
        let mut d_logits = saved.probabilities.clone();
        d_logits
            .par_chunks_mut(BLOCK * width)
            .enumerate()
            .for_each(|(block, rows)| {
                for (r, row) in rows.chunks_exact_mut(width).enumerate() {
                    let mut offset = 0;
                    for (v, &w) in segments.widths.iter().enumerate() {
                        let part = &mut row[offset..offset + w];
                        part[segments.targets[v][block * BLOCK + r]] -= 1.0;
                        part.iter_mut().for_each(|g| *g *= scale[v]);
                        offset += w;
                    }
                }
            });
        let gradient = FlexTensor::from_data(TensorData::new(d_logits, vec![saved.rows, width]));
        grads.register::<Flex>(node.id, gradient);
    }
}

impl<C: CheckpointStrategy> CrossEntropyBackend for Autodiff<Flex, C> {
    fn segmented_cross_entropy(
        logits: FloatTensor<Self>,
        segments: Arc<Segments>,
    ) -> FloatTensor<Self> {
        let nodes = [logits.node()];
        let rows = rows_of(logits.primitive());
        let (losses, probabilities) = forward_values(logits.primitive(), &segments);
        let out = means(&losses, rows);
        match CrossEntropyBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(
                Arc::new(Saved {
                    probabilities,
                    segments,
                    rows,
                }),
                out,
            ),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }
}

/// Each output's mean softmax cross-entropy over the rows of `logits` (`[rows, Σ widths]`),
/// as `[outputs]`: one fused operation on the CPU, burn's composition elsewhere.
pub fn voices_cross_entropy(logits: Tensor<2>, segments: Segments) -> Tensor<1> {
    let device = logits.device();
    if super::is_cpu(&device) {
        return Tensor::<1>::from_dispatch(
            <Dispatch as CrossEntropyBackend>::segmented_cross_entropy(
                logits.into_dispatch(),
                Arc::new(segments),
            ),
        );
    }
    let ce = burn::nn::loss::CrossEntropyLossConfig::new().init(&device);
    let mut offset = 0;
    let losses = segments
        .widths
        .iter()
        .zip(&segments.targets)
        .map(|(&w, targets)| {
            let part = logits.clone().narrow(1, offset, w);
            offset += w;
            ce.forward(part, super::targets(&[targets.as_slice()], &device))
        })
        .collect();
    Tensor::cat(losses, 0)
}

/// The mean softmax cross-entropy of `logits` (`[rows, classes]`) against one target class per
/// row, as `[1]` (burn's `CrossEntropyLoss` on the same inputs; one fused operation on the CPU).
pub fn cross_entropy(logits: Tensor<2>, targets: &[usize]) -> Tensor<1> {
    let [_, classes] = logits.dims();
    let segments = Segments {
        widths: vec![classes],
        targets: vec![targets.to_vec()],
    };
    voices_cross_entropy(logits, segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn matches_burns_cross_entropy_in_losses_and_gradients() {
        let _rng = crate::models::test_rng();
        let device = Device::flex().autodiff();
        let widths = vec![3, 5, 2];
        let rows = 300; // more than one parallel block
        let data = Tensor::<2>::random(
            [rows, widths.iter().sum()],
            Distribution::Normal(0.0, 2.0),
            &Device::flex(),
        )
        .into_data();
        let targets: Vec<Vec<usize>> = widths
            .iter()
            .map(|&w| (0..rows).map(|r| (r * 7 + w) % w).collect())
            .collect();
        let segments = Segments {
            widths: widths.clone(),
            targets: targets.clone(),
        };
        let fused_in = Tensor::<2>::from_data(data.clone(), &device).require_grad();
        let fused = voices_cross_entropy(fused_in.clone(), segments);
        let reference_in = Tensor::<2>::from_data(data, &device).require_grad();
        let ce = burn::nn::loss::CrossEntropyLossConfig::new().init(&device);
        let mut offset = 0;
        let reference: Vec<Tensor<1>> = widths
            .iter()
            .zip(&targets)
            .map(|(&w, t)| {
                let part = reference_in.clone().narrow(1, offset, w);
                offset += w;
                ce.forward(part, crate::models::targets(&[t.as_slice()], &device))
            })
            .collect();
        let reference = Tensor::cat(reference, 0);
        let values = |t: Tensor<1>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let gap = |a: Vec<f32>, b: Vec<f32>| {
            a.iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max)
        };
        assert!(gap(values(fused.clone()), values(reference.clone())) < 1e-4);
        // Weighted, so that each output's gradient is scaled differently.
        let weights = Tensor::<1>::from_floats([1.0, -2.0, 0.5], &device);
        let g_fused = (fused * weights.clone()).sum().backward();
        let g_reference = (reference * weights).sum().backward();
        let grad = |t: &Tensor<2>, g| {
            t.grad(g)
                .expect("grad")
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap()
        };
        assert!(gap(grad(&fused_in, &g_fused), grad(&reference_in, &g_reference)) < 1e-5);
    }
}
