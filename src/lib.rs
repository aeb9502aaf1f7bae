//! muselab: train the classic deep-learning music generators, watch them learn, listen to what
//! they make and export it.
//!
//! Dependencies point one way: `music` ← `corpus` ← (models, training) ← `app`/`ui`, with `audio`
//! beside them. Only `app` and `ui` import egui, so everything else is testable without a screen.

pub mod anticipation_worker;
pub mod app;
pub mod audio;
pub mod bench;
pub mod benchmarks;
pub mod cli;
pub mod code_worker;
pub mod compute;
pub mod corpus;
pub mod data;
pub mod evaluation;
pub mod gibbs_worker;
pub mod inference;
pub mod latent_worker;
pub mod measures;
pub mod models;
pub mod music;
pub mod training;
pub mod ui;
pub mod util;

/// The allocator of every muselab binary and test. Training allocates and frees buffers of
/// megabytes at every step; glibc's allocator hands such buffers back to the kernel and takes
/// them again (page faults and zeroing were a third of a mini-bach step under `perf`), mimalloc
/// keeps them: mini-bach 1,620–1,810 → 2,480–2,810 examples/s on the 2-core CPU, alternating.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
