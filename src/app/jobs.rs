//! Background work of the app: each job runs on a named thread and sends one [`JobResult`] back,
//! then wakes the UI. The UI thread drains results with a time budget each frame.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use crate::compute::ComputeDevice;
use crate::corpus::CorpusListing;
use crate::music::Score;

/// Which file dialog answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogPurpose {
    /// Open a MIDI file.
    OpenFile,
    /// Open a folder of MIDI files.
    OpenFolder,
    /// Export the piece as MIDI.
    ExportMidi,
    /// Export the piece as WAV.
    ExportWav,
    /// Play with a SoundFont file.
    OpenSoundFont,
}

/// The result of one background job.
pub enum JobResult {
    /// The bundled corpora were listed (errors name the missing folder).
    CorporaListed(Vec<Result<CorpusListing, String>>),
    /// A folder the user opened was listed.
    FolderListed(Result<CorpusListing, String>),
    /// A piece was read.
    PieceLoaded {
        /// The file.
        path: PathBuf,
        /// The score or the error message.
        result: Result<Score, String>,
    },
    /// Audio for playback is ready.
    Rendered {
        /// Playback request this answers; stale ones are dropped.
        generation: u64,
        /// Mono samples.
        samples: Vec<f32>,
        /// Score time in seconds where the samples start.
        from_seconds: f64,
    },
    /// An export finished: a message to show or an error.
    Exported(Result<String, String>),
    /// "Copy as MIDI file" wrote this file (its path goes on the clipboard), or failed.
    CopiedMidi(Result<PathBuf, String>),
    /// A file dialog answered.
    Dialog {
        /// What the dialog was for.
        purpose: DialogPurpose,
        /// The chosen path, if any.
        path: Option<PathBuf>,
        /// How long the dialog was open (a dialog that "answers" at once never appeared).
        open_for: Duration,
    },
    /// The compute-device probe finished.
    DeviceProbed(ComputeDevice),
    /// A trained model generated a piece (or failed to).
    Generated(Result<Score, String>),
    /// A model rewrote part of the open piece (or failed to).
    Rewritten(Result<Score, String>),
    /// A SoundFont was read (or the built-in synthesiser chosen): the sound, and why the
    /// built-in one plays when no SoundFont was found.
    SoundChosen(Result<(crate::audio::Sound, Option<String>), String>),
    /// A job panicked: which job, and the panic's message.
    Failed {
        /// The job's name ("generate", "export", …).
        job: String,
        /// What went wrong.
        message: String,
    },
}

/// Spawns jobs and collects their results.
pub struct Jobs {
    sender: Sender<JobResult>,
    receiver: Receiver<JobResult>,
    ctx: Option<egui::Context>,
    running: usize,
}

impl Default for Jobs {
    fn default() -> Self {
        let (sender, receiver) = channel();
        Self {
            sender,
            receiver,
            ctx: None,
            running: 0,
        }
    }
}

impl Jobs {
    /// Remembers the context so finished jobs can wake the UI.
    pub fn set_context(&mut self, ctx: &egui::Context) {
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
        }
    }

    /// Number of jobs not yet collected.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Runs `work` on a thread named `name`.
    pub fn spawn(&mut self, name: &str, work: impl FnOnce() -> JobResult + Send + 'static) {
        let sender = self.sender.clone();
        let ctx = self.ctx.clone();
        let job = name.to_string();
        let spawned = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                // A panic becomes a result, so the UI hears back and clears its busy state.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                    .unwrap_or_else(|panic| JobResult::Failed {
                        job: job.clone(),
                        message: crate::util::panic_text(&panic),
                    });
                let _ = sender.send(result);
                if let Some(ctx) = ctx {
                    ctx.request_repaint();
                }
            });
        match spawned {
            Ok(_) => self.running += 1,
            Err(e) => log::error!("cannot start the {name} thread: {e}"),
        }
    }

    /// Results that arrived, collected for at most `budget`.
    pub fn drain(&mut self, budget: Duration) -> Vec<JobResult> {
        let started = Instant::now();
        let mut results = Vec::new();
        while started.elapsed() < budget {
            match self.receiver.try_recv() {
                Ok(result) => {
                    self.running = self.running.saturating_sub(1);
                    results.push(result);
                }
                Err(_) => break,
            }
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_job_reports_a_failure_and_is_no_longer_running() {
        let mut jobs = Jobs::default();
        jobs.spawn("generate", || panic!("injected for the test"));
        assert_eq!(jobs.running(), 1);
        let started = Instant::now();
        let mut results = Vec::new();
        while results.is_empty() && started.elapsed() < Duration::from_secs(10) {
            results = jobs.drain(Duration::from_millis(50));
            std::thread::sleep(Duration::from_millis(5));
        }
        match results.as_slice() {
            [JobResult::Failed { job, message }] => {
                assert_eq!(job, "generate");
                assert!(message.contains("injected for the test"), "{message}");
            }
            _ => panic!("expected one Failed result"),
        }
        assert_eq!(jobs.running(), 0);
    }
}
