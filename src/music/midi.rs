//! Standard MIDI File import and export (through `midly`).
//!
//! Import accepts format 0 and 1 files with metrical timing at any resolution, tempo and
//! time-signature changes, running status (handled by midly), note-on with velocity 0 as
//! note-off, overlapping notes of the same pitch (paired first-in, first-out) and notes left
//! hanging at the end of a track (closed there). Every malformed input becomes a [`MidiError`]
//! that names the file and the problem; nothing here panics on bad bytes.
//!
//! Export writes a type-1 file: a conductor track (tempo and time-signature maps) followed by
//! one named track per voice.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;

use midly::num::{u4, u7, u15, u24, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use super::{Note, Score, TempoChange, TimeSignature, Track};

/// Why a MIDI file could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum MidiError {
    /// The file could not be read from disk.
    #[error("{file}: cannot read the file: {source}")]
    Io {
        /// The file's name.
        file: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The bytes are not a well-formed Standard MIDI File.
    #[error("{file}: not a valid MIDI file: {reason}")]
    Malformed {
        /// The file's name.
        file: String,
        /// What the parser found wrong.
        reason: String,
    },
    /// The file uses SMPTE timecode instead of ticks per quarter note.
    #[error(
        "{file}: uses SMPTE timecode timing ({fps} frames/s); only metrical timing (ticks per quarter note) is supported"
    )]
    SmpteTiming {
        /// The file's name.
        file: String,
        /// Frames per second declared in the header.
        fps: u8,
    },
    /// Format 2 (independent sequential patterns) has no common timeline to show.
    #[error("{file}: MIDI format 2 (sequential patterns) is not supported; use format 0 or 1")]
    UnsupportedFormat {
        /// The file's name.
        file: String,
    },
    /// The header declares 0 ticks per quarter note.
    #[error("{file}: the header declares 0 ticks per quarter note")]
    ZeroResolution {
        /// The file's name.
        file: String,
    },
    /// A time-signature event with an impossible value.
    #[error("{file}: invalid time signature {numerator}/2^{denominator_power} at tick {tick}")]
    InvalidTimeSignature {
        /// The file's name.
        file: String,
        /// Tick of the event.
        tick: u64,
        /// Upper number.
        numerator: u8,
        /// Lower number as a power of two.
        denominator_power: u8,
    },
    /// A tempo event of 0 microseconds per quarter note.
    #[error("{file}: tempo of 0 microseconds per quarter note at tick {tick}")]
    ZeroTempo {
        /// The file's name.
        file: String,
        /// Tick of the event.
        tick: u64,
    },
    /// The piece is longer than muselab plays, draws or learns from (see [`MAX_PIECE_SECONDS`]
    /// and [`MAX_PIECE_STEPS`]): a file of a few bytes can declare a note held for 2²⁸ ticks or
    /// a tempo of minutes per beat, and every later stage allocates in proportion to its length.
    #[error(
        "{file}: the piece lasts {seconds:.0} s ({steps} sixteenth notes); muselab reads pieces of up to 2 hours and 200000 sixteenth notes"
    )]
    TooLong {
        /// The file's name.
        file: String,
        /// Its length in seconds.
        seconds: f64,
        /// Its length in sixteenth notes.
        steps: u64,
    },
    /// The score cannot be written as MIDI.
    #[error("{file}: cannot write MIDI: {reason}")]
    Write {
        /// The file's name.
        file: String,
        /// What went wrong.
        reason: String,
    },
}

/// Reads and imports a MIDI file; the score is named after the file's stem.
pub fn read_midi_file(path: &Path) -> Result<Score, MidiError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| MidiError::Io {
        file: file.clone(),
        source,
    })?;
    let mut score = import_smf(&bytes, &file)?;
    if let Some(stem) = path.file_stem() {
        score.name = stem.to_string_lossy().into_owned();
    }
    Ok(score)
}

/// Exports a score and writes it to `path` (a temporary file, then a rename, so a failure
/// never leaves half a file behind).
pub fn write_midi_file(score: &Score, path: &Path) -> Result<(), MidiError> {
    let file = path.display().to_string();
    let bytes = export_smf(score, &file)?;
    crate::util::write_atomically(path, &bytes).map_err(|source| MidiError::Io { file, source })
}

/// Notes still sounding, per (channel, pitch), oldest first.
type OpenNotes = HashMap<(u8, u8), VecDeque<(u64, u8)>>;

/// Rejects SMPTE timing before midly sees it: midly 0.5.3 negates the frame-rate byte as an
/// `i8`, which overflows (a panic in debug builds) for the byte 0x80. We refuse SMPTE files
/// anyway, so the header is checked here first.
fn check_division(bytes: &[u8], file: &str) -> Result<(), MidiError> {
    let Some(at) = bytes.windows(4).position(|w| w == b"MThd") else {
        return Ok(());
    };
    if let Some(&[high, _]) = bytes.get(at + 12..at + 14)
        && high & 0x80 != 0
    {
        return Err(MidiError::SmpteTiming {
            file: file.to_string(),
            fps: (high as i8).wrapping_neg() as u8,
        });
    }
    Ok(())
}

/// Parses the bytes of a Standard MIDI File; `file` names it in error messages.
pub fn import_smf(bytes: &[u8], file: &str) -> Result<Score, MidiError> {
    check_division(bytes, file)?;
    // Defence in depth: should the parser still panic on some input, that is a malformed file,
    // not a crash of the app.
    let parsed =
        std::panic::catch_unwind(|| Smf::parse(bytes)).map_err(|_| MidiError::Malformed {
            file: file.to_string(),
            reason: "the MIDI parser failed on this input".into(),
        })?;
    let smf = parsed.map_err(|e| MidiError::Malformed {
        file: file.to_string(),
        reason: e.to_string(),
    })?;
    let ticks_per_quarter = match smf.header.timing {
        Timing::Metrical(tpq) => tpq.as_int(),
        Timing::Timecode(fps, _) => {
            return Err(MidiError::SmpteTiming {
                file: file.to_string(),
                fps: fps.as_int(),
            });
        }
    };
    if ticks_per_quarter == 0 {
        return Err(MidiError::ZeroResolution {
            file: file.to_string(),
        });
    }
    if smf.header.format == Format::Sequential {
        return Err(MidiError::UnsupportedFormat {
            file: file.to_string(),
        });
    }

    let mut score = Score::new(file, ticks_per_quarter);
    let mut tempos: Vec<TempoChange> = Vec::new();
    let mut signatures: Vec<TimeSignature> = Vec::new();

    for events in &smf.tracks {
        let mut tick = 0u64;
        let mut name = String::new();
        let mut programs = [0u8; 16];
        let mut open: OpenNotes = HashMap::new();
        // Note-offs that closed nothing, with their tick: a note-on of the same key at that tick
        // is a zero-length note whose off came first (music21 writes grace notes so). Without
        // this the note-on would hang until the next off of its key, sounding for bars.
        let mut unmatched_offs: Vec<(u8, u8, u64)> = Vec::new();
        // Notes per channel, so that a format-0 file with several channels becomes several tracks.
        let mut by_channel: BTreeMap<u8, (u8, Vec<Note>)> = BTreeMap::new();

        for event in events {
            tick += u64::from(event.delta.as_int());
            match event.kind {
                TrackEventKind::Meta(MetaMessage::TrackName(bytes)) if name.is_empty() => {
                    name = String::from_utf8_lossy(bytes).trim().to_string();
                }
                TrackEventKind::Meta(MetaMessage::KeySignature(sharps, minor))
                    if score.key_signature.is_none() && (-7..=7).contains(&sharps) =>
                {
                    score.key_signature = Some(super::KeySignature { sharps, minor });
                }
                TrackEventKind::Meta(MetaMessage::Tempo(micros)) => {
                    let micros_per_quarter = micros.as_int();
                    if micros_per_quarter == 0 {
                        return Err(MidiError::ZeroTempo {
                            file: file.to_string(),
                            tick,
                        });
                    }
                    tempos.push(TempoChange {
                        tick,
                        micros_per_quarter,
                    });
                }
                TrackEventKind::Meta(MetaMessage::TimeSignature(numerator, power, _, _)) => {
                    if numerator == 0 || power > 6 {
                        return Err(MidiError::InvalidTimeSignature {
                            file: file.to_string(),
                            tick,
                            numerator,
                            denominator_power: power,
                        });
                    }
                    signatures.push(TimeSignature {
                        tick,
                        numerator,
                        denominator: 1 << power,
                    });
                }
                TrackEventKind::Midi { channel, message } => {
                    let channel = channel.as_int();
                    match message {
                        MidiMessage::ProgramChange { program } => {
                            programs[usize::from(channel)] = program.as_int();
                        }
                        MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                            unmatched_offs.retain(|&(_, _, at)| at == tick);
                            let zero_length = (channel, key.as_int(), tick);
                            if let Some(i) = unmatched_offs.iter().position(|&o| o == zero_length) {
                                unmatched_offs.swap_remove(i);
                            } else {
                                open.entry((channel, key.as_int()))
                                    .or_default()
                                    .push_back((tick, vel.as_int()));
                            }
                        }
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            let pitch = key.as_int();
                            let opened = open
                                .get_mut(&(channel, pitch))
                                .and_then(VecDeque::pop_front);
                            if opened.is_none() {
                                unmatched_offs.retain(|&(_, _, at)| at == tick);
                                unmatched_offs.push((channel, pitch, tick));
                            }
                            if let Some((start, velocity)) = opened
                                && tick > start
                            {
                                let entry = by_channel.entry(channel).or_insert_with(|| {
                                    (programs[usize::from(channel)], Vec::new())
                                });
                                entry.1.push(Note {
                                    pitch,
                                    start,
                                    duration: tick - start,
                                    velocity,
                                });
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        // Notes left hanging end where the track ends (and last at least one tick).
        let mut hanging: Vec<_> = open.into_iter().collect();
        hanging.sort_by_key(|(key, _)| *key);
        for ((channel, pitch), starts) in hanging {
            for (start, velocity) in starts {
                let entry = by_channel
                    .entry(channel)
                    .or_insert_with(|| (programs[usize::from(channel)], Vec::new()));
                entry.1.push(Note {
                    pitch,
                    start,
                    duration: tick.saturating_sub(start).max(1),
                    velocity,
                });
            }
        }
        let several = by_channel.len() > 1;
        for (channel, (program, notes)) in by_channel {
            let mut track_name = if name.is_empty() {
                format!("Track {}", score.tracks.len() + 1)
            } else {
                name.clone()
            };
            if several {
                track_name = format!("{track_name} (ch {})", channel + 1);
            }
            let mut track = Track::new(track_name, notes);
            track.program = program;
            score.tracks.push(track);
        }
    }

    tempos.sort_by_key(|t| t.tick);
    if tempos.first().is_some_and(|t| t.tick == 0) {
        score.tempos = tempos;
    } else {
        score.tempos.extend(tempos);
    }
    signatures.sort_by_key(|s| s.tick);
    if signatures.first().is_some_and(|s| s.tick == 0) {
        score.time_signatures = signatures;
    } else {
        score.time_signatures.extend(signatures);
    }
    if let Some((byte, what)) = find_damage(bytes) {
        let notes: usize = score.tracks.iter().map(|t| t.notes.len()).sum();
        score.damage = Some(format!(
            "damaged file: read {notes} notes before byte {byte} ({what})"
        ));
    }
    let seconds = score.duration_seconds();
    let steps = score.end_tick() / u64::from((score.ticks_per_quarter / 4).max(1));
    if seconds.is_nan() || seconds > MAX_PIECE_SECONDS || steps > MAX_PIECE_STEPS {
        return Err(MidiError::TooLong {
            file: file.to_string(),
            seconds,
            steps,
        });
    }
    Ok(score)
}

/// Where a Standard MIDI File is damaged, if it is: the byte at which reading stopped and what
/// was wrong there. midly reads damaged files leniently (a truncated chunk as far as it goes, a
/// track up to its first unreadable event, a missing chunk not at all), which keeps what can be
/// read but says nothing; this walks the chunks and events again to find the first damage.
/// Files wrapped in RIFF are not checked.
fn find_damage(bytes: &[u8]) -> Option<(usize, String)> {
    let be32 = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    if !bytes.starts_with(b"MThd") {
        return None;
    }
    let declared = bytes
        .get(10..12)
        .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let mut at = 8usize.saturating_add(be32(4)?);
    let mut tracks = 0;
    while at < bytes.len() {
        let Some(length) = be32(at + 4) else {
            return Some((at, "the file ends inside a chunk header".into()));
        };
        let start = at + 8;
        let end = start.saturating_add(length);
        let data = &bytes[start.min(bytes.len())..end.min(bytes.len())];
        if bytes.get(at..at + 4) == Some(b"MTrk".as_slice()) {
            tracks += 1;
            let mut events = midly::EventIter::new(data);
            let mut ended = false;
            loop {
                let unread = events.unread().len();
                if unread == 0 {
                    break;
                }
                match events.next() {
                    Some(Ok(event)) => {
                        ended = matches!(event.kind, TrackEventKind::Meta(MetaMessage::EndOfTrack));
                    }
                    _ => {
                        let what = if end > bytes.len() {
                            format!(
                                "the file ends inside track {tracks}, which declares {length} bytes"
                            )
                        } else {
                            format!("track {tracks}: an event cannot be read")
                        };
                        return Some((start + data.len() - unread, what));
                    }
                }
            }
            if end > bytes.len() {
                return Some((
                    bytes.len(),
                    format!("the file ends inside track {tracks}, which declares {length} bytes"),
                ));
            }
            if !ended {
                return Some((end, format!("track {tracks} has no end-of-track marker")));
            }
        }
        at = end;
    }
    (tracks < declared).then(|| {
        (
            bytes.len(),
            format!("the header announces {declared} tracks; the file holds {tracks}"),
        )
    })
}

/// The longest piece muselab imports, in seconds of audio (2 hours).
pub const MAX_PIECE_SECONDS: f64 = 7200.0;

/// The longest piece muselab imports, in sixteenth notes (the grid of metrics, piano roll and
/// encodings): 200 000, over 3 hours at 120 beats a minute.
pub const MAX_PIECE_STEPS: u64 = 200_000;

use super::performance::channel_for;

/// Turns absolute-tick events into delta-time track events.
fn with_deltas<'a>(
    mut events: Vec<(u64, u8, TrackEventKind<'a>)>,
    file: &str,
) -> Result<Vec<TrackEvent<'a>>, MidiError> {
    events.sort_by_key(|(tick, order, _)| (*tick, *order));
    let mut last = 0u64;
    let mut out = Vec::with_capacity(events.len() + 1);
    for (tick, _, kind) in events {
        let delta = u32::try_from(tick - last)
            .ok()
            .and_then(u28::try_from)
            .ok_or_else(|| MidiError::Write {
                file: file.to_string(),
                reason: format!("a gap of {} ticks is too long for MIDI", tick - last),
            })?;
        out.push(TrackEvent { delta, kind });
        last = tick;
    }
    out.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    Ok(out)
}

/// Exports a score as the bytes of a type-1 Standard MIDI File.
pub fn export_smf(score: &Score, file: &str) -> Result<Vec<u8>, MidiError> {
    let tpq = u15::try_from(score.ticks_per_quarter).ok_or_else(|| MidiError::Write {
        file: file.to_string(),
        reason: format!(
            "{} ticks per quarter is above 32767",
            score.ticks_per_quarter
        ),
    })?;
    let mut smf = Smf::new(Header::new(Format::Parallel, Timing::Metrical(tpq)));

    let mut conductor = Vec::new();
    for tempo in &score.tempos {
        let micros =
            u24::try_from(tempo.micros_per_quarter.clamp(1, 0xFF_FFFF)).unwrap_or(u24::max_value());
        conductor.push((
            tempo.tick,
            0,
            TrackEventKind::Meta(MetaMessage::Tempo(micros)),
        ));
    }
    for sig in &score.time_signatures {
        let power = sig.denominator.max(1).trailing_zeros() as u8;
        conductor.push((
            sig.tick,
            1,
            TrackEventKind::Meta(MetaMessage::TimeSignature(
                sig.numerator.max(1),
                power,
                24,
                8,
            )),
        ));
    }
    let key = score
        .key_signature
        .or_else(|| super::key::estimate_key(score).map(super::KeySignature::of));
    if let Some(key) = key {
        conductor.push((
            0,
            2,
            TrackEventKind::Meta(MetaMessage::KeySignature(key.sharps, key.minor)),
        ));
    }
    smf.tracks.push(with_deltas(conductor, file)?);

    for (index, track) in score.tracks.iter().enumerate() {
        let channel = u4::new(channel_for(index));
        let mut events = vec![
            (
                0,
                0,
                TrackEventKind::Meta(MetaMessage::TrackName(track.name.as_bytes())),
            ),
            (
                0,
                1,
                TrackEventKind::Midi {
                    channel,
                    message: MidiMessage::ProgramChange {
                        program: u7::new(track.program.min(127)),
                    },
                },
            ),
        ];
        for note in &track.notes {
            let key = u7::new(note.pitch.min(127));
            // At equal ticks, note-offs (order 2) come before note-ons (order 3) so that a
            // repeated pitch re-sounds instead of being cut.
            events.push((
                note.start,
                3,
                TrackEventKind::Midi {
                    channel,
                    message: MidiMessage::NoteOn {
                        key,
                        vel: u7::new(note.velocity.clamp(1, 127)),
                    },
                },
            ));
            events.push((
                note.end(),
                2,
                TrackEventKind::Midi {
                    channel,
                    message: MidiMessage::NoteOff {
                        key,
                        vel: u7::new(0),
                    },
                },
            ));
        }
        smf.tracks.push(with_deltas(events, file)?);
    }

    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).map_err(|e| MidiError::Write {
        file: file.to_string(),
        reason: e.to_string(),
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a type-0 file by hand from raw track bytes.
    fn smf_bytes(format: u16, tpq: u16, tracks: &[&[u8]]) -> Vec<u8> {
        let mut out = b"MThd".to_vec();
        out.extend(6u32.to_be_bytes());
        out.extend(format.to_be_bytes());
        out.extend((tracks.len() as u16).to_be_bytes());
        out.extend(tpq.to_be_bytes());
        for track in tracks {
            out.extend(b"MTrk");
            out.extend((track.len() as u32).to_be_bytes());
            out.extend(*track);
        }
        out
    }

    #[test]
    fn running_status_and_velocity_zero_note_off() {
        // Note on C4, then (running status) C4 velocity 0 after 96 ticks, E4 on/off likewise.
        let track: &[u8] = &[
            0x00, 0x90, 60, 100, //
            0x60, 60, 0, //
            0x00, 64, 90, //
            0x60, 64, 0, //
            0x00, 0xFF, 0x2F, 0x00,
        ];
        let score = import_smf(&smf_bytes(0, 96, &[track]), "t.mid").unwrap();
        assert_eq!(score.tracks.len(), 1);
        let notes = &score.tracks[0].notes;
        assert_eq!(notes.len(), 2);
        assert_eq!(
            (notes[0].pitch, notes[0].start, notes[0].duration),
            (60, 0, 96)
        );
        assert_eq!(
            (notes[1].pitch, notes[1].start, notes[1].duration),
            (64, 96, 96)
        );
    }

    #[test]
    fn overlapping_same_pitch_and_hanging_notes() {
        let track: &[u8] = &[
            0x00, 0x90, 60, 100, // on at 0
            0x10, 0x90, 60, 100, // on again at 16
            0x10, 0x80, 60, 0, // off at 32 closes the first
            0x10, 0x80, 60, 0, // off at 48 closes the second
            0x00, 0x90, 67, 80, // on at 48, never closed
            0x20, 0xFF, 0x2F, 0x00, // end of track at 80
        ];
        let notes = first_track_notes(&import_smf(&smf_bytes(0, 96, &[track]), "t.mid").unwrap());
        assert_eq!(notes, vec![(60, 0, 32), (60, 16, 32), (67, 48, 32)]);
    }

    /// (pitch, start, duration) of each note of a score's first track.
    fn first_track_notes(score: &Score) -> Vec<(u8, u64, u64)> {
        score.tracks[0]
            .notes
            .iter()
            .map(|n| (n.pitch, n.start, n.duration))
            .collect()
    }

    /// A note whose off comes before its on at the same tick (how music21 writes a grace note
    /// of zero length) is no note: it does not hang on until the next off of its key.
    #[test]
    fn a_zero_length_note_written_off_first_does_not_hang() {
        let track: &[u8] = &[
            0x00, 0x90, 60, 100, // C on at 0
            0x60, 0x80, 60, 0, // C off at 96
            0x00, 0x80, 62, 0, // D off at 96, before its on: a grace note of no length
            0x00, 0x90, 62, 100, // D on at 96
            0x00, 0x90, 64, 100, // E on at 96, the real note
            0x60, 0x80, 64, 0, // E off at 192
            0x00, 0x90, 62, 100, // D on at 192
            0x60, 0x80, 62, 0, // D off at 288
            0x00, 0xFF, 0x2F, 0x00,
        ];
        let notes = first_track_notes(&import_smf(&smf_bytes(0, 96, &[track]), "t.mid").unwrap());
        assert_eq!(notes, vec![(60, 0, 96), (64, 96, 96), (62, 192, 96)]);
    }

    /// A damaged file keeps what can be read and says where reading stopped; an intact one
    /// says nothing.
    #[test]
    fn damaged_files_are_read_and_reported() {
        let track: Vec<u8> = (0..40u8)
            .flat_map(|i| [0x00, 0x90, 60 + i % 12, 100, 0x60, 0x80, 60 + i % 12, 0])
            .chain([0x00, 0xFF, 0x2F, 0x00])
            .collect();
        let whole = smf_bytes(1, 96, &[&track, &track]);
        let intact = import_smf(&whole, "t.mid").unwrap();
        assert_eq!(intact.damage, None);
        assert_eq!(intact.note_count(), 80);

        // The second half cut off: the first track and part of the second are kept.
        let cut = &whole[..whole.len() * 3 / 4];
        let score = import_smf(cut, "t.mid").unwrap();
        let notes = score.note_count();
        assert!(notes > 40 && notes < 80, "{notes}");
        let damage = score.damage.expect("reported");
        assert!(
            damage.starts_with(&format!("damaged file: read {notes} notes before byte ")),
            "{damage}"
        );
        assert!(damage.contains("the file ends inside track 2"), "{damage}");

        // A track announced by the header but missing altogether.
        let mut short = smf_bytes(1, 96, &[&track]);
        short[11] = 2;
        let damage = import_smf(&short, "t.mid")
            .unwrap()
            .damage
            .expect("reported");
        assert!(damage.contains("announces 2 tracks"), "{damage}");

        // An event that cannot be read (a data byte where a status byte must be, no running
        // status yet): the track stops there.
        let mut broken = track.clone();
        broken[1] = 0x40;
        let score = import_smf(&smf_bytes(0, 96, &[&broken]), "t.mid").unwrap();
        let damage = score.damage.expect("reported");
        assert!(damage.contains("before byte 22"), "{damage}");
        assert!(
            damage.contains("track 1: an event cannot be read"),
            "{damage}"
        );
    }

    #[test]
    fn smpte_timing_is_rejected_with_a_clear_message() {
        let mut bytes = smf_bytes(0, 0, &[&[0x00, 0xFF, 0x2F, 0x00]]);
        // Division 0xE728: -25 fps, 40 ticks per frame.
        bytes[12] = 0xE7;
        bytes[13] = 0x28;
        let err = import_smf(&bytes, "smpte.mid").unwrap_err();
        assert!(
            matches!(err, MidiError::SmpteTiming { fps: 25, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("smpte.mid"));
        assert!(err.to_string().contains("SMPTE"));
    }

    #[test]
    fn division_0x8000_is_an_error_not_a_panic() {
        // Found by the property test: midly negates 0x80 as an i8 and overflows.
        let bytes = smf_bytes(1, 0x8000, &[]);
        let err = import_smf(&bytes, "x.mid").unwrap_err();
        assert!(matches!(err, MidiError::SmpteTiming { .. }), "{err}");
    }

    #[test]
    fn garbage_names_the_file() {
        let err = import_smf(b"RIFF....WAVE", "song.wav").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("song.wav: not a valid MIDI file"),
            "{err}"
        );
    }

    #[test]
    fn format_2_and_zero_tempo_are_errors() {
        let err = import_smf(&smf_bytes(2, 96, &[&[0x00, 0xFF, 0x2F, 0x00]]), "f2.mid");
        assert!(matches!(err, Err(MidiError::UnsupportedFormat { .. })));
        let tempo0: &[u8] = &[0x00, 0xFF, 0x51, 0x03, 0, 0, 0, 0x00, 0xFF, 0x2F, 0x00];
        let err = import_smf(&smf_bytes(1, 96, &[tempo0]), "t0.mid");
        assert!(matches!(err, Err(MidiError::ZeroTempo { .. })));
    }

    #[test]
    fn tempo_and_time_signature_changes_round_trip() {
        let mut score = Score::new("x", 480);
        score.tempos.push(TempoChange {
            tick: 1920,
            micros_per_quarter: 600_000,
        });
        score.time_signatures.push(TimeSignature {
            tick: 1920,
            numerator: 3,
            denominator: 8,
        });
        score.tracks.push(Track::new(
            "Soprano",
            vec![Note {
                pitch: 72,
                start: 0,
                duration: 2400,
                velocity: 90,
            }],
        ));
        let bytes = export_smf(&score, "x.mid").unwrap();
        let back = import_smf(&bytes, "x").unwrap();
        assert_eq!(back.tempos, score.tempos);
        assert_eq!(back.time_signatures, score.time_signatures);
        assert_eq!(back.tracks[0].name, "Soprano");
        assert_eq!(back.tracks[0].notes, score.tracks[0].notes);
    }

    #[test]
    fn programs_and_key_signatures_round_trip() {
        let mut score = Score::new("x", 480);
        for (name, program) in [("Melody", 73u8), ("Chords", 24)] {
            let notes = [62u8, 66, 69, 74]
                .iter()
                .enumerate()
                .map(|(i, &pitch)| Note {
                    pitch,
                    start: i as u64 * 480,
                    duration: 480,
                    velocity: 80,
                })
                .collect();
            let mut track = Track::new(name, notes);
            track.program = program;
            score.tracks.push(track);
        }
        score.key_signature = Some(crate::music::KeySignature {
            sharps: -2,
            minor: true,
        });
        let back = import_smf(&export_smf(&score, "x.mid").unwrap(), "x").unwrap();
        let programs: Vec<u8> = back.tracks.iter().map(|t| t.program).collect();
        assert_eq!(programs, vec![73, 24]);
        assert_eq!(back.key_signature, score.key_signature);
        // Without one, the estimated key is written: a D major arpeggio → two sharps.
        score.key_signature = None;
        let back = import_smf(&export_smf(&score, "x.mid").unwrap(), "x").unwrap();
        assert_eq!(back.key_signature.map(|k| k.sharps), Some(2));
    }

    #[test]
    fn key_signatures_of_keys() {
        use crate::music::KeySignature;
        use crate::music::key::{Key, Mode};
        let sig = |tonic, mode| KeySignature::of(Key { tonic, mode }).sharps;
        assert_eq!(sig(0, Mode::Major), 0);
        assert_eq!(sig(7, Mode::Major), 1);
        assert_eq!(sig(5, Mode::Major), -1);
        assert_eq!(sig(10, Mode::Major), -2);
        assert_eq!(sig(6, Mode::Major), 6);
        assert_eq!(sig(9, Mode::Minor), 0);
        assert_eq!(sig(4, Mode::Minor), 1);
        assert_eq!(sig(2, Mode::Minor), -1);
        assert!(
            KeySignature::of(Key {
                tonic: 9,
                mode: Mode::Minor
            })
            .minor
        );
    }
}
