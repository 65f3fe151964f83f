//! RFC 6962 / RFC 9162 Merkle tree over custody's entries: hashing, append-only
//! hash storage, tree heads, inclusion proofs and consistency proofs.
//!
//! This module owns the tree math and the *layout* of stored hashes. The leaf
//! data is opaque bytes (in custody, the 32-byte blake3 entry hash); the tree
//! hash is SHA-256 with the RFC 6962 §2.1 domain separation.
//!
//! Storage follows the post-order "stored hashes" layout of Crosby and Wallach
//! ("Efficient Data Structures for Tamper-Evident Logging", §3.3), as used by
//! Go's `golang.org/x/mod/sumdb/tlog`: appending leaf `n` writes the leaf hash
//! followed by the hash of every complete power-of-two subtree that leaf closes,
//! and nothing is ever rewritten. Every root and proof for any size up to the
//! current one is then computed from O(log n) stored hashes, fetched with a
//! single [`HashReader::read_hashes`] call.
//!
//! Left out: where the hashes live (files, index, tiles), locking, caching,
//! checkpoint text and signatures (see `note.rs`), and any HTTP transport.

#![forbid(unsafe_code)]

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Root of the empty tree, `MTH({}) = SHA-256()` (RFC 9162 §2.1.1).
pub const EMPTY_TREE_HASH: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41,
    0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Largest tree size (in leaves) the storage functions accept: 2^62.
///
/// Stored hash indexes grow as about twice the leaf count, so this keeps every
/// index inside a `u64`. Verification functions take any `u64` size.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Errors from storing, reading, proving and verifying.
///
/// Proof verification failures (the proof does not show what it claims) are
/// kept apart from operational failures (`HashNotStored`, `Storage`,
/// `ShortRead`), because a different person acts on each.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// A leaf index is not inside the tree it is proved against.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof was asked for or checked from a larger to a smaller tree.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizeOrder { old: u64, new: u64 },
    /// A tree size is beyond what the stored-hash layout can index.
    #[error("tree size {size} exceeds the maximum of {max} leaves", max = MAX_TREE_SIZE)]
    TreeTooLarge { size: u64 },
    /// The hash store does not hold a stored hash that was asked for, usually
    /// because the requested tree size is larger than the log.
    #[error("stored hash {index} is not in the store ({stored} hashes stored)")]
    HashNotStored { index: u64, stored: u64 },
    /// A [`HashReader`] broke its contract of one hash per requested index.
    #[error("hash reader returned {returned} hashes for {requested} indexes")]
    ShortRead { requested: usize, returned: usize },
    /// The backing store failed to read.
    #[error("reading stored hashes failed")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// An inclusion proof has hashes left over after reaching the root.
    #[error("inclusion proof for leaf {index} in tree size {size} has too many hashes ({len})")]
    InclusionProofTooLong { index: u64, size: u64, len: usize },
    /// An inclusion proof ran out of hashes before reaching the root.
    #[error("inclusion proof for leaf {index} in tree size {size} has too few hashes ({len})")]
    InclusionProofTooShort { index: u64, size: u64, len: usize },
    /// An inclusion proof leads to a different root.
    #[error("inclusion proof for leaf {index} does not lead to the root of tree size {size}")]
    InclusionRootMismatch { index: u64, size: u64 },
    /// A consistency proof that must be empty is not.
    #[error("consistency proof from size {old} to size {new} must be empty, but has {len} hashes")]
    ConsistencyProofNotEmpty { old: u64, new: u64, len: usize },
    /// A consistency proof between different, non-empty trees is empty.
    #[error("consistency proof from size {old} to size {new} is empty")]
    ConsistencyProofEmpty { old: u64, new: u64 },
    /// A consistency proof has hashes left over.
    #[error("consistency proof from size {old} to size {new} has too many hashes ({len})")]
    ConsistencyProofTooLong { old: u64, new: u64, len: usize },
    /// A consistency proof ran out of hashes.
    #[error("consistency proof from size {old} to size {new} has too few hashes ({len})")]
    ConsistencyProofTooShort { old: u64, new: u64, len: usize },
    /// A consistency proof does not reproduce the old root.
    #[error("consistency proof from size {old} to size {new} does not lead to the old root")]
    OldRootMismatch { old: u64, new: u64 },
    /// A consistency proof does not reproduce the new root.
    #[error("consistency proof from size {old} to size {new} does not lead to the new root")]
    NewRootMismatch { old: u64, new: u64 },
}

/// Read access to stored hashes, addressed by [`stored_hash_index`].
pub trait HashReader {
    /// Returns the stored hashes at `indexes`, in the same order, one per index.
    ///
    /// Every function in this module calls this at most once per operation,
    /// with O(log n) indexes in increasing storage order where that is natural.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        (**self).read_hashes(indexes)
    }
}

/// Hash of a leaf: `SHA-256(0x00 || data)` (RFC 6962 §2.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]); // RFC 6962 §2.1: MTH({d(0)}) = SHA-256(0x00 || d(0))
    h.update(data);
    h.finalize().into()
}

/// Hash of an interior node: `SHA-256(0x01 || left || right)` (RFC 6962 §2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]); // RFC 6962 §2.1: SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The RFC 6962 §2.1 split: "k is the largest power of two smaller than n".
/// Requires `n >= 2`.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (n - 1).ilog2()
}

/// Storage position of the hash of the complete subtree at `level` (0 for
/// leaves) and position `n` within that level, i.e. the subtree covering
/// leaves `[n·2^level, (n+1)·2^level)`.
///
/// Post-order layout (Crosby and Wallach §3.3; Go's `tlog.StoredHashIndex`):
/// a subtree hash is written right after the last leaf it covers and after the
/// smaller subtrees that leaf closes. Leaf `i` is preceded by the
/// `2i - popcount(i)` hashes stored for the first `i` leaves.
///
/// # Panics
///
/// If the subtree reaches beyond [`MAX_TREE_SIZE`] leaves.
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    assert!(
        level < 63 && n < (MAX_TREE_SIZE >> level),
        "stored hash coordinates (level {level}, n {n}) are beyond the maximum tree size"
    );
    let last_leaf = ((n + 1) << level) - 1;
    stored_hash_count(last_leaf) + u64::from(level)
}

/// Number of hashes stored for a tree of `n` leaves: one per leaf plus one per
/// complete subtree, `sum over l >= 0 of floor(n / 2^l)`, which is `2n - popcount(n)`.
///
/// # Panics
///
/// If `n` exceeds [`MAX_TREE_SIZE`].
pub fn stored_hash_count(n: u64) -> u64 {
    assert!(n <= MAX_TREE_SIZE, "tree size {n} exceeds the maximum tree size");
    2 * n - u64::from(n.count_ones())
}

fn check_size(size: u64) -> Result<(), MerkleError> {
    if size > MAX_TREE_SIZE {
        return Err(MerkleError::TreeTooLarge { size });
    }
    Ok(())
}

/// Reads `indexes` and checks that the reader returned one hash per index.
fn read_exact(r: &(impl HashReader + ?Sized), indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
    let hashes = r.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(MerkleError::ShortRead { requested: indexes.len(), returned: hashes.len() });
    }
    Ok(hashes)
}

/// The hashes to store when appending leaf number `n` (0-based) with hash
/// `leaf_hash` to a tree of `n` leaves: the leaf hash, then the hash of each
/// complete subtree it closes, bottom-up. They belong at storage indexes
/// `stored_hash_count(n) .. stored_hash_count(n + 1)`.
///
/// Reads the left sibling of each closed subtree (one hash per trailing one bit
/// of `n`, so at most log2(n)) with a single `read_hashes` call.
pub fn stored_hashes_for_append(
    n: u64,
    leaf_hash: Hash,
    r: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, MerkleError> {
    check_size(n.saturating_add(1))?;
    // Each trailing one bit of n is a complete left sibling at that level;
    // leaf n completes its parent subtree at each such level.
    let closed = n.trailing_ones();
    // Highest level first, which is increasing storage order.
    let indexes: Vec<u64> = (0..closed).rev().map(|level| stored_hash_index(level, (n >> level) - 1)).collect();
    let siblings = if indexes.is_empty() { Vec::new() } else { read_exact(r, &indexes)? };
    let mut out = Vec::with_capacity(1 + siblings.len());
    let mut h = leaf_hash;
    out.push(h);
    for sibling in siblings.iter().rev() {
        h = node_hash(sibling, &h);
        out.push(h);
    }
    Ok(out)
}

/// Appends to `out` the stored hash indexes of the complete subtrees that make
/// up leaves `[lo, hi)`, left to right. `lo` must be aligned to the largest of
/// them, which holds for every range produced by the RFC 6962 §2.1 split.
fn push_subtree_indexes(mut lo: u64, hi: u64, out: &mut Vec<u64>) {
    while lo < hi {
        let level = (hi - lo).ilog2(); // largest 2^level <= hi - lo
        debug_assert_eq!(lo & ((1 << level) - 1), 0, "unaligned subtree range");
        out.push(stored_hash_index(level, lo >> level));
        lo += 1 << level;
    }
}

/// `MTH(D[lo:hi])` from the hashes of its complete subtrees, left to right:
/// by RFC 6962 §2.1 the tree is `node(first, MTH(rest))`, so fold from the right.
fn fold_subtrees(pieces: &[Hash]) -> Hash {
    let (last, rest) = pieces.split_last().expect("a subtree range is never empty");
    rest.iter().rev().fold(*last, |acc, left| node_hash(left, &acc))
}

/// Hashes of the subtrees `[lo, hi)` in `ranges`, read in one call.
fn read_subtree_hashes(ranges: &[(u64, u64)], r: &(impl HashReader + ?Sized)) -> Result<Vec<Hash>, MerkleError> {
    let mut indexes = Vec::new();
    let mut counts = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let before = indexes.len();
        push_subtree_indexes(lo, hi, &mut indexes);
        counts.push(indexes.len() - before);
    }
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = read_exact(r, &indexes)?;
    let mut out = Vec::with_capacity(ranges.len());
    let mut pos = 0;
    for count in counts {
        out.push(fold_subtrees(&hashes[pos..pos + count]));
        pos += count;
    }
    Ok(out)
}

/// Root hash `MTH(D[0:size])` of the tree of the first `size` leaves, for any
/// size up to the current one. Reads at most log2(size) + 1 stored hashes.
/// The root of the empty tree is [`EMPTY_TREE_HASH`].
pub fn tree_hash(size: u64, r: &(impl HashReader + ?Sized)) -> Result<Hash, MerkleError> {
    check_size(size)?;
    if size == 0 {
        return Ok(EMPTY_TREE_HASH); // RFC 9162 §2.1.1: MTH({}) = HASH()
    }
    let hashes = read_subtree_hashes(&[(0, size)], r)?;
    Ok(hashes[0])
}

/// Subtree ranges of the inclusion path `PATH(index, D[lo:hi])`, in proof
/// order (leaf to root), per RFC 9162 §2.1.3.1.
fn inclusion_ranges(index: u64, lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
    if hi - lo == 1 {
        return; // PATH(0, {d(0)}) = {}
    }
    let k = split(hi - lo);
    if index < lo + k {
        // m < k: PATH(m, D[0:k]) : MTH(D[k:n])
        inclusion_ranges(index, lo, lo + k, out);
        out.push((lo + k, hi));
    } else {
        // m >= k: PATH(m - k, D[k:n]) : MTH(D[0:k])
        inclusion_ranges(index, lo + k, hi, out);
        out.push((lo, lo + k));
    }
}

/// Inclusion proof (audit path) for leaf `index` in the tree of `size` leaves,
/// per RFC 9162 §2.1.3.1; at most log2(size) hashes, ordered leaf to root.
pub fn prove_inclusion(index: u64, size: u64, r: &(impl HashReader + ?Sized)) -> Result<Vec<Hash>, MerkleError> {
    check_size(size)?;
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut ranges = Vec::new();
    inclusion_ranges(index, 0, size, &mut ranges);
    read_subtree_hashes(&ranges, r)
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `size` leaves with
/// root `root`, exactly as RFC 9162 §2.1.3.2.
///
/// The proof authenticates the leaf against `root`; it is the signed
/// checkpoint that binds `root` to `size`. A proof can verify against a root
/// under a neighbouring size whose tree has the same shape along the path, so
/// always take `size` and `root` from the same checkpoint.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    // Step 1: leaf_index >= tree_size fails.
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    // Step 2: fn = leaf_index, sn = tree_size - 1. Step 3: r = hash.
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf_hash;
    // Step 4.
    for p in proof {
        // 4a: if sn is 0, stop and fail.
        if snode == 0 {
            return Err(MerkleError::InclusionProofTooLong { index, size, len: proof.len() });
        }
        if fnode & 1 == 1 || fnode == snode {
            // 4b: r = HASH(0x01 || p || r)
            r = node_hash(p, &r);
            // Right-shift both until LSB(fn) is set or fn is 0.
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            // 4c: r = HASH(0x01 || r || p)
            r = node_hash(&r, p);
        }
        // 4d: right-shift both once.
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 5: sn must be 0 and r must equal the root.
    if snode != 0 {
        return Err(MerkleError::InclusionProofTooShort { index, size, len: proof.len() });
    }
    if r != *root {
        return Err(MerkleError::InclusionRootMismatch { index, size });
    }
    Ok(())
}

/// Subtree ranges of `SUBPROOF(old, D[lo:hi], known)` in proof order, per
/// RFC 9162 §2.1.4.1. `known` (the RFC's `b`) is true while the recursion has
/// only gone left, where the old tree's root is the one the client holds.
fn consistency_ranges(old: u64, lo: u64, hi: u64, known: bool, out: &mut Vec<(u64, u64)>) {
    if old == hi {
        // m = n: {} if b is true, else {MTH(D[m])}.
        if !known {
            out.push((lo, hi));
        }
        return;
    }
    let k = split(hi - lo);
    if old <= lo + k {
        // m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
        consistency_ranges(old, lo, lo + k, known, out);
        out.push((lo + k, hi));
    } else {
        // m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
        consistency_ranges(old, lo + k, hi, false, out);
        out.push((lo, lo + k));
    }
}

/// Consistency proof `PROOF(old, D[0:new])` between the tree of `old` leaves
/// and the tree of `new` leaves, per RFC 9162 §2.1.4.1; O(log new) hashes.
///
/// RFC 9162 defines the proof for `0 < old < new`. For `old == new` its
/// `SUBPROOF(m, D[m], true)` is empty, and the empty tree is a prefix of every
/// tree, so both `old == 0` and `old == new` give an empty proof without
/// reading the store.
pub fn prove_consistency(old: u64, new: u64, r: &(impl HashReader + ?Sized)) -> Result<Vec<Hash>, MerkleError> {
    check_size(new)?;
    if old > new {
        return Err(MerkleError::SizeOrder { old, new });
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    let mut ranges = Vec::new();
    consistency_ranges(old, 0, new, true, &mut ranges);
    read_subtree_hashes(&ranges, r)
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends the
/// tree of `old_size` leaves with root `old_root`.
///
/// For `0 < old_size < new_size` this is exactly RFC 9162 §2.1.4.2. Outside
/// that range the RFC defines no proof; this function accepts only:
/// * `old_size == new_size`: an empty proof and equal roots (the empty
///   `SUBPROOF(m, D[m], true)` of §2.1.4.1);
/// * `old_size == 0`: an empty proof, and `old_root` equal to the empty-tree
///   root `HASH()` of §2.1.1 (the only root a tree of size 0 can have).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    let (old, new) = (old_size, new_size);
    if old > new {
        return Err(MerkleError::SizeOrder { old, new });
    }
    if old == new || old == 0 {
        if !proof.is_empty() {
            return Err(MerkleError::ConsistencyProofNotEmpty { old, new, len: proof.len() });
        }
        if old == new && old_root != new_root {
            return Err(MerkleError::NewRootMismatch { old, new });
        }
        if old == 0 && *old_root != EMPTY_TREE_HASH {
            return Err(MerkleError::OldRootMismatch { old, new });
        }
        return Ok(());
    }
    // Step 1: an empty consistency_path fails.
    if proof.is_empty() {
        return Err(MerkleError::ConsistencyProofEmpty { old, new });
    }
    // Step 2: if first is an exact power of 2, prepend first_hash.
    let (first_hash, rest) = if old.is_power_of_two() { (old_root, proof) } else { (&proof[0], &proof[1..]) };
    // Step 3: fn = first - 1, sn = second - 1.
    let (mut fnode, mut snode) = (old - 1, new - 1);
    // Step 4: while LSB(fn) is set, right-shift both.
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 5: fr = sr = first value of the path.
    let (mut fr, mut sr) = (*first_hash, *first_hash);
    // Step 6: for each subsequent value c.
    for c in rest {
        // 6a: if sn is 0, stop and fail.
        if snode == 0 {
            return Err(MerkleError::ConsistencyProofTooLong { old, new, len: proof.len() });
        }
        if fnode & 1 == 1 || fnode == snode {
            // 6b: fr = HASH(0x01 || c || fr), sr = HASH(0x01 || c || sr)
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            // Right-shift both until LSB(fn) is set or fn is 0.
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            // 6c: sr = HASH(0x01 || sr || c)
            sr = node_hash(&sr, c);
        }
        // 6d: right-shift both once.
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 7: fr == first_hash, sr == second_hash, sn == 0.
    if snode != 0 {
        return Err(MerkleError::ConsistencyProofTooShort { old, new, len: proof.len() });
    }
    if fr != *old_root {
        return Err(MerkleError::OldRootMismatch { old, new });
    }
    if sr != *new_root {
        return Err(MerkleError::NewRootMismatch { old, new });
    }
    Ok(())
}

/// An in-memory hash store in the stored-hash layout, for tests and small logs.
#[derive(Debug, Clone, Default)]
pub struct MemoryHashStore {
    /// Invariant: `hashes.len() == stored_hash_count(size)`.
    hashes: Vec<Hash>,
    size: u64,
}

impl MemoryHashStore {
    /// An empty store (tree size 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// All stored hashes, in storage order.
    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf by its [`leaf_hash`] and returns the leaf's index.
    pub fn append(&mut self, leaf_hash: Hash) -> Result<u64, MerkleError> {
        let index = self.size;
        let new = stored_hashes_for_append(index, leaf_hash, &*self)?;
        self.hashes.extend_from_slice(&new);
        self.size += 1;
        debug_assert_eq!(self.hashes.len() as u64, stored_hash_count(self.size));
        Ok(index)
    }

    /// Root hash of the current tree.
    pub fn root(&self) -> Result<Hash, MerkleError> {
        tree_hash(self.size, self)
    }
}

impl HashReader for MemoryHashStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        indexes
            .iter()
            .map(|&index| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| self.hashes.get(i))
                    .copied()
                    .ok_or(MerkleError::HashNotStored { index, stored: self.hashes.len() as u64 })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::{Cell, RefCell};
    use std::sync::OnceLock;

    /// Shared RFC 6962 vectors (transparency-dev/merkle test data).
    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/rfc6962-sha256.json");

    /// Leaves in the shared property-test tree; every size up to this is tested
    /// against one store, since the store serves roots for all earlier sizes.
    const BIG: u64 = 3000;

    // ---- naive reference, straight from the RFC 9162 §2.1 definitions ----

    fn ref_sha(parts: &[&[u8]]) -> Hash {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    fn ref_leaf(data: &[u8]) -> Hash {
        ref_sha(&[&[0u8], data])
    }

    fn ref_k(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// MTH(D[n]) over leaf hashes.
    fn ref_mth(l: &[Hash]) -> Hash {
        match l.len() {
            0 => ref_sha(&[]),
            1 => l[0],
            n => {
                let k = ref_k(n);
                ref_sha(&[&[1u8], &ref_mth(&l[..k]), &ref_mth(&l[k..])])
            }
        }
    }

    /// PATH(m, D[n]).
    fn ref_path(m: usize, l: &[Hash]) -> Vec<Hash> {
        let n = l.len();
        if n == 1 {
            return Vec::new();
        }
        let k = ref_k(n);
        if m < k {
            let mut p = ref_path(m, &l[..k]);
            p.push(ref_mth(&l[k..]));
            p
        } else {
            let mut p = ref_path(m - k, &l[k..]);
            p.push(ref_mth(&l[..k]));
            p
        }
    }

    /// Direction of each PATH(m, D[n]) sibling: true when it is on the left.
    fn ref_path_shape(m: usize, n: usize) -> Vec<bool> {
        if n == 1 {
            return Vec::new();
        }
        let k = ref_k(n);
        if m < k {
            let mut p = ref_path_shape(m, k);
            p.push(false);
            p
        } else {
            let mut p = ref_path_shape(m - k, n - k);
            p.push(true);
            p
        }
    }

    /// PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
    fn ref_proof(m: usize, l: &[Hash]) -> Vec<Hash> {
        fn sub(m: usize, l: &[Hash], b: bool) -> Vec<Hash> {
            let n = l.len();
            if m == n {
                return if b { Vec::new() } else { vec![ref_mth(l)] };
            }
            let k = ref_k(n);
            if m <= k {
                let mut p = sub(m, &l[..k], b);
                p.push(ref_mth(&l[k..]));
                p
            } else {
                let mut p = sub(m - k, &l[k..], false);
                p.push(ref_mth(&l[..k]));
                p
            }
        }
        sub(m, l, true)
    }

    // ---- fixtures ----

    fn leaf_data(i: u64) -> Vec<u8> {
        // Vary the length so leaves are not all the same shape.
        let mut d = i.to_be_bytes().to_vec();
        d.truncate(1 + (i % 8) as usize);
        d.push((i % 251) as u8);
        d
    }

    struct Fixture {
        store: MemoryHashStore,
        leaves: Vec<Hash>,
        roots: Vec<Hash>,
    }

    fn fixture() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            let mut store = MemoryHashStore::new();
            let leaves: Vec<Hash> = (0..BIG).map(|i| ref_leaf(&leaf_data(i))).collect();
            for (i, l) in leaves.iter().enumerate() {
                assert_eq!(store.append(*l).unwrap(), i as u64);
            }
            let roots = (0..=BIG).map(|n| tree_hash(n, &store).unwrap()).collect();
            Fixture { store, leaves, roots }
        })
    }

    fn store_of(n: u64) -> (MemoryHashStore, Vec<Hash>) {
        let mut s = MemoryHashStore::new();
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&leaf_data(i))).collect();
        for l in &leaves {
            s.append(*l).unwrap();
        }
        (s, leaves)
    }

    /// Counts calls and indexes, to check the O(log n) read bound.
    struct Counting<'a> {
        inner: &'a MemoryHashStore,
        calls: Cell<usize>,
        indexes: RefCell<Vec<u64>>,
    }

    impl<'a> Counting<'a> {
        fn new(inner: &'a MemoryHashStore) -> Self {
            Self { inner, calls: Cell::new(0), indexes: RefCell::new(Vec::new()) }
        }
    }

    impl HashReader for Counting<'_> {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
            self.calls.set(self.calls.get() + 1);
            self.indexes.borrow_mut().extend_from_slice(indexes);
            self.inner.read_hashes(indexes)
        }
    }

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    fn hashes(v: &serde_json::Value) -> Vec<Hash> {
        v.as_array().unwrap().iter().map(|x| h(x.as_str().unwrap())).collect()
    }

    fn flip(hh: &Hash, bit: usize) -> Hash {
        let mut x = *hh;
        x[bit / 8] ^= 1 << (bit % 8);
        x
    }

    // ---- known answers ----

    #[test]
    fn empty_tree_hash_is_sha256_of_nothing() {
        assert_eq!(EMPTY_TREE_HASH, <[u8; 32]>::from(Sha256::digest(b"")));
        assert_eq!(tree_hash(0, &MemoryHashStore::new()).unwrap(), EMPTY_TREE_HASH);
    }

    #[test]
    fn shared_rfc6962_vectors() {
        let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("reading {VECTORS}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["hash"], "sha256");
        let mut store = MemoryHashStore::new();
        for leaf in v["leaves_hex"].as_array().unwrap() {
            store.append(leaf_hash(&hex::decode(leaf.as_str().unwrap()).unwrap())).unwrap();
        }
        let roots = hashes(&v["roots_hex"]);
        assert_eq!(roots.len() as u64, store.size() + 1);
        for (n, root) in roots.iter().enumerate() {
            assert_eq!(tree_hash(n as u64, &store).unwrap(), *root, "root of size {n}");
        }
        let leaves: Vec<Hash> = (0..store.size()).map(|i| store.stored()[stored_hash_index(0, i) as usize]).collect();
        for (i, p) in v["inclusion_proofs"].as_array().unwrap().iter().enumerate() {
            let index = p["leaf_index"].as_u64().unwrap();
            let size = p["tree_size"].as_u64().unwrap();
            let want = hashes(&p["proof"]);
            assert_eq!(prove_inclusion(index, size, &store).unwrap(), want, "inclusion vector {i}");
            verify_inclusion(&leaves[index as usize], index, size, &want, &roots[size as usize])
                .unwrap_or_else(|e| panic!("inclusion vector {i}: {e}"));
        }
        for (i, p) in v["consistency_proofs"].as_array().unwrap().iter().enumerate() {
            let old = p["size1"].as_u64().unwrap();
            let new = p["size2"].as_u64().unwrap();
            let want = hashes(&p["proof"]);
            assert_eq!(prove_consistency(old, new, &store).unwrap(), want, "consistency vector {i}");
            verify_consistency(old, new, &roots[old as usize], &roots[new as usize], &want)
                .unwrap_or_else(|e| panic!("consistency vector {i}: {e}"));
        }
    }

    #[test]
    fn stored_hash_layout_matches_tlog() {
        // (level, n) -> index, from Go's tlog.StoredHashIndex.
        let table = [
            (0, 0, 0),
            (0, 1, 1),
            (1, 0, 2),
            (0, 2, 3),
            (0, 3, 4),
            (1, 1, 5),
            (2, 0, 6),
            (0, 4, 7),
            (0, 5, 8),
            (1, 2, 9),
            (0, 7, 11),
            (3, 0, 14),
        ];
        for (level, n, want) in table {
            assert_eq!(stored_hash_index(level, n), want, "stored_hash_index({level}, {n})");
        }
        let counts = [0, 1, 3, 4, 7, 8, 10, 11, 15];
        for (n, want) in counts.iter().enumerate() {
            assert_eq!(stored_hash_count(n as u64), *want, "stored_hash_count({n})");
        }
        assert_eq!(stored_hash_count(MAX_TREE_SIZE), 2 * MAX_TREE_SIZE - 1);
        assert!(stored_hash_index(61, 0) < stored_hash_count(MAX_TREE_SIZE));
    }

    #[test]
    fn every_stored_hash_is_its_subtree_root() {
        let (store, leaves) = store_of(300);
        let mut seen = vec![false; store.stored().len()];
        for level in 0..9u32 {
            let width = 1usize << level;
            for n in 0..leaves.len() / width {
                let i = stored_hash_index(level, n as u64) as usize;
                assert!(!seen[i], "index {i} used twice");
                seen[i] = true;
                assert_eq!(
                    store.stored()[i],
                    ref_mth(&leaves[n * width..(n + 1) * width]),
                    "stored hash at level {level}, n {n}"
                );
            }
        }
        assert!(seen.iter().all(|s| *s), "every stored index is a subtree");
    }

    #[test]
    fn append_never_rewrites() {
        let mut store = MemoryHashStore::new();
        let mut snapshot: Vec<Hash> = Vec::new();
        for i in 0..200u64 {
            let expected_range = stored_hash_count(i)..stored_hash_count(i + 1);
            let new = stored_hashes_for_append(i, leaf_hash(&leaf_data(i)), &store).unwrap();
            assert_eq!(new.len() as u64, expected_range.end - expected_range.start);
            store.append(leaf_hash(&leaf_data(i))).unwrap();
            assert_eq!(&store.stored()[..snapshot.len()], &snapshot[..], "prefix rewritten at {i}");
            snapshot = store.stored().to_vec();
        }
    }

    #[test]
    fn reads_are_one_call_and_logarithmic() {
        let f = fixture();
        let bits = |n: u64| (64 - n.leading_zeros()) as usize; // ceil-ish log2 + 1
        for size in (1..=BIG).step_by(7).chain([1024, 1025, 2047, 2048, BIG]) {
            let c = Counting::new(&f.store);
            tree_hash(size, &c).unwrap();
            assert!(c.calls.get() == 1 && c.indexes.borrow().len() <= bits(size), "tree_hash({size})");
            for index in [0, size / 3, size / 2, size - 1] {
                let c = Counting::new(&f.store);
                let p = prove_inclusion(index, size, &c).unwrap();
                assert!(c.calls.get() <= 1, "prove_inclusion({index}, {size}) calls");
                assert!(p.len() <= bits(size));
                assert!(c.indexes.borrow().len() <= 2 * bits(size), "prove_inclusion({index}, {size}) reads");
            }
            for old in [1, size / 3, size / 2, size - 1] {
                let c = Counting::new(&f.store);
                prove_consistency(old, size, &c).unwrap();
                assert!(c.calls.get() <= 1, "prove_consistency({old}, {size}) calls");
                assert!(c.indexes.borrow().len() <= 2 * bits(size), "prove_consistency({old}, {size}) reads");
            }
        }
        // Appending reads one sibling per closed subtree.
        let c = Counting::new(&f.store);
        stored_hashes_for_append(1023, [0; 32], &c).unwrap();
        assert_eq!((c.calls.get(), c.indexes.borrow().len()), (1, 10));
    }

    #[test]
    fn inclusion_at_every_index_for_selected_sizes() {
        let f = fixture();
        let sizes = (1..=70).chain([127, 128, 129, 255, 256, 257, 1000, 1023, 1025]);
        for size in sizes {
            let leaves = &f.leaves[..size as usize];
            let root = f.roots[size as usize];
            assert_eq!(ref_mth(leaves), root, "root of size {size}");
            for index in 0..size {
                let proof = prove_inclusion(index, size, &f.store).unwrap();
                assert_eq!(proof, ref_path(index as usize, leaves), "PATH({index}, {size})");
                verify_inclusion(&leaves[index as usize], index, size, &proof, &root)
                    .unwrap_or_else(|e| panic!("PATH({index}, {size}): {e}"));
            }
        }
    }

    #[test]
    fn consistency_for_all_small_size_pairs() {
        let f = fixture();
        for new in 0..=70u64 {
            for old in 0..=new {
                let proof = prove_consistency(old, new, &f.store).unwrap();
                let want = if old == 0 || old == new {
                    Vec::new()
                } else {
                    ref_proof(old as usize, &f.leaves[..new as usize])
                };
                assert_eq!(proof, want, "PROOF({old}, {new})");
                verify_consistency(old, new, &f.roots[old as usize], &f.roots[new as usize], &proof)
                    .unwrap_or_else(|e| panic!("PROOF({old}, {new}): {e}"));
            }
        }
    }

    #[test]
    fn inclusion_proof_verifies_against_root_not_size() {
        // PATH(0, D[5]) and PATH(0, D[6]) have the same shape, so the proof for
        // size 5 also folds to root 5 when the verifier is told "size 6". The
        // size is authenticated by the checkpoint that carries the root.
        let f = fixture();
        let proof = prove_inclusion(0, 5, &f.store).unwrap();
        assert_eq!(ref_path_shape(0, 5), ref_path_shape(0, 6));
        verify_inclusion(&f.leaves[0], 0, 6, &proof, &f.roots[5]).unwrap();
        assert!(verify_inclusion(&f.leaves[0], 0, 6, &proof, &f.roots[6]).is_err());
    }

    #[test]
    fn edge_cases_and_errors() {
        let (store, leaves) = store_of(10);
        let root = store.root().unwrap();
        // Single-leaf tree: the root is the leaf hash and the path is empty.
        assert_eq!(tree_hash(1, &store).unwrap(), leaves[0]);
        assert!(prove_inclusion(0, 1, &store).unwrap().is_empty());
        verify_inclusion(&leaves[0], 0, 1, &[], &leaves[0]).unwrap();

        assert!(matches!(prove_inclusion(10, 10, &store), Err(MerkleError::IndexOutOfRange { index: 10, size: 10 })));
        assert!(matches!(verify_inclusion(&leaves[0], 0, 0, &[], &root), Err(MerkleError::IndexOutOfRange { .. })));
        assert!(matches!(prove_consistency(5, 4, &store), Err(MerkleError::SizeOrder { old: 5, new: 4 })));
        assert!(matches!(verify_consistency(5, 4, &root, &root, &[]), Err(MerkleError::SizeOrder { .. })));
        // Sizes beyond the log: the store reports the missing hash.
        assert!(matches!(tree_hash(11, &store), Err(MerkleError::HashNotStored { .. })));
        assert!(matches!(prove_inclusion(0, 11, &store), Err(MerkleError::HashNotStored { .. })));
        assert!(matches!(prove_consistency(3, 12, &store), Err(MerkleError::HashNotStored { .. })));
        // Sizes beyond the layout.
        assert!(matches!(tree_hash(MAX_TREE_SIZE + 1, &store), Err(MerkleError::TreeTooLarge { .. })));
        assert!(matches!(prove_inclusion(0, u64::MAX, &store), Err(MerkleError::TreeTooLarge { .. })));
        assert!(matches!(
            stored_hashes_for_append(MAX_TREE_SIZE, [0; 32], &store),
            Err(MerkleError::TreeTooLarge { .. })
        ));
        // Verification of huge claimed sizes must not panic.
        assert!(verify_inclusion(&leaves[0], u64::MAX - 1, u64::MAX, &[root; 64], &root).is_err());
        assert!(verify_consistency(u64::MAX - 1, u64::MAX, &root, &root, &[root; 64]).is_err());

        // Trivial consistency cases.
        verify_consistency(0, 10, &EMPTY_TREE_HASH, &root, &[]).unwrap();
        verify_consistency(0, 0, &EMPTY_TREE_HASH, &EMPTY_TREE_HASH, &[]).unwrap();
        verify_consistency(10, 10, &root, &root, &[]).unwrap();
        assert!(matches!(verify_consistency(0, 10, &root, &root, &[]), Err(MerkleError::OldRootMismatch { .. })));
        assert!(matches!(
            verify_consistency(0, 10, &EMPTY_TREE_HASH, &root, &[root]),
            Err(MerkleError::ConsistencyProofNotEmpty { .. })
        ));
        assert!(matches!(verify_consistency(10, 10, &root, &leaves[0], &[]), Err(MerkleError::NewRootMismatch { .. })));
        assert!(matches!(
            verify_consistency(10, 10, &root, &root, &[root]),
            Err(MerkleError::ConsistencyProofNotEmpty { .. })
        ));
        let r5 = tree_hash(5, &store).unwrap();
        assert!(matches!(verify_consistency(5, 10, &r5, &root, &[]), Err(MerkleError::ConsistencyProofEmpty { .. })));

        // Proof length errors.
        let p = prove_inclusion(3, 10, &store).unwrap();
        let mut long = p.clone();
        long.push(root);
        assert!(matches!(
            verify_inclusion(&leaves[3], 3, 10, &long, &root),
            Err(MerkleError::InclusionProofTooLong { .. })
        ));
        assert!(matches!(
            verify_inclusion(&leaves[3], 3, 10, &p[..p.len() - 1], &root),
            Err(MerkleError::InclusionProofTooShort { .. })
        ));
        let c = prove_consistency(5, 10, &store).unwrap();
        let mut long = c.clone();
        long.push(root);
        assert!(matches!(
            verify_consistency(5, 10, &r5, &root, &long),
            Err(MerkleError::ConsistencyProofTooLong { .. })
        ));
        assert!(matches!(
            verify_consistency(5, 10, &r5, &root, &c[..c.len() - 1]),
            Err(MerkleError::ConsistencyProofTooShort { .. })
        ));

        // A reader that breaks its contract is reported, not trusted.
        struct Short;
        impl HashReader for Short {
            fn read_hashes(&self, _: &[u64]) -> Result<Vec<Hash>, MerkleError> {
                Ok(vec![[0; 32]])
            }
        }
        assert!(matches!(tree_hash(7, &Short), Err(MerkleError::ShortRead { requested: 3, returned: 1 })));
        // And works through `dyn`.
        let dynr: &dyn HashReader = &store;
        assert_eq!(tree_hash(10, dynr).unwrap(), root);
    }

    #[test]
    fn error_messages_name_what_failed() {
        let e = MerkleError::InclusionRootMismatch { index: 3, size: 10 };
        assert_eq!(e.to_string(), "inclusion proof for leaf 3 does not lead to the root of tree size 10");
        let e = MerkleError::TreeTooLarge { size: u64::MAX };
        assert_eq!(e.to_string(), format!("tree size {} exceeds the maximum of {} leaves", u64::MAX, 1u64 << 62));
    }

    // ---- properties against the reference ----

    fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
        (1..=BIG).prop_flat_map(|size| (Just(size), 0..size))
    }

    fn new_and_old() -> impl Strategy<Value = (u64, u64)> {
        (0..=BIG).prop_flat_map(|new| (Just(new), 0..=new))
    }

    fn nontrivial_new_and_old() -> impl Strategy<Value = (u64, u64)> {
        (2..=BIG).prop_flat_map(|new| (Just(new), 1..new))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn root_matches_reference(size in 0..=BIG) {
            let f = fixture();
            prop_assert_eq!(f.roots[size as usize], ref_mth(&f.leaves[..size as usize]));
        }

        #[test]
        fn inclusion_matches_reference((size, index) in size_and_index()) {
            let f = fixture();
            let leaves = &f.leaves[..size as usize];
            let proof = prove_inclusion(index, size, &f.store).unwrap();
            prop_assert_eq!(&proof, &ref_path(index as usize, leaves));
            prop_assert!(verify_inclusion(&leaves[index as usize], index, size, &proof, &f.roots[size as usize]).is_ok());
        }

        #[test]
        fn consistency_matches_reference((new, old) in new_and_old()) {
            let f = fixture();
            let proof = prove_consistency(old, new, &f.store).unwrap();
            if old == 0 || old == new {
                prop_assert!(proof.is_empty());
            } else {
                prop_assert_eq!(&proof, &ref_proof(old as usize, &f.leaves[..new as usize]));
            }
            let res = verify_consistency(old, new, &f.roots[old as usize], &f.roots[new as usize], &proof);
            prop_assert!(res.is_ok(), "{:?}", res);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn tampered_inclusion_fails((size, index) in size_and_index()) {
            let f = fixture();
            let leaf = f.leaves[index as usize];
            let root = f.roots[size as usize];
            let proof = prove_inclusion(index, size, &f.store).unwrap();
            // Every single-bit flip in the proof, the leaf or the root.
            for i in 0..proof.len() {
                for bit in 0..256 {
                    let mut p = proof.clone();
                    p[i] = flip(&p[i], bit);
                    prop_assert!(verify_inclusion(&leaf, index, size, &p, &root).is_err());
                }
            }
            for bit in 0..256 {
                prop_assert!(verify_inclusion(&flip(&leaf, bit), index, size, &proof, &root).is_err());
                prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&root, bit)).is_err());
            }
            // Every other index in the same tree.
            for other in (0..size).filter(|&o| o != index) {
                prop_assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err(), "index {}", other);
            }
            // Every other size, with that size's root.
            for other in (index + 1..=BIG).filter(|&o| o != size) {
                prop_assert!(
                    verify_inclusion(&leaf, index, other, &proof, &f.roots[other as usize]).is_err(),
                    "size {}", other
                );
                // With this tree's root, a wrong size passes only if the path has the same shape.
                let same_shape = ref_path_shape(index as usize, other as usize)
                    == ref_path_shape(index as usize, size as usize);
                prop_assert_eq!(verify_inclusion(&leaf, index, other, &proof, &root).is_ok(), same_shape);
            }
        }

        #[test]
        fn tampered_consistency_fails((new, old) in nontrivial_new_and_old()) {
            let f = fixture();
            let (r_old, r_new) = (f.roots[old as usize], f.roots[new as usize]);
            let proof = prove_consistency(old, new, &f.store).unwrap();
            for i in 0..proof.len() {
                for bit in 0..256 {
                    let mut p = proof.clone();
                    p[i] = flip(&p[i], bit);
                    prop_assert!(verify_consistency(old, new, &r_old, &r_new, &p).is_err());
                }
            }
            for bit in 0..256 {
                prop_assert!(verify_consistency(old, new, &flip(&r_old, bit), &r_new, &proof).is_err());
                prop_assert!(verify_consistency(old, new, &r_old, &flip(&r_new, bit), &proof).is_err());
            }
            // Every other old size and every other new size, with matching roots.
            for other in (0..=new).filter(|&o| o != old) {
                prop_assert!(
                    verify_consistency(other, new, &f.roots[other as usize], &r_new, &proof).is_err(),
                    "old size {}", other
                );
            }
            for other in (old..=BIG).filter(|&o| o != new) {
                prop_assert!(
                    verify_consistency(old, other, &r_old, &f.roots[other as usize], &proof).is_err(),
                    "new size {}", other
                );
            }
            // Dropping or adding a hash.
            prop_assert!(verify_consistency(old, new, &r_old, &r_new, &proof[1..]).is_err());
            let mut longer = proof.clone();
            longer.push(r_new);
            prop_assert!(verify_consistency(old, new, &r_old, &r_new, &longer).is_err());
        }
    }
}
