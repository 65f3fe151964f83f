//! Service clients: bearer tokens, their hashes, roles and per-client rate limits.
//!
//! This module owns "who is calling, and may they": it makes new tokens, hashes them the one way the
//! ledger records them, maps a presented token to its registered client and role, and meters each
//! client's request rate. It does not write the registrations (that is `Control::ClientAdd` and
//! `Control::ClientRemove`, appended through the ledger) and keeps no token: only hashes, rebuilt from
//! the ledger's chain state.
//!
//! ```text
//! token      = "cst_" || base64url-nopad(32 random bytes)              (47 characters, shown once)
//! token hash = BLAKE3("custody/v1/client-token" || 0x00 || token)      (the whole string, UTF-8)
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::chain::ClientState;
use crate::entry::{Hash, Role};

/// Every token starts with this, so that secret scanners (and custody's own, `crate::secrets`)
/// recognise a leaked one.
pub const TOKEN_PREFIX: &str = "cst_";
/// Domain separation for token hashes.
pub const TOKEN_DOMAIN: &[u8] = b"custody/v1/client-token\0";
/// The longest client name.
pub const MAX_NAME: usize = 64;

/// A new random client token (32 bytes from the thread's CSPRNG, seeded by the OS).
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// The hash under which a token is registered in the ledger.
pub fn token_hash(token: &str) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(TOKEN_DOMAIN);
    h.update(token.as_bytes());
    *h.finalize().as_bytes()
}

/// Checks a client name: 1 to 64 characters of `A-Z a-z 0-9 . _ @ -`. Names appear in every entry
/// the client submits, so they are plain identifiers.
pub fn check_client_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("client name `{name}` must be 1 to {MAX_NAME} characters of A-Z, a-z, 0-9, `.`, `_`, `@`, `-`"))
    }
}

/// What an endpoint needs of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Any registered client (head, checkpoint, proofs).
    Client,
    /// Append records.
    Append,
    /// Read entries and exports.
    Read,
    /// Manage clients.
    Admin,
}

impl Need {
    fn allowed(self, role: Role) -> bool {
        match self {
            Need::Client => true,
            Need::Append => matches!(role, Role::Append | Role::Admin),
            Need::Read => matches!(role, Role::Read | Role::Admin),
            Need::Admin => role == Role::Admin,
        }
    }

    /// The roles that may call, for error messages.
    pub fn roles(self) -> &'static str {
        match self {
            Need::Client => "append, read or admin",
            Need::Append => "append or admin",
            Need::Read => "read or admin",
            Need::Admin => "admin",
        }
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// Why a request was not let through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token: send `Authorization: Bearer <token>` (make one with `custody client add`)")]
    Missing,
    #[error("the Authorization header is not `Bearer <token>`")]
    Malformed,
    #[error("the bearer token is not registered (wrong token, or the client was removed)")]
    Unknown,
    #[error("client {name} has role {role}; this needs role {needs}")]
    Forbidden { name: String, role: Role, needs: &'static str },
}

/// The registered clients by token hash, as the ledger's chain state says.
#[derive(Default)]
pub struct Clients {
    by_hash: RwLock<HashMap<Hash, Caller>>,
}

impl Clients {
    pub fn new(clients: &BTreeMap<String, ClientState>) -> Self {
        let c = Clients::default();
        c.reload(clients);
        c
    }

    /// Replaces the table (after a client was added or removed).
    pub fn reload(&self, clients: &BTreeMap<String, ClientState>) {
        let table =
            clients.iter().map(|(name, st)| (st.token_hash, Caller { name: name.clone(), role: st.role })).collect();
        *self.by_hash.write().unwrap_or_else(|p| p.into_inner()) = table;
    }

    /// The caller behind an `Authorization` header value, if it may do what `need` says.
    pub fn authorize(&self, header: Option<&[u8]>, need: Need) -> Result<Caller, AuthError> {
        let h = header.ok_or(AuthError::Missing)?;
        let h = std::str::from_utf8(h).map_err(|_| AuthError::Malformed)?;
        let (scheme, token) = h.trim().split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Malformed);
        }
        let hash = token_hash(token.trim());
        let caller = self.by_hash.read().unwrap_or_else(|p| p.into_inner()).get(&hash).cloned();
        let caller = caller.ok_or(AuthError::Unknown)?;
        if !need.allowed(caller.role) {
            return Err(AuthError::Forbidden { name: caller.name, role: caller.role, needs: need.roles() });
        }
        Ok(caller)
    }
}

/// A token bucket per client: `rate` requests a second on average, bursts up to `burst`.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `rate` 0 turns limiting off.
    pub fn new(rate: f64, burst: f64) -> Self {
        RateLimiter { rate, burst: burst.max(1.0), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `client`, or says how long until one is available.
    pub fn check(&self, client: &str) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = b.entry(client.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(role: Role) -> (Clients, String) {
        let token = new_token();
        let mut m = BTreeMap::new();
        m.insert("soar".to_string(), ClientState { role, token_hash: token_hash(&token), added_at: 1 });
        (Clients::new(&m), token)
    }

    #[test]
    fn tokens_are_recognised_as_secrets_and_hash_with_the_domain() {
        let t = new_token();
        assert!(t.starts_with(TOKEN_PREFIX) && t.len() == 47, "{t}");
        assert!(crate::secrets::looks_like_secret(&t).is_some(), "a token must never fit into a record: {t}");
        assert_ne!(new_token(), t);
        assert_ne!(token_hash(&t), *blake3::hash(t.as_bytes()).as_bytes());
    }

    #[test]
    fn roles_decide() {
        let (c, t) = table(Role::Read);
        let h = format!("Bearer {t}");
        assert_eq!(c.authorize(Some(h.as_bytes()), Need::Read).unwrap().name, "soar");
        assert_eq!(c.authorize(Some(h.as_bytes()), Need::Client).unwrap().role, Role::Read);
        assert!(matches!(c.authorize(Some(h.as_bytes()), Need::Append), Err(AuthError::Forbidden { .. })));
        assert_eq!(c.authorize(None, Need::Read), Err(AuthError::Missing));
        assert_eq!(c.authorize(Some(b"Basic abc"), Need::Read), Err(AuthError::Malformed));
        assert_eq!(c.authorize(Some(b"Bearer cst_nope"), Need::Read), Err(AuthError::Unknown));
        let (c, t) = table(Role::Admin);
        let h = format!("bearer {t}");
        for need in [Need::Client, Need::Append, Need::Read, Need::Admin] {
            assert!(c.authorize(Some(h.as_bytes()), need).is_ok(), "{need:?}");
        }
    }

    #[test]
    fn names_are_plain_identifiers() {
        for ok in ["soar-prod", "a", "ci.bot@corp.example"] {
            assert!(check_client_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "new\nline", &"x".repeat(65)] {
            assert!(check_client_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rate_limit_allows_the_burst_then_refuses() {
        let r = RateLimiter::new(1.0, 3.0);
        for _ in 0..3 {
            assert!(r.check("a").is_ok());
        }
        let wait = r.check("a").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(r.check("b").is_ok(), "buckets are per client");
        assert!(RateLimiter::new(0.0, 0.0).check("a").is_ok());
    }
}
