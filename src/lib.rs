//! muselab: train the classic deep-learning music generators, watch them learn, listen to what
//! they make and export it.
//!
//! Dependencies point one way: `music` ← `corpus` ← (models, training) ← `app`/`ui`, with `audio`
//! beside them. Only `app` and `ui` import egui, so everything else is testable without a screen.

pub mod app;
pub mod audio;
pub mod bench;
pub mod cli;
pub mod compute;
pub mod corpus;
pub mod data;
pub mod evaluation;
pub mod inference;
pub mod latent_worker;
pub mod measures;
pub mod models;
pub mod music;
pub mod training;
pub mod ui;
pub mod util;
