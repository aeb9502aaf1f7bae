//! The standard polyphonic benchmarks of Boulanger-Lewandowski, Bengio & Vincent (ICML 2012) —
//! JSB Chorales, Nottingham, MuseData, Piano-midi.de in their fixed splits — and
//! `muselab benchmark`: train a model on the train split, keep the epoch with the best
//! validation NLL, report the paper's two measures on the test split.
//!
//! - [`dataset`]: the files (pickle, JSON, `.mat`) → [`dataset::Benchmark`];
//! - [`pickle`], [`mat`]: the two binary formats, read without running anything;
//! - [`protocol`]: what is measured and how (NLL per step, frame accuracy), and the published
//!   figures beside which ours are shown;
//! - [`run`]: training and scoring the benchmark models (per-key Bernoulli, RBM, RNN-RBM,
//!   RNN-NADE, LSTM);
//! - [`results`]: reports saved in a folder and the table of ours beside the published figures.

pub mod dataset;
pub mod mat;
pub mod pickle;
pub mod protocol;
pub mod results;
pub mod run;

pub use dataset::{Benchmark, BenchmarkError};
pub use run::{BenchModel, BenchmarkOptions, BenchmarkReport, Progress};
