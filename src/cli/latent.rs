//! `muselab encode | decode | interpolate`: the latent space of a vae or rnn-vae checkpoint from
//! the command line.

use std::path::Path;

use burn::tensor::Device;

use crate::data::encoding::{pick_track, voice_tokens};
use crate::inference::LoadedModel;
use crate::models::latent::{self, LatentModel};
use crate::music::{Score, read_midi_file};

fn load(checkpoint: &Path) -> Result<LoadedModel, String> {
    let (model, config) = LoadedModel::load(checkpoint, None, &Device::flex())?;
    if model.latent().is_none() {
        return Err(format!(
            "{}: a {} checkpoint has no latent space; use a vae or rnn-vae checkpoint",
            checkpoint.display(),
            config.model.id()
        ));
    }
    Ok(model)
}

/// The opening melody of a file, as tokens the model reads.
fn opening(path: &Path, model: &dyn LatentModel) -> Result<Vec<usize>, String> {
    let score = read_midi_file(path).map_err(|e| e.to_string())?;
    let grid = score.to_grid(4);
    let track = pick_track(&grid.tracks, Some("Soprano"))
        .ok_or_else(|| format!("{}: no notes", path.display()))?;
    Ok(voice_tokens(&track.notes, 0, model.steps(), &model.range()))
}

fn write(score: &Score, out: &Path) -> Result<(), String> {
    let score = &crate::music::instruments::with_default_programs(score.clone());
    if out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
    {
        super::write_wav(score, &crate::audio::SynthOptions::default(), out).map(|_| ())
    } else {
        crate::music::write_midi_file(score, out).map_err(|e| e.to_string())
    }
}

fn finish(command: &str, result: Result<(), String>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("muselab {command}: {e}");
            1
        }
    }
}

/// `muselab encode`: one JSON line per file: `{"file": ..., "z": [...]}` or `{"file": ..., "error": ...}`.
pub fn encode(checkpoint: &Path, files: &[std::path::PathBuf]) -> i32 {
    let model = match load(checkpoint) {
        Ok(m) => m,
        Err(e) => return finish("encode", Err(e)),
    };
    let Some(latent) = model.latent() else {
        return 1;
    };
    let mut failed = false;
    for file in files {
        let name = file.display().to_string();
        match opening(file, latent) {
            Ok(tokens) => {
                let z = latent
                    .encode_mean(&[tokens.as_slice()], &Device::flex())
                    .remove(0);
                println!("{}", serde_json::json!({"file": name, "z": z}));
            }
            Err(e) => {
                failed = true;
                println!("{}", serde_json::json!({"file": name, "error": e}));
            }
        }
    }
    i32::from(failed)
}

/// `muselab decode`.
pub fn decode(checkpoint: &Path, z: &str, out: &Path) -> i32 {
    let result = (|| {
        let model = load(checkpoint)?;
        let latent = model.latent().ok_or("no latent")?;
        let mut point: Vec<f32> = z
            .split(',')
            .map(|v| {
                v.trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| format!("'{v}' in --z is not a finite number"))
            })
            .collect::<Result<_, _>>()?;
        if point.len() > latent.latent_size() {
            return Err(format!(
                "--z has {} numbers; this latent has {} dimensions",
                point.len(),
                latent.latent_size()
            ));
        }
        point.resize(latent.latent_size(), 0.0);
        let tokens = latent.decode(&[point], 0.0, 0, &Device::flex()).remove(0);
        let score = latent::melody_score("decoded", &tokens, &latent.range());
        write(&score, out)?;
        println!("wrote {} ({} notes)", out.display(), score.note_count());
        Ok(())
    })();
    finish("decode", result)
}

/// `muselab interpolate`.
pub fn interpolate(
    checkpoint: &Path,
    a: &Path,
    b: &Path,
    steps: usize,
    spherical: bool,
    out: &Path,
) -> i32 {
    let result = (|| {
        if !(2..=1000).contains(&steps) {
            return Err(format!(
                "--steps must be between 2 and 1000 (it is {steps})"
            ));
        }
        let model = load(checkpoint)?;
        let latent = model.latent().ok_or("no latent")?;
        let device = Device::flex();
        let (ta, tb) = (opening(a, latent)?, opening(b, latent)?);
        let codes = latent.encode_mean(&[ta.as_slice(), tb.as_slice()], &device);
        let path = latent::interpolate(
            &codes[0],
            &codes[1],
            steps,
            spherical && latent.latent_size() > 2,
        );
        let melodies = latent.decode(&path, 0.0, 0, &device);
        let score = latent::sequence_score("interpolation", &melodies, &latent.range());
        write(&score, out)?;
        println!(
            "wrote {} ({} melodies, {} notes)",
            out.display(),
            melodies.len(),
            score.note_count()
        );
        Ok(())
    })();
    finish("interpolate", result)
}
