//! Shipped runs: pretrained checkpoints that come with muselab (the repository's `models/`),
//! packed small and read only.
//!
//! [`pack`] copies a trained run without its optimiser state and with its parameters stored as
//! 16-bit floats (half the size; `evaluate` on the packed runs measures what that costs), and
//! marks the copy with [`SHIPPED_FILE`]. A marked folder is never written by training: a resume
//! of a shipped run continues a copy in the user's own folder ([`copy_to_user`]).

use std::path::{Path, PathBuf};

use burn::tensor::{DType, TensorData};

use super::checkpoint::{self, CONFIG_FILE, HISTORY_FILE, History};

/// The marker file of a shipped run: where it came from and how it was packed.
pub const SHIPPED_FILE: &str = "shipped.json";

/// What [`SHIPPED_FILE`] says.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShippedInfo {
    /// The run it was packed from (as given to `muselab pack`).
    pub source: String,
    /// How the parameters are stored: "f16" or "f32".
    pub precision: String,
    /// Bytes of the packed parameter files.
    pub parameter_bytes: u64,
}

/// True when `dir` is a shipped (read-only) run.
pub fn is_shipped(dir: &Path) -> bool {
    dir.join(SHIPPED_FILE).is_file()
}

/// Reads a shipped run's marker.
pub fn info(dir: &Path) -> Option<ShippedInfo> {
    let text = std::fs::read_to_string(dir.join(SHIPPED_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Parameter files of a run: every `*.bpk` but the optimiser's (`*.adam.bpk`).
fn parameter_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.ends_with(".bpk") && !n.ends_with(".adam.bpk"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Rewrites a burnpack file with every 32-bit float tensor stored as a 16-bit one (other
/// tensors as they are). Loading casts them back to the module's precision.
pub fn halve_burnpack(source: &Path, target: &Path) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", source.display());
    let tensors = burn_pack::Reader::from_file(source)
        .and_then(burn_pack::Reader::into_tensors)
        .map_err(|e| fail(&e))?;
    let mut halved = Vec::with_capacity(tensors.len());
    for tensor in tensors {
        let (name, dtype, shape, id, bytes) = tensor.into_parts().map_err(|e| fail(&e))?;
        let (bytes, shape, dtype) = if dtype == DType::F32 {
            TensorData::from_bytes(bytes, shape, dtype)
                .convert_dtype(DType::F16)
                .into_parts()
        } else {
            (bytes, shape, dtype)
        };
        halved.push(burn_pack::Tensor::new(name, dtype, shape, id, bytes));
    }
    burn_pack::Writer::new(halved)
        .overwrite(true)
        .write_to_file(target)
        .map_err(|e| format!("{}: {e}", target.display()))
}

/// Packs the run at `run` into `<shipped>/<model>/<name>`: config and history as they are, the
/// parameters in half precision when `half` (else copied), no optimiser state, and the marker.
/// Replaces an earlier pack of the same name. Returns the packed folder.
pub fn pack(run: &Path, shipped: &Path, name: &str, half: bool) -> Result<PathBuf, String> {
    let (config, history) = checkpoint::read(run, None).map_err(|e| e.to_string())?;
    let target = shipped.join(config.model.id()).join(name);
    let io = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|e| io(&target, e))?;
    }
    std::fs::create_dir_all(&target).map_err(|e| io(&target, e))?;
    let from = run.join(CONFIG_FILE);
    std::fs::copy(&from, target.join(CONFIG_FILE)).map_err(|e| io(&from, e))?;
    let history =
        serde_json::to_string(&thinned(history, SHIPPED_STEPS)).map_err(|e| e.to_string())?;
    std::fs::write(target.join(HISTORY_FILE), history).map_err(|e| io(&target, e))?;
    let mut parameter_bytes = 0;
    for file in parameter_files(run)? {
        let to = target.join(file.file_name().unwrap_or_default());
        if half {
            halve_burnpack(&file, &to)?;
        } else {
            std::fs::copy(&file, &to).map_err(|e| io(&file, e))?;
        }
        parameter_bytes += std::fs::metadata(&to).map_or(0, |m| m.len());
    }
    let info = ShippedInfo {
        source: run.display().to_string(),
        precision: if half { "f16" } else { "f32" }.into(),
        parameter_bytes,
    };
    let text = serde_json::to_string_pretty(&info).map_err(|e| e.to_string())?;
    std::fs::write(target.join(SHIPPED_FILE), text).map_err(|e| io(&target, e))?;
    Ok(target)
}

/// Step records a shipped history keeps (the dashboard's loss curves; every epoch stays).
pub const SHIPPED_STEPS: usize = 1000;

/// The history with at most `keep` step records, evenly spaced, the last one always among them.
pub fn thinned(mut history: History, keep: usize) -> History {
    let steps = history.steps.len();
    if steps > keep && keep > 0 {
        let stride = steps.div_ceil(keep);
        history.steps = std::mem::take(&mut history.steps)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| (steps - 1 - i).is_multiple_of(stride))
            .map(|(_, s)| s)
            .collect();
    }
    history
}

/// Copies a shipped run into the user's `models_dir` (a new run folder, without the marker), so
/// that training can go on from it there. Its optimiser starts afresh (none is shipped).
pub fn copy_to_user(shipped_run: &Path, models_dir: &Path) -> Result<PathBuf, String> {
    let (config, _) = checkpoint::read(shipped_run, None).map_err(|e| e.to_string())?;
    let target = checkpoint::new_run_dir(models_dir, &config);
    let io = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
    std::fs::create_dir_all(&target).map_err(|e| io(&target, e))?;
    for entry in std::fs::read_dir(shipped_run)
        .map_err(|e| io(shipped_run, e))?
        .flatten()
    {
        let from = entry.path();
        if from.is_file() && entry.file_name() != SHIPPED_FILE {
            std::fs::copy(&from, target.join(entry.file_name())).map_err(|e| io(&from, e))?;
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_last_step_and_at_most_the_limit() {
        let mut history = History::default();
        for i in 0..2500 {
            history.steps.push(super::super::StepRecord {
                global_step: i,
                epoch: 1,
                losses: vec![i as f64],
            });
        }
        let thin = thinned(history.clone(), 1000);
        assert!(
            thin.steps.len() <= 1000 && thin.steps.len() > 800,
            "{}",
            thin.steps.len()
        );
        assert_eq!(thin.steps.last(), history.steps.last());
        assert_eq!(thinned(history.clone(), 5000), history);
    }
}
