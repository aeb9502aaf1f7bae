//! SoundFont playback: deterministic, never clipping, programs heard, the built-in synthesiser
//! as the fallback; the CLI's `--soundfont` and `--builtin`.

mod common;

use std::sync::Arc;

use muselab::audio::soundfont::Bank;
use muselab::audio::{Sound, SynthOptions, found_or_builtin};
use muselab::music::{Note, Score, Track, read_midi_file};

fn chord(program: u8) -> Score {
    let mut score = Score::new("chord", 480);
    // Eight loud voices at once: the unlimited sum of the samples' peaks is far above 1.
    for (i, pitch) in [48u8, 55, 60, 64, 67, 72, 76, 79].iter().enumerate() {
        let mut track = Track::new(
            format!("v{i}"),
            vec![Note {
                pitch: *pitch,
                start: 0,
                duration: 960,
                velocity: 127,
            }],
        );
        track.program = program;
        score.tracks.push(track);
    }
    score
}

fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, s| m.max(s.abs()))
}

fn tiny_bank(name: &str) -> Bank {
    let dir = common::temp_dir(name);
    Bank::load(&common::sf2::write_tiny_soundfont(&dir)).expect("the tiny SoundFont loads")
}

#[test]
fn soundfont_rendering_is_deterministic_loud_enough_and_never_clips() {
    let bank = tiny_bank("sf-render");
    let options = SynthOptions::default();
    let first = bank.render(&chord(0), &options).unwrap();
    let second = bank.render(&chord(0), &options).unwrap();
    assert_eq!(first, second, "the same score renders the same samples");
    let p = peak(&first);
    assert!(p <= 0.95 + 1e-6, "peak {p} above the limit");
    assert!(p > 0.3, "peak {p}: the chord should sound");
    // As long as the built-in synthesiser's rendering: one second plus the release.
    assert_eq!(
        first.len(),
        muselab::audio::synth::rendered_len(&chord(0), &options)
    );
    // A bundled chorale, played through the bank, stays within full scale too.
    let chorale = read_midi_file(&common::chorale()).unwrap();
    let samples = bank.render(&chorale, &options).unwrap();
    assert!(peak(&samples) <= 0.95 + 1e-6);
    assert!(peak(&samples) > 0.1);
}

#[test]
fn each_track_plays_its_own_program() {
    let bank = tiny_bank("sf-programs");
    let options = SynthOptions::default();
    let sine = bank.render(&chord(0), &options).unwrap();
    let square = bank.render(&chord(73), &options).unwrap();
    // The square wave's odd harmonics: far more sign changes of the slope than a sine mix.
    let roughness = |s: &[f32]| -> f32 {
        s.windows(3)
            .take(20_000)
            .map(|w| ((w[2] - w[1]) - (w[1] - w[0])).abs())
            .sum()
    };
    assert!(
        roughness(&square) > 3.0 * roughness(&sine),
        "square {} vs sine {}",
        roughness(&square),
        roughness(&sine)
    );
    // The Sound wrapper plays the same as the bank.
    let sound = Sound::SoundFont(Arc::new(bank));
    assert_eq!(sound.render(&chord(73), &options), square);
    let note = sound.render_note(69, 100, 0.2, (0, 73));
    let p = peak(&note);
    assert!(p > 0.05 && p <= 0.95 + 1e-6, "note peak {p}");
}

#[test]
fn without_a_soundfont_the_builtin_synthesiser_plays_and_says_why() {
    let (sound, note) = found_or_builtin(None);
    assert!(matches!(sound, Sound::Builtin));
    let note = note.expect("a reason for the status bar");
    assert!(note.contains("built-in synthesiser"), "{note}");
    // A broken bank: the fallback again, naming the file.
    let dir = common::temp_dir("sf-broken");
    let broken = dir.join("broken.sf2");
    std::fs::write(&broken, b"RIFF\x04\x00\x00\x00nope").unwrap();
    let (sound, note) = found_or_builtin(Some(&broken));
    assert!(matches!(sound, Sound::Builtin));
    assert!(note.unwrap().contains("broken.sf2"));
    // A file the user names that cannot be read is an error, not a silent fallback.
    let error = muselab::audio::choose_sound(Some(&dir.join("missing.sf2")), false).unwrap_err();
    assert!(error.contains("missing.sf2"), "{error}");
    // --builtin needs nothing.
    let (sound, note) = muselab::audio::choose_sound(None, true).unwrap();
    assert!(matches!(sound, Sound::Builtin) && note.is_none());
}

fn muselab() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_muselab"))
}

#[test]
fn render_takes_a_soundfont_or_the_builtin_synthesiser() {
    let dir = common::temp_dir("sf-cli");
    let font = common::sf2::write_tiny_soundfont(&dir);
    let with_font = dir.join("font.wav");
    let output = muselab()
        .arg("render")
        .arg(common::chorale())
        .arg(&with_font)
        .arg("--soundfont")
        .arg(&font)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let builtin = dir.join("builtin.wav");
    let output = muselab()
        .args(["render", "--builtin"])
        .arg(common::chorale())
        .arg(&builtin)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let a = std::fs::read(&with_font).unwrap();
    let b = std::fs::read(&builtin).unwrap();
    assert_eq!(a.len(), b.len(), "the same length either way");
    assert_ne!(
        a, b,
        "the SoundFont and the built-in synthesiser sound different"
    );
    let output = muselab()
        .arg("render")
        .arg(common::chorale())
        .arg(dir.join("x.wav"))
        .arg("--soundfont")
        .arg(dir.join("missing.sf2"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing.sf2"), "{stderr}");
}

/// MIDI out to a virtual port: the performance arrives in order and Stop sends all notes off.
/// Needs a MIDI system that can make virtual ports (the ALSA sequencer on Linux, CoreMIDI);
/// skipped with the reason where there is none (containers without /dev/snd/seq).
#[cfg(unix)]
#[test]
fn midi_out_reaches_a_virtual_port_and_stop_silences_it() {
    use midir::os::unix::VirtualInput;
    use muselab::audio::midi_out::{MidiOut, MidiOutState};
    use std::time::{Duration, Instant};
    let input = match midir::MidiInput::new("muselab-test") {
        Ok(input) => input,
        Err(e) => {
            println!("skipped: no MIDI system to make a virtual port ({e})");
            return;
        }
    };
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let _port = match input.create_virtual(
        "muselab-test-in",
        move |_, bytes, _| {
            let _ = tx.send(bytes.to_vec());
        },
        (),
    ) {
        Ok(port) => port,
        Err(e) => {
            println!("skipped: cannot make a virtual MIDI port ({e})");
            return;
        }
    };
    let out = MidiOut::start();
    let wait_for = |what: &str, done: &dyn Fn(&MidiOutState) -> bool| {
        let started = Instant::now();
        while !done(&out.state()) {
            assert!(started.elapsed() < Duration::from_secs(10), "no {what}");
            out.refresh();
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for(
        "virtual port listed",
        &|s| matches!(s, MidiOutState::Off(ports) if ports.iter().any(|p| p.contains("muselab-test-in"))),
    );
    let MidiOutState::Off(ports) = out.state() else {
        unreachable!()
    };
    let port = ports
        .into_iter()
        .find(|p| p.contains("muselab-test-in"))
        .unwrap();
    out.connect(Some(port));
    wait_for("connection", &|s| matches!(s, MidiOutState::Connected(_)));
    let score = chord(73);
    out.play(muselab::music::performance::timeline(&score), 4.0);
    let mut received = Vec::new();
    while let Ok(bytes) = rx.recv_timeout(Duration::from_secs(2)) {
        received.push(bytes);
        if received.len() == 8 * 3 {
            break;
        }
    }
    // Eight program changes, eight note-ons, eight note-offs, in that order of kinds.
    assert_eq!(received.len(), 24, "{received:?}");
    assert!(
        received[..8]
            .iter()
            .all(|m| m[0] & 0xF0 == 0xC0 && m[1] == 73)
    );
    assert!(received[8..16].iter().all(|m| m[0] & 0xF0 == 0x90));
    assert!(received[16..].iter().all(|m| m[0] & 0xF0 == 0x80));
    out.play(muselab::music::performance::timeline(&score), 0.25);
    std::thread::sleep(Duration::from_millis(200));
    out.stop();
    let mut after: Vec<Vec<u8>> = Vec::new();
    while let Ok(bytes) = rx.recv_timeout(Duration::from_millis(500)) {
        after.push(bytes);
    }
    let offs = after
        .iter()
        .filter(|m| m[0] & 0xF0 == 0xB0 && m[1] == 123)
        .count();
    assert_eq!(offs, 16, "all notes off on every channel: {after:?}");
}

/// Broken and hostile SoundFonts (cut anywhere, bytes overwritten) are errors or play; nothing
/// panics out of loading or playing them.
#[test]
fn damaged_soundfonts_never_crash_loading_or_playing() {
    let dir = common::temp_dir("sf-damaged");
    let good = common::sf2::tiny_soundfont();
    let path = dir.join("damaged.sf2");
    let options = SynthOptions::default();
    let mut loaded = 0;
    let mut variants: Vec<Vec<u8>> = (0..good.len())
        .step_by(53)
        .map(|cut| good[..cut].to_vec())
        .collect();
    for at in (8..good.len()).step_by(97) {
        let mut bytes = good.clone();
        bytes[at] ^= 0xFF;
        variants.push(bytes);
    }
    for bytes in variants {
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(bank) = Bank::load(&path) {
            loaded += 1;
            let samples = Sound::SoundFont(Arc::new(bank)).render(&chord(0), &options);
            assert!(peak(&samples) <= 0.95 + 1e-6);
        }
    }
    println!("{loaded} damaged variants still loaded and played");
}
