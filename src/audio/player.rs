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

/// The last stage before the device: samples clamped to full scale. rodio's limiter (below)
/// lowers the gain of a mix that goes over −1 dBFS, but its 5 ms attack lets the first samples of
/// a sudden peak through; this clamp catches those few, so the output never exceeds full scale.
struct FullScale<S>(S);

impl<S: Iterator<Item = f32>> Iterator for FullScale<S> {
    type Item = f32;
    fn next(&mut self) -> Option<f32> {
        self.0.next().map(|s| s.clamp(-1.0, 1.0))
    }
}

impl<S: rodio::Source> rodio::Source for FullScale<S> {
    fn current_span_len(&self) -> Option<usize> {
        self.0.current_span_len()
    }
    fn channels(&self) -> rodio::ChannelCount {
        self.0.channels()
    }
    fn sample_rate(&self) -> rodio::SampleRate {
        self.0.sample_rate()
    }
    fn total_duration(&self) -> Option<std::time::Duration> {
        self.0.total_duration()
    }
}

/// A mono mix of music and note previews, limited to full scale: each alone peaks at 0.95 (the
/// synthesiser normalises), but a preview over loud music summed to nearly twice that. Returns
/// the mixer to connect players to and the source to play.
fn limited_mix() -> (rodio::mixer::Mixer, impl rodio::Source + Send + 'static) {
    use rodio::Source;
    let rate = NonZero::new(SAMPLE_RATE).unwrap_or(NonZero::<u32>::MIN);
    let (mixer, source) = rodio::mixer::mixer(NonZero::<u16>::MIN, rate);
    let limited = FullScale(source.limit(rodio::source::LimitSettings::default()));
    (mixer, limited)
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
    // The players first: a mix with no source ends at once (rodio's mixer yields None when
    // empty), while a player's queue plays silence when it has nothing, so the mix never ends.
    let (mix, limited) = limited_mix();
    let music = rodio::Player::connect_new(&mix);
    let previews = rodio::Player::connect_new(&mix);
    sink.mixer().add(limited);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Music and a preview both at the synthesiser's peak (0.95), summed: the limited mix stays
    /// within full scale, where the plain sum reaches 1.9.
    #[test]
    fn the_mix_of_music_and_a_preview_never_exceeds_full_scale() {
        let (mix, mut limited) = limited_mix();
        let tone = |hz: f32| -> Vec<f32> {
            (0..SAMPLE_RATE / 2)
                .map(|i| 0.95 * (i as f32 * hz * std::f32::consts::TAU / SAMPLE_RATE as f32).sin())
                .collect()
        };
        mix.add(buffer(tone(220.0)));
        mix.add(buffer(tone(220.0)));
        let samples: Vec<f32> = limited.by_ref().take(SAMPLE_RATE as usize / 2).collect();
        let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak <= 1.0, "peak {peak}");
        // The limiter lowers the gain rather than clamping all the way: after its attack the
        // peak sits near its −1 dBFS threshold, not at the clamp.
        let late = samples[samples.len() / 2..]
            .iter()
            .fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(late > 0.5 && late < 0.99, "late peak {late}");
    }

    /// With the app's two players connected and nothing to play, the mix plays silence rather
    /// than ending (an ended source would be dropped by the device's mixer, and later sounds
    /// would go nowhere).
    #[test]
    fn the_mix_outlives_silence() {
        let (mix, mut limited) = limited_mix();
        let _music = rodio::Player::connect_new(&mix);
        let _previews = rodio::Player::connect_new(&mix);
        let silence: Vec<f32> = limited.by_ref().take(4800).collect();
        assert_eq!(silence.len(), 4800);
        assert!(silence.iter().all(|&s| s == 0.0));
    }
}
