//! Playback through rodio on a thread of its own.
//!
//! The audio thread owns the output device; the UI sends it [`AudioCommand`]s and never waits on
//! it. Opening the device happens on that thread too (ALSA can take a while to answer), and when
//! no device exists the reason is kept in [`AudioStatus::Unavailable`] for the status bar: the
//! app runs on, silent.

use std::num::NonZero;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use super::synth::SAMPLE_RATE;

/// What the audio thread should do.
#[derive(Debug)]
pub enum AudioCommand {
    /// Stop what plays and play these mono samples at [`SAMPLE_RATE`].
    Play(Vec<f32>),
    /// Play these samples over whatever plays (a note preview).
    Preview(Vec<f32>),
    /// Stop all sound.
    Stop,
    /// End the thread.
    Quit,
}

/// Whether sound can be heard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AudioStatus {
    /// The device is being opened.
    Starting,
    /// Sound goes to the default output device.
    Ready,
    /// No sound: the reason, for the status bar.
    Unavailable(String),
}

/// A handle on the audio thread.
pub struct AudioOutput {
    commands: Sender<AudioCommand>,
    status: Arc<OnceLock<Result<(), String>>>,
    thread: Option<JoinHandle<()>>,
}

impl AudioOutput {
    /// Starts the audio thread, which opens the default output device.
    pub fn start() -> Self {
        let (commands, receiver) = channel();
        let status = Arc::new(OnceLock::new());
        let thread_status = Arc::clone(&status);
        let thread = std::thread::Builder::new()
            .name("audio".into())
            .spawn(move || audio_thread(&receiver, &thread_status))
            .map_err(|e| {
                let _ = status.set(Err(format!("cannot start the audio thread: {e}")));
            })
            .ok();
        Self {
            commands,
            status,
            thread,
        }
    }

    /// A silent output that never opens a device, with the reason given (tests, `--no-audio`).
    pub fn disabled(reason: impl Into<String>) -> Self {
        let (commands, _) = channel();
        let status = Arc::new(OnceLock::new());
        let _ = status.set(Err(reason.into()));
        Self {
            commands,
            status,
            thread: None,
        }
    }

    /// The current status, without blocking.
    pub fn status(&self) -> AudioStatus {
        match self.status.get() {
            None => AudioStatus::Starting,
            Some(Ok(())) => AudioStatus::Ready,
            Some(Err(reason)) => AudioStatus::Unavailable(reason.clone()),
        }
    }

    /// Sends a command; silently dropped when there is no audio thread.
    pub fn send(&self, command: AudioCommand) {
        let _ = self.commands.send(command);
    }
}

impl Drop for AudioOutput {
    fn drop(&mut self) {
        let _ = self.commands.send(AudioCommand::Quit);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn buffer(samples: Vec<f32>) -> rodio::buffer::SamplesBuffer {
    const MONO: NonZero<u16> = NonZero::<u16>::MIN;
    let rate = NonZero::new(SAMPLE_RATE).unwrap_or(NonZero::<u32>::MIN);
    rodio::buffer::SamplesBuffer::new(MONO, rate, samples)
}

fn audio_thread(commands: &Receiver<AudioCommand>, status: &OnceLock<Result<(), String>>) {
    let mut sink = match rodio::DeviceSinkBuilder::open_default_sink() {
        Ok(sink) => sink,
        Err(e) => {
            let _ = status.set(Err(e.to_string()));
            // Keep draining so that senders never see an error; nothing is played.
            while let Ok(command) = commands.recv() {
                if matches!(command, AudioCommand::Quit) {
                    break;
                }
            }
            return;
        }
    };
    sink.log_on_drop(false);
    let music = rodio::Player::connect_new(sink.mixer());
    let previews = rodio::Player::connect_new(sink.mixer());
    let _ = status.set(Ok(()));
    while let Ok(command) = commands.recv() {
        match command {
            AudioCommand::Play(samples) => {
                music.clear();
                music.append(buffer(samples));
                music.play();
            }
            AudioCommand::Preview(samples) => {
                previews.append(buffer(samples));
                previews.play();
            }
            AudioCommand::Stop => {
                music.clear();
                previews.clear();
            }
            AudioCommand::Quit => break,
        }
    }
}
