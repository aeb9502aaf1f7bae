//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The bundled assets folder of this source tree.
pub fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// Every bundled MIDI file.
pub fn all_corpus_files() -> Vec<PathBuf> {
    muselab::corpus::list_bundled(&assets())
        .into_iter()
        .flat_map(|l| l.expect("bundled corpus is listed").files)
        .collect()
}

/// One chorale.
pub fn chorale() -> PathBuf {
    assets().join("corpora/bach_chorales/bwv10_7.mid")
}

/// A fresh temporary folder for a test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("muselab-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Holds burn's process-wide random generator for the calling test, so that tests running in
/// parallel do not interleave their draws (initial weights, dropout): each test is then
/// reproducible. Tests that spawn training runs must not hold it (the run takes it itself).
pub fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    muselab::training::RNG_GUARD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
