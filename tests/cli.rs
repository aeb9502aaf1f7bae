//! The command line, run as a user would run it.

mod common;

use std::process::Command;

fn muselab() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_muselab"));
    command.env("MUSELAB_ASSETS", common::assets());
    command
}

#[test]
fn eval_json_reports_metrics_and_errors() {
    let dir = common::temp_dir("cli-eval");
    let broken = dir.join("broken.mid");
    std::fs::write(&broken, b"not midi at all").expect("write");
    let output = muselab()
        .args(["eval", "--json"])
        .arg(common::chorale())
        .arg(&broken)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1), "one file could not be read");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["tracks"], 4);
    assert!(lines[0]["notes"].as_u64().unwrap_or(0) > 100);
    assert!(lines[0]["duration_seconds"].as_f64().unwrap_or(0.0) > 10.0);
    assert!(lines[0]["scale_consistency"].as_f64().unwrap_or(0.0) > 0.8);
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap_or("")
            .contains("broken.mid")
    );

    assert_eq!(lines[0]["warnings"], serde_json::json!([]));

    // A file missing its second half is read as far as it goes, with a warning.
    let bytes = std::fs::read(common::chorale()).expect("chorale");
    let cut = dir.join("cut.mid");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let output = muselab()
        .args(["eval", "--json"])
        .arg(&cut)
        .output()
        .expect("runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "a damaged file is still read"
    );
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let warning = line["warnings"][0].as_str().unwrap_or("");
    assert!(
        warning.starts_with(&format!(
            "damaged file: read {} notes before byte",
            line["notes"]
        )),
        "{line}"
    );

    let ok = muselab()
        .arg("eval")
        .arg(common::chorale())
        .output()
        .expect("runs");
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("4 tracks"));
}

#[test]
fn render_writes_a_wav_and_reports_bad_input() {
    let dir = common::temp_dir("cli-render");
    let wav = dir.join("out.wav");
    let output = muselab()
        .arg("render")
        .arg(common::chorale())
        .arg(&wav)
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(hound::WavReader::open(&wav).expect("wav").len() > 44_100);

    let missing = muselab()
        .args(["render", "/no/such.mid"])
        .arg(dir.join("x.wav"))
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/no/such.mid"));
}

#[test]
fn gui_without_display_says_so_in_one_line() {
    let output = muselab()
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot open a window"), "{stderr}");
    assert!(stderr.contains("eval"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn devices_reports_compute_and_audio() {
    let output = muselab()
        .args(["devices", "--device", "cpu"])
        .output()
        .expect("runs");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("compute: CPU (forced by the user)"),
        "{stdout}"
    );
    assert!(stdout.contains("audio:"), "{stdout}");
}

#[test]
fn train_one_short_epoch_then_generate() {
    let dir = common::temp_dir("cli-train");
    let models = dir.join("models");
    let output = muselab()
        .args([
            "train",
            "minibach",
            "--epochs",
            "1",
            "--max-pieces",
            "20",
            "--device",
            "cpu",
        ])
        .args(["--steps-per-epoch", "10", "--batch-size", "16", "--out"])
        .arg(&models)
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("finished 1 epochs"), "{stdout}");
    let run = std::fs::read_dir(models.join("minibach"))
        .expect("run folder")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("model.bpk").is_file())
        .expect("a checkpoint");
    for file in ["config.json", "history.json", "model.bpk"] {
        assert!(run.join(file).is_file(), "{file}");
    }

    let out = dir.join("harmonized.mid");
    let generated = muselab()
        .arg("generate")
        .arg(&run)
        .arg("--melody")
        .arg(common::assets().join("corpora/celtic_oneills/oneills_0000.mid"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("runs");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let score = muselab::music::read_midi_file(&out).expect("valid MIDI");
    assert_eq!(score.tracks.len(), 4);

    // Resuming keeps the saved settings and takes the options given (here a learning rate);
    // it refuses other data, and a total of epochs the run has already reached.
    let resume = |extra: &[&str]| {
        muselab()
            .args(["train", "minibach", "--device", "cpu", "--resume"])
            .arg(&run)
            .args(extra)
            .output()
            .expect("runs")
    };
    let done = resume(&[]);
    assert!(!done.status.success());
    let text = String::from_utf8_lossy(&done.stderr);
    assert!(text.contains("already trained 1 epochs"), "{text}");
    let other = resume(&["--epochs", "2", "--corpus", "celtic"]);
    assert!(!other.status.success());
    let text = String::from_utf8_lossy(&other.stderr);
    assert!(text.contains("keeps its corpus"), "{text}");
    let resumed = resume(&["--epochs", "2", "--learning-rate", "0.0005"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let (config, history) = muselab::training::checkpoint::read(&run, None).expect("reads");
    assert_eq!(
        (config.epochs, config.learning_rate, config.batch_size),
        (2, 0.0005, 16)
    );
    assert_eq!(history.epochs.len(), 2);

    // A wrong model name and a missing checkpoint are clear errors.
    let bad = muselab()
        .args(["train", "transformer"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown model 'transformer'"));
    let missing = muselab()
        .args(["generate", "/no/checkpoint", "--out"])
        .arg(dir.join("x.mid"))
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not a muselab checkpoint"));

    // Evaluated on its held-out pieces (2 of the 20) beside the baselines, one JSON line per
    // run; a missing run is an error line and exit code 1; the report is saved beside the run.
    let evaluated = muselab()
        .args(["evaluate", "--json", "--samples", "10"])
        .arg(&run)
        .arg("/no/checkpoint")
        .output()
        .expect("runs");
    assert_eq!(evaluated.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&evaluated.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let report = &lines[0];
    assert_eq!(report["model"], "minibach");
    assert_eq!(report["held_out_pieces"], 2);
    for who in [
        &report["predictive"],
        &report["baselines"]["markov"]["predictive"],
    ] {
        let nll = who["nll_per_step"].as_f64().expect("nll");
        assert!(nll.is_finite() && nll > 0.0, "{who}");
    }
    assert_eq!(report["samples"]["count"], 10);
    assert!(report["harmony"]["chord_rate"].is_number());
    assert!(
        report.get("example").is_none(),
        "the sample stays out of --json"
    );
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap_or("")
            .contains("not a muselab checkpoint")
    );
    assert!(run.join("evaluation.json").is_file());
    let zero = muselab()
        .args(["evaluate", "--samples", "0"])
        .arg(&run)
        .output()
        .expect("runs");
    assert_eq!(zero.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("samples must be between 1 and 2000"));
}

#[test]
fn models_prints_a_card_per_model_with_its_parameter_count() {
    let output = muselab().args(["models", "--json"]).output().expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cards: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(cards.len(), muselab::models::ModelKind::ALL.len());
    for card in &cards {
        let layers = card["layers"].as_array().expect("layers");
        let counted: u64 = layers
            .iter()
            .map(|l| {
                l["shape"]
                    .as_array()
                    .expect("shape")
                    .iter()
                    .map(|d| d.as_u64().unwrap_or(0))
                    .product::<u64>()
            })
            .sum();
        assert!(counted > 0, "{card}");
        assert_eq!(card["parameters"].as_u64(), Some(counted));
        assert!(!card["formula"].as_str().unwrap_or("").is_empty());
        assert!(!card["reference"].as_str().unwrap_or("").is_empty());
    }
    let gan = cards.iter().find(|c| c["id"] == "gan").expect("gan");
    let names: Vec<&str> = gan["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("G.")) && names.iter().any(|n| n.starts_with("D.")));
}

#[test]
fn encode_decode_and_interpolate_with_a_vae() {
    let dir = common::temp_dir("cli-vae");
    let models = dir.join("models");
    let trained = muselab()
        .args([
            "train",
            "vae",
            "--epochs",
            "2",
            "--max-pieces",
            "100",
            "--device",
            "cpu",
            "--out",
        ])
        .arg(&models)
        .output()
        .expect("runs");
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let run = std::fs::read_dir(models.join("vae"))
        .expect("run folder")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("model.bpk").is_file())
        .expect("a checkpoint");
    let tune = |n: &str| common::assets().join(format!("corpora/celtic_oneills/oneills_{n}.mid"));

    let encoded = muselab()
        .arg("encode")
        .arg(&run)
        .arg(tune("0000"))
        .arg(tune("0002"))
        .output()
        .expect("runs");
    assert!(encoded.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&encoded.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["z"].as_array().map(Vec::len), Some(2));
    // The same melody encodes to the same point.
    let again = muselab()
        .arg("encode")
        .arg(&run)
        .arg(tune("0000"))
        .output()
        .expect("runs");
    let again: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&again.stdout).trim()).expect("JSON");
    assert_eq!(again["z"], lines[0]["z"]);

    let decoded = dir.join("point.mid");
    let out = muselab()
        .arg("decode")
        .arg(&run)
        .arg("--z=-0.5,0.8")
        .arg("--out")
        .arg(&decoded)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(muselab::music::read_midi_file(&decoded).is_ok());

    let path = dir.join("path.mid");
    let out = muselab()
        .arg("interpolate")
        .arg(&run)
        .arg(tune("0000"))
        .arg(tune("0002"))
        .args(["--steps", "4", "--out"])
        .arg(&path)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let score = muselab::music::read_midi_file(&path).expect("valid MIDI");
    // Four 2-bar melodies: 8 bars of 4/4.
    assert!(score.end_tick() <= 8 * 4 * u64::from(score.ticks_per_quarter));

    let bad = muselab()
        .arg("decode")
        .arg(&run)
        .args(["--z", "1,2,3", "--out"])
        .arg(&decoded)
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("2 dimensions"));
}

/// Out-of-range settings are refused before any work, with a message naming the setting and
/// its range.
#[test]
fn out_of_range_settings_are_refused_with_their_range() {
    let dir = common::temp_dir("cli-ranges");
    let train = muselab()
        .args(["train", "minibach", "--set", "dropout=1.0", "--out"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(train.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&train.stderr);
    assert!(
        stderr.contains("dropout must be between 0 and 0.95"),
        "{stderr}"
    );
    assert!(!dir.join("minibach").exists(), "no run was started");

    let render = muselab()
        .args(["render", "--tempo-scale", "0"])
        .arg(common::chorale())
        .arg(dir.join("x.wav"))
        .output()
        .expect("runs");
    assert_ne!(render.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&render.stderr).contains("--tempo-scale"));
    assert!(!dir.join("x.wav").exists());

    for (flag, value, message) in [
        ("--bars", "0", "--bars must be between 1 and 256"),
        (
            "--gibbs-steps",
            "20000",
            "--gibbs-steps must be between 1 and 10000",
        ),
        ("--meter", "5/4", "--meter: '5/4' is not a meter"),
    ] {
        let generate = muselab()
            .arg("generate")
            .arg(&dir)
            .args([flag, value, "--out"])
            .arg(dir.join("x.mid"))
            .output()
            .expect("runs");
        assert_ne!(generate.status.code(), Some(0));
        let stderr = String::from_utf8_lossy(&generate.stderr);
        assert!(stderr.contains(message), "{stderr}");
    }
}
