//! Ed25519 keys, key IDs, key files, signing and the strict verification rule. No ledger I/O.
//!
//! The verification rule (`docs/FORMAT.md`, "Signatures") is: a public key must be the canonical
//! encoding of a torsion-free curve point (checked once per key, when the key is accepted), and every
//! signature is checked with `verify_strict` (canonical `S`, `R` not of small order, cofactorless
//! equation). Together these accept exactly the one valid signature of the 914 CCTV edge-case vectors;
//! `verify_strict` alone accepts 42 more.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::Path;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::hazmat::ExpandedSecretKey;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

/// The first 8 bytes of `BLAKE3("custody/v1/key-id" || 0x00 || public key)`.
pub type KeyId = [u8; 8];

/// Domain separation for key IDs.
pub const KEY_ID_DOMAIN: &[u8] = b"custody/v1/key-id\0";
/// The first line of a private key file.
pub const SECRET_KEY_HEADER: &str = "custody-ed25519-secret-key-v1";
/// The prefix of a public key in text form.
pub const PUBLIC_KEY_PREFIX: &str = "custody-ed25519:";

/// Problems with keys and key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("public key {0} is not a valid ed25519 key for custody: {1}")]
    BadPublicKey(String, &'static str),
    #[error("`{0}` is not a public key (expected 64 hex digits, optionally prefixed `custody-ed25519:`)")]
    PublicKeyText(String),
    #[error("key file {path}: {problem}")]
    File { path: String, problem: String },
    #[error("key file {path} already exists; custody never overwrites a key (choose another --out)")]
    Exists { path: String },
}

/// A public key that passed the per-key checks: canonical encoding, torsion-free point.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    bytes: [u8; 32],
    vk: VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.bytes))
    }
}

impl PublicKey {
    /// Accepts a key only if it is a canonical, torsion-free point encoding.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let bad = |why| KeyError::BadPublicKey(hex::encode(bytes), why);
        let point = CompressedEdwardsY(*bytes).decompress().ok_or_else(|| bad("not a curve point"))?;
        if point.compress().to_bytes() != *bytes {
            return Err(bad("non-canonical encoding"));
        }
        if !point.is_torsion_free() {
            return Err(bad("the point has a low-order component"));
        }
        let vk = VerifyingKey::from_bytes(bytes).map_err(|_| bad("rejected by ed25519-dalek"))?;
        if vk.is_weak() {
            return Err(bad("small-order point"));
        }
        Ok(PublicKey { bytes: *bytes, vk })
    }

    /// Parses `custody-ed25519:<hex>` or bare hex.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let t = text.trim();
        let h = t.strip_prefix(PUBLIC_KEY_PREFIX).unwrap_or(t);
        let raw = hex::decode(h).map_err(|_| KeyError::PublicKeyText(t.to_string()))?;
        let arr: [u8; 32] = raw.try_into().map_err(|_| KeyError::PublicKeyText(t.to_string()))?;
        Self::from_bytes(&arr)
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.bytes
    }

    /// The text form `custody-ed25519:<64 hex>`.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC_KEY_PREFIX}{}", hex::encode(self.bytes))
    }

    pub fn key_id(&self) -> KeyId {
        key_id(&self.bytes)
    }

    /// Strict verification of `sig` over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        self.vk.verify_strict(msg, &sig).is_ok()
    }

    /// The ed25519-dalek key, for code (signed notes) that needs it.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.vk
    }
}

/// The key ID of a raw public key.
pub fn key_id(public: &[u8; 32]) -> KeyId {
    let mut h = blake3::Hasher::new();
    h.update(KEY_ID_DOMAIN);
    h.update(public);
    let mut id = [0u8; 8];
    id.copy_from_slice(&h.finalize().as_bytes()[..8]);
    id
}

/// A signing key. Its Debug form never shows the secret.
pub struct SecretKey {
    sk: SigningKey,
    /// RFC 8032's expanded key (secret scalar and nonce prefix), derived once for
    /// [`SecretKey::sign_batch`]; zeroed on drop.
    expanded: ExpandedSecretKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(key id {})", hex::encode(self.public().key_id()))
    }
}

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        // getrandom fails only when the OS has no entropy source at all.
        getrandom::fill(&mut seed).expect("the operating system's random source failed");
        Self::from_seed(&seed)
    }

    /// The key for a 32-byte RFC 8032 seed (test vectors use fixed seeds).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SecretKey { sk: SigningKey::from_bytes(seed), expanded: ExpandedSecretKey::from(seed) }
    }

    pub fn public(&self) -> PublicKey {
        let vk = self.sk.verifying_key();
        PublicKey { bytes: vk.to_bytes(), vk }
    }

    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.sk.sign(msg).to_bytes()
    }

    /// Signs each message: the same RFC 8032 signatures as [`SecretKey::sign`], byte for byte
    /// (Ed25519 signing is deterministic), computed together so that the nonce points `R = r·B` of
    /// the batch are encoded with one shared field inversion (Montgomery's trick) instead of one
    /// each. That inversion is about a fifth of the cost of a signature.
    pub fn sign_batch<M: AsRef<[u8]>>(&self, msgs: &[M]) -> Vec<[u8; 64]> {
        let public = self.sk.verifying_key().to_bytes();
        // r = SHA-512(prefix || M) mod L, the secret nonce of each signature.
        let mut nonces: Vec<Scalar> = msgs
            .iter()
            .map(|m| {
                let h = Sha512::new().chain_update(self.expanded.hash_prefix).chain_update(m.as_ref()).finalize();
                Scalar::from_bytes_mod_order_wide(&h.into())
            })
            .collect();
        let points: Vec<EdwardsPoint> = nonces.iter().map(EdwardsPoint::mul_base).collect();
        let encoded = EdwardsPoint::compress_batch_alloc(&points);
        let sigs = msgs
            .iter()
            .zip(&nonces)
            .zip(&encoded)
            .map(|((m, r), big_r)| {
                // k = SHA-512(R || A || M) mod L; S = r + k·a.
                let h = Sha512::new()
                    .chain_update(big_r.as_bytes())
                    .chain_update(public)
                    .chain_update(m.as_ref())
                    .finalize();
                let k = Scalar::from_bytes_mod_order_wide(&h.into());
                let s = r + k * self.expanded.scalar;
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(big_r.as_bytes());
                sig[32..].copy_from_slice(s.as_bytes());
                sig
            })
            .collect();
        nonces.zeroize();
        sigs
    }

    /// The ed25519-dalek key, for code (signed notes) that needs it.
    pub fn signing_key(&self) -> &SigningKey {
        &self.sk
    }

    /// Key file text: a header line, then the seed as 64 hex digits, then the public key.
    pub fn to_file_text(&self) -> String {
        format!("{SECRET_KEY_HEADER}\nseed {}\npublic {}\n", hex::encode(self.sk.to_bytes()), self.public().to_text())
    }

    /// Parses key file text; the `public` line, when present, must match the seed.
    pub fn from_file_text(text: &str, path: &str) -> Result<Self, KeyError> {
        let bad = |problem: &str| KeyError::File { path: path.to_string(), problem: problem.to_string() };
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(SECRET_KEY_HEADER) {
            return Err(bad(&format!("does not start with `{SECRET_KEY_HEADER}`; create keys with `custody keygen`")));
        }
        let mut seed = None;
        let mut public = None;
        for line in lines {
            match line.trim().split_once(' ') {
                Some(("seed", h)) => seed = Some(h.trim().to_string()),
                Some(("public", p)) => public = Some(p.trim().to_string()),
                _ if line.trim().is_empty() => {}
                _ => return Err(bad("has a line that is neither `seed` nor `public`")),
            }
        }
        let seed = seed.ok_or_else(|| bad("has no `seed` line"))?;
        let raw = hex::decode(&seed).map_err(|_| bad("seed is not hex"))?;
        let arr: [u8; 32] = raw.try_into().map_err(|_| bad("seed is not 32 bytes"))?;
        let key = SecretKey::from_seed(&arr);
        if let Some(p) = public {
            if PublicKey::parse(&p).map(|k| k.to_bytes()).ok() != Some(key.public().to_bytes()) {
                return Err(bad("the `public` line does not belong to the seed"));
            }
        }
        Ok(key)
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let p = path.display().to_string();
        let text = fs::read_to_string(path).map_err(|e| KeyError::File { path: p.clone(), problem: e.to_string() })?;
        Self::from_file_text(&text, &p)
    }

    /// Writes a new key file with mode 0600, refusing to overwrite, and syncs it.
    pub fn save_new(&self, path: &Path) -> Result<(), KeyError> {
        let p = path.display().to_string();
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists { path: p.clone() }
            } else {
                KeyError::File { path: p.clone(), problem: e.to_string() }
            }
        })?;
        f.write_all(self.to_file_text().as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| KeyError::File { path: p, problem: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trip() {
        let k = SecretKey::from_seed(&[7; 32]);
        let text = k.to_file_text();
        let back = SecretKey::from_file_text(&text, "t").unwrap();
        assert_eq!(back.public(), k.public());
        let tampered = text.replace("public custody-ed25519:", "public custody-ed25519:00");
        assert!(SecretKey::from_file_text(&tampered, "t").is_err());
        assert!(SecretKey::from_file_text("nonsense", "t").is_err());
    }

    /// Batch signing gives exactly the library's one-at-a-time signatures, for batches of every
    /// small size (including one and empty) and messages of many lengths, under several keys.
    #[test]
    fn sign_batch_matches_sign() {
        for seed in 0u8..4 {
            let k = SecretKey::from_seed(&[seed; 32]);
            for n in [0usize, 1, 2, 3, 7, 33] {
                let msgs: Vec<Vec<u8>> =
                    (0..n).map(|i| (0..(i * 37 % 300)).map(|j| (i * 31 + j) as u8).collect()).collect();
                let batch = k.sign_batch(&msgs);
                assert_eq!(batch.len(), n);
                for (m, sig) in msgs.iter().zip(&batch) {
                    assert_eq!(*sig, k.sign(m), "seed {seed}, batch of {n}");
                    assert!(k.public().verify(m, sig));
                }
            }
        }
    }

    proptest::proptest! {
        /// Any key, any messages: the batch signer's bytes are the library's one-at-a-time bytes.
        #[test]
        fn sign_batch_is_sign(
            seed in proptest::array::uniform32(proptest::num::u8::ANY),
            msgs in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..200), 0..40),
        ) {
            let k = SecretKey::from_seed(&seed);
            let batch = k.sign_batch(&msgs);
            proptest::prop_assert_eq!(batch.len(), msgs.len());
            for (m, sig) in msgs.iter().zip(&batch) {
                proptest::prop_assert_eq!(*sig, k.sign(m));
            }
        }
    }

    /// Wycheproof's 151 EdDSA vectors: the 88 valid ones are accepted and the 63 invalid ones
    /// rejected (signatures of another length than 64 bytes never reach a check: custody's frames
    /// hold exactly 64).
    #[test]
    fn wycheproof_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/wycheproof-ed25519/ed25519_test.json");
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).unwrap();
        let (mut valid, mut invalid) = (0, 0);
        for g in doc["testGroups"].as_array().unwrap() {
            let pk: [u8; 32] = hex::decode(g["publicKey"]["pk"].as_str().unwrap()).unwrap().try_into().unwrap();
            let key = PublicKey::from_bytes(&pk).expect("wycheproof keys are valid");
            for t in g["tests"].as_array().unwrap() {
                let want = t["result"].as_str() == Some("valid");
                if want {
                    valid += 1
                } else {
                    invalid += 1
                }
                let msg = hex::decode(t["msg"].as_str().unwrap()).unwrap();
                let Ok(sig) = <[u8; 64]>::try_from(hex::decode(t["sig"].as_str().unwrap()).unwrap()) else {
                    assert!(!want, "test {}: a valid signature of another length", t["tcId"]);
                    continue;
                };
                assert_eq!(key.verify(&msg, &sig), want, "test {}", t["tcId"]);
            }
        }
        assert_eq!((valid, invalid), (88, 63));
    }

    /// RFC 8032 section 7.1, TEST 1 and TEST 3, through the batch signer.
    #[test]
    fn sign_batch_rfc8032_vectors() {
        let cases = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                "af82",
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
            ),
        ];
        for (seed, msg, sig) in cases {
            let k = SecretKey::from_seed(&hex::decode(seed).unwrap().try_into().unwrap());
            let msg = hex::decode(msg).unwrap();
            assert_eq!(hex::encode(k.sign_batch(&[&msg, &msg])[1]), sig);
        }
    }

    #[test]
    fn sign_and_verify() {
        let k = SecretKey::from_seed(&[1; 32]);
        let sig = k.sign(b"msg");
        assert!(k.public().verify(b"msg", &sig));
        assert!(!k.public().verify(b"msh", &sig));
        let pk = PublicKey::parse(&k.public().to_text()).unwrap();
        assert_eq!(pk, k.public());
    }

    #[derive(serde::Deserialize)]
    struct Cctv {
        key: String,
        sig: String,
        msg: String,
        flags: Option<Vec<String>>,
    }

    /// The CCTV ed25519 edge cases: the 913 flagged vectors are rejected, the unflagged one accepted.
    #[test]
    fn cctv_edge_cases() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/cctv-ed25519/ed25519vectors.json");
        let text = std::fs::read_to_string(path).expect("shared vectors present");
        let vectors: Vec<Cctv> = if text.trim_start().starts_with('[') {
            serde_json::from_str(&text).unwrap()
        } else {
            text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
        };
        assert_eq!(vectors.len(), 914);
        let (mut accepted_flagged, mut accepted_clean, mut clean) = (0, 0, 0);
        for v in &vectors {
            let key: [u8; 32] = hex::decode(&v.key).unwrap().try_into().unwrap();
            let sig: [u8; 64] = hex::decode(&v.sig).unwrap().try_into().unwrap();
            let ok = PublicKey::from_bytes(&key).map(|k| k.verify(v.msg.as_bytes(), &sig)).unwrap_or(false);
            let flagged = v.flags.as_ref().is_some_and(|f| !f.is_empty());
            if !flagged {
                clean += 1;
            }
            match (flagged, ok) {
                (true, true) => accepted_flagged += 1,
                (false, true) => accepted_clean += 1,
                _ => {}
            }
        }
        assert_eq!((clean, accepted_clean, accepted_flagged), (1, 1, 0));
    }
}
