//! An LSTM layer over a whole sequence, forward and backward, written as plain loops and matrix
//! products on the CPU: the arithmetic of [`super::recurrent`]'s cell without a tensor operation
//! per gate and step.
//!
//! Why: run as burn tensor operations, one LSTM step is ~15 operations forward and ~30 backward,
//! each with its own allocation, autodiff bookkeeping and thread hand-off; for the melody model
//! (2 × 256 units, 64 steps, batch 64) those costs were two thirds of a training step, and the
//! step ran at 0.3× Keras on JAX. Here a layer is one operation: the input projection of every
//! step is one large product, each step one recurrent product plus one fused loop over the
//! gates, and the backward pass mirrors it (per step one product; the weight gradients are two
//! large products after the loop).
//!
//! Layout: batch-major `[batch, steps, features]` throughout; gate order input, forget, cell,
//! output, as in [`super::recurrent::FusedLstm`].

use gemm::Parallelism;
use rayon::prelude::*;

/// A row-major matrix view over a slice: `rows × cols`, `row_stride` apart.
#[derive(Clone, Copy)]
pub(crate) struct View {
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl View {
    pub(crate) fn dense(rows: usize, cols: usize) -> Self {
        Self {
            offset: 0,
            rows,
            cols,
            row_stride: cols,
        }
    }
    /// The last index it reads, for bounds checks.
    fn end(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            self.offset
        } else {
            self.offset + (self.rows - 1) * self.row_stride + self.cols
        }
    }
}

/// `dst (+)= a · b` (or `aᵀ`/`bᵀ` when `a_t`/`b_t`), with bounds checked before the unsafe call.
#[allow(clippy::too_many_arguments)]
pub(crate) fn product(
    dst: &mut [f32],
    d: View,
    accumulate: bool,
    a: &[f32],
    av: View,
    a_t: bool,
    b: &[f32],
    bv: View,
    b_t: bool,
    parallel: bool,
) {
    // Logical shapes after transposition.
    let (m, k) = if a_t {
        (av.cols, av.rows)
    } else {
        (av.rows, av.cols)
    };
    let (k2, n) = if b_t {
        (bv.cols, bv.rows)
    } else {
        (bv.rows, bv.cols)
    };
    assert!(k == k2 && d.rows == m && d.cols == n, "product shapes");
    assert!(d.end() <= dst.len() && av.end() <= a.len() && bv.end() <= b.len());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                let row = d.offset + r * d.row_stride;
                dst[row..row + n].fill(0.0);
            }
        }
        return;
    }
    // (column stride, row stride) of each operand as gemm reads it.
    let strides = |v: &View, t: bool| {
        if t {
            (v.row_stride as isize, 1isize)
        } else {
            (1isize, v.row_stride as isize)
        }
    };
    let (a_cs, a_rs) = strides(&av, a_t);
    let (b_cs, b_rs) = strides(&bv, b_t);
    let parallelism = if parallel && m * n * k >= 1 << 18 {
        Parallelism::Rayon(rayon::current_num_threads())
    } else {
        Parallelism::None
    };
    // SAFETY: the views were checked to lie inside their slices above, `dst` is borrowed
    // mutably and does not alias `a` or `b` (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().add(d.offset),
            1,
            d.row_stride as isize,
            accumulate,
            a.as_ptr().add(av.offset),
            a_cs,
            a_rs,
            b.as_ptr().add(bv.offset),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// eˣ to about 2 ulp, written so the compiler vectorises the gate loops (libm's `expf` is a
/// scalar call; it was a sixth of an LSTM step under `perf`).
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // x = n·ln2 + r, |r| ≤ ln2/2; eʳ by its Taylor polynomial to degree 6.
    // Round to nearest by adding and subtracting 1.5·2²³ (`f32::round` is a library call that
    // stops the loop from vectorising).
    const SHIFT: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let scale = f32::from_bits((((n as i32) + 127) as u32) << 23);
    p * scale
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

/// Shapes of one layer's call.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    /// Sequences in the batch.
    pub batch: usize,
    /// Time steps.
    pub steps: usize,
    /// Input features per step.
    pub input: usize,
    /// Hidden units.
    pub hidden: usize,
}

/// What the forward pass keeps for the backward pass.
#[derive(Clone, Debug)]
pub struct Saved {
    /// Gate activations `[batch, steps, 4·hidden]` (i, f, g, o after their non-linearities).
    pub gates: Vec<f32>,
    /// Cell states `[batch, steps, hidden]`.
    pub cells: Vec<f32>,
    /// Hidden states `[batch, steps, hidden]` (also the layer's output).
    pub hidden: Vec<f32>,
}

/// The step processed at position `s` of the loop.
fn step_at(s: usize, steps: usize, reverse: bool) -> usize {
    if reverse { steps - 1 - s } else { s }
}

/// Runs the layer. `x`: `[batch, steps, input]`; `w_input`: `[input, 4h]`; `w_recurrent`:
/// `[h, 4h]`; `bias`: `[4h]`; `h0`, `c0`: `[batch, h]`. With `reverse`, the recurrence runs from
/// the last step to the first (outputs stay in the inputs' order).
#[allow(clippy::too_many_arguments)]
pub fn forward(
    dims: Dims,
    x: &[f32],
    w_input: &[f32],
    w_recurrent: &[f32],
    bias: &[f32],
    h0: &[f32],
    c0: &[f32],
    reverse: bool,
) -> Saved {
    let Dims {
        batch,
        steps,
        input,
        hidden: h,
    } = dims;
    let g4 = 4 * h;
    let rows = batch * steps;
    let mut gates = vec![0.0f32; rows * g4];
    let mut cells = vec![0.0f32; rows * h];
    let mut hidden = vec![0.0f32; rows * h];
    // Every step's input projection at once.
    product(
        &mut gates,
        View::dense(rows, g4),
        false,
        x,
        View::dense(rows, input),
        false,
        w_input,
        View::dense(input, g4),
        false,
        true,
    );
    // The recurrence is independent per sequence: blocks of rows run their whole time loop
    // on separate threads (one thread hand-off per layer instead of one per step).
    let block = rows_per_block(batch);
    gates
        .par_chunks_mut(block * steps * g4)
        .zip(cells.par_chunks_mut(block * steps * h))
        .zip(hidden.par_chunks_mut(block * steps * h))
        .zip(h0.par_chunks(block * h).zip(c0.par_chunks(block * h)))
        .for_each(|(((gates, cells), hidden), (h0, c0))| {
            let dims = Dims {
                batch: h0.len() / h,
                ..dims
            };
            forward_steps(
                dims,
                gates,
                cells,
                hidden,
                (h0, c0),
                w_recurrent,
                bias,
                reverse,
            );
        });
    Saved {
        gates,
        cells,
        hidden,
    }
}

/// Rows per thread's block: all of them on one core, else split evenly over the cores.
fn rows_per_block(batch: usize) -> usize {
    batch.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

/// The forward time loop over a block of rows (`dims.batch` of them): `gates` holds their input
/// projections and receives their activations; `cells` and `hidden` receive their states.
#[allow(clippy::too_many_arguments)]
fn forward_steps(
    dims: Dims,
    gates: &mut [f32],
    cells: &mut [f32],
    hidden: &mut [f32],
    (h0, c0): (&[f32], &[f32]),
    w_recurrent: &[f32],
    bias: &[f32],
    reverse: bool,
) {
    let Dims {
        batch,
        steps,
        hidden: h,
        ..
    } = dims;
    let g4 = 4 * h;
    let mut previous: Option<usize> = None;
    for s in 0..steps {
        let t = step_at(s, steps, reverse);
        let step_gates = View {
            offset: t * g4,
            rows: batch,
            cols: g4,
            row_stride: steps * g4,
        };
        match previous {
            Some(p) => product(
                gates,
                step_gates,
                true,
                hidden,
                View {
                    offset: p * h,
                    rows: batch,
                    cols: h,
                    row_stride: steps * h,
                },
                false,
                w_recurrent,
                View::dense(h, g4),
                false,
                false,
            ),
            None => product(
                gates,
                step_gates,
                true,
                h0,
                View::dense(batch, h),
                false,
                w_recurrent,
                View::dense(h, g4),
                false,
                false,
            ),
        }
        for b in 0..batch {
            let row = b * steps + t;
            let g = &mut gates[row * g4..(row + 1) * g4];
            // The new cell state is written over a copy of the previous one, in place.
            match previous {
                Some(p) => cells.copy_within((b * steps + p) * h..(b * steps + p + 1) * h, row * h),
                None => cells[row * h..(row + 1) * h].copy_from_slice(&c0[b * h..(b + 1) * h]),
            }
            let c_row = &mut cells[row * h..(row + 1) * h];
            let (gi, rest) = g.split_at_mut(h);
            let (gf, rest) = rest.split_at_mut(h);
            let (gg, go) = rest.split_at_mut(h);
            let h_row = &mut hidden[row * h..(row + 1) * h];
            for j in 0..h {
                let i = sigmoid(gi[j] + bias[j]);
                let f = sigmoid(gf[j] + bias[h + j]);
                let cand = tanh(gg[j] + bias[2 * h + j]);
                let o = sigmoid(go[j] + bias[3 * h + j]);
                gi[j] = i;
                gf[j] = f;
                gg[j] = cand;
                go[j] = o;
                let c = f * c_row[j] + i * cand;
                c_row[j] = c;
                h_row[j] = o * tanh(c);
            }
        }
        previous = Some(t);
    }
}

/// Gradients of one layer's inputs.
#[derive(Clone, Debug)]
pub struct Gradients {
    /// `[batch, steps, input]`.
    pub x: Vec<f32>,
    /// `[input, 4h]`.
    pub w_input: Vec<f32>,
    /// `[h, 4h]`.
    pub w_recurrent: Vec<f32>,
    /// `[4h]`.
    pub bias: Vec<f32>,
    /// `[batch, h]`.
    pub h0: Vec<f32>,
    /// `[batch, h]`.
    pub c0: Vec<f32>,
}

/// Which of a layer's gradients a backward pass must compute: the input's is skipped for a
/// first layer fed by data, the weights' for a frozen layer (an adversarial step through the
/// other player). A gradient not wanted is left empty.
#[derive(Clone, Copy, Debug)]
pub struct Wanted {
    pub x: bool,
    pub w_input: bool,
    pub w_recurrent: bool,
    pub bias: bool,
}

impl Wanted {
    /// Every gradient.
    pub const ALL: Self = Self {
        x: true,
        w_input: true,
        w_recurrent: true,
        bias: true,
    };
}

/// Back-propagates `d_output` and `d_cells` (`[batch, steps, h]` each, the loss's gradient with
/// respect to every step's hidden and cell state) through the layer.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    dims: Dims,
    wanted: Wanted,
    saved: &Saved,
    d_output: &[f32],
    d_cells: &[f32],
    x: &[f32],
    w_input: &[f32],
    w_recurrent: &[f32],
    h0: &[f32],
    c0: &[f32],
    reverse: bool,
) -> Gradients {
    let Dims {
        batch,
        steps,
        input,
        hidden: h,
    } = dims;
    let g4 = 4 * h;
    let rows = batch * steps;
    let mut d_gates = vec![0.0f32; rows * g4];
    let mut dh_next = vec![0.0f32; batch * h];
    let mut dc_next = vec![0.0f32; batch * h];
    // The hidden state each step read, `[batch, steps, h]`, for the recurrent weights' gradient.
    let mut h_read = vec![0.0f32; rows * h];
    // Per block of rows on its own thread, as in the forward pass.
    let block = rows_per_block(batch);
    let (gs, cs, hs) = (block * steps * g4, block * steps * h, block * h);
    d_gates
        .par_chunks_mut(gs)
        .zip(h_read.par_chunks_mut(cs))
        .zip(dh_next.par_chunks_mut(hs).zip(dc_next.par_chunks_mut(hs)))
        .zip(saved.gates.par_chunks(gs).zip(saved.cells.par_chunks(cs)))
        .zip(saved.hidden.par_chunks(cs).zip(d_output.par_chunks(cs)))
        .zip(
            d_cells
                .par_chunks(cs)
                .zip(h0.par_chunks(hs).zip(c0.par_chunks(hs))),
        )
        .for_each(
            |(
                ((((d_gates, h_read), (dh_next, dc_next)), (gates, cells)), (hidden, d_output)),
                (d_cells, (h0, c0)),
            )| {
                let dims = Dims {
                    batch: h0.len() / h,
                    ..dims
                };
                let saved = SavedBlock {
                    gates,
                    cells,
                    hidden,
                };
                backward_steps(
                    dims,
                    &saved,
                    (d_output, d_cells),
                    (d_gates, h_read, dh_next, dc_next),
                    (h0, c0),
                    w_recurrent,
                    reverse,
                );
            },
        );
    let sized = |wanted: bool, len: usize| if wanted { vec![0.0; len] } else { Vec::new() };
    let mut grads = Gradients {
        x: sized(wanted.x, rows * input),
        w_input: sized(wanted.w_input, input * g4),
        w_recurrent: sized(wanted.w_recurrent, h * g4),
        bias: sized(wanted.bias, g4),
        h0: dh_next,
        c0: dc_next,
    };
    let all = View::dense(rows, g4);
    if wanted.w_input {
        product(
            &mut grads.w_input,
            View::dense(input, g4),
            false,
            x,
            View::dense(rows, input),
            true,
            &d_gates,
            all,
            false,
            true,
        );
    }
    if wanted.w_recurrent {
        product(
            &mut grads.w_recurrent,
            View::dense(h, g4),
            false,
            &h_read,
            View::dense(rows, h),
            true,
            &d_gates,
            all,
            false,
            true,
        );
    }
    if wanted.x {
        product(
            &mut grads.x,
            View::dense(rows, input),
            false,
            &d_gates,
            all,
            false,
            w_input,
            View::dense(input, g4),
            true,
            true,
        );
    }
    if wanted.bias {
        for row in d_gates.chunks_exact(g4) {
            for (acc, v) in grads.bias.iter_mut().zip(row) {
                *acc += v;
            }
        }
    }
    grads
}

/// Borrowed views of what the forward pass kept, for one block of rows.
struct SavedBlock<'a> {
    gates: &'a [f32],
    cells: &'a [f32],
    hidden: &'a [f32],
}

/// The backward time loop over a block of rows: fills their gate gradients and the hidden
/// state each step read, and leaves the initial state's gradients in `dh_next`, `dc_next`.
#[allow(clippy::type_complexity)]
fn backward_steps(
    dims: Dims,
    saved: &SavedBlock<'_>,
    (d_output, d_cells): (&[f32], &[f32]),
    (d_gates, h_read, dh_next, dc_next): (&mut [f32], &mut [f32], &mut [f32], &mut [f32]),
    (h0, c0): (&[f32], &[f32]),
    w_recurrent: &[f32],
    reverse: bool,
) {
    let Dims {
        batch,
        steps,
        hidden: h,
        ..
    } = dims;
    let g4 = 4 * h;
    for s in (0..steps).rev() {
        let t = step_at(s, steps, reverse);
        let previous = (s > 0).then(|| step_at(s - 1, steps, reverse));
        for b in 0..batch {
            let row = b * steps + t;
            let g = &saved.gates[row * g4..(row + 1) * g4];
            let dg = &mut d_gates[row * g4..(row + 1) * g4];
            let (c_prev, h_prev): (&[f32], &[f32]) = match previous {
                Some(p) => (
                    &saved.cells[(b * steps + p) * h..(b * steps + p + 1) * h],
                    &saved.hidden[(b * steps + p) * h..(b * steps + p + 1) * h],
                ),
                None => (&c0[b * h..(b + 1) * h], &h0[b * h..(b + 1) * h]),
            };
            h_read[row * h..(row + 1) * h].copy_from_slice(h_prev);
            let c = &saved.cells[row * h..(row + 1) * h];
            let dy = &d_output[row * h..(row + 1) * h];
            let dcy = &d_cells[row * h..(row + 1) * h];
            let dhn = &dh_next[b * h..(b + 1) * h];
            let dcn = &mut dc_next[b * h..(b + 1) * h];
            for j in 0..h {
                let (i, f, cand, o) = (g[j], g[h + j], g[2 * h + j], g[3 * h + j]);
                let dh = dy[j] + dhn[j];
                let tc = tanh(c[j]);
                let d_o = dh * tc;
                let dc = dh * o * (1.0 - tc * tc) + dcn[j] + dcy[j];
                dg[j] = dc * cand * i * (1.0 - i);
                dg[h + j] = dc * c_prev[j] * f * (1.0 - f);
                dg[2 * h + j] = dc * i * (1.0 - cand * cand);
                dg[3 * h + j] = d_o * o * (1.0 - o);
                dcn[j] = dc * f;
            }
        }
        // dh for the step before: this step's gate gradients through the recurrent weights.
        product(
            dh_next,
            View::dense(batch, h),
            false,
            d_gates,
            View {
                offset: t * g4,
                rows: batch,
                cols: g4,
                row_stride: steps * g4,
            },
            false,
            w_recurrent,
            View::dense(h, g4),
            true,
            false,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        // A small deterministic generator: values in [-0.5, 0.5).
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 10_000) as f32 / 10_000.0 - 0.5
            })
            .collect()
    }

    #[test]
    fn fast_exp_and_tanh_match_the_standard_library() {
        for i in -2000..2000 {
            let x = i as f32 / 100.0;
            let (ours, std) = (exp(x), x.exp());
            assert!(
                (ours - std).abs() <= 4e-7 * std.abs().max(1e-30),
                "exp({x})"
            );
            assert!((tanh(x) - x.tanh()).abs() < 2e-7, "tanh({x})");
        }
    }

    /// The loss Σ d_output·h + Σ d_cells·c as a function of the inputs, for finite differences.
    fn loss(dims: Dims, inputs: &[Vec<f32>; 6], d: (&[f32], &[f32]), reverse: bool) -> f64 {
        let [x, wi, wh, b, h0, c0] = inputs;
        let saved = forward(dims, x, wi, wh, b, h0, c0, reverse);
        let dot = |a: &[f32], b: &[f32]| -> f64 {
            a.iter()
                .zip(b)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum()
        };
        dot(&saved.hidden, d.0) + dot(&saved.cells, d.1)
    }

    #[test]
    fn gradients_match_finite_differences() {
        let dims = Dims {
            batch: 3,
            steps: 5,
            input: 4,
            hidden: 6,
        };
        let (b, t, i, h) = (dims.batch, dims.steps, dims.input, dims.hidden);
        for reverse in [false, true] {
            let inputs = [
                values(b * t * i, 1),
                values(i * 4 * h, 2),
                values(h * 4 * h, 3),
                values(4 * h, 4),
                values(b * h, 5),
                values(b * h, 6),
            ];
            let d_output = values(b * t * h, 7);
            let d_cells = values(b * t * h, 8);
            let d = (d_output.as_slice(), d_cells.as_slice());
            let [x, wi, wh, bias, h0, c0] = &inputs;
            let saved = forward(dims, x, wi, wh, bias, h0, c0, reverse);
            let grads = backward(
                dims,
                Wanted::ALL,
                &saved,
                d.0,
                d.1,
                x,
                wi,
                wh,
                h0,
                c0,
                reverse,
            );
            // A frozen layer's pass skips the weights' products and gives the same input
            // gradient.
            let frozen = Wanted {
                x: true,
                w_input: false,
                w_recurrent: false,
                bias: false,
            };
            let only_x = backward(dims, frozen, &saved, d.0, d.1, x, wi, wh, h0, c0, reverse);
            assert_eq!(only_x.x, grads.x);
            assert!(only_x.w_input.is_empty() && only_x.w_recurrent.is_empty());
            let analytic = [
                &grads.x,
                &grads.w_input,
                &grads.w_recurrent,
                &grads.bias,
                &grads.h0,
                &grads.c0,
            ];
            for (which, grad) in analytic.iter().enumerate() {
                for k in (0..grad.len()).step_by(3) {
                    let eps = 1e-2f32;
                    let mut plus = inputs.clone();
                    plus[which][k] += eps;
                    let mut minus = inputs.clone();
                    minus[which][k] -= eps;
                    let numeric = (loss(dims, &plus, d, reverse) - loss(dims, &minus, d, reverse))
                        / (2.0 * f64::from(eps));
                    let got = f64::from(grad[k]);
                    assert!(
                        (got - numeric).abs() < 2e-3 * (1.0 + numeric.abs()),
                        "input {which}, index {k}, reverse {reverse}: {got} against {numeric}"
                    );
                }
            }
        }
    }
}
