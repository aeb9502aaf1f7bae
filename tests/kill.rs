//! Killing training at random moments (SIGKILL, a child process, many times) never loses a run:
//! after every kill the run folder loads, generates and resumes, with at least the epochs it had
//! before the kill — whether the kill fell in a step, in writing the checkpoint's files, or
//! between the two renames that put a new checkpoint in place.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn muselab() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_muselab"));
    command.env("RUST_LOG", "off");
    command
}

#[test]
fn killed_training_never_loses_a_completed_epoch() {
    let dir = common::temp_dir("kill");
    let models = dir.join("models");
    // A fixed generator of kill times, spread over startup, steps and checkpoint writes.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next_delay = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        Duration::from_millis(150 + state % 1200)
    };
    let mut epochs_seen = 0;
    let mut run = None;
    for kill in 0..20 {
        let mut command = muselab();
        command
            .args(["train", "minibach", "--device", "cpu", "--epochs", "100000"])
            .args([
                "--max-pieces",
                "12",
                "--steps-per-epoch",
                "1",
                "--batch-size",
                "8",
            ])
            .arg("--out")
            .arg(&models)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(run) = &run {
            command.arg("--resume").arg(run);
        }
        let mut child = command.spawn().expect("starts");
        let delay = next_delay();
        let started = Instant::now();
        // Note the epochs on disk until the kill: none of them may be lost by it.
        while started.elapsed() < delay {
            if let Some(r) = muselab::training::list_runs(&models).first() {
                epochs_seen = epochs_seen.max(r.epochs);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");

        // What the kill interrupted, as the folder shows it (reported, for the record).
        let left: Vec<String> = std::fs::read_dir(models.join("minibach"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        eprintln!("kill {kill} after {delay:?}: {left:?}");
        let runs = muselab::training::list_runs(&models);
        if epochs_seen == 0 && runs.is_empty() {
            continue; // killed before its first epoch ended: nothing to keep yet
        }
        assert_eq!(runs.len(), 1, "kill {kill}: one run, found {runs:?}");
        assert!(
            runs[0].epochs >= epochs_seen,
            "kill {kill}: {} epochs left of {epochs_seen}",
            runs[0].epochs
        );
        epochs_seen = runs[0].epochs;
        let leftovers: Vec<_> = std::fs::read_dir(models.join("minibach"))
            .expect("folder")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "kill {kill}: leftovers {leftovers:?}");
        let out = dir.join(format!("kill{kill}.mid"));
        let generated = muselab()
            .arg("generate")
            .arg(&runs[0].dir)
            .arg("--melody")
            .arg(common::assets().join("corpora/celtic_oneills/oneills_0000.mid"))
            .arg("--out")
            .arg(&out)
            .output()
            .expect("runs");
        assert!(
            generated.status.success(),
            "kill {kill}: {}",
            String::from_utf8_lossy(&generated.stderr)
        );
        run = Some(runs[0].dir.clone());
    }
    assert!(epochs_seen > 0, "no kill came after a completed epoch");
}
