//! custody: an append-only, signed, hash-chained evidence ledger for identity incidents.
//!
//! # Layout
//! One data flow, one module per step:
//! record ([`record`]) → canonical bytes ([`canonical`], [`commit`], [`entry`]) → sign + chain
//! ([`sign`], [`entry`]) → store ([`log`] for the evidence, [`index`] for the sled lookups, both
//! behind [`ledger`]) → verify ([`verify`]) / query ([`ledger`]) / export ([`export`]).
//!
//! [`service`] puts the ledger behind HTTP (`custody serve`): many clients, one writer, group
//! commit.
//!
//! The evidence is the segment files under `log/`; `index/` is derived and can always be rebuilt.
//! `docs/FORMAT.md` specifies every byte that is signed or stored.
#![forbid(unsafe_code)]

pub mod bundle;
pub mod canonical;
pub mod chain;
pub mod checkpoint;
pub mod commit;
pub mod entry;
mod enums;
pub mod export;
pub mod govern;
pub mod import;
pub mod index;
pub mod ledger;
pub mod log;
pub mod merkle;
pub mod note;
pub mod record;
pub mod redact;
pub mod secrets;
pub mod service;
pub mod sign;
pub mod time;
pub mod verify;
