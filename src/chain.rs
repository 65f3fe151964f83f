//! The chain rules: what an entry must agree with in the entries before it.
//!
//! [`ChainState`] is the state a reader builds by walking the log in order: the next seq, the head
//! hash, the last ledger time, the authorized keys, the last entry of each incident, legal holds and
//! service clients. The writer uses it to build the next header and to refuse invalid control
//! statements; the verifier uses the very same [`ChainState::check`] to judge every stored entry, so
//! writer and verifier cannot disagree about the rules (`docs/FORMAT.md`, "Verifier duties").
//! Signatures themselves are checked by the caller (in parallel); this module says which key must
//! have made them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::entry::{Body, Control, Entry, Hash, LedgerId, Role};
use crate::record::Action;
use crate::sign::{key_id, KeyId, PublicKey};
use crate::time::Timestamp;

/// One signer key and its life in the ledger.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyState {
    #[serde(with = "hex_array")]
    pub public_key: [u8; 32],
    pub label: String,
    /// Seq of the entry that authorised it.
    pub added_at: u64,
    /// Seq of the entry that retired it.
    pub retired_at: Option<u64>,
}

/// A service client registered through a ledger entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientState {
    pub role: Role,
    #[serde(with = "hex_array")]
    pub token_hash: Hash,
    pub added_at: u64,
}

/// A legal hold in force.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct HoldState {
    pub since: u64,
    pub reason: String,
    pub reference: String,
}

/// What the chain rules found wrong with an entry, as (kind, message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub kind: &'static str,
    pub message: String,
}

fn v(kind: &'static str, message: String) -> Violation {
    Violation { kind, message }
}

/// The state of a ledger after some prefix of its entries.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChainState {
    #[serde(with = "hex_opt16")]
    pub ledger_id: Option<LedgerId>,
    pub name: String,
    pub next_seq: u64,
    #[serde(with = "hex_array")]
    pub head_hash: Hash,
    pub last_time: Option<Timestamp>,
    /// Keys by hex key ID.
    pub keys: BTreeMap<String, KeyState>,
    pub holds: BTreeMap<String, HoldState>,
    pub clients: BTreeMap<String, ClientState>,
    /// Last entry (seq, hash) of each incident. Not part of the serialized snapshot: the index keeps
    /// it in its own tree.
    #[serde(skip)]
    pub incidents: HashMap<String, (u64, Hash)>,
    /// Parsed public keys by key ID. Accepting a key (decompression, canonical and torsion checks)
    /// costs about as much as verifying a signature, so it is done once per key, not per entry.
    #[serde(skip)]
    parsed: HashMap<KeyId, PublicKey>,
}

impl ChainState {
    /// The active key with this ID, if any.
    pub fn active_key(&self, id: &KeyId) -> Option<&KeyState> {
        self.keys.get(&hex::encode(id)).filter(|k| k.retired_at.is_none())
    }

    pub fn active_key_count(&self) -> usize {
        self.keys.values().filter(|k| k.retired_at.is_none()).count()
    }

    /// Checks `e` against the entries before it. Returns the public key that must have signed it
    /// (when one is authorised) and every rule it breaks.
    pub fn check(&self, e: &Entry) -> (Option<PublicKey>, Vec<Violation>) {
        let mut out = Vec::new();
        let h = e.header();
        let hex_id = hex::encode(h.key_id);
        if self.next_seq == 0 || self.ledger_id.is_none() {
            // Genesis: self-signed ledger_init at seq 0.
            let Some(Control::LedgerInit { public_key, name }) = e.control() else {
                out.push(v(
                    "genesis",
                    format!("entry {} should be the genesis entry (ledger_init) but is {}", h.seq, e.action_name()),
                ));
                return (None, out);
            };
            if h.seq != 0 {
                out.push(v("seq", format!("the first entry has seq {}; it must be 0", h.seq)));
            }
            if h.prev_hash != [0; 32] {
                out.push(v("prev_hash", "the genesis entry's prev hash must be all zero".into()));
            }
            if name.is_empty() {
                out.push(v("control", "the ledger name is empty".into()));
            }
            if key_id(public_key) != h.key_id {
                out.push(v("key", format!("genesis is signed by key {hex_id}, not by the key it authorises")));
            }
            return match PublicKey::from_bytes(public_key) {
                Ok(k) => (Some(k), out),
                Err(err) => {
                    out.push(v("key", err.to_string()));
                    (None, out)
                }
            };
        }
        let ledger_id = self.ledger_id.unwrap_or_default();
        if h.ledger_id != ledger_id {
            out.push(v(
                "ledger_id",
                format!(
                    "entry {} belongs to ledger {}, not this ledger ({})",
                    h.seq,
                    hex::encode(h.ledger_id),
                    hex::encode(ledger_id)
                ),
            ));
        }
        if h.seq != self.next_seq {
            out.push(v("seq", format!("expected seq {}, found seq {}", self.next_seq, h.seq)));
        }
        if h.prev_hash != self.head_hash {
            out.push(v(
                "prev_hash",
                format!(
                    "entry {}: prev hash {} does not match the hash of the entry before it ({})",
                    h.seq,
                    short(&h.prev_hash),
                    short(&self.head_hash)
                ),
            ));
        }
        if let Some(last) = self.last_time {
            if h.ledger_time < last {
                out.push(v(
                    "time",
                    format!("entry {}: ledger time {} is before the previous entry's {}", h.seq, h.ledger_time, last),
                ));
            }
        }
        let key = match self.keys.get(&hex_id) {
            None => {
                out.push(v(
                    "key",
                    format!("entry {} is signed by key {hex_id}, which this ledger never authorised", h.seq),
                ));
                None
            }
            Some(k) if k.retired_at.is_some() => {
                out.push(v(
                    "key",
                    format!(
                        "entry {} is signed by key {hex_id}, retired at entry {}",
                        h.seq,
                        k.retired_at.unwrap_or_default()
                    ),
                ));
                None
            }
            Some(k) => self.parsed.get(&h.key_id).copied().or_else(|| PublicKey::from_bytes(&k.public_key).ok()),
        };
        match &e.signed.body {
            Body::Change(c) => {
                let expected = self.incidents.get(&c.incident).copied();
                if c.incident_prev != expected {
                    out.push(v(
                        "incident_link",
                        format!(
                            "entry {}: link to the previous entry of incident {} is {}, expected {}",
                            h.seq,
                            c.incident,
                            link_text(c.incident_prev),
                            link_text(expected)
                        ),
                    ));
                }
            }
            Body::Control(c) => {
                if let Err(msg) = self.check_control(h.seq, c) {
                    out.push(v("control", format!("entry {}: {msg}", h.seq)));
                }
            }
        }
        (key, out)
    }

    /// The semantic rules for control statements, shared by writer and verifier.
    pub fn check_control(&self, seq: u64, c: &Control) -> Result<(), String> {
        match c {
            Control::LedgerInit { .. } => Err("ledger_init may only be the genesis entry".into()),
            Control::KeyAdd { public_key, .. } => {
                PublicKey::from_bytes(public_key).map_err(|e| e.to_string())?;
                if self.keys.contains_key(&hex::encode(key_id(public_key))) {
                    return Err(format!("key {} is already known to this ledger", hex::encode(key_id(public_key))));
                }
                Ok(())
            }
            Control::KeyRetire { key_id, .. } => {
                if self.active_key(key_id).is_none() {
                    return Err(format!("key {} is not an active key of this ledger", hex::encode(key_id)));
                }
                if self.active_key_count() <= 1 {
                    return Err(
                        "retiring the last active key would leave nobody able to sign; add another key first".into()
                    );
                }
                Ok(())
            }
            Control::Redact { ranges, .. } => {
                if ranges.is_empty() {
                    return Err("a redaction must cover at least one entry".into());
                }
                if let Some(r) = ranges.iter().find(|r| r.last >= seq) {
                    return Err(format!("a redaction may only cover earlier entries, but names entry {}", r.last));
                }
                Ok(())
            }
            Control::HoldAdd { incident, .. } => match self.holds.get(incident) {
                Some(h) => Err(format!("incident {incident} is already under legal hold (since entry {})", h.since)),
                None => Ok(()),
            },
            Control::HoldRelease { incident, .. } => match self.holds.get(incident) {
                None => Err(format!("incident {incident} is not under legal hold")),
                Some(_) => Ok(()),
            },
            Control::ClientAdd { name, .. } => match self.clients.get(name) {
                Some(_) => Err(format!("client {name} is already registered; remove it first")),
                None => Ok(()),
            },
            Control::ClientRemove { name, .. } => match self.clients.get(name) {
                None => Err(format!("client {name} is not registered")),
                Some(_) => Ok(()),
            },
        }
    }

    /// Moves the chain position past `e` (seq, head hash, time, incident link), valid or not, so that
    /// one bad entry is reported once and the entries after it are judged on their own.
    pub fn advance(&mut self, e: &Entry) {
        let h = e.header();
        if let Some(Control::LedgerInit { name, .. }) = e.control() {
            if self.ledger_id.is_none() {
                self.ledger_id = Some(h.ledger_id);
                self.name = name.clone();
            }
        }
        self.next_seq = h.seq.saturating_add(1);
        self.head_hash = e.hash;
        self.last_time = Some(self.last_time.map_or(h.ledger_time, |t| t.max(h.ledger_time)));
        if let Some(c) = e.change() {
            self.incidents.insert(c.incident.clone(), (h.seq, e.hash));
        }
    }

    /// Every key the chain has authorised so far (active or retired), parsed, by key ID.
    pub fn parsed_keys(&self) -> &HashMap<KeyId, PublicKey> {
        &self.parsed
    }

    /// Fills the parsed-key cache (after loading a snapshot, whose cache is not serialized).
    pub fn parse_keys(&mut self) {
        self.parsed = self
            .keys
            .values()
            .filter_map(|k| PublicKey::from_bytes(&k.public_key).ok())
            .map(|p| (p.key_id(), p))
            .collect();
    }

    /// Applies a valid control statement's effect (keys, holds, clients).
    pub fn apply_control(&mut self, seq: u64, c: &Control) {
        if let Control::LedgerInit { public_key, .. } | Control::KeyAdd { public_key, .. } = c {
            if let Ok(p) = PublicKey::from_bytes(public_key) {
                self.parsed.insert(p.key_id(), p);
            }
        }
        match c {
            Control::LedgerInit { public_key, .. } => {
                self.keys.insert(
                    hex::encode(key_id(public_key)),
                    KeyState { public_key: *public_key, label: "genesis".into(), added_at: seq, retired_at: None },
                );
            }
            Control::KeyAdd { public_key, label } => {
                self.keys.insert(
                    hex::encode(key_id(public_key)),
                    KeyState { public_key: *public_key, label: label.clone(), added_at: seq, retired_at: None },
                );
            }
            Control::KeyRetire { key_id, .. } => {
                if let Some(k) = self.keys.get_mut(&hex::encode(key_id)) {
                    k.retired_at = Some(seq);
                }
            }
            Control::HoldAdd { incident, reason, reference } => {
                self.holds.insert(
                    incident.clone(),
                    HoldState { since: seq, reason: reason.clone(), reference: reference.clone() },
                );
            }
            Control::HoldRelease { incident, .. } => {
                self.holds.remove(incident);
            }
            Control::ClientAdd { name, role, token_hash } => {
                self.clients.insert(name.clone(), ClientState { role: *role, token_hash: *token_hash, added_at: seq });
            }
            Control::ClientRemove { name, .. } => {
                self.clients.remove(name);
            }
            Control::Redact { .. } => {}
        }
    }

    /// Advances past an entry the writer itself made (valid by construction).
    pub fn apply(&mut self, e: &Entry) {
        self.advance(e);
        if let Some(c) = e.control() {
            self.apply_control(e.seq(), c);
        }
    }
}

/// Whether an action ends an incident.
pub fn closes_incident(a: Action) -> bool {
    a == Action::IncidentClose
}

fn link_text(l: Option<(u64, Hash)>) -> String {
    match l {
        None => "none (first entry of the incident)".into(),
        Some((s, h)) => format!("entry {s} ({})", short(&h)),
    }
}

/// The first 8 bytes of a hash in hex, for messages.
pub fn short(h: &[u8]) -> String {
    hex::encode(&h[..8.min(h.len())])
}

mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(s).map_err(serde::de::Error::custom)?;
        v.try_into().map_err(|_| serde::de::Error::custom("wrong length"))
    }
}

mod hex_opt16 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<[u8; 16]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&hex::encode(v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 16]>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| {
            let v = hex::decode(s).map_err(serde::de::Error::custom)?;
            v.try_into().map_err(|_| serde::de::Error::custom("wrong length"))
        })
        .transpose()
    }
}
