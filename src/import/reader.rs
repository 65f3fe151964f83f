//! Reading step: turns a byte stream (gzip or not, detected by magic bytes) into raw events, one at
//! a time, from JSON Lines, a bare JSON array, or a wrapper object such as CloudTrail's
//! `{"Records": [...]}` or Graph's `{"value": [...]}`.
//!
//! Memory stays bounded by the largest single event, whatever the file size. Array elements are
//! deserialized one by one as `Box<RawValue>` straight from the reader, so each element's exact bytes
//! are available for the digest. (A serde `Visitor`/`SeqAccess` over the whole array would push
//! elements from inside one `deserialize` call; this reader is a pull iterator instead, so it steps
//! over the array punctuation itself and hands each element to serde.)

use std::io::{self, BufRead, BufReader, Chain, Cursor, Read};

use flate2::read::MultiGzDecoder;
use serde::de::{Deserialize, IgnoredAny};
use serde_json::value::RawValue;

use super::error::{ImportError, Position};
use super::{source_check, RawEvent, Source};

/// The largest single event (line or array element) the reader accepts.
pub const MAX_EVENT_BYTES: usize = 64 << 20;

/// Buffer size of the underlying reader.
const BUF_BYTES: usize = 64 << 10;

/// Wrapper keys that hold an array of events, and the source whose export form each is.
const WRAPPERS: &[(&str, Source)] = &[
    ("Records", Source::CloudTrail),
    ("value", Source::Entra),
    ("items", Source::GWorkspace),
    ("entries", Source::Gcp),
];

/// The input after gzip detection.
enum Input<R: Read> {
    Plain(Chain<Cursor<Vec<u8>>, R>),
    Gzip(Box<MultiGzDecoder<Chain<Cursor<Vec<u8>>, R>>>),
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::Plain(r) => r.read(buf),
            Input::Gzip(r) => r.read(buf),
        }
    }
}

/// A buffered reader that counts newlines, can record the bytes it hands out, and refuses to hand
/// out more than `MAX_EVENT_BYTES` for one event.
struct Recorder<B: BufRead> {
    inner: B,
    newlines: u64,
    record: Option<Vec<u8>>,
    since_start: usize,
}

impl<B: BufRead> Recorder<B> {
    fn start_event(&mut self) {
        self.since_start = 0;
    }

    fn over_budget(&self) -> bool {
        self.since_start > MAX_EVENT_BYTES
    }

    /// 1-based line of the next byte.
    fn line(&self) -> u64 {
        self.newlines + 1
    }
}

impl<B: BufRead> Read for Recorder<B> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<B: BufRead> BufRead for Recorder<B> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.over_budget() {
            return Err(io::Error::other(format!("event is larger than {MAX_EVENT_BYTES} bytes")));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        // The bytes being consumed are in the buffer already (callers consume what fill_buf gave).
        if let Ok(buf) = self.inner.fill_buf() {
            let taken = &buf[..n.min(buf.len())];
            self.newlines += taken.iter().filter(|b| **b == b'\n').count() as u64;
            if let Some(rec) = &mut self.record {
                rec.extend_from_slice(taken);
            }
        }
        self.since_start += n;
        self.inner.consume(n);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Lines,
    Array { wrapped: bool },
    Done,
}

/// Iterator over the raw events of one input. Yields `Err` for an event that cannot be read; in
/// JSON Lines the next line is read after that, in an array the iterator ends.
pub struct EventReader<R: Read> {
    source: Source,
    r: Recorder<BufReader<Input<R>>>,
    mode: Mode,
    /// Elements read so far (the position of array events counts across concatenated wrappers).
    elements: u64,
    /// Elements read from the current array.
    in_current: u64,
    stash: Option<Result<RawEvent, ImportError>>,
    checked: bool,
}

/// Opens an input of `source`: detects gzip by its magic bytes and the framing (JSON Lines, JSON
/// array, or a wrapper object), and checks that the first event is one of `source`'s events.
pub fn read_events<R: Read>(source: Source, mut input: R) -> Result<EventReader<R>, ImportError> {
    let mut magic = Vec::with_capacity(2);
    input
        .by_ref()
        .take(2)
        .read_to_end(&mut magic)
        .map_err(|e| ImportError::Io { pos: Position::Line(1), source: e })?;
    let gzip = magic == [0x1f, 0x8b];
    let chained = Cursor::new(magic).chain(input);
    let inner = if gzip { Input::Gzip(Box::new(MultiGzDecoder::new(chained))) } else { Input::Plain(chained) };
    let mut reader = EventReader {
        source,
        r: Recorder { inner: BufReader::with_capacity(BUF_BYTES, inner), newlines: 0, record: None, since_start: 0 },
        mode: Mode::Done,
        elements: 0,
        in_current: 0,
        stash: None,
        checked: false,
    };
    reader.start()?;
    // Read the first event now so that a file of the wrong source fails here, with a clear message.
    if let Some(first) = reader.next() {
        match first {
            Err(e @ ImportError::WrongFormat { .. }) => return Err(e),
            other => reader.stash = Some(other),
        }
    }
    Ok(reader)
}

impl<R: Read> EventReader<R> {
    fn io_err(&self, pos: Position, e: io::Error) -> ImportError {
        ImportError::Io { pos, source: e }
    }

    fn structure(&self, pos: Position, detail: impl Into<String>) -> ImportError {
        ImportError::Structure { pos, detail: detail.into() }
    }

    fn here(&self) -> Position {
        match self.mode {
            Mode::Array { .. } => Position::Element(self.elements + 1),
            _ => Position::Line(self.r.line()),
        }
    }

    /// Peeks at the next byte.
    fn peek(&mut self) -> Result<Option<u8>, ImportError> {
        let pos = self.here();
        match self.r.fill_buf() {
            Ok(buf) => Ok(buf.first().copied()),
            Err(e) => Err(self.io_err(pos, e)),
        }
    }

    /// Skips JSON whitespace and returns the next byte without consuming it.
    fn skip_ws(&mut self) -> Result<Option<u8>, ImportError> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.r.consume(1),
                other => return Ok(other),
            }
        }
    }

    fn expect(&mut self, want: u8, what: &str) -> Result<(), ImportError> {
        let pos = self.here();
        match self.skip_ws()? {
            Some(b) if b == want => {
                self.r.consume(1);
                Ok(())
            }
            Some(b) => Err(self.structure(pos, format!("expected {what}, found `{}`", b as char))),
            None => Err(self.structure(pos, format!("expected {what}, found the end of the input"))),
        }
    }

    /// Detects the framing at the start of the input.
    fn start(&mut self) -> Result<(), ImportError> {
        // A UTF-8 byte-order mark is not part of the JSON (read byte by byte: reads may be short).
        if self.peek()? == Some(0xEF) {
            for want in [0xEF, 0xBB, 0xBF] {
                if self.peek()? != Some(want) {
                    return Err(self.structure(Position::Line(1), "invalid byte-order mark"));
                }
                self.r.consume(1);
            }
        }
        match self.skip_ws()? {
            None => self.mode = Mode::Done,
            Some(b'[') => {
                self.r.consume(1);
                self.mode = Mode::Array { wrapped: false };
            }
            Some(b'{') => {
                if let Some(first) = self.open_object()? {
                    self.mode = Mode::Lines;
                    self.stash = Some(Ok(first));
                }
            }
            Some(_) => self.mode = Mode::Lines,
        }
        Ok(())
    }

    /// Reads an object at the start of the input (or after a wrapper): either a wrapper whose event
    /// array starts (returns `None`, mode set to the array), or the first event of JSON Lines.
    fn open_object(&mut self) -> Result<Option<RawEvent>, ImportError> {
        let start = Position::Line(self.r.line());
        self.r.record = Some(Vec::new());
        self.r.start_event();
        let result = self.scan_object(start);
        let recorded = self.r.record.take().unwrap_or_default();
        match result? {
            Some(key) => {
                let owner = WRAPPERS.iter().find(|(k, _)| *k == key).map(|(_, s)| *s).unwrap_or(self.source);
                if owner != self.source {
                    return Err(ImportError::WrongFormat {
                        pos: start,
                        expected: self.source.name(),
                        detail: format!("the input is a {{\"{key}\": [...]}} export, the form {owner} exports take"),
                    });
                }
                self.mode = Mode::Array { wrapped: true };
                self.in_current = 0;
                Ok(None)
            }
            None => {
                let line = match start {
                    Position::Line(n) | Position::Element(n) => n,
                };
                Ok(Some(RawEvent { line, in_array: false, bytes: recorded }))
            }
        }
    }

    /// Scans `{ "k": v, ... }` until a wrapper key holding an array (returns the key, the `[` is
    /// consumed) or the end of the object (returns `None`, the `}` is consumed).
    fn scan_object(&mut self, start: Position) -> Result<Option<String>, ImportError> {
        self.expect(b'{', "`{`")?;
        if self.skip_ws()? == Some(b'}') {
            self.r.consume(1);
            return Ok(None);
        }
        loop {
            let key = self.read_key(start)?;
            self.expect(b':', "`:` after a key")?;
            let next = self.skip_ws()?;
            if next == Some(b'[') && WRAPPERS.iter().any(|(k, _)| *k == key) {
                self.r.consume(1);
                return Ok(Some(key));
            }
            self.skip_value(start)?;
            match self.skip_ws()? {
                Some(b',') => self.r.consume(1),
                Some(b'}') => {
                    self.r.consume(1);
                    return Ok(None);
                }
                Some(b) => {
                    return Err(
                        self.structure(start, format!("expected `,` or `}}` in an object, found `{}`", b as char))
                    )
                }
                None => return Err(self.structure(start, "unexpected end of input inside an object (truncated?)")),
            }
        }
    }

    fn read_key(&mut self, pos: Position) -> Result<String, ImportError> {
        match self.skip_ws()? {
            Some(b'"') => {}
            Some(b) => return Err(self.structure(pos, format!("expected a key, found `{}`", b as char))),
            None => return Err(self.structure(pos, "unexpected end of input inside an object (truncated?)")),
        }
        let mut de = serde_json::Deserializer::from_reader(&mut self.r);
        String::deserialize(&mut de).map_err(|e| json_err(pos, e))
    }

    /// Skips one JSON value. Numbers are stepped over by hand: serde would read one byte past them.
    fn skip_value(&mut self, pos: Position) -> Result<(), ImportError> {
        match self.skip_ws()? {
            Some(b'-' | b'0'..=b'9') => {
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek()? {
                    self.r.consume(1);
                }
                Ok(())
            }
            Some(_) => {
                let mut de = serde_json::Deserializer::from_reader(&mut self.r);
                IgnoredAny::deserialize(&mut de).map(|_| ()).map_err(|e| json_err(pos, e))
            }
            None => Err(self.structure(pos, "unexpected end of input (truncated?)")),
        }
    }

    /// Finishes a wrapper object after its event array: skips the remaining members, then expects
    /// the end of input or another wrapper object (concatenated exports).
    fn close_wrapper(&mut self) -> Result<(), ImportError> {
        let pos = Position::Line(self.r.line());
        loop {
            match self.skip_ws()? {
                Some(b',') => {
                    self.r.consume(1);
                    self.read_key(pos)?;
                    self.expect(b':', "`:` after a key")?;
                    self.skip_value(pos)?;
                }
                Some(b'}') => {
                    self.r.consume(1);
                    break;
                }
                Some(b) => {
                    return Err(self
                        .structure(pos, format!("expected `,` or `}}` after the event array, found `{}`", b as char)))
                }
                None => return Err(self.structure(pos, "unexpected end of input after the event array (truncated?)")),
            }
        }
        match self.skip_ws()? {
            None => {
                self.mode = Mode::Done;
                Ok(())
            }
            Some(b'{') => match self.open_object()? {
                None => Ok(()),
                Some(_) => Err(self
                    .structure(Position::Line(self.r.line()), "expected another wrapper object after the first one")),
            },
            Some(b) => Err(self.structure(
                Position::Line(self.r.line()),
                format!("unexpected `{}` after the wrapper object", b as char),
            )),
        }
    }

    fn next_element(&mut self, wrapped: bool) -> Option<Result<RawEvent, ImportError>> {
        let n = self.elements + 1;
        let pos = Position::Element(n);
        let step = (|| -> Result<Option<RawEvent>, ImportError> {
            let mut next = self.skip_ws()?;
            if next == Some(b']') {
                self.r.consume(1);
                if wrapped {
                    self.close_wrapper()?;
                    return Ok(None);
                }
                self.mode = Mode::Done;
                return match self.skip_ws()? {
                    None => Ok(None),
                    Some(b) => Err(self.structure(pos, format!("unexpected `{}` after the array", b as char))),
                };
            }
            if self.in_current > 0 {
                match next {
                    Some(b',') => {
                        self.r.consume(1);
                        next = self.skip_ws()?;
                    }
                    Some(b) => {
                        return Err(self.structure(
                            pos,
                            format!("expected `,` or `]` after element {}, found `{}`", n - 1, b as char),
                        ))
                    }
                    None => {
                        return Err(self.structure(pos, "unexpected end of input; the array is not closed (truncated?)"))
                    }
                }
            }
            match next {
                Some(b'{') => {}
                Some(b) => return Err(self.structure(pos, format!("expected a json object, found `{}`", b as char))),
                None => {
                    return Err(self.structure(pos, "unexpected end of input; the array is not closed (truncated?)"))
                }
            }
            self.r.start_event();
            let mut de = serde_json::Deserializer::from_reader(&mut self.r);
            let raw = Box::<RawValue>::deserialize(&mut de).map_err(|e| json_err(pos, e))?;
            self.elements = n;
            self.in_current += 1;
            Ok(Some(RawEvent { line: n, in_array: true, bytes: raw.get().as_bytes().to_vec() }))
        })();
        match step {
            Ok(Some(ev)) => Some(Ok(ev)),
            Ok(None) => match self.mode {
                Mode::Array { wrapped } => self.next_element(wrapped),
                _ => None,
            },
            Err(e) => {
                self.mode = Mode::Done;
                Some(Err(e))
            }
        }
    }

    fn next_line(&mut self) -> Option<Result<RawEvent, ImportError>> {
        loop {
            let line = self.r.line();
            let pos = Position::Line(line);
            self.r.start_event();
            let mut buf = Vec::new();
            match self.r.read_until(b'\n', &mut buf) {
                Ok(0) => {
                    self.mode = Mode::Done;
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.mode = Mode::Done;
                    return Some(Err(self.io_err(pos, e)));
                }
            }
            let text = buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            if !text.starts_with(b"{") {
                let detail = "expected a json object on each line";
                return Some(Err(self.structure(pos, detail)));
            }
            if let Err(e) = serde_json::from_slice::<IgnoredAny>(text) {
                return Some(Err(json_err(pos, e)));
            }
            return Some(Ok(RawEvent { line, in_array: false, bytes: text.to_vec() }));
        }
    }

    fn advance(&mut self) -> Option<Result<RawEvent, ImportError>> {
        if let Some(stashed) = self.stash.take() {
            return Some(stashed);
        }
        match self.mode {
            Mode::Done => None,
            Mode::Lines => self.next_line(),
            Mode::Array { wrapped } => self.next_element(wrapped),
        }
    }
}

fn json_err(pos: Position, e: serde_json::Error) -> ImportError {
    if e.is_io() {
        ImportError::Io { pos, source: io::Error::other(e.to_string()) }
    } else {
        ImportError::Json { pos, source: e }
    }
}

impl<R: Read> Iterator for EventReader<R> {
    type Item = Result<RawEvent, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.advance()?;
        if let (Ok(ev), false) = (&item, self.checked) {
            self.checked = true;
            if let Err(e) = source_check(self.source, ev) {
                self.mode = Mode::Done;
                return Some(Err(e));
            }
        }
        Some(item)
    }
}
