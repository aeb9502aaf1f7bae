//! A score as a timeline of MIDI channel messages in seconds: what a SoundFont synthesiser
//! renders and what a MIDI port is sent. One track per channel, as in exported files (channel 9,
//! General MIDI's drums, skipped), with each track's program change at the start.

use super::Score;

/// One channel message at a time in seconds (score time, before any tempo scaling).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimedMessage {
    /// Seconds from the start of the score.
    pub seconds: f64,
    /// MIDI channel, 0..=15.
    pub channel: u8,
    /// Status without the channel: 0x80 note off, 0x90 note on, 0xC0 program change.
    pub command: u8,
    /// First data byte (key, program).
    pub data1: u8,
    /// Second data byte (velocity; 0 for a program change).
    pub data2: u8,
}

/// Note off.
pub const NOTE_OFF: u8 = 0x80;
/// Note on.
pub const NOTE_ON: u8 = 0x90;
/// Program change.
pub const PROGRAM_CHANGE: u8 = 0xC0;
/// Control change (all notes off is controller 123).
pub const CONTROL_CHANGE: u8 = 0xB0;

/// MIDI channel for the n-th track: 0..15 skipping 9, General MIDI's drum channel.
pub fn channel_for(index: usize) -> u8 {
    let c = (index % 15) as u8;
    if c >= 9 { c + 1 } else { c }
}

/// Every message of `score` in time order: program changes first, then at equal times note-offs
/// before note-ons (a repeated pitch sounds again instead of being cut).
pub fn timeline(score: &Score) -> Vec<TimedMessage> {
    let mut messages = Vec::new();
    for (index, track) in score.tracks.iter().enumerate() {
        let channel = channel_for(index);
        messages.push(TimedMessage {
            seconds: 0.0,
            channel,
            command: PROGRAM_CHANGE,
            data1: track.program.min(127),
            data2: 0,
        });
        for note in &track.notes {
            let key = note.pitch.min(127);
            messages.push(TimedMessage {
                seconds: score.tick_to_seconds(note.start),
                channel,
                command: NOTE_ON,
                data1: key,
                data2: note.velocity.clamp(1, 127),
            });
            messages.push(TimedMessage {
                seconds: score.tick_to_seconds(note.end()),
                channel,
                command: NOTE_OFF,
                data1: key,
                data2: 0,
            });
        }
    }
    let rank = |m: &TimedMessage| match m.command {
        PROGRAM_CHANGE => 0,
        NOTE_OFF => 1,
        _ => 2,
    };
    messages.sort_by(|a, b| a.seconds.total_cmp(&b.seconds).then(rank(a).cmp(&rank(b))));
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::{Note, Track};

    #[test]
    fn programs_come_first_and_offs_before_ons_at_equal_times() {
        let mut score = Score::new("t", 480);
        let note = |start| Note {
            pitch: 60,
            start,
            duration: 480,
            velocity: 90,
        };
        let mut track = Track::new("Melody", vec![note(0), note(480)]);
        track.program = 73;
        score.tracks.push(track);
        let messages = timeline(&score);
        assert_eq!(messages[0].command, PROGRAM_CHANGE);
        assert_eq!(messages[0].data1, 73);
        // At 0.5 s (one quarter at 120 BPM) the first note ends before the second starts.
        let at_half: Vec<u8> = messages
            .iter()
            .filter(|m| (m.seconds - 0.5).abs() < 1e-9)
            .map(|m| m.command)
            .collect();
        assert_eq!(at_half, vec![NOTE_OFF, NOTE_ON]);
        assert_eq!(messages.len(), 5);
    }

    #[test]
    fn channel_nine_is_skipped() {
        let channels: Vec<u8> = (0..16).map(channel_for).collect();
        assert!(!channels.contains(&9));
        assert_eq!(channels[9], 10);
        assert_eq!(channels[15], 0);
    }
}
