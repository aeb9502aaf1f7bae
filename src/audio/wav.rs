//! WAV export of rendered samples (16-bit PCM, mono, 44.1 kHz) through hound.

use std::io::Cursor;
use std::path::Path;

use super::synth::SAMPLE_RATE;

/// Why a WAV file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// The encoder failed.
    #[error("{file}: cannot encode WAV: {source}")]
    Encode {
        /// The file's name.
        file: String,
        /// hound's error.
        source: hound::Error,
    },
    /// The file could not be written.
    #[error("{file}: cannot write the file: {source}")]
    Io {
        /// The file's name.
        file: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Encodes samples in [-1, 1] as the bytes of a 16-bit mono WAV file.
pub fn encode_wav(samples: &[f32]) -> Result<Vec<u8>, hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::with_capacity(samples.len() * 2 + 44));
    {
        let mut writer = hound::WavWriter::new(&mut cursor, spec)?;
        for &s in samples {
            writer.write_sample((s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16)?;
        }
        writer.finalize()?;
    }
    Ok(cursor.into_inner())
}

/// Writes samples to a WAV file atomically.
pub fn write_wav_file(samples: &[f32], path: &Path) -> Result<(), WavError> {
    let file = path.display().to_string();
    let bytes = encode_wav(samples).map_err(|source| WavError::Encode {
        file: file.clone(),
        source,
    })?;
    crate::util::write_atomically(path, &bytes).map_err(|source| WavError::Io { file, source })
}
