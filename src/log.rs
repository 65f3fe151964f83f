//! The evidence store: append-only segment files in `log/`, their framing, durable appends, scanning,
//! torn-tail recovery and the crash-safe rewrite that erasure uses.
//!
//! This is the "store" step. `docs/FORMAT.md` ("Segment files") specifies the bytes so that an
//! auditor can read a ledger without custody or sled. An append is acknowledged only after
//! `fdatasync` of the segment (and of the directory when a segment is created). A crash can leave a
//! torn last frame, or the first frames of a batch without the frame that ends it; neither was ever
//! acknowledged. The scanner tells them apart from damage anywhere else: damage is torn only if no
//! valid frame follows it in the last segment. This module knows frames and bytes, not entries: it
//! never decodes signed bytes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::entry::{Entry, LedgerId, Signature};

/// First bytes of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"CSTDYLOG";
/// Segment header format version.
pub const SEGMENT_VERSION: u32 = 1;
/// Size of the segment header in bytes.
pub const SEGMENT_HEADER_LEN: u64 = 40;
/// First bytes of every frame.
pub const FRAME_MAGIC: &[u8; 4] = b"CSTE";
/// Frame flag: this frame ends a batch (a single append is a batch of one).
pub const FLAG_END_OF_BATCH: u8 = 0x01;
/// Bytes of framing around the payload: magic, flags, length, crc.
pub const FRAME_OVERHEAD: u64 = 4 + 1 + 4 + 4;
/// The largest payload a frame may declare.
pub const MAX_PAYLOAD: u32 = 4 << 20;
/// A segment is closed and a new one started once it holds this many bytes.
pub const SEGMENT_TARGET_BYTES: u64 = 64 << 20;

/// I/O and framing problems, with the file and offset involved.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("segment {path}: {problem}")]
    Segment { path: String, problem: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LogError + '_ {
    move |source| LogError::Io { path: path.display().to_string(), source }
}

/// Where a frame sits: which segment (named by its first seq) and the byte offset of its magic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameLoc {
    pub segment: u64,
    pub offset: u64,
    /// Whole frame length including framing.
    pub len: u32,
}

/// One frame's payload, split into its parts but not decoded.
#[derive(Clone, Debug)]
pub struct RawFrame {
    pub loc: FrameLoc,
    pub flags: u8,
    pub signed: Vec<u8>,
    pub signature: Signature,
    pub openings: Vec<u8>,
}

/// Encodes one frame.
pub fn encode_frame(flags: u8, signed: &[u8], signature: &Signature, openings: &[u8]) -> Vec<u8> {
    let payload_len = 4 + signed.len() + 64 + openings.len();
    let mut f = Vec::with_capacity(payload_len + FRAME_OVERHEAD as usize);
    f.extend_from_slice(FRAME_MAGIC);
    f.push(flags);
    f.extend_from_slice(&(payload_len as u32).to_be_bytes());
    f.extend_from_slice(&(signed.len() as u32).to_be_bytes());
    f.extend_from_slice(signed);
    f.extend_from_slice(signature);
    f.extend_from_slice(openings);
    let crc = crc32fast::hash(&f[4..]);
    f.extend_from_slice(&crc.to_be_bytes());
    f
}

/// Encodes an entry as a frame.
pub fn entry_frame(flags: u8, e: &Entry) -> Vec<u8> {
    encode_frame(flags, &e.bytes, &e.signature, &e.openings.encode())
}

/// What is wrong with the bytes at a frame position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameProblem {
    /// The file ends inside the frame.
    Short,
    BadMagic,
    BadFlags(u8),
    BadLength(u32),
    BadChecksum,
    /// The payload's inner lengths do not add up.
    BadPayload,
}

impl std::fmt::Display for FrameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameProblem::Short => write!(f, "the file ends inside the frame"),
            FrameProblem::BadMagic => write!(f, "frame magic is not `CSTE`"),
            FrameProblem::BadFlags(x) => write!(f, "unknown frame flags {x:#04x}"),
            FrameProblem::BadLength(n) => write!(f, "frame length {n} is out of range"),
            FrameProblem::BadChecksum => write!(f, "frame checksum does not match"),
            FrameProblem::BadPayload => write!(f, "frame payload lengths are inconsistent"),
        }
    }
}

/// A frame's parts, as parsed: flags, signed bytes, signature, openings, and its total length.
pub type ParsedFrame = (u8, Vec<u8>, Signature, Vec<u8>, usize);

/// Parses one frame at the start of `buf`. Returns the frame parts and its total length.
pub fn parse_frame(buf: &[u8]) -> Result<ParsedFrame, FrameProblem> {
    if buf.len() < 9 {
        return Err(FrameProblem::Short);
    }
    if &buf[..4] != FRAME_MAGIC {
        return Err(FrameProblem::BadMagic);
    }
    let flags = buf[4];
    let len = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]);
    if !(4 + 64..=MAX_PAYLOAD).contains(&len) {
        return Err(FrameProblem::BadLength(len));
    }
    let total = 9 + len as usize + 4;
    if buf.len() < total {
        return Err(FrameProblem::Short);
    }
    let crc = u32::from_be_bytes(buf[total - 4..total].try_into().unwrap_or([0; 4]));
    if crc32fast::hash(&buf[4..total - 4]) != crc {
        return Err(FrameProblem::BadChecksum);
    }
    if flags & !FLAG_END_OF_BATCH != 0 {
        return Err(FrameProblem::BadFlags(flags));
    }
    let p = &buf[9..total - 4];
    let slen = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
    if 4 + slen + 64 > p.len() {
        return Err(FrameProblem::BadPayload);
    }
    let signed = p[4..4 + slen].to_vec();
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&p[4 + slen..4 + slen + 64]);
    let openings = p[4 + slen + 64..].to_vec();
    Ok((flags, signed, sig, openings, total))
}

/// The header of a segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub ledger_id: LedgerId,
    pub first_seq: u64,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN as usize] {
        let mut b = [0u8; SEGMENT_HEADER_LEN as usize];
        b[..8].copy_from_slice(SEGMENT_MAGIC);
        b[8..12].copy_from_slice(&SEGMENT_VERSION.to_be_bytes());
        b[12..28].copy_from_slice(&self.ledger_id);
        b[28..36].copy_from_slice(&self.first_seq.to_be_bytes());
        let crc = crc32fast::hash(&b[..36]);
        b[36..40].copy_from_slice(&crc.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Result<Self, String> {
        if b.len() < SEGMENT_HEADER_LEN as usize {
            return Err(format!("header is {} bytes; it must be {SEGMENT_HEADER_LEN}", b.len()));
        }
        if &b[..8] != SEGMENT_MAGIC {
            return Err("does not start with `CSTDYLOG`".into());
        }
        let crc = u32::from_be_bytes([b[36], b[37], b[38], b[39]]);
        if crc32fast::hash(&b[..36]) != crc {
            return Err("header checksum does not match".into());
        }
        let version = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
        if version != SEGMENT_VERSION {
            return Err(format!("segment version {version} is not supported (this custody reads {SEGMENT_VERSION})"));
        }
        let mut ledger_id = [0u8; 16];
        ledger_id.copy_from_slice(&b[12..28]);
        let first_seq = u64::from_be_bytes(b[28..36].try_into().unwrap_or([0; 8]));
        Ok(SegmentHeader { ledger_id, first_seq })
    }
}

/// The file name of the segment whose first entry has seq `first_seq`.
pub fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.seg")
}

/// The segments of a log directory, in log order (by first seq from the file name).
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, LogError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let e = e.map_err(io_err(dir))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".seg") {
            if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(n) = stem.parse::<u64>() {
                    out.push((n, e.path()));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Syncs a directory so that creates and renames in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

/// What the scanner found at one place in the log.
#[derive(Debug)]
pub enum ScanItem {
    Frame(RawFrame),
    /// Bytes that are not a valid frame, followed by valid data (or in a segment that is not the
    /// last): an integrity failure.
    Damage {
        segment: u64,
        path: PathBuf,
        offset: u64,
        problem: String,
    },
    /// A segment whose header is unreadable (an integrity failure unless it is the torn tail).
    BadSegment {
        segment: u64,
        path: PathBuf,
        problem: String,
    },
}

/// What ends the log: cleanly, or with a torn tail that was never acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tail {
    Clean,
    Torn {
        segment: u64,
        path: PathBuf,
        /// Offset where the unacknowledged bytes begin.
        offset: u64,
        /// How many bytes follow that offset.
        bytes: u64,
        /// Frames that were complete but belonged to a batch without its end frame.
        incomplete_batch_frames: u64,
        problem: String,
    },
}

/// Streams the frames of a log directory in order. Memory is bounded by one segment's damaged
/// remainder (only read when damage is found) and one unfinished batch.
pub struct Scanner {
    segments: Vec<(u64, PathBuf)>,
    next_segment: usize,
    current: Option<(u64, PathBuf, BufReader<File>, u64, u64)>,
    /// Frames of a batch whose end frame has not been seen yet.
    pending: Vec<RawFrame>,
    ready: std::collections::VecDeque<ScanItem>,
    tail: Tail,
    done: bool,
}

impl Scanner {
    /// Scans every segment of `dir`.
    pub fn open(dir: &Path) -> Result<Self, LogError> {
        Ok(Self::over(list_segments(dir)?))
    }

    /// Scans the given segments (used to start from a known segment).
    pub fn over(segments: Vec<(u64, PathBuf)>) -> Self {
        Scanner {
            segments,
            next_segment: 0,
            current: None,
            pending: Vec::new(),
            ready: Default::default(),
            tail: Tail::Clean,
            done: false,
        }
    }

    /// Skips to the frame at `offset` of segment `segment` (which must be the first listed).
    pub fn seek(&mut self, offset: u64) -> Result<(), LogError> {
        self.open_next()?;
        if let Some((_, path, r, pos, _)) = &mut self.current {
            r.seek(SeekFrom::Start(offset)).map_err(io_err(path))?;
            *pos = offset;
        }
        Ok(())
    }

    /// How the log ended; meaningful once the iterator is exhausted.
    pub fn tail(&self) -> &Tail {
        &self.tail
    }

    fn is_last_segment(&self) -> bool {
        self.next_segment >= self.segments.len()
    }

    fn open_next(&mut self) -> Result<bool, LogError> {
        while self.next_segment < self.segments.len() {
            let (seg, path) = self.segments[self.next_segment].clone();
            self.next_segment += 1;
            let f = File::open(&path).map_err(io_err(&path))?;
            let len = f.metadata().map_err(io_err(&path))?.len();
            let mut r = BufReader::with_capacity(1 << 20, f);
            let mut hdr = vec![0u8; SEGMENT_HEADER_LEN.min(len) as usize];
            r.read_exact(&mut hdr).map_err(io_err(&path))?;
            match SegmentHeader::decode(&hdr) {
                Ok(h) if h.first_seq == seg => {
                    self.current = Some((seg, path, r, SEGMENT_HEADER_LEN, len));
                    return Ok(true);
                }
                Ok(h) => self.ready.push_back(ScanItem::BadSegment {
                    segment: seg,
                    path,
                    problem: format!("header says first seq {} but the file name says {seg}", h.first_seq),
                }),
                Err(problem) if self.is_last_segment() && len < SEGMENT_HEADER_LEN => {
                    self.tail =
                        Tail::Torn { segment: seg, path, offset: 0, bytes: len, incomplete_batch_frames: 0, problem };
                }
                Err(problem) => self.ready.push_back(ScanItem::BadSegment { segment: seg, path, problem }),
            }
            if !self.ready.is_empty() {
                return Ok(false);
            }
        }
        Ok(false)
    }

    /// Reads the next item from the current segment, handling damage and segment ends.
    fn step(&mut self) -> Result<(), LogError> {
        if self.current.is_none() && !self.open_next()? {
            if self.ready.is_empty() && self.next_segment >= self.segments.len() {
                self.finish();
            }
            return Ok(());
        }
        let Some((seg, path, r, pos, len)) = &mut self.current else {
            return Ok(());
        };
        let (seg, offset) = (*seg, *pos);
        if offset == *len {
            self.current = None;
            return Ok(());
        }
        let mut head = [0u8; 9];
        let avail = *len - offset;
        let problem = if avail < 9 {
            FrameProblem::Short
        } else {
            r.read_exact(&mut head).map_err(io_err(path))?;
            let plen = u32::from_be_bytes([head[5], head[6], head[7], head[8]]);
            if &head[..4] != FRAME_MAGIC {
                FrameProblem::BadMagic
            } else if !(68..=MAX_PAYLOAD).contains(&plen) {
                FrameProblem::BadLength(plen)
            } else if (plen as u64 + 13) > avail {
                FrameProblem::Short
            } else {
                let mut buf = vec![0u8; plen as usize + 13];
                buf[..9].copy_from_slice(&head);
                r.read_exact(&mut buf[9..]).map_err(io_err(path))?;
                match parse_frame(&buf) {
                    Ok((flags, signed, signature, openings, total)) => {
                        *pos += total as u64;
                        let frame = RawFrame {
                            loc: FrameLoc { segment: seg, offset, len: total as u32 },
                            flags,
                            signed,
                            signature,
                            openings,
                        };
                        self.pending.push(frame);
                        if flags & FLAG_END_OF_BATCH != 0 {
                            self.ready.extend(self.pending.drain(..).map(ScanItem::Frame));
                        }
                        return Ok(());
                    }
                    Err(p) => p,
                }
            }
        };
        // Damage at `offset`. It is a torn tail only in the last segment with no valid frame after.
        let path = path.clone();
        let total_len = *len;
        let last = self.is_last_segment();
        let follows = valid_frame_after(&path, offset + 1, total_len)?;
        if last && !follows {
            let incomplete = self.pending.len() as u64;
            let start = self.pending.first().map(|f| f.loc.offset).unwrap_or(offset);
            self.pending.clear();
            self.tail = Tail::Torn {
                segment: seg,
                path,
                offset: start,
                bytes: total_len - start,
                incomplete_batch_frames: incomplete,
                problem: problem.to_string(),
            };
            self.current = None;
            self.done = true;
        } else {
            // Report it and continue at the next valid frame (or the end of this segment).
            self.ready.extend(self.pending.drain(..).map(ScanItem::Frame));
            self.ready.push_back(ScanItem::Damage {
                segment: seg,
                path: path.clone(),
                offset,
                problem: problem.to_string(),
            });
            let resume = next_valid_frame(&path, offset + 1, total_len)?.unwrap_or(total_len);
            if let Some((_, _, r, pos, _)) = &mut self.current {
                r.seek(SeekFrom::Start(resume)).map_err(io_err(&path))?;
                *pos = resume;
            }
        }
        Ok(())
    }

    fn finish(&mut self) {
        if !self.pending.is_empty() && !self.done {
            let first = &self.pending[0];
            let path =
                self.segments.iter().find(|(s, _)| *s == first.loc.segment).map(|(_, p)| p.clone()).unwrap_or_default();
            let last = self.pending.last().map(|f| f.loc.offset + f.loc.len as u64).unwrap_or(0);
            self.tail = Tail::Torn {
                segment: first.loc.segment,
                path,
                offset: first.loc.offset,
                bytes: last - first.loc.offset,
                incomplete_batch_frames: self.pending.len() as u64,
                problem: "a batch ends without its end-of-batch frame".into(),
            };
            self.pending.clear();
        }
        self.done = true;
    }
}

impl Iterator for Scanner {
    type Item = Result<ScanItem, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(Ok(item));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.step() {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

/// Reads the remainder of a segment from `from` (only when damage was found).
fn read_rest(path: &Path, from: u64, len: u64) -> Result<Vec<u8>, LogError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    f.seek(SeekFrom::Start(from)).map_err(io_err(path))?;
    let mut buf = Vec::with_capacity(len.saturating_sub(from) as usize);
    f.take(len.saturating_sub(from)).read_to_end(&mut buf).map_err(io_err(path))?;
    Ok(buf)
}

/// The offset of the first valid frame at or after `from`, if any.
fn next_valid_frame(path: &Path, from: u64, len: u64) -> Result<Option<u64>, LogError> {
    if from >= len {
        return Ok(None);
    }
    let buf = read_rest(path, from, len)?;
    let mut i = 0;
    while i + 4 <= buf.len() {
        if &buf[i..i + 4] == FRAME_MAGIC && parse_frame(&buf[i..]).is_ok() {
            return Ok(Some(from + i as u64));
        }
        i += 1;
    }
    Ok(None)
}

fn valid_frame_after(path: &Path, from: u64, len: u64) -> Result<bool, LogError> {
    Ok(next_valid_frame(path, from, len)?.is_some())
}

/// Frames written by [`Appender::write`], not yet synced.
#[must_use = "written frames are not durable until Appender::sync"]
pub struct Written {
    start: u64,
    end: u64,
    locs: Vec<FrameLoc>,
}

impl Written {
    /// Where the frames are (not yet durable).
    pub fn locs(&self) -> &[FrameLoc] {
        &self.locs
    }
}

/// Writes every buffer in order with as few `writev` calls as the kernel allows.
fn write_all_vectored(file: &mut impl Write, bufs: &[Vec<u8>]) -> std::io::Result<()> {
    use std::io::IoSlice;
    let mut i = 0; // first buffer not fully written
    let mut off = 0; // bytes of bufs[i] already written
    while i < bufs.len() {
        // At most 1024 slices per call (IOV_MAX on Linux).
        let end = bufs.len().min(i + 1024);
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(end - i);
        slices.push(IoSlice::new(&bufs[i][off..]));
        slices.extend(bufs[i + 1..end].iter().map(|b| IoSlice::new(b)));
        let mut n = match file.write_vectored(&slices) {
            Ok(0) => return Err(std::io::Error::new(std::io::ErrorKind::WriteZero, "failed to write frames")),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        while i < bufs.len() && n >= bufs[i].len() - off {
            n -= bufs[i].len() - off;
            i += 1;
            off = 0;
        }
        off += n;
    }
    Ok(())
}

/// The writable end of the log: the active segment and the knowledge needed to rotate.
pub struct Appender {
    dir: PathBuf,
    ledger_id: LedgerId,
    active_seq: u64,
    active_path: PathBuf,
    file: File,
    len: u64,
    /// How long the last `fdatasync` took.
    last_sync: std::time::Duration,
}

impl Appender {
    /// Creates the first segment of a new log (the directory must exist and be empty of segments).
    pub fn create(dir: &Path, ledger_id: LedgerId) -> Result<Self, LogError> {
        let path = dir.join(segment_name(0));
        let mut f = OpenOptions::new().create_new(true).read(true).write(true).open(&path).map_err(io_err(&path))?;
        f.write_all(&SegmentHeader { ledger_id, first_seq: 0 }.encode()).map_err(io_err(&path))?;
        f.sync_all().map_err(io_err(&path))?;
        sync_dir(dir)?;
        Ok(Appender {
            dir: dir.to_path_buf(),
            ledger_id,
            active_seq: 0,
            active_path: path,
            file: f,
            len: SEGMENT_HEADER_LEN,
            last_sync: std::time::Duration::ZERO,
        })
    }

    /// Opens the last segment for appending at `len` (the end of its last valid frame).
    pub fn open(dir: &Path, ledger_id: LedgerId, active_seq: u64, len: u64) -> Result<Self, LogError> {
        let path = dir.join(segment_name(active_seq));
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(io_err(&path))?;
        Ok(Appender {
            dir: dir.to_path_buf(),
            ledger_id,
            active_seq,
            active_path: path,
            file,
            len,
            last_sync: std::time::Duration::ZERO,
        })
    }

    /// How long the last append's `fdatasync` took.
    pub fn last_sync(&self) -> std::time::Duration {
        self.last_sync
    }

    /// The active segment and the offset the next frame will get.
    pub fn position(&self) -> (u64, u64) {
        (self.active_seq, self.len)
    }

    /// Writes `frames` (already encoded, the last one flagged end-of-batch) and makes them durable
    /// before returning their locations. `first_seq` is the seq of the first frame, used to name a
    /// new segment when the active one is full. On any error the segment is cut back to where it was,
    /// so a failed append leaves nothing behind.
    pub fn append(&mut self, first_seq: u64, frames: &[Vec<u8>]) -> Result<Vec<FrameLoc>, LogError> {
        let written = self.write(first_seq, frames)?;
        self.sync(written)
    }

    /// The first half of [`Appender::append`]: writes the frames (one `writev` per call, no copy
    /// into one buffer) but does not sync them; [`Appender::sync`] must follow before anything is
    /// acknowledged, and before the next write.
    pub fn write(&mut self, first_seq: u64, frames: &[Vec<u8>]) -> Result<Written, LogError> {
        if self.len >= SEGMENT_TARGET_BYTES {
            self.rotate(first_seq)?;
        }
        let start = self.len;
        let mut locs = Vec::with_capacity(frames.len());
        let mut end = start;
        for f in frames {
            locs.push(FrameLoc { segment: self.active_seq, offset: end, len: f.len() as u32 });
            end += f.len() as u64;
        }
        let res = self.file.seek(SeekFrom::Start(start)).and_then(|_| write_all_vectored(&mut self.file, frames));
        if let Err(e) = res {
            return Err(self.cut_back(start, e));
        }
        Ok(Written { start, end, locs })
    }

    /// The second half of [`Appender::append`]: `fdatasync`s what [`Appender::write`] wrote and
    /// returns its locations, durable. On failure the segment is cut back.
    pub fn sync(&mut self, written: Written) -> Result<Vec<FrameLoc>, LogError> {
        let t = std::time::Instant::now();
        let res = self.file.sync_data();
        self.last_sync = t.elapsed();
        if let Err(e) = res {
            return Err(self.cut_back(written.start, e));
        }
        self.len = written.end;
        Ok(written.locs)
    }

    /// Cuts the segment back to `start`: a batch that was never acknowledged must not half-exist.
    fn cut_back(&mut self, start: u64, e: std::io::Error) -> LogError {
        let _ = self.file.set_len(start).and_then(|_| self.file.sync_data());
        LogError::Io { path: self.active_path.display().to_string(), source: e }
    }

    fn rotate(&mut self, first_seq: u64) -> Result<(), LogError> {
        let path = self.dir.join(segment_name(first_seq));
        let mut f = OpenOptions::new().create_new(true).read(true).write(true).open(&path).map_err(io_err(&path))?;
        f.write_all(&SegmentHeader { ledger_id: self.ledger_id, first_seq }.encode()).map_err(io_err(&path))?;
        f.sync_all().map_err(io_err(&path))?;
        sync_dir(&self.dir)?;
        self.file = f;
        self.active_seq = first_seq;
        self.active_path = path;
        self.len = SEGMENT_HEADER_LEN;
        Ok(())
    }

    /// Re-opens the active segment after it was replaced by [`rewrite_segment`].
    pub fn reopen(&mut self) -> Result<(), LogError> {
        let file =
            OpenOptions::new().read(true).write(true).open(&self.active_path).map_err(io_err(&self.active_path))?;
        self.len = file.metadata().map_err(io_err(&self.active_path))?.len();
        self.file = file;
        Ok(())
    }
}

/// Moves a torn tail aside into `quarantine_dir` (durably), then cuts the segment back to `offset`.
/// Returns the quarantine file's path. Torn bytes were never acknowledged; they are kept, not deleted.
pub fn quarantine_tail(segment_path: &Path, offset: u64, quarantine_dir: &Path) -> Result<PathBuf, LogError> {
    fs::create_dir_all(quarantine_dir).map_err(io_err(quarantine_dir))?;
    let len = fs::metadata(segment_path).map_err(io_err(segment_path))?.len();
    let bytes = read_rest(segment_path, offset, len)?;
    let name = format!(
        "{}-at-{offset}-{}.torn",
        segment_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        crate::time::Timestamp::now().nanos()
    );
    let qpath = quarantine_dir.join(name);
    let mut q = OpenOptions::new().create_new(true).write(true).open(&qpath).map_err(io_err(&qpath))?;
    q.write_all(&bytes).and_then(|_| q.sync_all()).map_err(io_err(&qpath))?;
    sync_dir(quarantine_dir)?;
    if offset == 0 {
        // The segment header itself was torn: the whole file was never part of the ledger.
        fs::remove_file(segment_path).map_err(io_err(segment_path))?;
        if let Some(parent) = segment_path.parent() {
            sync_dir(parent)?;
        }
    } else {
        let f = OpenOptions::new().write(true).open(segment_path).map_err(io_err(segment_path))?;
        f.set_len(offset).and_then(|_| f.sync_all()).map_err(io_err(segment_path))?;
    }
    Ok(qpath)
}

/// Rewrites one segment with some frames' openings replaced, crash-safely: the new file is written
/// and synced beside the old one, renamed over it, and the directory is synced. Signed bytes and
/// signatures are copied unchanged. `edit` returns new openings bytes for a frame, or `None` to keep
/// it. Returns the new location of every frame, in order.
pub fn rewrite_segment(
    path: &Path,
    edit: &mut dyn FnMut(&RawFrame) -> Option<Vec<u8>>,
) -> Result<Vec<(RawFrame, FrameLoc)>, LogError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let seg = path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u64>().ok()).ok_or_else(|| {
        LogError::Segment { path: path.display().to_string(), problem: "not a segment file name".into() }
    })?;
    let tmp = path.with_extension("seg.rewrite");
    let _ = fs::remove_file(&tmp);
    let mut out = OpenOptions::new().create_new(true).write(true).open(&tmp).map_err(io_err(&tmp))?;
    let mut header = vec![0u8; SEGMENT_HEADER_LEN as usize];
    File::open(path).and_then(|mut f| f.read_exact(&mut header)).map_err(io_err(path))?;
    out.write_all(&header).map_err(io_err(&tmp))?;
    let mut pos = SEGMENT_HEADER_LEN;
    let mut moved = Vec::new();
    for item in Scanner::over(vec![(seg, path.to_path_buf())]) {
        match item? {
            ScanItem::Frame(f) => {
                let openings = edit(&f).unwrap_or_else(|| f.openings.clone());
                let bytes = encode_frame(f.flags, &f.signed, &f.signature, &openings);
                out.write_all(&bytes).map_err(io_err(&tmp))?;
                let loc = FrameLoc { segment: seg, offset: pos, len: bytes.len() as u32 };
                pos += bytes.len() as u64;
                moved.push((RawFrame { openings, ..f }, loc));
            }
            other => {
                let _ = fs::remove_file(&tmp);
                return Err(LogError::Segment {
                    path: path.display().to_string(),
                    problem: format!("cannot rewrite a damaged segment ({other:?}); run `custody verify` first"),
                });
            }
        }
    }
    out.sync_all().map_err(io_err(&tmp))?;
    drop(out);
    fs::rename(&tmp, path).map_err(io_err(path))?;
    sync_dir(dir)?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `step` bytes per call, as a kernel may under pressure.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
            let mut left = self.step;
            for b in bufs {
                let n = b.len().min(left);
                self.out.extend_from_slice(&b[..n]);
                left -= n;
                if left == 0 {
                    break;
                }
            }
            Ok(self.step - left)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Short writes resume exactly where they stopped, inside a frame or between frames.
    #[test]
    fn vectored_writes_survive_short_writes() {
        let bufs: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; (i as usize * 7) % 23 + 1]).collect();
        let want = bufs.concat();
        for step in [1, 2, 5, 22, 23, 24, 100, 10_000] {
            let mut t = Trickle { out: Vec::new(), step };
            write_all_vectored(&mut t, &bufs).unwrap();
            assert_eq!(t.out, want, "step {step}");
        }
    }

    fn frame(n: u8, flags: u8) -> Vec<u8> {
        encode_frame(flags, &[n; 10], &[n; 64], &[0])
    }

    fn scan(dir: &Path) -> (Vec<ScanItem>, Tail) {
        let mut s = Scanner::open(dir).unwrap();
        let items: Vec<_> = s.by_ref().map(Result::unwrap).collect();
        (items, s.tail().clone())
    }

    #[test]
    fn append_scan_and_torn_tail() {
        let d = tempfile::tempdir().unwrap();
        let mut a = Appender::create(d.path(), [1; 16]).unwrap();
        a.append(0, &[frame(1, FLAG_END_OF_BATCH)]).unwrap();
        a.append(1, &[frame(2, 0), frame(3, FLAG_END_OF_BATCH)]).unwrap();
        let (items, tail) = scan(d.path());
        assert_eq!(items.len(), 3);
        assert_eq!(tail, Tail::Clean);

        // A batch without its end frame at the tail was never acknowledged.
        a.append(3, &[frame(4, 0)]).unwrap();
        let (items, tail) = scan(d.path());
        assert_eq!(items.len(), 3);
        assert!(matches!(tail, Tail::Torn { incomplete_batch_frames: 1, .. }));

        // A torn last frame is the tail; damage followed by a valid frame is not.
        let p = d.path().join(segment_name(0));
        let len = fs::metadata(&p).unwrap().len();
        let f = OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(len - 5).unwrap();
        let (items, tail) = scan(d.path());
        assert_eq!(items.len(), 3);
        assert!(matches!(tail, Tail::Torn { .. }));
        let q = quarantine_tail(
            &p,
            match tail {
                Tail::Torn { offset, .. } => offset,
                _ => unreachable!(),
            },
            &d.path().join("q"),
        )
        .unwrap();
        assert!(q.exists());
        assert_eq!(scan(d.path()).1, Tail::Clean);

        let mut bytes = fs::read(&p).unwrap();
        bytes[SEGMENT_HEADER_LEN as usize + 12] ^= 1;
        fs::write(&p, &bytes).unwrap();
        let (items, tail) = scan(d.path());
        assert_eq!(tail, Tail::Clean);
        assert!(matches!(items[0], ScanItem::Damage { .. }), "{items:?}");
        assert_eq!(items.iter().filter(|i| matches!(i, ScanItem::Frame(_))).count(), 2);
    }

    #[test]
    fn rewrite_keeps_signed_bytes() {
        let d = tempfile::tempdir().unwrap();
        let mut a = Appender::create(d.path(), [1; 16]).unwrap();
        a.append(0, &[frame(1, FLAG_END_OF_BATCH), frame(2, FLAG_END_OF_BATCH)]).unwrap();
        let p = d.path().join(segment_name(0));
        let moved = rewrite_segment(&p, &mut |f| (f.signed[0] == 2).then(|| vec![0, 0, 0])).unwrap();
        assert_eq!(moved.len(), 2);
        let (items, _) = scan(d.path());
        let ScanItem::Frame(f) = &items[1] else { panic!() };
        assert_eq!(f.signed, vec![2; 10]);
        assert_eq!(f.openings, vec![0, 0, 0]);
    }
}
