//! The standard polyphonic benchmark files (Boulanger-Lewandowski et al. 2012): a train, a
//! valid and a test split, each a list of pieces, each a list of time steps, each the set of
//! MIDI pitches (21–108, the 88 piano keys) sounding at that step. Read from the dataset's
//! pickle, its JSON form or the `.mat` copy (cell arrays of T × 88 binary matrices).

use std::path::Path;

use crate::music::{Note, Score, Track};

use super::mat::{self, Array};
use super::pickle::{self, Value};

/// The lowest piano key, MIDI 21 (A0): key index 0 of a frame.
pub const LOWEST: u8 = 21;
/// Keys of a frame: the 88 of the piano, MIDI 21–108.
pub const KEYS: usize = 88;

/// A piece: per time step, the sounding pitches (MIDI numbers, sorted, no repeats).
pub type Piece = Vec<Vec<u8>>;

/// A benchmark dataset in its fixed split.
#[derive(Clone, Debug, PartialEq)]
pub struct Benchmark {
    /// Its name (the file's stem, e.g. "JSB Chorales").
    pub name: String,
    /// Training pieces.
    pub train: Vec<Piece>,
    /// Validation pieces (early stopping).
    pub valid: Vec<Piece>,
    /// Test pieces (the reported figures).
    pub test: Vec<Piece>,
}

/// Why a benchmark file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BenchmarkError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Neither pickle, JSON nor MAT.
    #[error("{0}: not a benchmark file (expected a Python pickle, JSON or a MATLAB 5 .mat file)")]
    Format(String),
    /// A pickle that does not parse or holds objects.
    #[error("{0}: {1}")]
    Pickle(String, pickle::PickleError),
    /// JSON that does not parse.
    #[error("{0}: invalid JSON: {1}")]
    Json(String, String),
    /// A MAT-file that does not parse.
    #[error("{0}: {1}")]
    Mat(String, mat::MatError),
    /// The content is not {train, valid, test} → pieces → steps → pitches.
    #[error("{0}: {1}")]
    Structure(String, String),
}

impl Benchmark {
    /// Reads a benchmark file by its content (pickle, JSON or MAT, whatever its extension).
    pub fn read(path: &Path) -> Result<Self, BenchmarkError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| BenchmarkError::Io {
            path: shown.clone(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().replace('_', " "))
            .unwrap_or_else(|| shown.clone());
        Self::parse(&name, &bytes).map_err(|e| match e {
            BenchmarkError::Format(_) => BenchmarkError::Format(shown.clone()),
            BenchmarkError::Pickle(_, e) => BenchmarkError::Pickle(shown.clone(), e),
            BenchmarkError::Json(_, e) => BenchmarkError::Json(shown.clone(), e),
            BenchmarkError::Mat(_, e) => BenchmarkError::Mat(shown.clone(), e),
            BenchmarkError::Structure(_, e) => BenchmarkError::Structure(shown.clone(), e),
            other => other,
        })
    }

    /// Parses a benchmark file's bytes; `name` names it in the result and in errors.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Self, BenchmarkError> {
        let structure = |why: String| BenchmarkError::Structure(name.to_string(), why);
        let splits: [Vec<Piece>; 3] = if bytes.starts_with(b"MATLAB 5.0") {
            let vars = mat::parse(bytes).map_err(|e| BenchmarkError::Mat(name.into(), e))?;
            let mut out: [Vec<Piece>; 3] = Default::default();
            for (slot, key) in out.iter_mut().zip(["traindata", "validdata", "testdata"]) {
                let array = vars
                    .get(key)
                    .ok_or_else(|| structure(format!("no variable '{key}'")))?;
                *slot = pieces_from_mat(array).map_err(|e| structure(format!("{key}: {e}")))?;
            }
            out
        } else if bytes.first() == Some(&0x80) || bytes.first() == Some(&b'(') {
            let value = pickle::parse(bytes).map_err(|e| BenchmarkError::Pickle(name.into(), e))?;
            splits_from_value(&value).map_err(structure)?
        } else if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            let json: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|e| BenchmarkError::Json(name.into(), e.to_string()))?;
            splits_from_value(&from_json(&json)).map_err(structure)?
        } else {
            return Err(BenchmarkError::Format(name.to_string()));
        };
        let [train, valid, test] = splits;
        for (split, pieces) in [("train", &train), ("valid", &valid), ("test", &test)] {
            if pieces.iter().all(Vec::is_empty) {
                return Err(structure(format!("the {split} split is empty")));
            }
        }
        Ok(Self {
            name: name.to_string(),
            train,
            valid,
            test,
        })
    }

    /// Time steps of a split.
    pub fn steps(pieces: &[Piece]) -> usize {
        pieces.iter().map(Vec::len).sum()
    }

    /// A smaller copy: the first `pieces` pieces of each split, each cut to `steps` steps
    /// (tests and quick looks).
    pub fn slice(&self, pieces: usize, steps: usize) -> Self {
        let cut = |split: &[Piece]| -> Vec<Piece> {
            split
                .iter()
                .take(pieces)
                .map(|p| p.iter().take(steps).cloned().collect())
                .collect()
        };
        Self {
            name: self.name.clone(),
            train: cut(&self.train),
            valid: cut(&self.valid),
            test: cut(&self.test),
        }
    }
}

/// Ticks per quarter note of the scores made by [`Benchmark::scores`].
const SCORE_TICKS: u16 = 480;

impl Benchmark {
    /// Quarter notes per time step: the paper's quarter note for JSB Chorales, an eighth for
    /// the others (Nottingham, MuseData, Piano-midi.de). The file does not say; the name does.
    pub fn quarters_per_step(&self) -> f64 {
        if self.name.to_lowercase().contains("jsb") {
            1.0
        } else {
            0.5
        }
    }

    /// The train and valid pieces as scores, for the app's polyphonic models (`--corpus FILE`).
    /// They are ordered for the app's split rule (every 10th piece is held out): nine train
    /// pieces, then one valid piece, so the models train on train and validate on valid pieces
    /// only. Valid pieces beyond a ninth of train are left out; test pieces never appear. A pitch
    /// that sounds on consecutive steps is one held note (the frames do not tell held from
    /// repeated notes).
    pub fn scores(&self) -> Vec<Score> {
        let step = (f64::from(SCORE_TICKS) * self.quarters_per_step()).round() as u64;
        let score = |piece: &Piece, split: &str, index: usize| {
            let mut notes = Vec::new();
            let mut sounding: std::collections::BTreeMap<u8, u64> = Default::default();
            for t in 0..=piece.len() {
                let now: &[u8] = piece.get(t).map_or(&[], Vec::as_slice);
                sounding.retain(|&pitch, start| {
                    let held = now.contains(&pitch);
                    if !held {
                        notes.push(Note {
                            pitch,
                            start: *start * step,
                            duration: (t as u64 - *start) * step,
                            velocity: 80,
                        });
                    }
                    held
                });
                for &pitch in now {
                    sounding.entry(pitch).or_insert(t as u64);
                }
            }
            Score::new(
                format!("{} {split} {:03}", self.name, index + 1),
                SCORE_TICKS,
            )
            .with_track(Track::new("Piano", notes))
        };
        let mut scores = Vec::new();
        let mut valid = self.valid.iter().enumerate();
        for (i, piece) in self.train.iter().enumerate() {
            scores.push(score(piece, "train", i));
            if i % 9 == 8
                && let Some((j, v)) = valid.next()
            {
                scores.push(score(v, "valid", j));
            }
        }
        scores
    }
}

/// A piece as 88-key binary frames (`KEYS` values each).
pub fn frames(piece: &Piece) -> Vec<Vec<f32>> {
    piece
        .iter()
        .map(|step| {
            let mut frame = vec![0.0f32; KEYS];
            for &p in step {
                frame[usize::from(p - LOWEST)] = 1.0;
            }
            frame
        })
        .collect()
}

fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::None,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => Value::List(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            Value::Dict(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}

fn pitch(value: &Value) -> Result<u8, String> {
    let p = match value {
        Value::Int(p) => *p,
        Value::Float(f) if f.fract() == 0.0 => *f as i64,
        other => return Err(format!("a pitch is not an integer: {other:?}")),
    };
    if !(21..=108).contains(&p) {
        return Err(format!(
            "pitch {p} lies outside the piano's 88 keys (MIDI 21–108)"
        ));
    }
    Ok(p as u8)
}

fn splits_from_value(value: &Value) -> Result<[Vec<Piece>; 3], String> {
    let Value::Dict(dict) = value else {
        return Err("expected a dict with keys train, valid and test".into());
    };
    let mut out: [Vec<Piece>; 3] = Default::default();
    for (slot, key) in out.iter_mut().zip(["train", "valid", "test"]) {
        let split = dict
            .get(key)
            .ok_or_else(|| format!("no '{key}' split (keys: {:?})", dict.keys()))?;
        let Value::List(pieces) = split else {
            return Err(format!("'{key}' is not a list of pieces"));
        };
        for (i, piece) in pieces.iter().enumerate() {
            let Value::List(steps) = piece else {
                return Err(format!("{key} piece {i} is not a list of time steps"));
            };
            let mut out_piece = Vec::with_capacity(steps.len());
            for step in steps {
                let Value::List(pitches) = step else {
                    return Err(format!(
                        "{key} piece {i}: a time step is not a list of pitches"
                    ));
                };
                let mut frame = pitches
                    .iter()
                    .map(pitch)
                    .collect::<Result<Vec<u8>, String>>()
                    .map_err(|e| format!("{key} piece {i}: {e}"))?;
                frame.sort_unstable();
                frame.dedup();
                out_piece.push(frame);
            }
            slot.push(out_piece);
        }
    }
    Ok(out)
}

fn pieces_from_mat(array: &Array) -> Result<Vec<Piece>, String> {
    let Array::Cell(cells) = array else {
        return Err("not a cell array of pieces".into());
    };
    cells
        .iter()
        .map(|cell| {
            let Array::Numeric { rows, cols, values } = cell else {
                return Err("a piece is not a numeric matrix".to_string());
            };
            if *cols != KEYS {
                return Err(format!("a piece has {cols} columns, not the 88 keys"));
            }
            Ok((0..*rows)
                .map(|t| {
                    (0..KEYS)
                        .filter(|&j| values[j * rows + t] != 0.0)
                        .map(|j| LOWEST + j as u8)
                        .collect()
                })
                .collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_are_clear() {
        let err = |text: &str| {
            Benchmark::parse("t", text.as_bytes())
                .unwrap_err()
                .to_string()
        };
        assert!(err(r#"{"train":[[[60]]],"valid":[[[60]]]}"#).contains("no 'test' split"));
        assert!(err(r#"{"train":[[[60]]],"valid":[[[60]]],"test":[[[12]]]}"#).contains("outside"));
        assert!(err(r#"{"train":[],"valid":[[[60]]],"test":[[[60]]]}"#).contains("empty"));
        assert!(err("hello").contains("not a benchmark file"));
        let ok = Benchmark::parse(
            "t",
            br#"{"train":[[[64,60],[]]],"valid":[[[60]]],"test":[[[108,21]]]}"#,
        )
        .unwrap();
        assert_eq!(ok.train[0], vec![vec![60, 64], vec![]]);
        assert_eq!(frames(&ok.test[0])[0][0], 1.0);
        assert_eq!(frames(&ok.test[0])[0][87], 1.0);
    }
}
