//! C2SP signed notes, transparency-log checkpoints and Ed25519 cosignatures:
//! the text formats that carry custody's signed tree heads.
//!
//! This module owns three specs, byte for byte:
//! * c2sp.org/signed-note: note text, signature lines, key IDs, vkeys, and the
//!   verifier duties (ignore unknown keys, reject when no known key verifies);
//!   Ed25519 signatures (signature type 0x01).
//! * c2sp.org/tlog-checkpoint: the origin / tree size / root hash body, parsed
//!   strictly, with optional extension lines.
//! * c2sp.org/tlog-cosignature: `cosignature/v1` timestamped Ed25519
//!   cosignatures (signature type 0x04).
//!
//! Left out: the Merkle math (see `merkle.rs`), key storage and generation,
//! clocks (callers pass timestamps in and judge them), witness policy and
//! quorums, the tlog-witness HTTP protocol, and the other signature types
//! (ECDSA 0x02, RFC 6962 STH 0x05, ML-DSA-44 0x06), whose signature lines are
//! parsed but can only ever be ignored as unknown keys.

#![forbid(unsafe_code)]

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Largest signed note (text plus signatures) this module parses or builds, in bytes.
///
/// The spec asks verifiers to bound note size and to accept at least 16
/// signatures of up to nearly 5 kB each (post-quantum); 1 MiB leaves room for
/// [`MAX_NOTE_SIGNATURES`] of those and a large text.
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// Most signature lines accepted on one note (the spec requires at least 16).
pub const MAX_NOTE_SIGNATURES: usize = 64;

/// Signature line prefix: em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Header line of the cosignature/v1 signed message (c2sp.org/tlog-cosignature).
const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";

/// Length of an Ed25519 signature.
const ED25519_SIG_LEN: usize = 64;

/// Length of a cosignature/v1 `timestamped_signature`: u64 timestamp || Ed25519 signature.
const COSIGNATURE_SIG_LEN: usize = 8 + ED25519_SIG_LEN;

/// Longest stretch of untrusted input quoted in an error message.
const EXCERPT_LEN: usize = 64;

/// Errors from parsing or building checkpoint text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The checkpoint text is larger than [`MAX_NOTE_SIZE`].
    #[error("checkpoint is {size} bytes, more than the maximum of {max}", max = MAX_NOTE_SIZE)]
    TooLarge { size: usize },
    /// The text does not end in a newline.
    #[error("checkpoint does not end in a newline")]
    NotNewlineTerminated,
    /// Fewer than the three mandatory lines.
    #[error("checkpoint has {found} lines, at least 3 are required")]
    TooFewLines { found: usize },
    /// A line holds an ASCII control character (lines are 1-based).
    #[error("checkpoint line {line} contains control character U+{code:04X}")]
    ControlCharacter { line: usize, code: u32 },
    /// The origin line is empty.
    #[error("checkpoint origin line is empty")]
    EmptyOrigin,
    /// The size line is not canonical ASCII decimal.
    #[error("checkpoint tree size {0:?} is not a decimal number without leading zeros")]
    InvalidSize(String),
    /// The size line is decimal but does not fit in a `u64`.
    #[error("checkpoint tree size {0:?} does not fit in 64 bits")]
    SizeOverflow(String),
    /// The root hash line is not canonical base64 of 32 bytes.
    #[error("checkpoint root hash {0:?} is not the base64 encoding of 32 bytes")]
    InvalidRootHash(String),
    /// An extension line is empty (lines are 1-based).
    #[error("checkpoint extension on line {line} is empty")]
    EmptyExtension { line: usize },
}

/// Errors from parsing, signing and verifying notes, signature lines and vkeys.
///
/// `InvalidSignature`, `SignatureLength`, `DuplicateSignature`,
/// `TimestampOutOfRange` and `NoKnownSignature` are verification findings; the
/// others say the input was not in the format at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_SIZE`].
    #[error("note is {size} bytes, more than the maximum of {max}", max = MAX_NOTE_SIZE)]
    TooLarge { size: usize },
    /// The note bytes are not UTF-8.
    #[error("note is not valid utf-8")]
    NotUtf8,
    /// The note holds an ASCII control character other than newline.
    #[error("note contains control character U+{code:04X} at byte {offset}")]
    ControlCharacter { offset: usize, code: u32 },
    /// Text given to a signer does not end in a newline.
    #[error("note text does not end in a newline")]
    TextNotNewlineTerminated,
    /// The signed note does not end in a newline.
    #[error("note does not end in a newline")]
    NotNewlineTerminated,
    /// There is no blank line separating the text from the signatures.
    #[error("note has no blank line between its text and its signatures")]
    MissingBlankLine,
    /// Nothing follows the last blank line.
    #[error("note has no signature lines")]
    NoSignatures,
    /// More signature lines than [`MAX_NOTE_SIGNATURES`].
    #[error("note has more than {max} signatures", max = MAX_NOTE_SIGNATURES)]
    TooManySignatures,
    /// A signature line is not `— <name> <base64>` (lines are 1-based in the note).
    #[error("signature on note line {line} is malformed: {reason}")]
    MalformedSignatureLine { line: usize, reason: &'static str },
    /// A key name is empty or holds a Unicode space or `+`.
    #[error("key name {0:?} is empty or contains a space or '+'")]
    InvalidKeyName(String),
    /// A vkey is not `<name>+<hex key ID>+<base64(type || key)>`.
    #[error("vkey is malformed: {0}")]
    MalformedVkey(&'static str),
    /// A vkey's signature type is not one this module verifies.
    #[error("vkey for {name:?} has unsupported signature type 0x{sig_type:02x}")]
    UnsupportedSignatureType { name: String, sig_type: u8 },
    /// A vkey states a key ID other than the one its name and key hash to.
    #[error("vkey for {name:?} states key id {stated:08x}, but its key hashes to {computed:08x}")]
    KeyIdMismatch { name: String, stated: u32, computed: u32 },
    /// The public key bytes are not an Ed25519 point.
    #[error("public key for {name:?} is not a valid ed25519 point")]
    InvalidPublicKey { name: String },
    /// The public key is a small-order point, which `verify_strict` never accepts.
    #[error("public key for {name:?} is a weak (small-order) ed25519 point")]
    WeakPublicKey { name: String },
    /// Two verifiers share a key name and key ID.
    #[error("verifier {name}+{key_id:08x} is listed more than once")]
    DuplicateVerifier { name: String, key_id: u32 },
    /// A known key signed the note more than once, or a line for a key already
    /// on the note was added.
    #[error("note has more than one signature by key {name}+{key_id:08x}")]
    DuplicateSignature { name: String, key_id: u32 },
    /// A known key's signature has the wrong length for its signature type.
    #[error("signature by key {name}+{key_id:08x} is {len} bytes, expected {expected}")]
    SignatureLength { name: String, key_id: u32, len: usize, expected: usize },
    /// A known key's signature does not verify.
    #[error("invalid signature by key {name}+{key_id:08x}")]
    InvalidSignature { name: String, key_id: u32 },
    /// A cosignature timestamp is above 2^63 - 1.
    #[error("cosignature timestamp {0} is above 2^63-1")]
    TimestampOutOfRange(u64),
    /// No signature line is from a known key.
    #[error("none of the note's {count} signatures is by a known key")]
    NoKnownSignature { count: usize },
    /// Text given to a cosigner is not a checkpoint.
    #[error("text to cosign is not a checkpoint")]
    NotACheckpoint(#[source] CheckpointError),
}

/// Quotes at most [`EXCERPT_LEN`] characters of untrusted input in an error.
fn excerpt(s: &str) -> String {
    match s.char_indices().nth(EXCERPT_LEN) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_owned(),
    }
}

/// The first ASCII control character other than newline: `(byte offset, code)`.
fn find_control(s: &str) -> Option<(usize, u32)> {
    s.bytes().position(|b| b < 0x20 && b != b'\n').map(|offset| (offset, u32::from(s.as_bytes()[offset])))
}

/// Key names MUST be non-empty and MUST NOT contain Unicode spaces or `+`
/// (c2sp.org/signed-note, "Format"). Control characters are rejected too.
fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control()) {
        return Err(NoteError::InvalidKeyName(excerpt(name)));
    }
    Ok(())
}

/// `key ID = SHA-256(key name || 0x0A || signature type || public key)[:4]`,
/// read as a big-endian u32 (c2sp.org/signed-note, "Signatures").
fn compute_key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Checks text about to be signed: ends in newline, no control characters
/// other than newline, within [`MAX_NOTE_SIZE`].
fn check_text(text: &str) -> Result<(), NoteError> {
    if text.len() > MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge { size: text.len() });
    }
    if let Some((offset, code)) = find_control(text) {
        return Err(NoteError::ControlCharacter { offset, code });
    }
    if !text.ends_with('\n') {
        return Err(NoteError::TextNotNewlineTerminated);
    }
    Ok(())
}

/// The message a cosignature/v1 signs: `cosignature/v1\ntime <t>\n` followed
/// by the checkpoint body (c2sp.org/tlog-cosignature, "Ed25519 signed message").
fn cosignature_message(timestamp: u64, text: &str) -> Vec<u8> {
    format!("{COSIGNATURE_V1_HEADER}time {timestamp}\n{text}").into_bytes()
}

fn signature_line(name: &str, key_id: u32, signature: &[u8]) -> String {
    let mut payload = Vec::with_capacity(4 + signature.len());
    payload.extend_from_slice(&key_id.to_be_bytes());
    payload.extend_from_slice(signature);
    format!("{SIG_PREFIX}{name} {}\n", BASE64.encode(payload))
}

// ---------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------

/// A tlog checkpoint body (c2sp.org/tlog-checkpoint): origin, tree size, RFC
/// 6962 root hash and optional extension lines. Always valid once built, so
/// [`Checkpoint::encode`] cannot fail and parses back to the same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: [u8; 32],
    extensions: Vec<String>,
}

/// Checks one single-line field (origin or extension) on `line` (1-based).
fn check_line(s: &str, line: usize) -> Result<(), CheckpointError> {
    // A newline inside a field would split it into two lines; report it as the
    // control character it is.
    match s.bytes().find(|&b| b < 0x20) {
        Some(b) => Err(CheckpointError::ControlCharacter { line, code: u32::from(b) }),
        None => Ok(()),
    }
}

impl Checkpoint {
    /// Builds a checkpoint, checking that the origin and every extension line
    /// is non-empty and free of control characters (newline included).
    pub fn new(
        origin: impl Into<String>,
        size: u64,
        root: [u8; 32],
        extensions: Vec<String>,
    ) -> Result<Self, CheckpointError> {
        let origin = origin.into();
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        check_line(&origin, 1)?;
        for (i, ext) in extensions.iter().enumerate() {
            let line = 4 + i;
            if ext.is_empty() {
                return Err(CheckpointError::EmptyExtension { line });
            }
            check_line(ext, line)?;
        }
        let cp = Self { origin, size, root, extensions };
        let len = cp.encode().len();
        if len > MAX_NOTE_SIZE {
            return Err(CheckpointError::TooLarge { size: len });
        }
        Ok(cp)
    }

    /// Parses checkpoint text (a note's text, final newline included) strictly:
    /// at least three non-empty lines; a tree size in ASCII decimal with no
    /// leading zeros (except `0`) that fits in a u64; a root hash in canonical
    /// padded base64 of exactly 32 bytes; non-empty extension lines.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        if text.len() > MAX_NOTE_SIZE {
            return Err(CheckpointError::TooLarge { size: text.len() });
        }
        let Some(body) = text.strip_suffix('\n') else {
            return Err(CheckpointError::NotNewlineTerminated);
        };
        let lines: Vec<&str> = body.split('\n').collect();
        for (i, l) in lines.iter().enumerate() {
            check_line(l, i + 1)?;
        }
        if lines.len() < 3 {
            return Err(CheckpointError::TooFewLines { found: lines.len() });
        }
        if lines[0].is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = parse_size(lines[1])?;
        let root = BASE64
            .decode(lines[2])
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| CheckpointError::InvalidRootHash(excerpt(lines[2])))?;
        let mut extensions = Vec::with_capacity(lines.len() - 3);
        for (i, ext) in lines[3..].iter().enumerate() {
            if ext.is_empty() {
                return Err(CheckpointError::EmptyExtension { line: 4 + i });
            }
            extensions.push((*ext).to_owned());
        }
        Ok(Self { origin: lines[0].to_owned(), size, root, extensions })
    }

    /// The checkpoint text, ending in a newline; the note text to sign.
    pub fn encode(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, BASE64.encode(self.root));
        for ext in &self.extensions {
            s.push_str(ext);
            s.push('\n');
        }
        s
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962 root hash of the tree at [`Checkpoint::size`].
    pub fn root(&self) -> &[u8; 32] {
        &self.root
    }

    /// Extension lines, without their newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// "the ASCII decimal representation of the number of leaves in the tree, with
/// no leading zeroes (unless the tree is empty, in which case the tree size is
/// `0`)". `u64::from_str` alone would accept `+5` and `007`.
fn parse_size(s: &str) -> Result<u64, CheckpointError> {
    let canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return Err(CheckpointError::InvalidSize(excerpt(s)));
    }
    s.parse().map_err(|_| CheckpointError::SizeOverflow(excerpt(s)))
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

/// The signature types this module signs and verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// Ed25519 over the note text (c2sp.org/signed-note, type 0x01).
    Ed25519,
    /// Timestamped Ed25519 cosignature/v1 over a checkpoint
    /// (c2sp.org/tlog-cosignature, type 0x04).
    Cosignature,
}

impl KeyKind {
    /// The signature type identifier byte used in key IDs and vkeys.
    pub const fn signature_type(self) -> u8 {
        match self {
            KeyKind::Ed25519 => 0x01,
            KeyKind::Cosignature => 0x04,
        }
    }

    fn from_signature_type(t: u8) -> Option<Self> {
        match t {
            0x01 => Some(KeyKind::Ed25519),
            0x04 => Some(KeyKind::Cosignature),
            _ => None,
        }
    }

    /// Signature bytes after the key ID on a signature line.
    const fn signature_len(self) -> usize {
        match self {
            KeyKind::Ed25519 => ED25519_SIG_LEN,
            KeyKind::Cosignature => COSIGNATURE_SIG_LEN,
        }
    }
}

/// A known public key: the verifier side of a [`NoteSigner`] or [`Cosigner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    verifying_key: VerifyingKey,
    kind: KeyKind,
}

impl NoteVerifier {
    /// A verifier for `name` and `verifying_key`; computes the key ID for `kind`.
    /// Rejects invalid key names and small-order public keys.
    pub fn new(name: &str, verifying_key: VerifyingKey, kind: KeyKind) -> Result<Self, NoteError> {
        check_key_name(name)?;
        if verifying_key.is_weak() {
            return Err(NoteError::WeakPublicKey { name: name.to_owned() });
        }
        let key_id = compute_key_id(name, kind.signature_type(), verifying_key.as_bytes());
        Ok(Self { name: name.to_owned(), key_id, verifying_key, kind })
    }

    /// Parses a vkey, `<name>+<hex(key ID)>+<base64(signature type || public key)>`
    /// (c2sp.org/signed-note, "Verifier keys"), for signature type 0x01 or 0x04.
    /// The key ID must be 8 lowercase hex digits and match the computed one.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        // Names cannot contain '+' and the key ID is hex, but standard base64
        // can: split at the first two '+' only.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::MalformedVkey("expected three '+'-separated parts"));
        };
        check_key_name(name)?;
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(NoteError::MalformedVkey("key id is not 8 lowercase hex digits"));
        }
        let stated = u32::from_str_radix(id_hex, 16)
            .map_err(|_| NoteError::MalformedVkey("key id is not 8 lowercase hex digits"))?;
        let key = BASE64.decode(key_b64).map_err(|_| NoteError::MalformedVkey("key is not canonical base64"))?;
        let (&sig_type, public_key) = key.split_first().ok_or(NoteError::MalformedVkey("key is empty"))?;
        let kind = KeyKind::from_signature_type(sig_type)
            .ok_or_else(|| NoteError::UnsupportedSignatureType { name: name.to_owned(), sig_type })?;
        let public_key: [u8; 32] =
            public_key.try_into().map_err(|_| NoteError::MalformedVkey("ed25519 public key is not 32 bytes"))?;
        let verifying_key =
            VerifyingKey::from_bytes(&public_key).map_err(|_| NoteError::InvalidPublicKey { name: name.to_owned() })?;
        let v = Self::new(name, verifying_key, kind)?;
        if v.key_id != stated {
            return Err(NoteError::KeyIdMismatch { name: name.to_owned(), stated, computed: v.key_id });
        }
        Ok(v)
    }

    /// The vkey string; parses back with [`NoteVerifier::from_vkey`].
    pub fn to_vkey(&self) -> String {
        let mut key = Vec::with_capacity(33);
        key.push(self.kind.signature_type());
        key.extend_from_slice(self.verifying_key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, BASE64.encode(key))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying_key
    }

    /// Plain note signatures or cosignatures.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Verifies `signature` (the bytes after the key ID) over `text`; returns
    /// the cosignature timestamp, if any.
    fn verify_signature(&self, text: &str, signature: &[u8]) -> Result<Option<u64>, NoteError> {
        let expected = self.kind.signature_len();
        if signature.len() != expected {
            return Err(NoteError::SignatureLength {
                name: self.name.clone(),
                key_id: self.key_id,
                len: signature.len(),
                expected,
            });
        }
        let (timestamp, message, sig) = match self.kind {
            KeyKind::Ed25519 => (None, text.as_bytes().to_vec(), signature),
            KeyKind::Cosignature => {
                let (ts, sig) = signature.split_at(8);
                let ts = u64::from_be_bytes(ts.try_into().expect("split at 8"));
                // "It MUST NOT exceed 2^63 - 1".
                if ts > i64::MAX as u64 {
                    return Err(NoteError::TimestampOutOfRange(ts));
                }
                (Some(ts), cosignature_message(ts, text), sig)
            }
        };
        let sig = Signature::from_bytes(sig.try_into().expect("length checked above"));
        self.verifying_key
            .verify_strict(&message, &sig)
            .map_err(|_| NoteError::InvalidSignature { name: self.name.clone(), key_id: self.key_id })?;
        Ok(timestamp)
    }
}

impl fmt::Display for NoteVerifier {
    /// `<name>+<hex key ID>`, the usual way to name a key in messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:08x}", self.name, self.key_id)
    }
}

/// Signs note text with Ed25519 (signature type 0x01).
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key_id: u32,
    signing_key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSigner({}+{:08x})", self.name, self.key_id)
    }
}

impl NoteSigner {
    /// A signer for `name`. For checkpoints, the name SHOULD be the origin.
    pub fn new(name: &str, signing_key: SigningKey) -> Result<Self, NoteError> {
        let v = NoteVerifier::new(name, signing_key.verifying_key(), KeyKind::Ed25519)?;
        Ok(Self { name: v.name, key_id: v.key_id, signing_key })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            verifying_key: self.signing_key.verifying_key(),
            kind: KeyKind::Ed25519,
        }
    }

    /// The signature line (`— <name> <base64>`, newline included) for `text`.
    pub fn signature_line(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.signing_key.sign(text.as_bytes());
        Ok(signature_line(&self.name, self.key_id, &sig.to_bytes()))
    }

    /// The signed note: `text`, a blank line, and this key's signature line.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        let line = self.signature_line(text)?;
        let note = format!("{text}\n{line}");
        if note.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge { size: note.len() });
        }
        Ok(note)
    }
}

/// Cosigns checkpoints with cosignature/v1 (signature type 0x04).
///
/// Use a key that signs nothing else: the signed message does not commit to
/// the cosigner's name (c2sp.org/tlog-cosignature).
#[derive(Clone)]
pub struct Cosigner {
    name: String,
    key_id: u32,
    signing_key: SigningKey,
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cosigner({}+{:08x})", self.name, self.key_id)
    }
}

impl Cosigner {
    /// A cosigner (witness) named `name`.
    pub fn new(name: &str, signing_key: SigningKey) -> Result<Self, NoteError> {
        let v = NoteVerifier::new(name, signing_key.verifying_key(), KeyKind::Cosignature)?;
        Ok(Self { name: v.name, key_id: v.key_id, signing_key })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            verifying_key: self.signing_key.verifying_key(),
            kind: KeyKind::Cosignature,
        }
    }

    /// The cosignature line (newline included) over `checkpoint_text` at
    /// `timestamp` (POSIX seconds). The text must parse as a [`Checkpoint`];
    /// the payload is `key ID || timestamp (u64 big-endian) || signature`.
    pub fn cosign(&self, checkpoint_text: &str, timestamp: u64) -> Result<String, NoteError> {
        Checkpoint::parse(checkpoint_text).map_err(NoteError::NotACheckpoint)?;
        if timestamp > i64::MAX as u64 {
            return Err(NoteError::TimestampOutOfRange(timestamp));
        }
        let sig = self.signing_key.sign(&cosignature_message(timestamp, checkpoint_text));
        let mut payload = Vec::with_capacity(COSIGNATURE_SIG_LEN);
        payload.extend_from_slice(&timestamp.to_be_bytes());
        payload.extend_from_slice(&sig.to_bytes());
        Ok(signature_line(&self.name, self.key_id, &payload))
    }
}

// ---------------------------------------------------------------------------
// Signed notes
// ---------------------------------------------------------------------------

/// One signature line of a note, from a known key or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// Parses one line without its newline; `line_no` is for error messages.
    fn parse(line: &str, line_no: usize) -> Result<Self, NoteError> {
        let malformed = |reason| NoteError::MalformedSignatureLine { line: line_no, reason };
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(malformed("it does not start with an em dash and a space"))?;
        let (name, b64) = rest.split_once(' ').ok_or(malformed("no space between key name and signature"))?;
        check_key_name(name).map_err(|_| malformed("invalid key name"))?;
        let payload = BASE64.decode(b64).map_err(|_| malformed("signature is not canonical base64"))?;
        if payload.len() < 5 {
            return Err(malformed("signature is shorter than a key id and one byte"));
        }
        let (id, signature) = payload.split_at(4);
        Ok(Self {
            name: name.to_owned(),
            key_id: u32::from_be_bytes(id.try_into().expect("split at 4")),
            signature: signature.to_vec(),
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key ID.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The line, newline included.
    pub fn to_line(&self) -> String {
        signature_line(&self.name, self.key_id, &self.signature)
    }
}

/// A signature from a known key that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSig {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub key_id: u32,
    /// Plain signature or cosignature.
    pub kind: KeyKind,
    /// The cosignature's timestamp (POSIX seconds); `None` for plain signatures.
    /// Callers MAY reject timestamps in the future.
    pub timestamp: Option<u64>,
}

/// A parsed signed note (c2sp.org/signed-note). Its text MUST be ignored until
/// [`SignedNote::verify`] succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Parses a signed note from bytes, which must be UTF-8.
    pub fn from_bytes(note: &[u8]) -> Result<Self, NoteError> {
        if note.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge { size: note.len() });
        }
        Self::parse(std::str::from_utf8(note).map_err(|_| NoteError::NotUtf8)?)
    }

    /// Parses a signed note: a text ending in newline, a blank line, then one
    /// or more `— <name> <base64>` lines, each ending in newline. The text is
    /// everything up to the last blank line, so it may itself contain blank
    /// lines. No ASCII control character other than newline may appear.
    /// Signatures are not checked here; see [`SignedNote::verify`].
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        if note.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge { size: note.len() });
        }
        if let Some((offset, code)) = find_control(note) {
            return Err(NoteError::ControlCharacter { offset, code });
        }
        if !note.ends_with('\n') {
            return Err(NoteError::NotNewlineTerminated);
        }
        // "the text is separated from the signatures by the last empty line".
        let split = note.rfind("\n\n").ok_or(NoteError::MissingBlankLine)?;
        let (text, sigs) = (&note[..=split], &note[split + 2..]);
        if sigs.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
        if lines.len() > MAX_NOTE_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        // Line numbers in errors are 1-based note lines: text, blank, signatures.
        let first_sig_line = text.matches('\n').count() + 2;
        let signatures = lines
            .iter()
            .enumerate()
            .map(|(i, line)| NoteSignature::parse(line, first_sig_line + i))
            .collect::<Result<_, _>>()?;
        Ok(Self { text: text.to_owned(), signatures })
    }

    /// The note text, final newline included. Untrusted until verified.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// All signature lines, known keys or not, in note order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends one signature line (`— <name> <base64>\n`, as returned by
    /// [`NoteSigner::signature_line`] or [`Cosigner::cosign`]). Refuses a
    /// second line for a key name and ID already on the note.
    pub fn add_signature_line(&mut self, line: &str) -> Result<(), NoteError> {
        let line_no = self.text.matches('\n').count() + 2 + self.signatures.len();
        let body = line
            .strip_suffix('\n')
            .ok_or(NoteError::MalformedSignatureLine { line: line_no, reason: "it does not end in a newline" })?;
        if let Some((offset, code)) = find_control(body) {
            return Err(NoteError::ControlCharacter { offset, code });
        }
        if body.contains('\n') {
            return Err(NoteError::MalformedSignatureLine { line: line_no, reason: "it is more than one line" });
        }
        let sig = NoteSignature::parse(body, line_no)?;
        if self.signatures.iter().any(|s| s.name == sig.name && s.key_id == sig.key_id) {
            return Err(NoteError::DuplicateSignature { name: sig.name, key_id: sig.key_id });
        }
        if self.signatures.len() >= MAX_NOTE_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        let size = self.encoded_len() + line.len();
        if size > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge { size });
        }
        self.signatures.push(sig);
        Ok(())
    }

    /// Verifies the note against the known keys in `verifiers`, per
    /// c2sp.org/signed-note: lines whose key name and ID do not both match a
    /// known key are ignored; every line from a known key must verify (else
    /// the whole note is rejected); at least one must be present. Returns the
    /// known keys that signed, in note order.
    ///
    /// Beyond the spec, a known key may sign only once, so callers counting a
    /// quorum can count the returned entries.
    pub fn verify(&self, verifiers: &[NoteVerifier]) -> Result<Vec<VerifiedSig>, NoteError> {
        for (i, v) in verifiers.iter().enumerate() {
            if verifiers[..i].iter().any(|w| w.name == v.name && w.key_id == v.key_id) {
                return Err(NoteError::DuplicateVerifier { name: v.name.clone(), key_id: v.key_id });
            }
        }
        let mut verified: Vec<VerifiedSig> = Vec::new();
        for sig in &self.signatures {
            let Some(v) = verifiers.iter().find(|v| v.name == sig.name && v.key_id == sig.key_id) else {
                continue; // "Verifiers MUST ignore signatures from unknown keys"
            };
            if verified.iter().any(|s| s.name == v.name && s.key_id == v.key_id) {
                return Err(NoteError::DuplicateSignature { name: v.name.clone(), key_id: v.key_id });
            }
            let timestamp = v.verify_signature(&self.text, &sig.signature)?;
            verified.push(VerifiedSig { name: v.name.clone(), key_id: v.key_id, kind: v.kind, timestamp });
        }
        if verified.is_empty() {
            // "If no signature from a known key verifies successfully, clients MUST reject the note."
            return Err(NoteError::NoKnownSignature { count: self.signatures.len() });
        }
        Ok(verified)
    }

    /// The note text, the blank line and every signature line.
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(self.encoded_len());
        s.push_str(&self.text);
        s.push('\n');
        for sig in &self.signatures {
            s.push_str(&sig.to_line());
        }
        s
    }

    fn encoded_len(&self) -> usize {
        // Each line: prefix (4 bytes) + name + space + base64 + newline.
        self.text.len()
            + 1
            + self
                .signatures
                .iter()
                .map(|s| SIG_PREFIX.len() + s.name.len() + 1 + (4 + s.signature.len()).div_ceil(3) * 4 + 1)
                .sum::<usize>()
    }
}

impl fmt::Display for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // ---- examples copied from the C2SP specs ----

    /// c2sp.org/signed-note, "Verifier keys", Example: this vkey verifies SPEC_NOTE.
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\
        — example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    /// c2sp.org/signed-note opening example (no public key is published for it).
    const SPEC_QUASIMODO: &str = "Ognuno sta solo sul cuor della terra\n\
        trafitto da un raggio di sole:\n\
        \n\
        ed è subito sera.\n\
        \n\
        — quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";

    /// c2sp.org/tlog-cosignature example: a checkpoint with a log signature and
    /// a cosignature (no public keys are published for either).
    const SPEC_COSIGNED: &str = "example.com/behind-the-sofa\n\
        20852163\n\
        CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
        \n\
        — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
        — witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

    // ---- known answers from an independent implementation ----
    // Generated with Python `cryptography` 48 (Ed25519 is deterministic) by
    // tools/note_kat.py in the scratch crate, which builds key IDs, vkeys, the
    // cosignature/v1 message and the signature lines from the spec text:
    // log key seed = bytes 0x00..=0x1f, witness key seed = 32 bytes of 0x42.

    const KAT_LOG_SEED: [u8; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
        30, 31,
    ];
    const KAT_WITNESS_SEED: [u8; 32] = [0x42; 32];
    const KAT_LOG_VKEY: &str = "custody.example/log+f75c7f9e+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
    const KAT_WITNESS_VKEY: &str = "witness.example/w1+f1ed8c47+BCFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS";
    /// Root is SHA-256("custody root").
    const KAT_TEXT: &str = "custody.example/log\n42\nMxOKYAXegaFpNjXZLNgVUkEDgq7ArdqV/rt01pnkmSs=\n";
    const KAT_LOG_LINE: &str = "— custody.example/log 91x/nkAVikPoq2i32la7DYbph4NOOE1OPdGIRt4q0Hty95NfKhC3C76XbFPKFh2crSo6S54Pfwm2/rEp0dBpLqr3wQk=\n";
    const KAT_TIME: u64 = 1_700_000_000;
    const KAT_WITNESS_LINE: &str = "— witness.example/w1 8e2MRwAAAABlU/EAXpRxB43qX3VIYki0c9ykJHlebTwZc9z08IPOsNua0igxsG9Pr57YZw9slvh3vPJz/YImshIFPnC1quBTwI1HBw==\n";

    fn log_signer() -> NoteSigner {
        NoteSigner::new("custody.example/log", SigningKey::from_bytes(&KAT_LOG_SEED)).unwrap()
    }

    fn witness() -> Cosigner {
        Cosigner::new("witness.example/w1", SigningKey::from_bytes(&KAT_WITNESS_SEED)).unwrap()
    }

    fn signer(i: u8) -> NoteSigner {
        NoteSigner::new(&format!("signer.example/{i}"), SigningKey::from_bytes(&[i; 32])).unwrap()
    }

    /// KAT_TEXT signed by the log and cosigned by the witness.
    fn cosigned_note() -> String {
        format!("{KAT_TEXT}\n{KAT_LOG_LINE}{KAT_WITNESS_LINE}")
    }

    /// Outcome class of an error, for tables.
    fn class(e: &NoteError) -> &'static str {
        match e {
            NoteError::TooLarge { .. } => "too-large",
            NoteError::NotUtf8 => "not-utf8",
            NoteError::ControlCharacter { .. } => "control-char",
            NoteError::TextNotNewlineTerminated => "text-no-newline",
            NoteError::NotNewlineTerminated => "no-newline",
            NoteError::MissingBlankLine => "no-blank-line",
            NoteError::NoSignatures => "no-signatures",
            NoteError::TooManySignatures => "too-many-signatures",
            NoteError::MalformedSignatureLine { .. } => "bad-sig-line",
            NoteError::InvalidKeyName(_) => "bad-name",
            NoteError::MalformedVkey(_) => "bad-vkey",
            NoteError::UnsupportedSignatureType { .. } => "unsupported-type",
            NoteError::KeyIdMismatch { .. } => "key-id-mismatch",
            NoteError::InvalidPublicKey { .. } => "bad-public-key",
            NoteError::WeakPublicKey { .. } => "weak-public-key",
            NoteError::DuplicateVerifier { .. } => "duplicate-verifier",
            NoteError::DuplicateSignature { .. } => "duplicate-signature",
            NoteError::SignatureLength { .. } => "signature-length",
            NoteError::InvalidSignature { .. } => "invalid-signature",
            NoteError::TimestampOutOfRange(_) => "timestamp-range",
            NoteError::NoKnownSignature { .. } => "no-known-signature",
            NoteError::NotACheckpoint(_) => "not-a-checkpoint",
        }
    }

    fn checkpoint_class(e: &CheckpointError) -> &'static str {
        match e {
            CheckpointError::TooLarge { .. } => "too-large",
            CheckpointError::NotNewlineTerminated => "no-newline",
            CheckpointError::TooFewLines { .. } => "too-few-lines",
            CheckpointError::ControlCharacter { .. } => "control-char",
            CheckpointError::EmptyOrigin => "empty-origin",
            CheckpointError::InvalidSize(_) => "bad-size",
            CheckpointError::SizeOverflow(_) => "size-overflow",
            CheckpointError::InvalidRootHash(_) => "bad-root",
            CheckpointError::EmptyExtension { .. } => "empty-extension",
        }
    }

    // ---- spec examples ----

    #[test]
    fn spec_vkey_verifies_spec_note() {
        let v = NoteVerifier::from_vkey(SPEC_VKEY).unwrap();
        assert_eq!((v.name(), v.key_id(), v.kind()), ("example.com/foo", 0x530d903a, KeyKind::Ed25519));
        assert_eq!(v.to_vkey(), SPEC_VKEY);
        let note = SignedNote::parse(SPEC_NOTE).unwrap();
        assert_eq!(note.text(), "This is an example message.\n");
        assert_eq!(note.encode(), SPEC_NOTE);
        let got = note.verify(std::slice::from_ref(&v)).unwrap();
        assert_eq!(
            got,
            vec![VerifiedSig {
                name: "example.com/foo".into(),
                key_id: 0x530d903a,
                kind: KeyKind::Ed25519,
                timestamp: None
            }]
        );
    }

    #[test]
    fn spec_examples_without_keys_parse_and_are_ignored() {
        let foo = NoteVerifier::from_vkey(SPEC_VKEY).unwrap();

        // The text may contain blank lines; the last one separates the signatures.
        let q = SignedNote::parse(SPEC_QUASIMODO).unwrap();
        assert_eq!(
            q.text(),
            "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
        );
        assert_eq!(q.signatures()[0].name(), "quasimodo.example/salvatore");
        assert_eq!(q.encode(), SPEC_QUASIMODO);
        let err = q.verify(std::slice::from_ref(&foo)).unwrap_err();
        assert_eq!(class(&err), "no-known-signature");

        let c = SignedNote::parse(SPEC_COSIGNED).unwrap();
        assert_eq!(c.encode(), SPEC_COSIGNED);
        let cp = Checkpoint::parse(c.text()).unwrap();
        assert_eq!((cp.origin(), cp.size()), ("example.com/behind-the-sofa", 20852163));
        assert_eq!(cp.encode(), c.text());
        let w1 = &c.signatures()[1];
        assert_eq!((w1.name(), w1.key_id(), w1.signature().len()), ("witness.example.com/w1", 0x8d66cf3f, 72));
        // The timestamp in the spec's cosignature is the one in its signed-message example.
        let ts = u64::from_be_bytes(w1.signature()[..8].try_into().unwrap());
        assert_eq!(ts, 1679315147);
        assert_eq!(class(&c.verify(&[foo]).unwrap_err()), "no-known-signature");
    }

    #[test]
    fn cosignature_message_matches_spec_example() {
        // c2sp.org/tlog-cosignature, "Ed25519 signed message".
        let body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(
            cosignature_message(1679315147, body),
            b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    // ---- known answers ----

    #[test]
    fn known_answers_from_independent_implementation() {
        let log = log_signer();
        let w = witness();
        assert_eq!(log.verifier().to_vkey(), KAT_LOG_VKEY);
        assert_eq!(w.verifier().to_vkey(), KAT_WITNESS_VKEY);
        assert_eq!(log.signature_line(KAT_TEXT).unwrap(), KAT_LOG_LINE);
        assert_eq!(log.sign(KAT_TEXT).unwrap(), format!("{KAT_TEXT}\n{KAT_LOG_LINE}"));
        assert_eq!(w.cosign(KAT_TEXT, KAT_TIME).unwrap(), KAT_WITNESS_LINE);

        let verifiers =
            [NoteVerifier::from_vkey(KAT_LOG_VKEY).unwrap(), NoteVerifier::from_vkey(KAT_WITNESS_VKEY).unwrap()];
        let note = SignedNote::parse(&cosigned_note()).unwrap();
        let got = note.verify(&verifiers).unwrap();
        assert_eq!(
            got,
            vec![
                VerifiedSig {
                    name: "custody.example/log".into(),
                    key_id: 0xf75c7f9e,
                    kind: KeyKind::Ed25519,
                    timestamp: None
                },
                VerifiedSig {
                    name: "witness.example/w1".into(),
                    key_id: 0xf1ed8c47,
                    kind: KeyKind::Cosignature,
                    timestamp: Some(KAT_TIME)
                },
            ]
        );
        // Either key alone is enough; the other line is then an unknown key.
        assert_eq!(note.verify(&verifiers[..1]).unwrap().len(), 1);
        assert_eq!(note.verify(&verifiers[1..]).unwrap()[0].timestamp, Some(KAT_TIME));
    }

    // ---- round trips ----

    #[test]
    fn sign_add_cosignature_verify_round_trip() {
        let log = log_signer();
        let w = witness();
        let cp = Checkpoint::new("custody.example/log", 7, [9; 32], vec!["ext one".into()]).unwrap();
        let text = cp.encode();
        let mut note = SignedNote::parse(&log.sign(&text).unwrap()).unwrap();
        note.add_signature_line(&w.cosign(&text, 12345).unwrap()).unwrap();
        let encoded = note.encode();
        let again = SignedNote::parse(&encoded).unwrap();
        assert_eq!(again, note);
        assert_eq!(again.to_string(), encoded);
        let got = again.verify(&[w.verifier(), log.verifier()]).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].timestamp, Some(12345));
        assert_eq!(Checkpoint::parse(again.text()).unwrap(), cp);
        // Adding the same key again is refused.
        let dup = note.add_signature_line(&w.cosign(&text, 12346).unwrap()).unwrap_err();
        assert_eq!(class(&dup), "duplicate-signature");
        // Vkeys round trip for both kinds.
        for v in [log.verifier(), w.verifier()] {
            assert_eq!(NoteVerifier::from_vkey(&v.to_vkey()).unwrap(), v);
        }
    }

    #[test]
    fn sixteen_signatures_are_accepted_and_the_limit_is_enforced() {
        let text = "sixteen\n";
        let signers: Vec<NoteSigner> = (1..=16).map(signer).collect();
        let mut note = SignedNote::parse(&signers[0].sign(text).unwrap()).unwrap();
        for s in &signers[1..] {
            note.add_signature_line(&s.signature_line(text).unwrap()).unwrap();
        }
        let verifiers: Vec<NoteVerifier> = signers.iter().map(NoteSigner::verifier).collect();
        let parsed = SignedNote::parse(&note.encode()).unwrap();
        assert_eq!(parsed.verify(&verifiers).unwrap().len(), 16);

        // MAX_NOTE_SIGNATURES lines parse, one more does not.
        let line = signers[0].signature_line(text).unwrap();
        let at_max = format!("{text}\n{}", line.repeat(MAX_NOTE_SIGNATURES));
        assert!(SignedNote::parse(&at_max).is_ok());
        let over = format!("{at_max}{line}");
        assert_eq!(class(&SignedNote::parse(&over).unwrap_err()), "too-many-signatures");
        // A known key signing twice is rejected at verification.
        assert_eq!(class(&SignedNote::parse(&at_max).unwrap().verify(&verifiers).unwrap_err()), "duplicate-signature");
        // Unknown duplicates are ignored.
        assert_eq!(
            SignedNote::parse(&at_max).unwrap().verify(&verifiers[1..2]).unwrap_err(),
            NoteError::NoKnownSignature { count: MAX_NOTE_SIGNATURES }
        );

        let big = format!("{}\n", "a".repeat(MAX_NOTE_SIZE));
        assert_eq!(class(&signers[0].sign(&big).unwrap_err()), "too-large");
        assert_eq!(class(&SignedNote::parse(&format!("{big}\n{line}")).unwrap_err()), "too-large");
    }

    #[test]
    fn verifier_rules() {
        let log = log_signer();
        let w = witness();
        let note = SignedNote::parse(&cosigned_note()).unwrap();
        // Same name, different ID (or the reverse): unknown, so ignored.
        let other = NoteSigner::new("custody.example/log", SigningKey::from_bytes(&[7; 32])).unwrap();
        let err = note.verify(&[other.verifier()]).unwrap_err();
        assert_eq!(err, NoteError::NoKnownSignature { count: 2 });
        // A verifier listed twice is a configuration error.
        let err = note.verify(&[log.verifier(), log.verifier()]).unwrap_err();
        assert_eq!(class(&err), "duplicate-verifier");
        // The cosigning key as a plain Ed25519 key has a different key ID, so
        // its cosignature is an unknown signature to that verifier.
        let plain = NoteVerifier::new(w.name(), *w.verifier().verifying_key(), KeyKind::Ed25519).unwrap();
        assert_ne!(plain.key_id(), w.key_id());
        assert_eq!(class(&note.verify(&[plain]).unwrap_err()), "no-known-signature");
        // A known key whose signature fails rejects the whole note, even when
        // another known key verifies.
        let bad_line = log.signature_line("other text\n").unwrap();
        let bad = format!("{KAT_TEXT}\n{bad_line}{KAT_WITNESS_LINE}");
        let err = SignedNote::parse(&bad).unwrap().verify(&[log.verifier(), w.verifier()]).unwrap_err();
        assert_eq!(err.to_string(), "invalid signature by key custody.example/log+f75c7f9e");
        // Cosigning refuses non-checkpoints and out-of-range timestamps.
        assert_eq!(class(&w.cosign("not a checkpoint\n", 1).unwrap_err()), "not-a-checkpoint");
        assert_eq!(class(&w.cosign(KAT_TEXT, 1 << 63).unwrap_err()), "timestamp-range");
        assert!(w.cosign(KAT_TEXT, i64::MAX as u64).is_ok());
        // A correctly signed timestamp above 2^63-1 is still rejected.
        let sig = SigningKey::from_bytes(&KAT_WITNESS_SEED).sign(&cosignature_message(1 << 63, KAT_TEXT));
        let mut payload = (1u64 << 63).to_be_bytes().to_vec();
        payload.extend_from_slice(&sig.to_bytes());
        let line = signature_line(w.name(), w.key_id(), &payload);
        let n = SignedNote::parse(&format!("{KAT_TEXT}\n{line}")).unwrap();
        assert_eq!(n.verify(&[w.verifier()]).unwrap_err(), NoteError::TimestampOutOfRange(1 << 63));
        // Signers refuse bad names and bad text.
        assert_eq!(class(&NoteSigner::new("has space", SigningKey::from_bytes(&[1; 32])).unwrap_err()), "bad-name");
        assert_eq!(class(&log.sign("no newline").unwrap_err()), "text-no-newline");
        assert_eq!(class(&log.sign("tab\there\n").unwrap_err()), "control-char");
    }

    // ---- malformed input tables ----

    #[test]
    fn malformed_notes_are_rejected() {
        let log_line = KAT_LOG_LINE;
        let sig_b64 = log_line.rsplit(' ').next().unwrap().trim_end();
        let cases: Vec<(String, &str)> = vec![
            // missing blank line between text and signatures
            (format!("{KAT_TEXT}{log_line}"), "no-blank-line"),
            // no trailing newline after the last signature
            (format!("{KAT_TEXT}\n{}", log_line.trim_end()), "no-newline"),
            // no signature lines at all
            (format!("{KAT_TEXT}\n"), "no-signatures"),
            // blank line after the signatures leaves nothing after the last blank line
            (format!("{KAT_TEXT}\n{log_line}\n"), "no-signatures"),
            // empty input
            (String::new(), "no-newline"),
            // just a newline: no blank line
            ("\n".to_owned(), "no-blank-line"),
            // carriage return line endings
            (format!("{KAT_TEXT}\n{log_line}").replace('\n', "\r\n"), "control-char"),
            // tab in the text
            (format!("a\tb\n\n{log_line}"), "control-char"),
            // NUL in a signature line
            (format!("{KAT_TEXT}\n{}\0\n", log_line.trim_end()), "control-char"),
            // hyphen instead of em dash
            (format!("{KAT_TEXT}\n{}", log_line.replacen('—', "-", 1)), "bad-sig-line"),
            // em dash without the following space
            (format!("{KAT_TEXT}\n{}", log_line.replacen("— ", "—", 1)), "bad-sig-line"),
            // no signature after the key name
            (format!("{KAT_TEXT}\n— custody.example/log\n"), "bad-sig-line"),
            // empty key name
            (format!("{KAT_TEXT}\n—  {sig_b64}\n"), "bad-sig-line"),
            // key name with a plus sign
            (format!("{KAT_TEXT}\n— a+b {sig_b64}\n"), "bad-sig-line"),
            // key name with a no-break space (a Unicode space)
            (format!("{KAT_TEXT}\n— a\u{a0}b {sig_b64}\n"), "bad-sig-line"),
            // two spaces between name and signature
            (format!("{KAT_TEXT}\n— custody.example/log  {sig_b64}\n"), "bad-sig-line"),
            // trailing space after the signature
            (format!("{KAT_TEXT}\n{} \n", log_line.trim_end()), "bad-sig-line"),
            // bad base64 character
            (format!("{KAT_TEXT}\n{}", log_line.replacen("91x/", "91x!", 1)), "bad-sig-line"),
            // base64 without padding
            (format!("{KAT_TEXT}\n{}\n", log_line.trim_end().trim_end_matches('=')), "bad-sig-line"),
            // base64 with nonzero padding bits ("AQl=" decodes like "AQk=" in lax decoders)
            (format!("{KAT_TEXT}\n— a AAAAAQl=\n"), "bad-sig-line"),
            // url-safe base64 alphabet
            (format!("{KAT_TEXT}\n— a AAAAAP__\n"), "bad-sig-line"),
            // signature of only a key id
            (format!("{KAT_TEXT}\n— a AAAAAA==\n"), "bad-sig-line"),
            // a text line that looks like a signature does not make the note signed
            ("— a AAAAAAAA\n".to_owned(), "no-blank-line"),
        ];
        for (i, (note, want)) in cases.iter().enumerate() {
            match SignedNote::parse(note) {
                Ok(n) => panic!("expected error {want} at index {i}: {note:?} parsed as {n:?}"),
                Err(e) => assert_eq!(class(&e), *want, "case {i}: {note:?}: {e}"),
            }
        }
        assert_eq!(SignedNote::from_bytes(b"\xff\n\n").unwrap_err(), NoteError::NotUtf8);
    }

    #[test]
    fn notes_that_parse_but_do_not_verify() {
        let verifiers = [log_signer().verifier(), witness().verifier()];
        let log_line = KAT_LOG_LINE;
        let w_payload = BASE64.decode(KAT_WITNESS_LINE.trim_end().rsplit(' ').next().unwrap()).unwrap();
        let l_payload = BASE64.decode(log_line.trim_end().rsplit(' ').next().unwrap()).unwrap();
        let line = |name: &str, payload: &[u8]| format!("— {name} {}\n", BASE64.encode(payload));
        let mut wrong_id = l_payload.clone();
        wrong_id[0] ^= 1;
        let cases: Vec<(String, &str)> = vec![
            // unknown key only
            (format!("{KAT_TEXT}\n— someone.else {}\n", BASE64.encode(&l_payload)), "no-known-signature"),
            // known name with the wrong key id is an unknown key
            (format!("{KAT_TEXT}\n{}", line("custody.example/log", &wrong_id)), "no-known-signature"),
            // known key, truncated signature
            (format!("{KAT_TEXT}\n{}", line("custody.example/log", &l_payload[..67])), "signature-length"),
            // known key, one byte too many
            (
                format!("{KAT_TEXT}\n{}", line("custody.example/log", &[&l_payload[..], &[0]].concat())),
                "signature-length",
            ),
            // cosignature without its timestamp
            (
                format!("{KAT_TEXT}\n{}", line("witness.example/w1", &[&w_payload[..4], &w_payload[12..]].concat())),
                "signature-length",
            ),
            // cosignature with a different timestamp
            (
                format!(
                    "{KAT_TEXT}\n{}",
                    line("witness.example/w1", &{
                        let mut p = w_payload.clone();
                        p[11] ^= 1;
                        p
                    })
                ),
                "invalid-signature",
            ),
            // signature over other text
            (format!("other\n\n{log_line}"), "invalid-signature"),
            // text with an extra blank line (the signature covers the text exactly)
            (format!("{KAT_TEXT}\n\n{log_line}"), "invalid-signature"),
            // the same known key twice
            (format!("{KAT_TEXT}\n{log_line}{log_line}"), "duplicate-signature"),
        ];
        for (i, (note, want)) in cases.iter().enumerate() {
            let n = SignedNote::parse(note).unwrap_or_else(|e| panic!("case {i} should parse: {e}"));
            match n.verify(&verifiers) {
                Ok(v) => panic!("expected error {want} at index {i}: {note:?} verified as {v:?}"),
                Err(e) => assert_eq!(class(&e), *want, "case {i}: {note:?}: {e}"),
            }
        }
    }

    #[test]
    fn malformed_vkeys_are_rejected() {
        // The witness vkey's base64 contains a '+', so it exercises the split.
        let (name, id, key) = {
            let mut p = KAT_WITNESS_VKEY.splitn(3, '+');
            (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
        };
        assert!(key.contains('+'));
        let raw = BASE64.decode(key).unwrap();
        let with_type = |t: u8| BASE64.encode([&[t], &raw[1..]].concat());
        let cases: Vec<(String, &str)> = vec![
            // only two parts
            (format!("{name}+{id}"), "bad-vkey"),
            // a fourth '+'-part lands in the base64, which it breaks
            (format!("{KAT_WITNESS_VKEY}+x"), "bad-vkey"),
            // empty name
            (format!("+{id}+{key}"), "bad-name"),
            // name with a space
            (format!("a b+{id}+{key}"), "bad-name"),
            // uppercase hex key id
            (format!("{name}+{}+{key}", id.to_uppercase()), "bad-vkey"),
            // short key id
            (format!("{name}+{}+{key}", &id[1..]), "bad-vkey"),
            // key id that does not match the key
            (format!("{name}+00000000+{key}"), "key-id-mismatch"),
            // key id computed for another name
            (format!("other+{id}+{key}"), "key-id-mismatch"),
            // bad base64
            (format!("{name}+{id}+{}", key.replacen('A', "*", 1)), "bad-vkey"),
            // truncated key
            (format!("{name}+{id}+{}", BASE64.encode(&raw[..32])), "bad-vkey"),
            // ECDSA signature type
            (format!("{name}+{id}+{}", with_type(0x02)), "unsupported-type"),
            // ML-DSA-44 signature type
            (format!("{name}+{id}+{}", with_type(0x06)), "unsupported-type"),
            // small-order public key (the identity point)
            (format!("{name}+{id}+{}", BASE64.encode([&[1u8, 1][..], &[0; 31]].concat())), "weak-public-key"),
            // y coordinate with no point on the curve
            (format!("{name}+{id}+{}", BASE64.encode([&[1u8, 2][..], &[0; 31]].concat())), "bad-public-key"),
        ];
        for (i, (vkey, want)) in cases.iter().enumerate() {
            match NoteVerifier::from_vkey(vkey) {
                Ok(v) => panic!("expected error {want} at index {i}: {vkey:?} parsed as {v:?}"),
                Err(e) => assert_eq!(class(&e), *want, "case {i}: {vkey:?}: {e}"),
            }
        }
    }

    #[test]
    fn malformed_checkpoints_are_rejected() {
        let root = "MxOKYAXegaFpNjXZLNgVUkEDgq7ArdqV/rt01pnkmSs=";
        let cases: Vec<(String, &str)> = vec![
            // no trailing newline
            (format!("o\n1\n{root}"), "no-newline"),
            // only two lines
            ("o\n1\n".to_owned(), "too-few-lines"),
            // empty text
            (String::new(), "no-newline"),
            // empty origin
            (format!("\n1\n{root}\n"), "empty-origin"),
            // leading zero in the size
            (format!("o\n01\n{root}\n"), "bad-size"),
            // "00" for the empty tree
            (format!("o\n00\n{root}\n"), "bad-size"),
            // plus sign, which u64::from_str accepts
            (format!("o\n+1\n{root}\n"), "bad-size"),
            // negative size
            (format!("o\n-1\n{root}\n"), "bad-size"),
            // empty size
            (format!("o\n\n{root}\n"), "bad-size"),
            // space after the size
            (format!("o\n1 \n{root}\n"), "bad-size"),
            // non-ASCII digit
            (format!("o\n\u{663}\n{root}\n"), "bad-size"),
            // 2^64
            (format!("o\n18446744073709551616\n{root}\n"), "size-overflow"),
            // root hash of 31 bytes
            (format!("o\n1\n{}\n", BASE64.encode([0u8; 31])), "bad-root"),
            // root hash of 33 bytes
            (format!("o\n1\n{}\n", BASE64.encode([0u8; 33])), "bad-root"),
            // root hash without padding
            (format!("o\n1\n{}\n", root.trim_end_matches('=')), "bad-root"),
            // root hash in hex
            (format!("o\n1\n{}\n", "00".repeat(32)), "bad-root"),
            // empty root line
            ("o\n1\n\n".to_owned(), "bad-root"),
            // empty extension line
            (format!("o\n1\n{root}\n\n"), "empty-extension"),
            // empty extension line between two others
            (format!("o\n1\n{root}\na\n\nb\n"), "empty-extension"),
            // non-newline-terminated extension line
            (format!("o\n1\n{root}\next"), "no-newline"),
            // carriage return in the origin
            (format!("o\r\n1\n{root}\n"), "control-char"),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            match Checkpoint::parse(text) {
                Ok(c) => panic!("expected error {want} at index {i}: {text:?} parsed as {c:?}"),
                Err(e) => assert_eq!(checkpoint_class(&e), *want, "case {i}: {text:?}: {e}"),
            }
        }
        // The constructor keeps the same rules.
        assert_eq!(Checkpoint::new("", 0, [0; 32], vec![]).unwrap_err(), CheckpointError::EmptyOrigin);
        assert_eq!(
            Checkpoint::new("a\nb", 0, [0; 32], vec![]).unwrap_err(),
            CheckpointError::ControlCharacter { line: 1, code: 10 }
        );
        assert_eq!(
            Checkpoint::new("o", 0, [0; 32], vec![String::new()]).unwrap_err(),
            CheckpointError::EmptyExtension { line: 4 }
        );
        // Accepted edge cases: size 0, the largest size, non-URL origins.
        for text in [
            format!("o\n0\n{root}\n"),
            format!("o\n18446744073709551615\n{root}\n"),
            format!("origin with spaces+plus\n1\n{root}\nx\ny z\n"),
        ] {
            let cp = Checkpoint::parse(&text).unwrap();
            assert_eq!(cp.encode(), text);
        }
    }

    #[test]
    fn error_messages_name_what_failed() {
        let e = SignedNote::parse("a\tb\n\n— x AAAAAAAA\n").unwrap_err();
        assert_eq!(e.to_string(), "note contains control character U+0009 at byte 1");
        let e = SignedNote::parse("t\n\n— x AAAAAAAA\n— y !!\n").unwrap_err();
        assert_eq!(e.to_string(), "signature on note line 4 is malformed: signature is not canonical base64");
        let e = Checkpoint::parse("o\n007\nAA==\n").unwrap_err();
        assert_eq!(e.to_string(), "checkpoint tree size \"007\" is not a decimal number without leading zeros");
        let long = format!("o\n{}\nAA==\n", "9".repeat(500));
        assert!(Checkpoint::parse(&long).unwrap_err().to_string().len() < 150, "untrusted input is excerpted");
    }

    // ---- tampering ----

    /// Flips every bit of `note` and returns the verification outcome of each.
    fn flip_every_bit(
        note: &str,
        verifiers: &[NoteVerifier],
        mut check: impl FnMut(usize, Result<Vec<VerifiedSig>, NoteError>),
    ) {
        let bytes = note.as_bytes();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.to_vec();
            b[bit / 8] ^= 1 << (bit % 8);
            check(bit, SignedNote::from_bytes(&b).and_then(|n| n.verify(verifiers)));
        }
    }

    #[test]
    fn any_bit_flip_breaks_a_singly_signed_note() {
        let log = log_signer();
        let w = witness();
        let signed = log.sign(KAT_TEXT).unwrap();
        let cosigned_only = format!("{KAT_TEXT}\n{}", w.cosign(KAT_TEXT, KAT_TIME).unwrap());
        for (note, v) in [(signed, log.verifier()), (cosigned_only, w.verifier())] {
            SignedNote::parse(&note).unwrap().verify(std::slice::from_ref(&v)).unwrap();
            flip_every_bit(&note, std::slice::from_ref(&v), |bit, res| {
                assert!(res.is_err(), "bit {bit} flipped in {note:?} still verifies");
            });
        }
    }

    #[test]
    fn any_bit_flip_in_a_cosigned_note_loses_a_signature() {
        // With two known keys, a flip in one line's name or key ID turns that
        // line into an unknown key (ignored, per spec); the other still
        // verifies. A flip must never leave both signatures verifying, and a
        // flip in the text must break both.
        let note = cosigned_note();
        let verifiers = [log_signer().verifier(), witness().verifier()];
        let text_bits = KAT_TEXT.len() * 8;
        flip_every_bit(&note, &verifiers, |bit, res| match res {
            Err(_) => {}
            Ok(v) => {
                assert!(bit >= text_bits, "bit {bit} flipped in the text still verifies");
                assert_eq!(v.len(), 1, "bit {bit} flipped and both signatures still verify");
            }
        });
    }

    // ---- properties ----

    fn note_text() -> impl Strategy<Value = String> {
        // Lines of printable ASCII, Latin-1, em dashes, plus signs and NBSP,
        // including empty lines and lines that look like signatures.
        proptest::collection::vec("(— )?[ -~é—+\u{a0}]{0,24}", 1..8)
            .prop_map(|lines| lines.iter().map(|l| format!("{l}\n")).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn signed_notes_round_trip(text in note_text(), seed in any::<[u8; 32]>()) {
            let s = NoteSigner::new("prop.example/k", SigningKey::from_bytes(&seed)).unwrap();
            let signed = s.sign(&text).unwrap();
            let note = SignedNote::parse(&signed).unwrap();
            prop_assert_eq!(note.text(), text.as_str());
            prop_assert_eq!(note.encode(), signed);
            prop_assert_eq!(note.verify(&[s.verifier()]).unwrap().len(), 1);
        }

        #[test]
        fn checkpoints_round_trip(
            origin in "[!-~][ -~]{0,40}",
            size in any::<u64>(),
            root in any::<[u8; 32]>(),
            extensions in proptest::collection::vec("[ -~é]{1,30}", 0..4),
            time in 0..=i64::MAX as u64,
        ) {
            let cp = Checkpoint::new(origin, size, root, extensions).unwrap();
            let text = cp.encode();
            prop_assert_eq!(&Checkpoint::parse(&text).unwrap(), &cp);
            let w = witness();
            let note = format!("{text}\n{}", w.cosign(&text, time).unwrap());
            let got = SignedNote::parse(&note).unwrap().verify(&[w.verifier()]).unwrap();
            prop_assert_eq!(got[0].timestamp, Some(time));
        }

        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = SignedNote::from_bytes(&bytes);
            if let Ok(s) = std::str::from_utf8(&bytes) {
                let _ = Checkpoint::parse(s);
                let _ = NoteVerifier::from_vkey(s);
            }
        }

        #[test]
        fn accepted_notes_reencode_identically(text in note_text(), lines in proptest::collection::vec(("[a-z./]{1,12}", proptest::collection::vec(any::<u8>(), 5..80)), 1..5)) {
            let mut note = format!("{text}\n");
            for (name, payload) in &lines {
                note.push_str(&format!("— {name} {}\n", BASE64.encode(payload)));
            }
            let parsed = SignedNote::parse(&note).unwrap();
            prop_assert_eq!(parsed.encode(), note);
        }
    }
}
