//! A reader for the small part of Python's pickle format that the benchmark files use: dicts,
//! lists, tuples, strings and integers (protocols 0–5 as `pickle.dump` writes them for such
//! data). Anything else — a class, a function, a NumPy array — is an error, never executed:
//! unlike Python's own unpickler, this one cannot be made to run code.

use std::collections::BTreeMap;

/// A value read from a pickle.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits 64 bits.
    Int(i64),
    /// A float.
    Float(f64),
    /// A text or byte string.
    Str(String),
    /// A list or a tuple.
    List(Vec<Value>),
    /// A dict with string keys.
    Dict(BTreeMap<String, Value>),
}

/// Why a pickle could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PickleError {
    /// The bytes end before STOP.
    #[error("the pickle ends early (at byte {0})")]
    Truncated(usize),
    /// An opcode this reader does not take (objects, classes, extensions).
    #[error(
        "the pickle holds something other than lists, dicts, strings and numbers (opcode 0x{0:02x} at byte {1}); muselab reads only plain data"
    )]
    Unsupported(u8, usize),
    /// A malformed stack (a pop with nothing on it, a key that is not a string, …).
    #[error("the pickle is malformed at byte {0}: {1}")]
    Malformed(usize, String),
}

/// Reads one pickled value.
pub fn parse(bytes: &[u8]) -> Result<Value, PickleError> {
    Reader {
        bytes,
        at: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: BTreeMap::new(),
    }
    .run()
}

/// One stack slot: a value, or a list/dict still being filled in place (so that APPEND on a
/// memoised list reaches the list the memo holds; the benchmark pickles never share one, so a
/// copy per BINGET is exact for them).
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: BTreeMap<u32, Value>,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], PickleError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(PickleError::Truncated(self.bytes.len()))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, PickleError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.bytes[self.at..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(PickleError::Truncated(self.bytes.len()))?;
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.at += end + 1;
        Ok(text)
    }

    fn malformed(&self, why: &str) -> PickleError {
        PickleError::Malformed(self.at, why.to_string())
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        self.stack
            .pop()
            .ok_or_else(|| self.malformed("empty stack"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let mark = self.marks.pop().ok_or_else(|| self.malformed("no mark"))?;
        if mark > self.stack.len() {
            return Err(self.malformed("mark above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn top(&mut self) -> Result<&mut Value, PickleError> {
        let at = self.at;
        self.stack
            .last_mut()
            .ok_or_else(|| PickleError::Malformed(at, "empty stack".into()))
    }

    fn extend(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        let at = self.at;
        match self.top()? {
            Value::List(list) => {
                list.extend(items);
                Ok(())
            }
            _ => Err(PickleError::Malformed(at, "append to a non-list".into())),
        }
    }

    fn set_items(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        let at = self.at;
        if !items.len().is_multiple_of(2) {
            return Err(self.malformed("odd number of dict items"));
        }
        let Value::Dict(dict) = self.top()? else {
            return Err(PickleError::Malformed(at, "set item on a non-dict".into()));
        };
        let mut items = items.into_iter();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            let Value::Str(key) = key else {
                return Err(PickleError::Malformed(
                    at,
                    "a dict key is not a string".into(),
                ));
            };
            dict.insert(key, value);
        }
        Ok(())
    }

    fn string(&mut self, len: usize) -> Result<Value, PickleError> {
        let bytes = self.take(len)?;
        Ok(Value::Str(String::from_utf8_lossy(bytes).into_owned()))
    }

    fn run(mut self) -> Result<Value, PickleError> {
        loop {
            let at = self.at;
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO n
                }
                0x95 => {
                    self.take(8)?; // FRAME length
                }
                b'.' => return self.pop(), // STOP
                b'(' => self.marks.push(self.stack.len()),
                b'}' => self.stack.push(Value::Dict(BTreeMap::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b')' => self.stack.push(Value::List(Vec::new())),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let b = self.take(2)?;
                    let v = u16::from_le_bytes([b[0], b[1]]);
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'I' => {
                    let text = self.line()?;
                    let value = match text.as_str() {
                        "01" => Value::Bool(true),
                        "00" => Value::Bool(false),
                        t => Value::Int(t.parse().map_err(|_| self.malformed("bad INT"))?),
                    };
                    self.stack.push(value);
                }
                b'L' => {
                    let text = self.line()?;
                    let v = text.trim_end_matches('L').parse();
                    self.stack
                        .push(Value::Int(v.map_err(|_| self.malformed("bad LONG"))?));
                }
                0x8a => {
                    // LONG1: a little-endian two's-complement integer of n bytes.
                    let n = usize::from(self.u8()?);
                    if n > 8 {
                        return Err(self.malformed("integer wider than 64 bits"));
                    }
                    let bytes = self.take(n)?;
                    let mut v: i64 = 0;
                    for (i, &b) in bytes.iter().enumerate() {
                        v |= i64::from(b) << (8 * i);
                    }
                    if n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(Value::Int(v));
                }
                b'G' => {
                    let b = self.take(8)?;
                    let v = f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                    self.stack.push(Value::Float(v));
                }
                b'X' | b'B' => {
                    let len = self.u32()? as usize;
                    let v = self.string(len)?;
                    self.stack.push(v);
                }
                0x8c | b'C' | b'U' => {
                    let len = usize::from(self.u8()?);
                    let v = self.string(len)?;
                    self.stack.push(v);
                }
                0x8d | 0x8e => {
                    let b = self.take(8)?;
                    let len = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                    let len = usize::try_from(len).map_err(|_| self.malformed("huge string"))?;
                    let v = self.string(len)?;
                    self.stack.push(v);
                }
                b'a' => {
                    let v = self.pop()?;
                    self.extend(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.extend(items)?;
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    self.set_items(vec![key, value])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(items));
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(items));
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Dict(BTreeMap::new()));
                    self.set_items(items)?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err(self.malformed("tuple of missing items"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::List(items));
                }
                b'q' => {
                    let key = u32::from(self.u8()?);
                    let v = self.top()?.clone();
                    self.memo.insert(key, v);
                }
                b'r' => {
                    let key = self.u32()?;
                    let v = self.top()?.clone();
                    self.memo.insert(key, v);
                }
                0x94 => {
                    let key = self.memo.len() as u32;
                    let v = self.top()?.clone();
                    self.memo.insert(key, v);
                }
                b'h' | b'j' => {
                    let key = if op == b'h' {
                        u32::from(self.u8()?)
                    } else {
                        self.u32()?
                    };
                    let v = self
                        .memo
                        .get(&key)
                        .cloned()
                        .ok_or_else(|| self.malformed("unknown memo key"))?;
                    self.stack.push(v);
                }
                b'0' => {
                    self.pop()?;
                }
                _ => return Err(PickleError::Unsupported(op, at)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_protocol_2_dict_of_lists() {
        // pickle.dumps({"train": [[[60, 64], []]], "n": 300}, protocol=2)
        let bytes = b"\x80\x02}q\x00(X\x05\x00\x00\x00trainq\x01]q\x02]q\x03(]q\x04(K<K@e]q\x05eaX\x01\x00\x00\x00nq\x06M,\x01u.";
        let value = parse(bytes).unwrap();
        let Value::Dict(d) = value else { panic!() };
        assert_eq!(d["n"], Value::Int(300));
        assert_eq!(
            d["train"],
            Value::List(vec![Value::List(vec![
                Value::List(vec![Value::Int(60), Value::Int(64)]),
                Value::List(vec![])
            ])])
        );
    }

    #[test]
    fn refuses_objects_and_truncation() {
        // GLOBAL 'os system' — the classic hostile pickle.
        let hostile = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.";
        assert!(matches!(
            parse(hostile),
            Err(PickleError::Unsupported(b'c', 2))
        ));
        assert!(matches!(
            parse(b"\x80\x02]q\x00(K\x01"),
            Err(PickleError::Truncated(_))
        ));
        assert!(parse(b"e.").is_err());
    }
}
