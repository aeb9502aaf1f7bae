//! MIDI out: playback sent to a DAW or a synthesiser through a MIDI port (midir: the ALSA
//! sequencer on Linux, CoreMIDI on macOS, WinMM on Windows), in time with the playhead.
//!
//! A thread of its own owns the connection and sends each message when it is due; Stop and
//! closing the app send "all notes off" (a note-off for every note still sounding, then
//! controller 123 on every channel), so that nothing hangs in the receiving instrument. No
//! MIDI system or no port is a state the menu shows, not an error.

use std::collections::BTreeSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::music::performance::{CONTROL_CHANGE, NOTE_OFF, NOTE_ON, PROGRAM_CHANGE, TimedMessage};

/// Where MIDI out stands, for the menu.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MidiOutState {
    /// Not connected; the ports that can be chosen (possibly none).
    Off(Vec<String>),
    /// Sending to this port.
    Connected(String),
    /// No MIDI system to talk to (no ALSA sequencer, …): the reason.
    Unavailable(String),
}

/// Something that takes MIDI bytes: a port connection, or a recorder in tests.
pub trait MidiSink {
    /// Sends one message.
    fn send(&mut self, bytes: &[u8]);
}

impl MidiSink for midir::MidiOutputConnection {
    fn send(&mut self, bytes: &[u8]) {
        if let Err(e) = midir::MidiOutputConnection::send(self, bytes) {
            log::warn!("MIDI out: {e}");
        }
    }
}

impl MidiSink for Vec<Vec<u8>> {
    fn send(&mut self, bytes: &[u8]) {
        self.push(bytes.to_vec());
    }
}

/// A performance being sent: the messages, the next one due, and the notes sounding now.
#[derive(Debug, Default)]
pub struct Performer {
    messages: Vec<TimedMessage>,
    next: usize,
    tempo_scale: f64,
    sounding: BTreeSet<(u8, u8)>,
}

impl Performer {
    /// Starts sending `messages` (score seconds; `tempo_scale` 2.0 plays twice as fast).
    pub fn play(&mut self, sink: &mut impl MidiSink, messages: Vec<TimedMessage>, scale: f64) {
        self.stop(sink);
        self.messages = messages;
        self.next = 0;
        self.tempo_scale = scale.max(1e-3);
    }

    /// Sends every message due `elapsed` after the start; returns how long until the next one
    /// (`None` when all were sent).
    pub fn send_due(&mut self, sink: &mut impl MidiSink, elapsed: Duration) -> Option<Duration> {
        let now = elapsed.as_secs_f64();
        while let Some(message) = self.messages.get(self.next) {
            let due = message.seconds / self.tempo_scale;
            if due > now {
                return Some(Duration::from_secs_f64(due - now));
            }
            sink.send(&wire_bytes(message));
            match message.command {
                NOTE_ON => {
                    self.sounding.insert((message.channel, message.data1));
                }
                NOTE_OFF => {
                    self.sounding.remove(&(message.channel, message.data1));
                }
                _ => {}
            }
            self.next += 1;
        }
        None
    }

    /// True while messages are left to send.
    pub fn is_playing(&self) -> bool {
        self.next < self.messages.len()
    }

    /// Stops: a note-off for each sounding note, then all notes off on every channel.
    pub fn stop(&mut self, sink: &mut impl MidiSink) {
        for (channel, key) in std::mem::take(&mut self.sounding) {
            sink.send(&[NOTE_OFF | channel, key, 0]);
        }
        if self.is_playing() || self.next > 0 {
            all_notes_off(sink);
        }
        self.messages.clear();
        self.next = 0;
    }
}

/// The bytes of a channel message (a program change has one data byte).
fn wire_bytes(message: &TimedMessage) -> Vec<u8> {
    let status = message.command | (message.channel & 0x0F);
    if message.command == PROGRAM_CHANGE {
        vec![status, message.data1 & 0x7F]
    } else {
        vec![status, message.data1 & 0x7F, message.data2 & 0x7F]
    }
}

/// Controller 123 (all notes off) on all sixteen channels.
pub fn all_notes_off(sink: &mut impl MidiSink) {
    for channel in 0..16u8 {
        sink.send(&[CONTROL_CHANGE | channel, 123, 0]);
    }
}

enum Command {
    Refresh,
    Connect(Option<String>),
    Play(Vec<TimedMessage>, f64),
    Stop,
    Quit,
}

/// A handle on the MIDI-out thread.
pub struct MidiOut {
    commands: Sender<Command>,
    state: Arc<Mutex<MidiOutState>>,
    thread: Option<JoinHandle<()>>,
}

impl MidiOut {
    /// Starts the thread, which lists the ports.
    pub fn start() -> Self {
        let (commands, receiver) = channel();
        let state = Arc::new(Mutex::new(MidiOutState::Off(Vec::new())));
        let shared = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("midi-out".into())
            .spawn(move || midi_thread(&receiver, &shared))
            .ok();
        let out = Self {
            commands,
            state,
            thread,
        };
        out.refresh();
        out
    }

    /// The current state, without waiting.
    pub fn state(&self) -> MidiOutState {
        self.state
            .lock()
            .map_or_else(|e| e.into_inner().clone(), |s| s.clone())
    }

    /// Lists the ports again.
    pub fn refresh(&self) {
        let _ = self.commands.send(Command::Refresh);
    }

    /// Connects to the port of this name, or disconnects (`None`).
    pub fn connect(&self, port: Option<String>) {
        let _ = self.commands.send(Command::Connect(port));
    }

    /// True when a port is connected.
    pub fn is_connected(&self) -> bool {
        matches!(self.state(), MidiOutState::Connected(_))
    }

    /// Sends a performance from now on.
    pub fn play(&self, messages: Vec<TimedMessage>, tempo_scale: f64) {
        let _ = self.commands.send(Command::Play(messages, tempo_scale));
    }

    /// Stops, with all notes off.
    pub fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }
}

impl Drop for MidiOut {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Quit);
        if let Some(thread) = self.thread.take() {
            crate::util::join_within(thread, Duration::from_millis(500));
        }
    }
}

fn set(state: &Mutex<MidiOutState>, value: MidiOutState) {
    match state.lock() {
        Ok(mut s) => *s = value,
        Err(e) => *e.into_inner() = value,
    }
}

/// A client of the system's MIDI, or why there is none.
fn client() -> Result<midir::MidiOutput, String> {
    midir::MidiOutput::new("muselab").map_err(|e| format!("no MIDI system ({e})"))
}

/// The ports midir sees, or why there are none to see.
pub fn list_ports() -> Result<Vec<String>, String> {
    let output = client()?;
    Ok(output
        .ports()
        .iter()
        .filter_map(|p| output.port_name(p).ok())
        .collect())
}

fn open_port(name: &str) -> Result<midir::MidiOutputConnection, String> {
    let output = client()?;
    let port = output
        .ports()
        .into_iter()
        .find(|p| output.port_name(p).is_ok_and(|n| n == name))
        .ok_or_else(|| format!("the MIDI port {name} is gone"))?;
    output
        .connect(&port, "muselab out")
        .map_err(|e| format!("{name}: {e}"))
}

fn refreshed(state: &Mutex<MidiOutState>) {
    set(
        state,
        match list_ports() {
            Ok(ports) => MidiOutState::Off(ports),
            Err(reason) => MidiOutState::Unavailable(reason),
        },
    );
}

fn midi_thread(commands: &Receiver<Command>, state: &Mutex<MidiOutState>) {
    let mut connection: Option<midir::MidiOutputConnection> = None;
    let mut performer = Performer::default();
    let mut started = Instant::now();
    loop {
        let wait = match connection.as_mut() {
            Some(sink) if performer.is_playing() => performer.send_due(sink, started.elapsed()),
            _ => None,
        };
        let command = match wait {
            Some(wait) => match commands.recv_timeout(wait) {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => Command::Quit,
            },
            None => commands.recv().unwrap_or(Command::Quit),
        };
        match command {
            Command::Refresh => {
                if connection.is_none() {
                    refreshed(state);
                }
            }
            Command::Connect(port) => {
                if let Some(mut old) = connection.take() {
                    performer.stop(&mut old);
                    old.close();
                }
                match port {
                    Some(name) => match open_port(&name) {
                        Ok(c) => {
                            connection = Some(c);
                            set(state, MidiOutState::Connected(name));
                        }
                        Err(reason) => {
                            log::warn!("MIDI out: {reason}");
                            refreshed(state);
                        }
                    },
                    None => refreshed(state),
                }
            }
            Command::Play(messages, scale) => {
                if let Some(sink) = connection.as_mut() {
                    performer.play(sink, messages, scale);
                    started = Instant::now();
                }
            }
            Command::Stop => {
                if let Some(sink) = connection.as_mut() {
                    performer.stop(sink);
                }
            }
            Command::Quit => {
                if let Some(mut sink) = connection.take() {
                    performer.stop(&mut sink);
                    sink.close();
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::performance::timeline;
    use crate::music::{Note, Score, Track};

    fn two_notes() -> Score {
        let mut score = Score::new("t", 480);
        let note = |pitch, start| Note {
            pitch,
            start,
            duration: 480,
            velocity: 90,
        };
        let mut track = Track::new("Melody", vec![note(60, 0), note(62, 480)]);
        track.program = 73;
        score.tracks.push(track);
        score
    }

    #[test]
    fn messages_go_out_when_due_and_stop_silences_what_sounds() {
        let mut sink: Vec<Vec<u8>> = Vec::new();
        let mut performer = Performer::default();
        performer.play(&mut sink, timeline(&two_notes()), 1.0);
        // At 0.1 s: the program change and the first note-on; the next is due at 0.5 s.
        let wait = performer.send_due(&mut sink, Duration::from_millis(100));
        assert_eq!(sink, vec![vec![PROGRAM_CHANGE, 73], vec![NOTE_ON, 60, 90]]);
        let wait = wait.unwrap().as_secs_f64();
        assert!((wait - 0.4).abs() < 1e-9, "{wait}");
        // Stop now: a note-off for the sounding C, then all notes off on 16 channels.
        performer.stop(&mut sink);
        assert_eq!(sink[2], vec![NOTE_OFF, 60, 0]);
        assert_eq!(sink.len(), 3 + 16);
        assert!(
            sink[3..]
                .iter()
                .all(|m| m[0] & 0xF0 == CONTROL_CHANGE && m[1] == 123)
        );
        assert!(!performer.is_playing());
    }

    #[test]
    fn a_whole_performance_at_double_speed_ends_with_nothing_sounding() {
        let mut sink: Vec<Vec<u8>> = Vec::new();
        let mut performer = Performer::default();
        performer.play(&mut sink, timeline(&two_notes()), 2.0);
        // Everything is due by 0.5 s at twice the speed.
        assert_eq!(
            performer.send_due(&mut sink, Duration::from_millis(500)),
            None
        );
        assert_eq!(sink.len(), 5);
        assert!(performer.sounding.is_empty());
    }
}
