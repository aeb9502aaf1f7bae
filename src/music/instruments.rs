//! General MIDI instruments: the 128 program names, and the programs muselab gives the voices
//! it writes or opens from the bundled corpora (program 0 there means "not chosen", not piano).

use super::Score;

/// General MIDI 1 program names, by program number.
#[rustfmt::skip]
pub const GM_NAMES: [&str; 128] = [
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet", "Celesta", "Glockenspiel",
    "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion",
    "Harmonica", "Tango Accordion", "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)",
    "Electric Guitar (jazz)", "Electric Guitar (clean)", "Electric Guitar (muted)",
    "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics", "Acoustic Bass",
    "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Slap Bass 1",
    "Slap Bass 2", "Synth Bass 1", "Synth Bass 2", "Violin", "Viola", "Cello", "Contrabass",
    "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani", "String Ensemble 1",
    "String Ensemble 2", "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs",
    "Synth Voice", "Orchestra Hit", "Trumpet", "Trombone", "Tuba", "Muted Trumpet",
    "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2", "Soprano Sax", "Alto Sax",
    "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet", "Piccolo",
    "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)",
    "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)", "FX 1 (rain)", "FX 2 (soundtrack)",
    "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)", "FX 6 (goblins)",
    "FX 7 (echoes)", "FX 8 (sci-fi)", "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba",
    "Bagpipe", "Fiddle", "Shanai", "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock",
    "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal", "Guitar Fret Noise",
    "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause",
    "Gunshot",
];

/// Church Organ: the chorales' four voices.
pub const CHURCH_ORGAN: u8 = 19;
/// Flute: a single melody (the Celtic tunes, melody models' samples).
pub const FLUTE: u8 = 73;
/// Acoustic Grand Piano: chord tracks.
pub const PIANO: u8 = 0;
/// Acoustic Bass: a bass line under a melody.
pub const ACOUSTIC_BASS: u8 = 32;

/// The name of a program ("Program 130" never happens: programs are 0..=127).
pub fn name(program: u8) -> &'static str {
    GM_NAMES[usize::from(program.min(127))]
}

/// The program muselab gives a track of `tracks` tracks named `track`: organ for the chorale
/// voices (and any piece of three or more voices), piano for chords, a bass for a bass line,
/// flute for a melody.
pub fn default_program(track: &str, tracks: usize) -> u8 {
    let name = track.trim().to_ascii_lowercase();
    match name.as_str() {
        "soprano" | "alto" | "tenor" => CHURCH_ORGAN,
        "bass" if tracks >= 3 => CHURCH_ORGAN,
        "bass" => ACOUSTIC_BASS,
        "chords" | "chord" => PIANO,
        _ if tracks >= 3 => CHURCH_ORGAN,
        _ => FLUTE,
    }
}

/// Gives every track whose program is 0 its [`default_program`]: for pieces whose program 0
/// means "not chosen" (the bundled corpora, what the models write). A file the user opens keeps
/// its programs as they are.
pub fn with_default_programs(mut score: Score) -> Score {
    let tracks = score.tracks.len();
    for track in &mut score.tracks {
        if track.program == 0 {
            track.program = default_program(&track.name, tracks);
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::Track;

    #[test]
    fn chorales_get_organ_melodies_flute_and_chosen_programs_stay() {
        let mut chorale = Score::new("c", 480);
        for voice in ["Soprano", "Alto", "Tenor", "Bass"] {
            chorale.tracks.push(Track::new(voice, Vec::new()));
        }
        let chorale = with_default_programs(chorale);
        assert!(chorale.tracks.iter().all(|t| t.program == CHURCH_ORGAN));
        let mut tune = Score::new("t", 480);
        tune.tracks.push(Track::new("Melody", Vec::new()));
        let mut chords = Track::new("Chords", Vec::new());
        chords.program = 24;
        tune.tracks.push(chords);
        let tune = with_default_programs(tune);
        assert_eq!(tune.tracks[0].program, FLUTE);
        assert_eq!(tune.tracks[1].program, 24, "a chosen program stays");
        assert_eq!(name(FLUTE), "Flute");
        assert_eq!(name(CHURCH_ORGAN), "Church Organ");
        assert_eq!(name(110), "Fiddle");
    }
}
