//! From corpora on disk to training examples: token encodings of voices and melodies, and the
//! datasets each model trains on. No egui, no tensors: plain vectors the models batch.

pub mod cache;
pub mod datasets;
pub mod encoding;

pub use datasets::{
    BarRolls, ChoraleWindows, FrameRolls, LoadedCorpus, MelodyWindows, SPLIT_RULE, TuneSequences,
    held_out_names, load_scores, load_scores_with, roll_to_score,
};
pub use encoding::{HOLD, PitchRange, REST};
