//! A reader for MATLAB level-5 MAT-files as far as the benchmark copies need: little-endian,
//! zlib-compressed or plain elements, numeric matrices and cell arrays of them. Every length is
//! checked against the bytes that are there, so a damaged or hostile file is an error, not a
//! crash or an allocation of gigabytes.

use std::collections::BTreeMap;
use std::io::Read;

/// A MATLAB array.
#[derive(Clone, Debug, PartialEq)]
pub enum Array {
    /// A numeric matrix, `rows × cols`, values in column-major order (as MATLAB stores them).
    Numeric {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// `rows * cols` values, column after column.
        values: Vec<f64>,
    },
    /// A cell array, its cells in column-major order.
    Cell(Vec<Array>),
}

/// Why a MAT-file could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MatError {
    /// Not a level-5 MAT-file.
    #[error("not a MATLAB 5 MAT-file (no 128-byte header with version 0x0100 and 'IM')")]
    NotMat,
    /// A length runs past the end of the data.
    #[error("the MAT-file is truncated or damaged at byte {0}")]
    Truncated(usize),
    /// A compressed element does not inflate.
    #[error("a compressed element does not decompress: {0}")]
    Inflate(String),
    /// Something outside what the reader takes (sparse, struct, complex, big-endian, 3-D, …).
    #[error("unsupported MAT-file content: {0}")]
    Unsupported(String),
}

/// The named variables of a MAT-file.
pub fn parse(bytes: &[u8]) -> Result<BTreeMap<String, Array>, MatError> {
    if bytes.len() < 128 || !bytes.starts_with(b"MATLAB 5.0") {
        return Err(MatError::NotMat);
    }
    match &bytes[126..128] {
        b"IM" => {}
        b"MI" => return Err(MatError::Unsupported("big-endian file".into())),
        _ => return Err(MatError::NotMat),
    }
    let mut variables = BTreeMap::new();
    let mut at = 128;
    while at + 8 <= bytes.len() {
        let (kind, body, next) = element(bytes, at)?;
        at = next;
        let (name, array) = match kind {
            COMPRESSED => {
                let mut inflated = Vec::new();
                // A bound on what one variable may inflate to: 1 GiB (the largest benchmark
                // file holds a few MB), against a zip bomb.
                flate2::read::ZlibDecoder::new(body)
                    .take(1 << 30)
                    .read_to_end(&mut inflated)
                    .map_err(|e| MatError::Inflate(e.to_string()))?;
                let (kind, inner, _) = element(&inflated, 0)?;
                if kind != MATRIX {
                    continue;
                }
                matrix(inner, 0)?
            }
            MATRIX => matrix(body, 0)?,
            _ => continue,
        };
        variables.insert(name, array);
    }
    Ok(variables)
}

const INT8: u32 = 1;
const UINT8: u32 = 2;
const INT16: u32 = 3;
const UINT16: u32 = 4;
const INT32: u32 = 5;
const UINT32: u32 = 6;
const SINGLE: u32 = 7;
const DOUBLE: u32 = 9;
const INT64: u32 = 12;
const UINT64: u32 = 13;
const MATRIX: u32 = 14;
const COMPRESSED: u32 = 15;

/// Matrices nested deeper than this are refused (a cell of cells of …).
const MAX_DEPTH: usize = 8;

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, MatError> {
    let b = bytes.get(at..at + 4).ok_or(MatError::Truncated(at))?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The data element at `at`: (type, body, offset of the next element). Handles the small
/// element format (type and size in one word, data in the next four bytes).
fn element(bytes: &[u8], at: usize) -> Result<(u32, &[u8], usize), MatError> {
    let word = u32_at(bytes, at)?;
    if word >> 16 != 0 {
        let (kind, size) = (word & 0xffff, (word >> 16) as usize);
        if size > 4 {
            return Err(MatError::Truncated(at));
        }
        let body = bytes
            .get(at + 4..at + 4 + size)
            .ok_or(MatError::Truncated(at))?;
        return Ok((kind, body, at + 8));
    }
    let size = u32_at(bytes, at + 4)? as usize;
    let start = at + 8;
    let body = bytes
        .get(start..start.checked_add(size).ok_or(MatError::Truncated(at))?)
        .ok_or(MatError::Truncated(at))?;
    // Compressed elements are not padded; all others end on an 8-byte boundary.
    let padded = if word == COMPRESSED {
        size
    } else {
        size.div_ceil(8) * 8
    };
    Ok((word, body, start + padded))
}

fn numbers(kind: u32, body: &[u8]) -> Result<Vec<f64>, MatError> {
    let width = match kind {
        INT8 | UINT8 => 1,
        INT16 | UINT16 => 2,
        INT32 | UINT32 | SINGLE => 4,
        DOUBLE | INT64 | UINT64 => 8,
        other => return Err(MatError::Unsupported(format!("data type {other}"))),
    };
    Ok(body
        .chunks_exact(width)
        .map(|c| match kind {
            INT8 => f64::from(c[0] as i8),
            UINT8 => f64::from(c[0]),
            INT16 => f64::from(i16::from_le_bytes([c[0], c[1]])),
            UINT16 => f64::from(u16::from_le_bytes([c[0], c[1]])),
            INT32 => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            UINT32 => f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            SINGLE => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            DOUBLE => f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
            INT64 => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64,
            _ => u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64,
        })
        .collect())
}

/// A miMATRIX element's body: (name, array).
fn matrix(body: &[u8], depth: usize) -> Result<(String, Array), MatError> {
    if depth > MAX_DEPTH {
        return Err(MatError::Unsupported("cells nested too deep".into()));
    }
    if body.is_empty() {
        // An empty matrix may have no sub-elements at all.
        return Ok((String::new(), Array::Cell(Vec::new())));
    }
    let (_, flags, at) = element(body, 0)?;
    let flags = u32_at(flags, 0)?;
    let class = flags & 0xff;
    if flags & 0x800 != 0 {
        return Err(MatError::Unsupported("complex numbers".into()));
    }
    let (_, dims, at) = element(body, at)?;
    let dims: Vec<usize> = numbers(INT32, dims)?
        .into_iter()
        .map(|d| d.max(0.0) as usize)
        .collect();
    if dims.len() != 2 {
        return Err(MatError::Unsupported(format!("{}-D arrays", dims.len())));
    }
    let (rows, cols) = (dims[0], dims[1]);
    let count = rows.checked_mul(cols).ok_or(MatError::Truncated(at))?;
    let (_, name, mut at) = element(body, at)?;
    let name = String::from_utf8_lossy(name).into_owned();
    match class {
        // mxCELL_CLASS: `count` matrices follow.
        1 => {
            let mut cells = Vec::new();
            for _ in 0..count {
                let (kind, cell, next) = element(body, at)?;
                if kind != MATRIX {
                    return Err(MatError::Unsupported(format!("a cell of type {kind}")));
                }
                cells.push(matrix(cell, depth + 1)?.1);
                at = next;
            }
            Ok((name, Array::Cell(cells)))
        }
        // The numeric classes (double … uint64) and logical arrays (stored as uint8).
        6..=15 => {
            let (kind, real, _) = element(body, at)?;
            let values = numbers(kind, real)?;
            if values.len() != count {
                return Err(MatError::Truncated(at));
            }
            Ok((name, Array::Numeric { rows, cols, values }))
        }
        other => Err(MatError::Unsupported(format!(
            "array class {other} (sparse, struct, object or text)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain (uncompressed) file with one 2 × 3 uint8 matrix named "m".
    fn tiny() -> Vec<u8> {
        let mut bytes = b"MATLAB 5.0 MAT-file, test".to_vec();
        bytes.resize(124, b' ');
        bytes.extend_from_slice(&[0x00, 0x01, b'I', b'M']);
        let mut body = Vec::new();
        let push = |body: &mut Vec<u8>, kind: u32, data: &[u8]| {
            body.extend_from_slice(&kind.to_le_bytes());
            body.extend_from_slice(&(data.len() as u32).to_le_bytes());
            body.extend_from_slice(data);
            body.resize(body.len().div_ceil(8) * 8, 0);
        };
        push(&mut body, UINT32, &[9, 0, 0, 0, 0, 0, 0, 0]);
        push(&mut body, INT32, &[2, 0, 0, 0, 3, 0, 0, 0]);
        push(&mut body, INT8, b"m");
        push(&mut body, UINT8, &[1, 0, 0, 1, 1, 0]);
        push(&mut bytes, MATRIX, &body);
        bytes
    }

    #[test]
    fn reads_a_plain_matrix() {
        let vars = parse(&tiny()).unwrap();
        assert_eq!(
            vars["m"],
            Array::Numeric {
                rows: 2,
                cols: 3,
                values: vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
            }
        );
    }

    #[test]
    fn damaged_files_are_errors() {
        let bytes = tiny();
        for cut in [0, 100, 130, 140, 170, bytes.len() - 3] {
            let _ = parse(&bytes[..cut]); // never panics
        }
        assert_eq!(parse(b"hello"), Err(MatError::NotMat));
        let mut lying = bytes.clone();
        lying[132..136].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(parse(&lying), Err(MatError::Truncated(_))));
    }
}
