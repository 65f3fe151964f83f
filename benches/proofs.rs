//! Proof generation on a 1,000,000-entry tree (issue 4), beside the raw SHA-256 node-hash cost.
//!
//! The tree's stored hashes live in the index exactly as a ledger keeps them (`index/merkle.bin`,
//! written by `Index::add`), built directly for
//! 1,000,000 leaves so that the bench does not spend ten minutes signing entries first. Inclusion
//! and consistency proofs are generated through the same `HashReader` a ledger uses, for random
//! indexes and sizes; the summary prints proof sizes (O(log n), at most ~40 hashes) and the time of
//! one proof against the time of one raw node hash.
//!
//! Run: `cargo bench --bench proofs` (about 2 minutes here, most of it building the tree).

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use custody::chain::ChainState;
use custody::index::{Index, IndexEntry, Loc};
use custody::log::FrameLoc;
use custody::merkle::{self, HashReader, MerkleError};

mod common;
use common::{mode, Mode};

/// Leaves in a real run; `cargo test --benches` builds a small tree instead.
const BENCH_LEAVES: u64 = 1_000_000;
const SMOKE_LEAVES: u64 = 20_000;

struct Stored<'a>(&'a Index);

impl HashReader for Stored<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<[u8; 32]>, MerkleError> {
        self.0.merkle_hashes(indexes).map_err(|e| MerkleError::Storage(Box::new(e)))
    }
}

fn build(dir: &std::path::Path, leaves: u64) -> Index {
    let index = Index::open(dir).unwrap();
    let state = ChainState::default();
    let t = Instant::now();
    let mut n = 0u64;
    while n < leaves {
        let mut batch = Vec::with_capacity(10_000);
        for _ in 0..10_000 {
            let entry_hash = *blake3::hash(&n.to_be_bytes()).as_bytes();
            batch.push(IndexEntry {
                seq: n,
                loc: Loc { frame: FrameLoc { segment: 0, offset: 0, len: 0 }, hash: entry_hash, event_time: 0 },
                postings: Vec::new(),
                incident_head: None,
            });
            n += 1;
        }
        index.add(&batch, &state).unwrap();
    }
    eprintln!("built a tree of {leaves} leaves in the index in {:.1} s", t.elapsed().as_secs_f64());
    index
}

fn bench(c: &mut Criterion) {
    let m = mode();
    if m == Mode::List {
        return;
    }
    let leaves = if m == Mode::Bench { BENCH_LEAVES } else { SMOKE_LEAVES };
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), leaves);
    let r = Stored(&index);
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut g = c.benchmark_group("proofs");
    g.sample_size(50);
    g.bench_function("inclusion/1M", |b| b.iter(|| merkle::prove_inclusion(next() % leaves, leaves, &r).unwrap()));
    g.bench_function("consistency/1M", |b| {
        b.iter(|| {
            let old = 1 + next() % (leaves - 1);
            merkle::prove_consistency(old, leaves, &r).unwrap()
        })
    });
    let (l, rt) = ([1u8; 32], [2u8; 32]);
    g.bench_function("floor/sha256_node_hash", |b| {
        b.iter(|| merkle::node_hash(std::hint::black_box(&l), std::hint::black_box(&rt)))
    });
    g.finish();

    // Summary: sizes and times, medians over 1,000 random proofs.
    let mut sizes = (0usize, 0usize);
    let mut times = Vec::new();
    let root = merkle::tree_hash(leaves, &r).unwrap();
    for _ in 0..1000 {
        let i = next() % leaves;
        let t = Instant::now();
        let p = merkle::prove_inclusion(i, leaves, &r).unwrap();
        times.push(t.elapsed().as_secs_f64());
        let leaf = merkle::leaf_hash(blake3::hash(&i.to_be_bytes()).as_bytes());
        merkle::verify_inclusion(&leaf, i, leaves, &p, &root).unwrap();
        sizes.0 = sizes.0.max(p.len());
        let old = 1 + next() % (leaves - 1);
        sizes.1 = sizes.1.max(merkle::prove_consistency(old, leaves, &r).unwrap().len());
    }
    times.sort_by(f64::total_cmp);
    let t = Instant::now();
    let mut h = [0u8; 32];
    for _ in 0..100_000 {
        h = merkle::node_hash(&h, &rt);
    }
    let node = t.elapsed().as_secs_f64() / 100_000.0;
    println!(
        "proofs/{leaves}  inclusion median {:.1} us (p99 {:.1} us)  max {} hashes; consistency max {} hashes; floor(sha256 node hash) {:.2} us  ratio {:.0}x",
        times[500] * 1e6,
        times[990] * 1e6,
        sizes.0,
        sizes.1,
        node * 1e6,
        times[500] / node
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
