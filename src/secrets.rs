//! Recognises values that look like credential material, so that they never enter a record.
//!
//! A ledger stores identifiers and fingerprints of secrets, never secrets (principle 5). This module
//! owns only the recognition; `record` decides where it applies (every free-text field). The rules are
//! deliberately specific prefixes and shapes with few false positives; they are listed in
//! `docs/FORMAT.md`, "Values that are refused".

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// What kind of credential a value looks like.
pub fn looks_like_secret(value: &str) -> Option<&'static str> {
    // Every rule below needs at least this many bytes (the shortest: a Slack token, `xoxb-` and 10).
    if value.len() < MIN_SECRET_LEN {
        return None;
    }
    // Every value of every record passes here (twice on the way into the ledger), and almost all are
    // short identifiers: the markers are found with prebuilt searchers, and tokens are cut by bytes.
    if PEM.find(value.as_bytes()).is_some() && PEM_KEY.find(value.as_bytes()).is_some() {
        return Some("a PEM private key block");
    }
    if PUTTY.find(value.as_bytes()).is_some() {
        return Some("a PuTTY private key");
    }
    // Tokens: runs of ASCII letters, digits and `_-./+=`; every other byte (non-ASCII ones too)
    // separates them.
    if let Some(kind) = tokens(value).filter(|t| t.len() >= MIN_SECRET_LEN).find_map(token_kind) {
        return Some(kind);
    }
    if let Some(pos) = SSWS.find(value.as_bytes()) {
        let rest = &value.as_bytes()[pos + 5..];
        if rest.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b'-').count() >= 20 {
            return Some("an Okta API token (SSWS)");
        }
    }
    None
}

/// Token prefixes, the least length after them, and what they are.
const PREFIXES: &[(&str, usize, &str)] = &[
    ("ghp_", 30, "a GitHub personal access token"),
    ("gho_", 30, "a GitHub OAuth token"),
    ("ghu_", 30, "a GitHub user-to-server token"),
    ("ghs_", 30, "a GitHub server-to-server token"),
    ("ghr_", 30, "a GitHub refresh token"),
    ("github_pat_", 40, "a GitHub fine-grained token"),
    ("glpat-", 20, "a GitLab personal access token"),
    ("xoxb-", 10, "a Slack bot token"),
    ("xoxp-", 10, "a Slack user token"),
    ("xoxa-", 10, "a Slack app token"),
    ("xoxr-", 10, "a Slack refresh token"),
    ("xoxs-", 10, "a Slack session token"),
    ("xoxe-", 10, "a Slack token"),
    ("sk_live_", 20, "a Stripe secret key"),
    ("rk_live_", 20, "a Stripe restricted key"),
    ("npm_", 36, "an npm access token"),
    ("hvs.", 24, "a HashiCorp Vault service token"),
    ("hvb.", 24, "a HashiCorp Vault batch token"),
    ("AIza", 35, "a Google API key"),
    ("ya29.", 20, "a Google OAuth access token"),
    ("sk-", 40, "an API secret key"),
    ("cst_", 40, "a custody service client token"),
];

/// The shortest value any rule here recognises.
const MIN_SECRET_LEN: usize = 15;

static PEM: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("-----BEGIN"));
static PEM_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("PRIVATE KEY"));
static PUTTY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("PuTTY-User-Key-File"));
static SSWS: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("SSWS "));

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'+' | b'=')
}

/// The tokens of `value` (see `looks_like_secret`). A token starts at an ASCII byte and ends before
/// an ASCII byte or the first byte of a character, so both ends are character boundaries.
fn tokens(value: &str) -> impl Iterator<Item = &str> {
    let b = value.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos < b.len() {
            let start = pos;
            while pos < b.len() && is_token_byte(b[pos]) {
                pos += 1;
            }
            let end = pos;
            while pos < b.len() && !is_token_byte(b[pos]) {
                pos += 1;
            }
            if let Some(token) = value.get(start..end).filter(|t| !t.is_empty()) {
                return Some(token);
            }
        }
        None
    })
}

fn token_kind(token: &str) -> Option<&'static str> {
    for (prefix, min_rest, kind) in PREFIXES {
        if let Some(rest) = token.strip_prefix(prefix) {
            if rest.len() >= *min_rest {
                return Some(kind);
            }
        }
    }
    if is_jwt(token) {
        return Some("a JSON Web Token");
    }
    if is_aws_secret_key(token) {
        return Some("an AWS secret access key");
    }
    None
}

/// Three base64url segments, the first decoding to a JSON header (`eyJ` is the base64 of `{"`).
fn is_jwt(token: &str) -> bool {
    if !token.starts_with("eyJ") {
        return false;
    }
    let mut parts = token.split('.');
    let (Some(a), Some(b), Some(c), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    a.len() >= 10
        && b.len() >= 10
        && [a, b, c].iter().all(|p| p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// 40 characters of the base64 alphabet mixing upper case, lower case and digits: the shape of an AWS
/// secret access key. Lower-case hex digests (SHA-1, git commits) do not match.
fn is_aws_secret_key(token: &str) -> bool {
    token.len() == 40
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
        && token.bytes().any(|b| b.is_ascii_uppercase())
        && token.bytes().any(|b| b.is_ascii_lowercase())
        && token.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::looks_like_secret;

    #[test]
    fn no_rule_is_shorter_than_the_quick_rejection() {
        for (prefix, min_rest, _) in super::PREFIXES {
            assert!(prefix.len() + min_rest >= super::MIN_SECRET_LEN, "{prefix}");
        }
        // The shortest JWT shape (10 + 1 + 10 + 1 bytes) is still recognised; AWS keys (40), SSWS
        // (5 + 20) and the PEM and PuTTY markers are longer.
        assert!(super::looks_like_secret("eyJhbGciOi.eyJzdWIiOi.").is_some());
    }

    proptest::proptest! {
        /// Cutting tokens by bytes gives what cutting by characters gives.
        #[test]
        fn tokens_are_cut_as_by_characters(value in "(\\PC|[a-zA-Z0-9_./+=-]){0,60}") {
            let by_chars: Vec<&str> = value
                .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '+' | '=')))
                .filter(|t| !t.is_empty())
                .collect();
            proptest::prop_assert_eq!(super::tokens(&value).collect::<Vec<_>>(), by_chars);
        }
    }

    #[test]
    fn recognises_credentials() {
        let cases = [
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----",
            "key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY leaked",
            "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "Authorization: SSWS 00abcdefghijklmnopqrstuvwxyz0123456789AB",
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
            "hvs.CAESIJ1234567890abcdefghijklmnop",
            "Bearer cst_q2Ny9-w7HcCjSx0dD1vU8Lq3mZ_r5tYbKe4aFgPhJiA",
        ];
        for c in cases {
            assert!(looks_like_secret(c).is_some(), "not recognised: {c}");
        }
    }

    #[test]
    fn leaves_identifiers_alone() {
        let cases = [
            "AKIAIOSFODNN7EXAMPLE",
            "arn:aws:iam::123456789012:user/ci-deploy",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "3038ebd2-c98a-4c65-9b6e-e22506292313",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
            "alice@corp.example",
            "contain leaked CI deploy key",
            "ghp_short",
            "projects/acme-prod/serviceAccounts/deployer@acme-prod.iam.gserviceaccount.com",
        ];
        for c in cases {
            assert_eq!(looks_like_secret(c), None, "false positive: {c}");
        }
    }
}
