//! Checkpoints on disk: `models/<model>/<run>/` holds `config.json`, `model.bpk` (burn's
//! burnpack record) and `history.json`. A checkpoint is written into a temporary folder and then
//! renamed into place, so a crash never leaves half of one, and the previous one stays until the
//! new one is complete.

use std::path::{Path, PathBuf};

use super::config::{CHECKPOINT_FORMAT, RunConfig};
use crate::models::{ModelKind, Session};

/// File names inside a checkpoint folder.
pub const CONFIG_FILE: &str = "config.json";
/// The burn record.
pub const MODEL_FILE: &str = "model.bpk";
/// All curves.
pub const HISTORY_FILE: &str = "history.json";

/// One step's losses.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    /// Steps since the start of the run.
    pub global_step: usize,
    /// Epoch (from 1).
    pub epoch: usize,
    /// Losses in the order of [`History::loss_names`].
    pub losses: Vec<f64>,
}

/// One epoch's summary.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// Epoch (from 1).
    pub epoch: usize,
    /// Steps since the start of the run, at the end of the epoch.
    pub global_step: usize,
    /// Mean training losses of the epoch.
    pub train_losses: Vec<f64>,
    /// Held-out measures.
    pub validation: Vec<(String, f64)>,
    /// Metrics of the first sample, by name.
    pub sample_metrics: Vec<(String, f64)>,
    /// Wall-clock seconds since the run started.
    pub seconds: f64,
}

/// Every curve of a run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct History {
    /// Names of the losses.
    pub loss_names: Vec<String>,
    /// Per step.
    pub steps: Vec<StepRecord>,
    /// Per epoch.
    pub epochs: Vec<EpochRecord>,
    /// The corpus's own metric values (for comparison with samples).
    pub corpus_metrics: Vec<(String, f64)>,
    /// The session's [`Session::resume_state`] at this checkpoint (empty in older ones).
    #[serde(default)]
    pub resume_state: Vec<f64>,
}

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A file is missing or unreadable.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The folder belongs to another model.
    #[error("{path}: this is a {found} checkpoint, not a {expected} one")]
    WrongModel {
        /// The folder.
        path: String,
        /// The model asked for.
        expected: String,
        /// The model found.
        found: String,
    },
    /// Another layout version.
    #[error(
        "{path}: checkpoint format {found} is not supported (this muselab reads format {CHECKPOINT_FORMAT})"
    )]
    Format {
        /// The folder.
        path: String,
        /// The version found.
        found: u32,
    },
}

fn io(path: &Path, reason: impl std::fmt::Display) -> CheckpointError {
    CheckpointError::Io {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// The name of `check_writable`'s probe file, before the process id.
const WRITE_PROBE: &str = ".muselab-write-check-";

/// Checks, before a run trains, that its checkpoints can be written beside `dir` (a read-only
/// or full disk, or a models folder that is a file): creates the parent folder and writes and
/// removes a small file there. Training that could never save is refused at the start rather
/// than after its first epoch.
pub fn check_writable(dir: &Path) -> Result<(), CheckpointError> {
    let parent = dir.parent().ok_or_else(|| io(dir, "no parent folder"))?;
    let refuse = |e: std::io::Error| {
        io(
            parent,
            format!("checkpoints cannot be written here ({e}); choose another models folder"),
        )
    };
    std::fs::create_dir_all(parent).map_err(refuse)?;
    let probe = parent.join(format!("{WRITE_PROBE}{}", std::process::id()));
    std::fs::write(&probe, [0u8; 4096]).map_err(refuse)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes a checkpoint of `session` to `dir`, atomically.
pub fn write(
    dir: &Path,
    config: &RunConfig,
    history: &History,
    session: &dyn Session,
) -> Result<(), CheckpointError> {
    if super::shipped::is_shipped(dir) {
        return Err(io(
            dir,
            "a shipped run is read-only; training goes on in a copy in your models folder",
        ));
    }
    let parent = dir.parent().ok_or_else(|| io(dir, "no parent folder"))?;
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp{}", std::process::id()));
    let old = parent.join(format!(".{name}.old{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    std::fs::write(tmp.join(CONFIG_FILE), to_json(config)).map_err(|e| io(&tmp, e))?;
    std::fs::write(tmp.join(HISTORY_FILE), to_json(history)).map_err(|e| io(&tmp, e))?;
    session
        .save(&tmp.join(MODEL_FILE))
        .map_err(|e| io(&tmp, e))?;
    // On disk before the renames, so that a power cut cannot leave a renamed folder whose
    // files were still only in memory.
    sync_folder(&tmp).map_err(|e| io(&tmp, e))?;
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(|e| io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| io(dir, e))?;
    let _ = std::fs::remove_dir_all(&old);
    let _ = std::fs::File::open(parent).and_then(|f| f.sync_all());
    Ok(())
}

/// Flushes every file of `dir`, then the folder itself, to the disk.
fn sync_folder(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    // Folders cannot be opened for syncing on every platform (Windows); the files matter most.
    let _ = std::fs::File::open(dir).and_then(|f| f.sync_all());
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Reads a checkpoint's config and history, checking that it belongs to `expected` (if given).
pub fn read(
    dir: &Path,
    expected: Option<ModelKind>,
) -> Result<(RunConfig, History), CheckpointError> {
    if !dir.exists()
        && let Some(parent) = dir.parent()
    {
        recover_interrupted(parent);
    }
    let config_path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&config_path)
        .map_err(|e| io(&config_path, format!("not a muselab checkpoint ({e})")))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| io(&config_path, e))?;
    let format = value
        .get("format")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0) as u32;
    if format != CHECKPOINT_FORMAT {
        return Err(CheckpointError::Format {
            path: dir.display().to_string(),
            found: format,
        });
    }
    let config: RunConfig = serde_json::from_value(value).map_err(|e| io(&config_path, e))?;
    if let Some(expected) = expected
        && expected != config.model
    {
        return Err(CheckpointError::WrongModel {
            path: dir.display().to_string(),
            expected: expected.id().into(),
            found: config.model.id().into(),
        });
    }
    if !dir.join(MODEL_FILE).is_file() {
        return Err(io(
            &dir.join(MODEL_FILE),
            "missing: the checkpoint has no parameters",
        ));
    }
    let history_path = dir.join(HISTORY_FILE);
    let history = std::fs::read_to_string(&history_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    Ok((config, history))
}

/// A saved run, for the dashboard's list.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// The checkpoint folder.
    pub dir: PathBuf,
    /// Its model.
    pub model: ModelKind,
    /// Epochs done.
    pub epochs: usize,
    /// Last training loss, if any.
    pub final_loss: Option<f64>,
    /// The corpus it trained on.
    pub corpus: String,
    /// Its saved settings (what a resume starts from).
    pub config: RunConfig,
    /// A shipped, read-only run (see [`super::shipped`]).
    pub shipped: bool,
}

/// Lists the user's checkpoints under `models_dir`, newest first, then the shipped ones under
/// `shipped` (if any), by model.
pub fn list_all_runs(models_dir: &Path, shipped: Option<&Path>) -> Vec<RunSummary> {
    let mut runs = list_runs(models_dir);
    if let Some(shipped) = shipped {
        let mut packed = list_runs(shipped);
        packed.sort_by_key(|r| r.model.id());
        runs.extend(packed);
    }
    runs
}

/// Lists the checkpoints under `models_dir`, newest first.
pub fn list_runs(models_dir: &Path) -> Vec<RunSummary> {
    let mut runs = Vec::new();
    for kind in ModelKind::ALL {
        recover_interrupted(&models_dir.join(kind.id()));
        let Ok(entries) = std::fs::read_dir(models_dir.join(kind.id())) else {
            continue;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            if dir
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            if let Ok((config, history)) = read(&dir, None) {
                let shipped = super::shipped::is_shipped(&dir);
                runs.push(RunSummary {
                    dir,
                    model: config.model,
                    epochs: history.epochs.len(),
                    final_loss: history.steps.last().and_then(|s| s.losses.first().copied()),
                    corpus: config.corpus.clone(),
                    config,
                    shipped,
                });
            }
        }
    }
    runs.sort_by(|a, b| b.dir.file_name().cmp(&a.dir.file_name()));
    runs
}

/// Puts back run folders that a process killed in the middle of [`write`] left missing.
///
/// [`write`] replaces a run folder with two renames (the old folder aside as `.<run>.old<pid>`,
/// the complete new one, `.<run>.tmp<pid>`, into place). A kill between them leaves no `<run>`:
/// then the new folder is complete (it is renamed only after all its files were written) and is
/// moved into place; without it the old one is. A new folder killed while being written is
/// removed (the run keeps its previous checkpoint), and so is a write probe. Leftovers of
/// processes still alive are left alone (they may be writing now).
pub fn recover_interrupted(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let alive = |pid: &str| {
        pid == std::process::id().to_string()
            || (Path::new("/proc/self").exists() && Path::new("/proc").join(pid).exists())
    };
    let names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    // First the interrupted replacements (an `.old` folder says the new one was complete).
    for name in &names {
        let Some((run, pid)) = name[1..].rsplit_once(".old") else {
            continue;
        };
        let target = parent.join(run);
        if alive(pid) {
            continue;
        }
        if !target.exists() {
            let complete = parent.join(format!(".{run}.tmp{pid}"));
            let source = if complete.join(MODEL_FILE).is_file() {
                complete
            } else {
                parent.join(name)
            };
            if std::fs::rename(&source, &target).is_ok() {
                log::warn!(
                    "{}: recovered after an interrupted checkpoint write",
                    target.display()
                );
            }
        }
        let _ = std::fs::remove_dir_all(parent.join(name));
    }
    // Then what a killed process left half-written: a new checkpoint that never got into place
    // (its epoch is the one the kill interrupted) and the write probe of `check_writable`.
    for name in &names {
        let pid = name[1..]
            .rsplit_once(".tmp")
            .map(|(_, pid)| pid)
            .or_else(|| name.strip_prefix(WRITE_PROBE));
        if let Some(pid) = pid
            && !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !alive(pid)
        {
            let path = parent.join(name);
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
}

/// A new run folder name: `run-<unix seconds>-<seed>`.
pub fn new_run_dir(models_dir: &Path, config: &RunConfig) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = models_dir.join(config.model.id());
    let mut dir = base.join(format!("run-{secs}-seed{}", config.seed));
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = base.join(format!("run-{secs}-seed{}-{n}", config.seed));
    }
    dir
}
