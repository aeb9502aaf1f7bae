//! Benchmark reports kept on disk and the table made from them: each run of
//! `muselab benchmark --save DIR` (or of the Benchmarks view) leaves one JSON report in a folder;
//! [`markdown_table`] sets every report of a folder beside the published figures, with the flags
//! that reproduce it, the machine and the time. The README's benchmark table is this table for
//! the repository's `models/benchmarks/` (`muselab benchmark-table --readme README.md` rewrites
//! it; a test checks that the two agree), and the Benchmarks view shows the same rows.

use std::path::{Path, PathBuf};

use super::protocol::published;
use super::run::{BenchModel, BenchmarkOptions, BenchmarkReport};

/// The README's lines around the table that [`replace_in_readme`] rewrites.
pub const BEGIN: &str =
    "<!-- benchmark-table: made by `muselab benchmark-table --readme README.md`; do not edit -->";
/// The closing marker.
pub const END: &str = "<!-- end of benchmark-table -->";

/// The file a report is saved as: dataset, model and seed (a later run of the same three
/// replaces it).
pub fn file_name(report: &BenchmarkReport) -> String {
    let slug: String = report
        .dataset
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{slug}.{}.seed{}.json", report.model, report.seed)
}

/// Writes `report` into `dir` (created if missing) without ever leaving half a file.
pub fn save(dir: &Path, report: &BenchmarkReport) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(file_name(report));
    let json = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
    crate::util::write_atomically(&path, &json)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Every report in `dir`, ordered by dataset, then model, then seed, and a message for each
/// file that is not one. A missing folder holds no reports.
pub fn read_all(dir: &Path) -> (Vec<BenchmarkReport>, Vec<String>) {
    let (mut reports, mut errors) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (reports, errors);
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for path in files {
        let parsed = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<BenchmarkReport>(&b).map_err(|e| e.to_string()));
        match parsed {
            Ok(r) => reports.push(r),
            Err(e) => errors.push(format!("{}: not a benchmark report ({e})", path.display())),
        }
    }
    reports.sort_by(|a, b| {
        (&a.dataset, model_rank(&a.model), a.seed).cmp(&(&b.dataset, model_rank(&b.model), b.seed))
    });
    (reports, errors)
}

/// Models in the order of the paper's table (baseline first), unknown ones last.
fn model_rank(model: &str) -> usize {
    BenchModel::ALL
        .iter()
        .position(|m| m.id() == model)
        .unwrap_or(BenchModel::ALL.len())
}

/// The command-line flags by which `options` differ from the model's defaults — with the
/// dataset, model and seed, the command that reproduces the run.
pub fn flags(options: &BenchmarkOptions) -> String {
    let base = BenchmarkOptions::new(options.model);
    let mut out = Vec::new();
    let mut differs = |flag: &str, ours: &dyn std::fmt::Display, theirs: &dyn std::fmt::Display| {
        let (ours, theirs) = (ours.to_string(), theirs.to_string());
        if ours != theirs {
            out.push(format!("--{flag} {ours}"));
        }
    };
    let (o, b) = (options, &base);
    differs("epochs", &o.epochs, &b.epochs);
    differs("hidden", &o.hidden, &b.hidden);
    differs("recurrent", &o.recurrent, &b.recurrent);
    differs("batch", &o.batch, &b.batch);
    differs("learning-rate", &o.learning_rate, &b.learning_rate);
    differs("patience", &o.patience, &b.patience);
    differs("lr-plateau", &o.lr_plateau, &b.lr_plateau);
    differs("validate-every", &o.validate_every, &b.validate_every);
    differs("ais-chains", &o.ais.chains, &b.ais.chains);
    differs("ais-betas", &o.ais.betas, &b.ais.betas);
    out.join(" ")
}

/// One row of the table, as text.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The dataset's name.
    pub dataset: String,
    /// The model's id.
    pub model: String,
    /// Our test NLL (with the AIS spread where estimated).
    pub nll: String,
    /// Our frame accuracy.
    pub accuracy: String,
    /// The published NLL (and accuracy) or "—".
    pub published: String,
    /// True when our NLL is at or below the published one.
    pub at_or_below: bool,
    /// Epochs trained and the one kept.
    pub epochs: String,
    /// Flags beyond the defaults.
    pub flags: String,
    /// Seed.
    pub seed: u64,
    /// Wall-clock time.
    pub time: String,
    /// Machine and device.
    pub machine: String,
}

/// The row of `report`.
pub fn row(report: &BenchmarkReport) -> Row {
    let paper = published(&report.model, &report.dataset);
    let spread = report
        .ais_spread
        .map_or(String::new(), |s| format!(" ± {:.2}", s / 2.0));
    let minutes = report.seconds / 60.0;
    Row {
        dataset: report.dataset.clone(),
        model: report.model.clone(),
        nll: format!("{:.2}{spread}", report.test_nll),
        accuracy: format!("{:.1} %", report.test_acc * 100.0),
        published: paper.map_or("—".into(), |p| {
            let acc = p
                .accuracy
                .map_or(String::new(), |a| format!(" ({:.1} %)", a * 100.0));
            format!("{:.2}{acc}", p.nll)
        }),
        at_or_below: paper.is_some_and(|p| report.test_nll <= p.nll + 1e-9),
        epochs: format!("{} ({})", report.epochs, report.best_epoch),
        flags: flags(&report.options),
        seed: report.seed,
        time: if minutes < 1.0 {
            format!("{:.0} s", report.seconds)
        } else {
            format!("{minutes:.0} min")
        },
        machine: match (report.machine.is_empty(), report.device.starts_with("CPU")) {
            (true, _) => report.device.clone(),
            (false, true) => report.machine.clone(),
            (false, false) => format!("{} · {}", report.device, report.machine),
        },
    }
}

/// The markdown table of `reports` (one line per report; ours in bold where at or below the
/// published figure).
pub fn markdown_table(reports: &[BenchmarkReport]) -> String {
    let mut out = String::from(
        "| dataset | model | test NLL | ACC | published NLL (ACC) | epochs (best) | flags | seed | time | machine |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in reports.iter().map(row) {
        let nll = if r.at_or_below {
            format!("**{}**", r.nll)
        } else {
            r.nll
        };
        let flags = if r.flags.is_empty() {
            "defaults".to_string()
        } else {
            format!("`{}`", r.flags)
        };
        out.push_str(&format!(
            "| {} | {} | {nll} | {} | {} | {} | {flags} | {} | {} | {} |\n",
            r.dataset, r.model, r.accuracy, r.published, r.epochs, r.seed, r.time, r.machine
        ));
    }
    out
}

/// `readme` with the text between [`BEGIN`] and [`END`] replaced by `table`; an error when the
/// markers are missing.
pub fn replace_in_readme(readme: &str, table: &str) -> Result<String, String> {
    let start = readme
        .find(BEGIN)
        .ok_or("the README has no benchmark-table marker")?
        + BEGIN.len();
    let end = readme[start..]
        .find(END)
        .ok_or("the README's benchmark table has no end marker")?
        + start;
    Ok(format!("{}\n{table}{}", &readme[..start], &readme[end..]))
}

/// The table as the README holds it now, if it has one.
pub fn table_in_readme(readme: &str) -> Option<&str> {
    let start = readme.find(BEGIN)? + BEGIN.len();
    let end = readme[start..].find(END)? + start;
    Some(readme[start..end].trim_start_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(model: BenchModel, nll: f64) -> BenchmarkReport {
        BenchmarkReport {
            model: model.id().into(),
            dataset: "JSB Chorales".into(),
            test_nll: nll,
            test_acc: 0.29,
            valid_nll: nll,
            epochs: 100,
            best_epoch: 93,
            seconds: 960.0,
            seed: 1,
            test_nll_after_first: nll,
            test_steps: 4725,
            ais_spread: None,
            device: "CPU (benchmarks run on the CPU unless --device gpu)".into(),
            machine: "AMD EPYC 7B13 (2 cores, AVX2)".into(),
            valid_curve: vec![(1, nll)],
            options: BenchmarkOptions {
                epochs: 100,
                patience: 8,
                ..BenchmarkOptions::new(model)
            },
        }
    }

    #[test]
    fn a_row_names_the_flags_that_reproduce_it_and_marks_a_figure_that_beats_the_paper() {
        let above = row(&report(BenchModel::RnnNade, 5.65));
        assert_eq!(above.flags, "--epochs 100 --patience 8");
        assert_eq!(above.published, "5.56");
        assert!(!above.at_or_below);
        assert_eq!(above.time, "16 min");
        assert!(row(&report(BenchModel::RnnNade, 5.50)).at_or_below);
        let table = markdown_table(&[report(BenchModel::RnnNade, 5.50)]);
        assert!(table.contains("| **5.50** |"), "{table}");
    }

    #[test]
    fn the_readme_block_is_replaced_between_its_markers_only() {
        let readme = format!("head\n{BEGIN}\nold table\n{END}\ntail\n");
        let new = replace_in_readme(&readme, "new table\n").unwrap();
        assert_eq!(new, format!("head\n{BEGIN}\nnew table\n{END}\ntail\n"));
        assert_eq!(table_in_readme(&new), Some("new table\n"));
        assert!(replace_in_readme("no markers", "x").is_err());
    }

    #[test]
    fn reports_round_trip_through_a_folder_and_other_files_are_named() {
        let dir = std::env::temp_dir().join(format!("muselab-results-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let saved = save(&dir, &report(BenchModel::Lstm, 8.68)).unwrap();
        save(&dir, &report(BenchModel::Bernoulli, 11.06)).unwrap();
        std::fs::write(dir.join("junk.json"), b"{}").unwrap();
        let (reports, errors) = read_all(&dir);
        assert_eq!(
            saved.file_name().unwrap().to_string_lossy(),
            "jsb-chorales.lstm.seed1.json"
        );
        assert_eq!(
            reports.iter().map(|r| r.model.as_str()).collect::<Vec<_>>(),
            ["bernoulli", "lstm"]
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
