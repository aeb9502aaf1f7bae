//! From corpora on disk to training examples: token encodings of voices and melodies, and the
//! datasets each model trains on. No egui, no tensors: plain vectors the models batch.

pub mod datasets;
pub mod encoding;

pub use datasets::{
    BarRolls, ChoraleWindows, FrameRolls, MelodyWindows, SPLIT_RULE, TuneSequences, held_out_names,
    load_scores, roll_to_score,
};
pub use encoding::{HOLD, PitchRange, REST};
