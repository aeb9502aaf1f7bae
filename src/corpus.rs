//! The bundled corpora and user folders of MIDI files: where they are and what they hold.

use std::path::{Path, PathBuf};

/// A bundled corpus: an id for the command line, a title for the UI and its folder name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BundledCorpus {
    /// Short id used on the command line (`bach`, `celtic`).
    pub id: &'static str,
    /// Title shown in the corpus browser.
    pub title: &'static str,
    /// Folder under `assets/corpora/`.
    pub folder: &'static str,
}

/// The corpora that ship with muselab (see `assets/corpora/PROVENANCE.md`).
pub const BUNDLED: [BundledCorpus; 2] = [
    BundledCorpus {
        id: "bach",
        title: "Bach chorales",
        folder: "bach_chorales",
    },
    BundledCorpus {
        id: "celtic",
        title: "O'Neill's Celtic tunes",
        folder: "celtic_oneills",
    },
];

/// A list of MIDI files under a title: a bundled corpus or a folder the user opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorpusListing {
    /// Title shown in the browser.
    pub title: String,
    /// The folder the files are in.
    pub dir: PathBuf,
    /// MIDI files, sorted by name.
    pub files: Vec<PathBuf>,
}

impl CorpusListing {
    /// Lists the `.mid`/`.midi` files of a folder and its sub-folders.
    pub fn read(title: impl Into<String>, dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            title: title.into(),
            dir: dir.to_path_buf(),
            files: list_midi_files(dir)?,
        })
    }
}

/// True when the path ends in `.mid` or `.midi` (any case).
pub fn is_midi_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"))
}

/// The MIDI files inside `dir` and its sub-folders, at any depth, sorted by path (a flat
/// folder: by file name). Symbolic links are followed, but a folder already visited (a link
/// loop, or two links to one folder) is read once; a sub-folder that cannot be read is skipped
/// with a warning. Only `dir` itself unreadable is an error.
pub fn list_midi_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut visited = std::collections::HashSet::new();
    let mut pending = vec![dir.to_path_buf()];
    let mut first = true;
    while let Some(folder) = pending.pop() {
        let key = std::fs::canonicalize(&folder).unwrap_or_else(|_| folder.clone());
        if !visited.insert(key) {
            continue;
        }
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if !first => {
                log::warn!("skipping folder {}: {e}", folder.display());
                continue;
            }
            Err(e) => return Err(e),
        };
        first = false;
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.is_file() && is_midi_path(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The `assets/` folder: `$MUSELAB_ASSETS`, else `./assets`, else next to the executable or one
/// of its parents (a `cargo build` tree), else the source tree it was built from.
pub fn assets_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MUSELAB_ASSETS") {
        return PathBuf::from(dir);
    }
    let has_corpora = |dir: &Path| dir.join("corpora").is_dir();
    let cwd = PathBuf::from("assets");
    if has_corpora(&cwd) {
        return cwd;
    }
    if let Ok(exe) = std::env::current_exe() {
        for ancestor in exe.ancestors().skip(1) {
            let candidate = ancestor.join("assets");
            if has_corpora(&candidate) {
                return candidate;
            }
        }
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// The folder where the user's runs go: `$MUSELAB_MODELS`, else the platform's data folder
/// (`~/.local/share/muselab/models` on Linux, `~/Library/Application Support/muselab/models` on
/// macOS, `%APPDATA%\\muselab\\models` on Windows), else `models/` in the working folder. Never
/// the repository's or the install's `models/`: that one holds the shipped runs, read-only.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MUSELAB_MODELS") {
        return PathBuf::from(dir);
    }
    dirs::data_dir().map_or_else(
        || PathBuf::from("models"),
        |d| d.join("muselab").join("models"),
    )
}

/// The shipped, pretrained runs: `$MUSELAB_SHIPPED`, else `models/` beside `assets/` (the
/// repository's, or the install's). `None` when that folder does not exist or is the user's own
/// folder (then its runs are the user's, writable).
pub fn shipped_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("MUSELAB_SHIPPED") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let assets = assets_dir();
            assets
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("models"), |p| p.join("models"))
        }
    };
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    (dir.is_dir() && !same(&dir, &models_dir())).then_some(dir)
}

/// The folder of a bundled corpus.
pub fn bundled_dir(assets: &Path, corpus: &BundledCorpus) -> PathBuf {
    assets.join("corpora").join(corpus.folder)
}

/// Lists both bundled corpora; a missing folder gives an error naming it.
pub fn list_bundled(assets: &Path) -> Vec<Result<CorpusListing, String>> {
    BUNDLED
        .iter()
        .map(|corpus| {
            let dir = bundled_dir(assets, corpus);
            CorpusListing::read(corpus.title, &dir)
                .map_err(|e| format!("{}: cannot list {}: {e}", corpus.title, dir.display()))
        })
        .collect()
}

/// Resolves a corpus argument: a bundled id (`bach`, `celtic`) or a folder path.
pub fn resolve(assets: &Path, name: &str) -> PathBuf {
    BUNDLED
        .iter()
        .find(|c| c.id == name)
        .map_or_else(|| PathBuf::from(name), |c| bundled_dir(assets, c))
}
