//! Parsed corpora kept on disk between launches (opt-in: see [`default_cache_dir`]), so that a
//! folder of thousands of MIDI files is parsed once: each file's parse result (its score, or why it could not be read) is stored
//! with its size and modification time, and reused while both are unchanged. One cache file per
//! corpus folder, in the user's cache folder, in CBOR (through `ciborium`, already built as
//! part of burn's GPU runtime) with every track's notes packed as one byte string of varints:
//! with a field name per note, CBOR took 45 bytes a note and reading it back was slower than
//! parsing the MIDI files. A cache that is missing, damaged, from another version or for
//! another folder is ignored and rewritten; one that cannot be written costs a warning, never
//! the load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::music::{KeySignature, Note, Score, TempoChange, TimeSignature, Track};

/// Bumped whenever [`Score`], the importer or this encoding changes: an older cache is then
/// ignored.
const VERSION: u32 = 2;

/// A track's notes as bytes: per note the onset's step from the previous onset (zig-zag
/// varint, so that an unsorted track still round-trips), the length (varint), pitch and
/// velocity.
#[derive(Debug, Default)]
struct PackedNotes(Vec<u8>);

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

impl PackedNotes {
    fn pack(notes: &[Note]) -> Self {
        let mut out = Vec::with_capacity(notes.len() * 6);
        let mut previous = 0i64;
        for n in notes {
            let step = n.start as i64 - previous;
            previous = n.start as i64;
            put_varint(&mut out, ((step << 1) ^ (step >> 63)) as u64);
            put_varint(&mut out, n.duration);
            out.extend_from_slice(&[n.pitch, n.velocity]);
        }
        Self(out)
    }

    /// The notes, or `None` for bytes this encoding did not write.
    fn unpack(&self) -> Option<Vec<Note>> {
        let bytes = &self.0;
        let mut notes = Vec::with_capacity(bytes.len() / 5);
        let (mut at, mut start) = (0, 0i64);
        while at < bytes.len() {
            let step = get_varint(bytes, &mut at)?;
            start += ((step >> 1) as i64) ^ -((step & 1) as i64);
            let duration = get_varint(bytes, &mut at)?;
            let [pitch, velocity] = [*bytes.get(at)?, *bytes.get(at + 1)?];
            at += 2;
            notes.push(Note {
                pitch,
                start: u64::try_from(start).ok()?,
                duration,
                velocity,
            });
        }
        Some(notes)
    }
}

impl serde::Serialize for PackedNotes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for PackedNotes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl<'de> serde::de::Visitor<'de> for Bytes {
            type Value = PackedNotes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte string of packed notes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(PackedNotes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
                Ok(PackedNotes(v))
            }
        }
        deserializer.deserialize_bytes(Bytes)
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct PackedTrack {
    name: String,
    program: u8,
    notes: PackedNotes,
}

/// A [`Score`] as the cache stores it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct PackedScore {
    name: String,
    ticks_per_quarter: u16,
    tempos: Vec<TempoChange>,
    time_signatures: Vec<TimeSignature>,
    tracks: Vec<PackedTrack>,
    damage: Option<String>,
    key_signature: Option<KeySignature>,
}

impl PackedScore {
    fn pack(score: &Score) -> Self {
        Self {
            name: score.name.clone(),
            ticks_per_quarter: score.ticks_per_quarter,
            tempos: score.tempos.clone(),
            time_signatures: score.time_signatures.clone(),
            tracks: score
                .tracks
                .iter()
                .map(|t| PackedTrack {
                    name: t.name.clone(),
                    program: t.program,
                    notes: PackedNotes::pack(&t.notes),
                })
                .collect(),
            damage: score.damage.clone(),
            key_signature: score.key_signature,
        }
    }

    fn unpack(self) -> Option<Score> {
        let tracks = self
            .tracks
            .into_iter()
            .map(|t| {
                Some(Track {
                    notes: t.notes.unpack()?,
                    name: t.name,
                    program: t.program,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Score {
            name: self.name,
            ticks_per_quarter: self.ticks_per_quarter,
            tempos: self.tempos,
            time_signatures: self.time_signatures,
            tracks,
            damage: self.damage,
            key_signature: self.key_signature,
        })
    }
}

/// What is remembered of one file.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Entry {
    /// Path below the corpus folder, with `/` between parts.
    path: String,
    size: u64,
    /// Modification time: seconds and nanoseconds since the Unix epoch.
    modified: (u64, u32),
    /// The score, or the importer's message for a file it could not read.
    parsed: Result<PackedScore, String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CacheFile {
    version: u32,
    /// The corpus folder (canonical path) this cache is for.
    folder: String,
    entries: Vec<Entry>,
}

/// A file's stored parse, still packed (unpack it on any thread).
#[derive(Debug)]
pub struct Cached(Result<PackedScore, String>);

impl Cached {
    /// The score or the importer's message; `None` for bytes this encoding cannot read (then
    /// parse the file again and call [`CorpusCache::parsed`]).
    pub fn unpack(self) -> Option<Result<Score, String>> {
        match self.0 {
            Ok(packed) => packed.unpack().map(Ok),
            Err(e) => Some(Err(e)),
        }
    }
}

/// The size and modification time a file had when it was read.
type Stamp = (u64, (u64, u32));

/// A corpus folder's cache during one load.
#[derive(Debug)]
pub struct CorpusCache {
    file: Option<PathBuf>,
    folder: PathBuf,
    /// Stored entries not taken by this load.
    entries: HashMap<String, Entry>,
    /// The stamps of the files this load met, by key.
    stamps: HashMap<String, Stamp>,
    /// Whether this load parsed a file afresh.
    changed: bool,
    /// Files whose stored parse was reused.
    pub hits: usize,
}

/// The folder that holds the corpus caches: `$MUSELAB_CACHE/corpora` when that variable is
/// set, else none (no caching). Off by default because it did not pay where it was measured
/// (`muselab bench --corpus DIR [--cold]`, 100,862 copies of O'Neill's tunes, 411 MB, 2-core
/// Xeon): parsing in parallel took 1.84 s warm and 6.70 s from a cold disk, reading the cache
/// 2.33 s and 7.99 s — a file's size and time must be read either way, and the scores'
/// allocation, not the parsing, is most of the time. It may pay for files heavy with events
/// the scores drop (controllers, pitch bends), which were not measured.
pub fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("MUSELAB_CACHE").map(|dir| PathBuf::from(dir).join("corpora"))
}

/// A name for a folder's cache file that stays the same between runs (FNV-1a of the canonical
/// path: std's hasher may change between Rust releases).
fn cache_name(folder: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in folder.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}.cbor")
}

/// A file's size and modification time, or `None` when it cannot be read.
fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some((meta.len(), (modified.as_secs(), modified.subsec_nanos())))
}

impl CorpusCache {
    /// Opens the cache of corpus folder `dir` under `cache_dir` (nothing is cached when
    /// `cache_dir` is `None`).
    pub fn open(dir: &Path, cache_dir: Option<&Path>) -> Self {
        let folder = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let name = folder.to_string_lossy().into_owned();
        let file = cache_dir.map(|c| c.join(cache_name(&name)));
        let entries = file
            .as_deref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| ciborium::from_reader::<CacheFile, _>(bytes.as_slice()).ok())
            .filter(|c| c.version == VERSION && c.folder == name)
            .map(|c| c.entries.into_iter().map(|e| (e.path.clone(), e)).collect())
            .unwrap_or_default();
        Self {
            file,
            folder,
            entries,
            stamps: HashMap::new(),
            changed: false,
            hits: 0,
        }
    }

    /// The stored parse of `path` (named `key` below the folder) when the file is unchanged
    /// since it was stored; `None` means it must be parsed (then call [`Self::parsed`]).
    pub fn take(&mut self, key: &str, path: &Path) -> Option<Cached> {
        // No cache folder (the default): nothing to look up, and no file to stat.
        self.file.as_ref()?;
        let now = stamp(path)?;
        self.stamps.insert(key.to_string(), now);
        let entry = self.entries.get(key)?;
        if (entry.size, entry.modified) != now {
            return None;
        }
        self.hits += 1;
        match &entry.parsed {
            Ok(_) => self.entries.remove(key).map(|e| Cached(e.parsed)),
            // Kept: an unreadable file's verdict is written back as it is.
            Err(e) => Some(Cached(Err(e.clone()))),
        }
    }

    /// Notes that `key` was parsed afresh (its result is passed to [`Self::save`]).
    pub fn parsed(&mut self, key: &str) {
        self.changed = true;
        self.entries.remove(key);
    }

    /// Writes the cache back when this load parsed anything afresh or a stored file is gone:
    /// the files this load met with their `results`, and the stored entries of files it did
    /// not reach (beyond a piece limit) that still exist.
    pub fn save<'a>(mut self, results: impl Iterator<Item = (&'a str, &'a Result<Score, String>)>) {
        let Some(file) = self.file.take() else {
            return;
        };
        let folder = self.folder;
        let unreached = |key: &String| !self.stamps.contains_key(key);
        let gone = self
            .entries
            .keys()
            .any(|key| unreached(key) && !folder.join(key).exists());
        if !self.changed && !gone {
            return;
        }
        self.entries
            .retain(|key, _| unreached(key) && folder.join(key).exists());
        let mut entries: Vec<Entry> = results
            .filter_map(|(key, parsed)| {
                let &(size, modified) = self.stamps.get(key)?;
                Some(Entry {
                    path: key.to_string(),
                    size,
                    modified,
                    parsed: parsed.as_ref().map(PackedScore::pack).map_err(Clone::clone),
                })
            })
            .collect();
        entries.extend(self.entries.into_values());
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let cache = CacheFile {
            version: VERSION,
            folder: folder.to_string_lossy().into_owned(),
            entries,
        };
        if let Err(e) = write_atomically(&file, &cache) {
            log::warn!("corpus cache {}: not written: {e}", file.display());
        }
    }
}

/// Writes beside the target and renames, so that a full disk or a crash leaves the old cache
/// (or none), never half a file.
fn write_atomically(file: &Path, cache: &CacheFile) -> Result<(), String> {
    let dir = file.parent().ok_or("no parent folder")?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let partial = file.with_extension("cbor.partial");
    let out = std::fs::File::create(&partial).map_err(|e| e.to_string())?;
    let mut out = std::io::BufWriter::new(out);
    let written = ciborium::into_writer(cache, &mut out)
        .map_err(|e| e.to_string())
        .and_then(|()| std::io::Write::flush(&mut out).map_err(|e| e.to_string()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, file).map_err(|e| e.to_string())
}
