//! `muselab harmonize MELODY.mid --out OUT.mid`: four voices under a melody, written by the
//! best harmonizer at hand (a DeepBach run, else mini-bach) or the run named, the melody kept
//! note for note as the soprano.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::compute::{self, DeviceChoice};
use crate::inference::LoadedModel;
use crate::models::ModelKind;

/// Arguments of `muselab harmonize`.
#[derive(Debug, clap::Args)]
pub struct HarmonizeArgs {
    /// The melody: a MIDI file (its first track with notes, unless --track says otherwise); with
    /// --report, a folder of them.
    pub melody: PathBuf,
    /// Where to write the four voices (.mid): soprano, alto, tenor, bass.
    #[arg(long, required_unless_present = "report")]
    pub out: Option<PathBuf>,
    /// Harmonize the first --max melodies of the folder and print their part-writing measures
    /// (on the 8th-note grid) instead of writing a file.
    #[arg(long)]
    pub report: bool,
    /// Melodies of the folder that --report harmonizes (in file-name order).
    #[arg(long, default_value_t = 12)]
    pub max: usize,
    /// The harmonizer's run (models/<model>/<run>: a deepbach or minibach run); default the
    /// shipped DeepBach, else the shipped mini-bach, else your newest run of either.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Seed of the sampler: the same seed gives the same harmony.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The melody's track: its number (1 = the first track of the file) or its name.
    #[arg(long)]
    pub track: Option<String>,
    /// Change a sampling hyperparameter of the run for this harmonization (name=value, e.g.
    /// sweeps=24 or rule_weight=0; repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
}

/// Runs the command; exit code 1 on any error.
pub fn harmonize(args: &HarmonizeArgs, device: DeviceChoice) -> i32 {
    match run(args, device) {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("muselab harmonize: {e}");
            1
        }
    }
}

/// The harmonizers, best first.
const HARMONIZERS: [ModelKind; 2] = [ModelKind::DeepBach, ModelKind::Minibach];

/// The run to harmonize with when none is named: the shipped runs of the harmonizers, best
/// first, then the user's newest run of each.
pub fn default_run(models_dir: &Path, shipped_dir: Option<&Path>) -> Option<PathBuf> {
    let shipped = HARMONIZERS.iter().filter_map(|kind| {
        let dir = shipped_dir?.join(kind.id()).join("shipped");
        dir.join("config.json").is_file().then_some(dir)
    });
    // The user's runs, newest first (run folders are named by their start time).
    let runs = crate::training::list_runs(models_dir);
    let own = HARMONIZERS
        .iter()
        .filter_map(move |&kind| runs.iter().find(|r| r.model == kind).map(|r| r.dir.clone()));
    shipped.chain(own).next()
}

fn run(args: &HarmonizeArgs, device: DeviceChoice) -> Result<String, String> {
    if args.report {
        return report(args, device);
    }
    let melody = crate::music::read_midi_file(&args.melody)
        .map_err(|e| format!("{}: {e}", args.melody.display()))?;
    if let Some(damage) = &melody.damage {
        eprintln!("{}: {damage}", args.melody.display());
    }
    let track = match &args.track {
        None => None,
        Some(text) => Some(match text.parse::<usize>() {
            Ok(n) if (1..=melody.tracks.len()).contains(&n) => melody.tracks[n - 1].name.clone(),
            Ok(n) => {
                return Err(format!(
                    "{} has {} tracks: there is no track {n}",
                    args.melody.display(),
                    melody.tracks.len()
                ));
            }
            Err(_) if melody.tracks.iter().any(|t| &t.name == text) => text.clone(),
            Err(_) => {
                let names: Vec<&str> = melody.tracks.iter().map(|t| t.name.as_str()).collect();
                return Err(format!(
                    "{} has no track named '{text}' (its tracks: {})",
                    args.melody.display(),
                    names.join(", ")
                ));
            }
        }),
    };
    if let Some(name) = &track
        && melody
            .tracks
            .iter()
            .find(|t| &t.name == name)
            .is_some_and(|t| t.notes.is_empty())
    {
        return Err(format!(
            "track '{name}' of {} has no notes",
            args.melody.display()
        ));
    }
    let (dir, compute) = choose(args, device)?;
    let started = Instant::now();
    let (model, config) = LoadedModel::load_with(&dir, None, compute.device(), &args.set)?;
    let bar = indicatif::ProgressBar::new(100);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {percent} % {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(format!("harmonizing with {}", config.model.id()));
    let done = model
        .harmonize(
            &melody,
            track.as_deref(),
            args.seed,
            compute.device(),
            &mut |f| bar.set_position((f * 100.0) as u64),
        )
        .ok_or_else(|| {
            format!(
                "{} is a {} run, not a harmonizer: name a deepbach or minibach run",
                dir.display(),
                config.model.id()
            )
        })??;
    bar.finish_and_clear();
    if let Some(notice) = done.notice() {
        eprintln!("note: {notice}");
    }
    let score = crate::music::instruments::with_default_programs(done.score);
    let out = args
        .out
        .as_ref()
        .ok_or("--out FILE.mid: where to write the harmony")?;
    crate::music::write_midi_file(&score, out).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(format!(
        "wrote {} (soprano, alto, tenor, bass; {} notes, {:.1} s of music) with {} in {:.1} s",
        out.display(),
        score.note_count(),
        score.duration_seconds(),
        dir.display(),
        started.elapsed().as_secs_f64()
    ))
}

/// The run (named, or the best at hand) and the device.
fn choose(
    args: &HarmonizeArgs,
    device: DeviceChoice,
) -> Result<(PathBuf, compute::ComputeDevice), String> {
    let dir = match &args.run {
        Some(dir) => dir.clone(),
        None => default_run(
            &crate::corpus::models_dir(),
            crate::corpus::shipped_dir().as_deref(),
        )
        .ok_or("no harmonizer run: train one (muselab train deepbach) or name one with --run")?,
    };
    let compute = match device {
        DeviceChoice::Gpu => compute::probe_with_timeout(device, compute::PROBE_LIMIT),
        _ => compute::ComputeDevice::cpu("harmonizing runs on the CPU"),
    };
    Ok((dir, compute))
}

/// `--report`: the part-writing of the harmonizations of a folder's first melodies, and
/// whether each melody came back note for note.
fn report(args: &HarmonizeArgs, device: DeviceChoice) -> Result<String, String> {
    use crate::music::harmony;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.melody)
        .map_err(|e| {
            format!(
                "{}: {e} (--report takes a folder of MIDI files)",
                args.melody.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| crate::corpus::is_midi_path(p))
        .collect();
    files.sort();
    files.truncate(args.max.max(1));
    if files.is_empty() {
        return Err(format!("{}: no MIDI file", args.melody.display()));
    }
    let (dir, compute) = choose(args, device)?;
    let (model, _) = LoadedModel::load_with(&dir, None, compute.device(), &args.set)?;
    let started = Instant::now();
    let (mut excerpts, mut kept) = (Vec::new(), 0usize);
    for (i, file) in files.iter().enumerate() {
        let melody =
            crate::music::read_midi_file(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let done = model
            .harmonize(
                &melody,
                None,
                args.seed.wrapping_add(i as u64),
                compute.device(),
                &mut |_| {},
            )
            .ok_or("the run is not a harmonizer")??;
        let grid = done.score.to_grid(4);
        // The melody's notes as played (legato overlaps trimmed): pitch and onset of each.
        let given = crate::data::encoding::pick_track(&melody.to_grid(4).tracks, None)
            .map(|t| crate::models::minibach::trim_legato(&t.notes))
            .unwrap_or_default();
        // Onsets in time order (notes that share a 16th step in pitch order).
        let pitches = |n: &[crate::music::GridNote]| -> Vec<(u8, u32)> {
            let mut onsets: Vec<(u8, u32)> = n.iter().map(|n| (n.pitch, n.start)).collect();
            onsets.sort_by_key(|&(pitch, start)| (start, pitch));
            onsets
        };
        let (written, asked) = (pitches(&grid.tracks[0].notes), pitches(&given));
        if written == asked {
            kept += 1;
        } else {
            // Where the soprano first differs from the melody, for whoever looks into it.
            let at = written.iter().zip(&asked).position(|(a, b)| a != b);
            let at = at.unwrap_or(written.len().min(asked.len()));
            eprintln!(
                "{}: the soprano differs from the melody at note {at} (written {:?}, given {:?}; {} against {} notes)",
                file.display(),
                written.get(at),
                asked.get(at),
                written.len(),
                asked.len()
            );
        }
        let voices: [Vec<crate::music::GridNote>; 4] = std::array::from_fn(|v| {
            grid.tracks
                .get(v)
                .map(|t| t.notes.clone())
                .unwrap_or_default()
        });
        excerpts.push((voices, grid.total_steps() as usize));
    }
    let h = harmony::measure(excerpts.iter().map(|(v, n)| (v, *n)));
    Ok(format!(
        "{} melodies of {} harmonized by {} in {:.1} s (seeds {}…):\n  \
         triads/7ths {:.3} of {} full 8th-note slices · parallels {:.2} per 100 moving pairs · \
         crossings {:.1} % · spacing faults {:.1} % · hidden 5ths/8ves S–B {:.2} per 100 · \
         notes out of range {:.1} % · repeated notes A/T/B {:.2}/{:.2}/{:.2} · leaps > octave A/T/B \
         {:.3}/{:.3}/{:.3} · melody kept note for note in {kept} of {}",
        files.len(),
        args.melody.display(),
        dir.display(),
        started.elapsed().as_secs_f64(),
        args.seed,
        h.slice_chord_rate,
        h.slices,
        h.parallels_per_100_moving,
        100.0 * h.crossing_share,
        100.0 * h.spacing_share,
        h.hidden_per_100_outer,
        100.0 * h.out_of_range,
        h.repeated_share[1],
        h.repeated_share[2],
        h.repeated_share[3],
        h.wide_leap_share[1],
        h.wide_leap_share[2],
        h.wide_leap_share[3],
        files.len(),
    ))
}
