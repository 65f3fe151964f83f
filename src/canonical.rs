//! Canonical bytes: the one encoder and the one strict decoder for every signed structure.
//!
//! `docs/FORMAT.md` ("Conventions") defines the primitives: integers are big-endian and fixed-width,
//! a string is a `u32` byte length followed by UTF-8, an optional value is a tag byte `0x00` (absent)
//! or `0x01` (present) followed by the value, a list is a `u32` count followed by its items. The
//! [`Reader`] refuses anything else (unknown tags, invalid UTF-8, trailing bytes), so one logical value
//! has exactly one accepted byte form. This module knows nothing of records or entries.

/// Why bytes were refused by the decoder, with the byte offset where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated at byte {at}: {what} needs {need} more bytes")]
    Truncated { at: usize, what: &'static str, need: usize },
    #[error("{count} trailing bytes at byte {at} after the end of the {what}")]
    Trailing { at: usize, what: &'static str, count: usize },
    #[error("byte {at}: {what} has invalid tag or code {tag:#04x}")]
    BadTag { at: usize, what: &'static str, tag: u8 },
    #[error("byte {at}: {what} is not valid UTF-8")]
    Utf8 { at: usize, what: &'static str },
    #[error("byte {at}: {what} is not in canonical form ({why})")]
    NonCanonical { at: usize, what: &'static str, why: &'static str },
}

/// Appends canonical primitives to a byte buffer.
#[derive(Default, Debug)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer { buf: Vec::with_capacity(256) }
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn fixed(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// `u32` length, then the bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        // Lengths are bounded by the entry limit (1 MiB), far below u32::MAX.
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.buf.extend_from_slice(v);
    }
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    /// `0x00`, or `0x01` followed by what `f` writes.
    pub fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T)) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                f(self, v);
            }
        }
    }
    pub fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
}

/// Reads canonical primitives from a byte slice, refusing every non-canonical form.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// Fails unless every byte has been read.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(DecodeError::Trailing { at: self.pos, what, count: self.buf.len() - self.pos })
        }
    }
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated { at: self.pos, what, need: n - self.remaining() });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    pub fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let b = self.bytes(what)?;
        std::str::from_utf8(b).map_err(|_| DecodeError::Utf8 { at, what })
    }
    pub fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        self.str(what).map(str::to_owned)
    }
    /// Reads an option tag: `false` for `0x00`, `true` for `0x01`, an error for anything else.
    pub fn present(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        let at = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::BadTag { at, what, tag }),
        }
    }
    pub fn opt<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self.present(what)? {
            f(self).map(Some)
        } else {
            Ok(None)
        }
    }
    /// Reads a list count, refusing counts that could not fit in the remaining bytes given
    /// `min_item` bytes per item (so a forged count cannot make the decoder allocate).
    pub fn count(&mut self, what: &'static str, min_item: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_item.max(1)) > self.remaining() {
            return Err(DecodeError::Truncated { at, what, need: n * min_item.max(1) - self.remaining() });
        }
        Ok(n)
    }
    /// Reads a one-byte code of a closed enum.
    pub fn code<T>(&mut self, what: &'static str, from: impl Fn(u8) -> Option<T>) -> Result<T, DecodeError> {
        let at = self.pos;
        let tag = self.u8(what)?;
        from(tag).ok_or(DecodeError::BadTag { at, what, tag })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip() {
        let mut w = Writer::new();
        w.u8(7);
        w.u64(u64::MAX - 1);
        w.i64(-5);
        w.str("héllo");
        w.opt(Some(3u32), |w, v| w.u32(v));
        w.opt(None::<u32>, |w, v| w.u32(v));
        let b = w.into_bytes();
        let mut r = Reader::new(&b);
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u64("b").unwrap(), u64::MAX - 1);
        assert_eq!(r.i64("c").unwrap(), -5);
        assert_eq!(r.str("d").unwrap(), "héllo");
        assert_eq!(r.opt("e", |r| r.u32("e")).unwrap(), Some(3));
        assert_eq!(r.opt("f", |r| r.u32("f")).unwrap(), None);
        r.finish("test").unwrap();
    }

    #[test]
    fn refuses_non_canonical() {
        assert!(matches!(Reader::new(&[2]).present("x"), Err(DecodeError::BadTag { .. })));
        assert!(matches!(Reader::new(&[0, 0, 0, 2, 0xff, 0xfe]).str("x"), Err(DecodeError::Utf8 { .. })));
        assert!(matches!(Reader::new(&[0, 0, 0, 9, 1]).bytes("x"), Err(DecodeError::Truncated { .. })));
        assert!(matches!(Reader::new(&[0xff, 0xff, 0xff, 0xff]).count("x", 8), Err(DecodeError::Truncated { .. })));
        let r = Reader::new(&[1]);
        assert!(matches!(r.finish("x"), Err(DecodeError::Trailing { .. })));
    }
}
