//! What the user typed: clap definitions of every command and flag. No ledger logic here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// custody: an immutable, verifiable evidence ledger for identity incidents.
///
/// Exit codes: 0 success (for verify: intact), 1 integrity failure, 2 usage, input or I/O error.
#[derive(Parser, Debug)]
#[command(name = "custody", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct LedgerArg {
    /// Ledger directory [env: CUSTODY_LEDGER, default: ./custody-ledger]
    #[arg(long, env = "CUSTODY_LEDGER", default_value = "custody-ledger", hide_default_value = true, hide_env = true)]
    pub ledger: PathBuf,
    /// Seconds to wait for another process that holds the ledger
    #[arg(long, default_value_t = 30)]
    pub wait: u64,
}

#[derive(Args, Debug, Clone)]
pub struct KeyArg {
    /// Private key file (from `custody keygen`) that signs the new entries
    #[arg(long, env = "CUSTODY_KEY")]
    pub key: PathBuf,
}

// Parsed once per process: the size difference between variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a new ed25519 private key (mode 0600) and print its public key and key ID
    Keygen {
        /// Where to write the key; an existing file is never overwritten
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Create a ledger whose genesis entry names it and authorises the key
    Init {
        #[command(flatten)]
        ledger: LedgerArg,
        #[command(flatten)]
        key: KeyArg,
        /// Human-readable ledger name
        #[arg(long, default_value = "custody")]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Authorise or retire signer keys (signed key-management entries)
    #[command(subcommand)]
    Key(KeyCommand),
    /// Append one record (from flags) or many (--json FILE|- with one object or JSON Lines, one batch)
    Append(AppendArgs),
    /// Check every entry of the ledger; exit 0 intact, 1 integrity failure, 2 usage or I/O error
    Verify {
        #[command(flatten)]
        ledger: LedgerArg,
        /// Public key the genesis entry must be signed by (custody-ed25519:HEX, HEX, or a file)
        #[arg(long)]
        trust: Option<String>,
        /// A size and head hash noted earlier (SIZE:HASH): detects truncation and rewrite since
        #[arg(long)]
        head: Option<String>,
        /// A signed checkpoint kept earlier: the ledger must still contain that tree
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Witness vkey whose cosignature on the checkpoint counts (repeatable)
        #[arg(long = "witness", requires = "checkpoint")]
        witnesses: Vec<String>,
        /// How many witness cosignatures the checkpoint needs
        #[arg(long, default_value_t = 0, requires = "checkpoint")]
        quorum: usize,
        #[arg(long)]
        json: bool,
    },
    /// Issue a signed checkpoint (C2SP signed note) of the ledger's Merkle tree; kept in checkpoints/
    Checkpoint {
        #[command(flatten)]
        ledger: LedgerArg,
        #[command(flatten)]
        key: KeyArg,
        /// Also write the checkpoint to this file
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write an inclusion proof (--seq) or a consistency proof (--from OLD_CHECKPOINT) as JSON
    Prove {
        #[command(flatten)]
        ledger: LedgerArg,
        /// Prove that this entry is in the tree
        #[arg(long, conflicts_with = "from", required_unless_present = "from")]
        seq: Option<u64>,
        /// Tree size to prove against (default: the latest checkpoint)
        #[arg(long, requires = "seq")]
        size: Option<u64>,
        /// Prove that the tree of this old checkpoint is a prefix of the latest checkpoint's tree
        #[arg(long)]
        from: Option<PathBuf>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a proof offline from the proof file, a checkpoint and the ledger's public key
    VerifyProof {
        #[arg(long)]
        proof: PathBuf,
        /// The signed checkpoint the proof is against (default: the one inside the proof file)
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// For a consistency proof: the old checkpoint (default: the one inside the proof file)
        #[arg(long)]
        old_checkpoint: Option<PathBuf>,
        /// The ledger's public key (custody-ed25519:HEX or a key file)
        #[arg(long = "key")]
        key: String,
        /// Witness vkey whose cosignature counts (repeatable)
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        #[arg(long, default_value_t = 0)]
        quorum: usize,
        #[arg(long)]
        json: bool,
    },
    /// As a witness: cosign a checkpoint if it consistently extends the last one you cosigned
    Cosign {
        /// The witness's private key file (from `custody keygen`)
        #[arg(long)]
        witness_key: PathBuf,
        /// The witness's name in its vkey and cosignature lines
        #[arg(long, default_value = "custody-witness")]
        name: String,
        /// The checkpoint to cosign
        #[arg(long)]
        checkpoint: PathBuf,
        /// Where the witness remembers what it cosigned
        #[arg(long, default_value = "custody-witness")]
        state: PathBuf,
        /// The ledger's public key (required the first time; pinned afterwards)
        #[arg(long)]
        ledger_key: Option<String>,
        /// Take the consistency proof from this ledger directory
        #[arg(long, conflicts_with = "proof")]
        ledger: Option<PathBuf>,
        /// Or from a consistency proof file (`custody prove --from`)
        #[arg(long)]
        proof: Option<PathBuf>,
        /// Write the cosigned checkpoint here (default: stdout)
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the C2SP vkey of a key: a ledger key under its origin, or a witness key under a name
    Vkey {
        #[command(flatten)]
        key: KeyArg,
        /// Witness name (prints a cosignature vkey)
        #[arg(long, conflicts_with = "ledger")]
        witness: Option<String>,
        /// Ledger directory (prints the ledger key's vkey under the ledger's origin)
        #[arg(long)]
        ledger: Option<PathBuf>,
    },
    /// List entries, optionally filtered
    Log {
        #[command(flatten)]
        ledger: LedgerArg,
        #[command(flatten)]
        filter: FilterArgs,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Print the entry count and head hash
    Head {
        #[command(flatten)]
        ledger: LedgerArg,
        #[arg(long)]
        json: bool,
    },
    /// Rebuild index/ from log/
    Reindex {
        #[command(flatten)]
        ledger: LedgerArg,
    },
    /// Erase fields of entries under a recorded authority (a signed redaction entry); signed bytes
    /// and proofs stay valid
    Redact {
        #[command(flatten)]
        ledger: LedgerArg,
        #[command(flatten)]
        key: KeyArg,
        /// Entry to redact (repeatable)
        #[arg(long = "seq", required = true)]
        seqs: Vec<u64>,
        /// Field to erase: actor.id, target.id, approval.by, approval.ref, approval.none, scope,
        /// reason, outcome.detail, owner, evidence, attributes (repeatable)
        #[arg(long = "field", required = true)]
        fields: Vec<String>,
        /// Why, e.g. "GDPR Art. 17 erasure request"
        #[arg(long)]
        reason: String,
        /// The authority or reference, e.g. a DPO case number
        #[arg(long)]
        authority: String,
        /// Who approved the erasure
        #[arg(long)]
        approved_by: String,
        #[arg(long)]
        json: bool,
    },
    /// Legal holds: nothing in an incident under hold can be redacted or expired
    #[command(subcommand)]
    Hold(HoldCommand),
    /// Retention: redact content older than a cutoff, except incidents under legal hold
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Import access changes from real audit logs (CloudTrail, Okta, Entra ID, GitHub, Google Cloud,
    /// Google Workspace) as evidence records
    Import {
        #[command(flatten)]
        ledger: LedgerArg,
        /// Signing key (not needed with --dry-run)
        #[arg(long, env = "CUSTODY_KEY")]
        key: Option<PathBuf>,
        /// cloudtrail, okta, entra, github, gcp or gworkspace
        #[arg(long = "from")]
        source: String,
        /// The export file (gzip or not), or - for stdin
        file: String,
        /// Incident every imported record belongs to
        #[arg(long)]
        incident: String,
        /// Also import sign-ins and token uses, as `observe` records
        #[arg(long)]
        with_context: bool,
        /// The change ticket that authorised the whole batch: who approved
        #[arg(long)]
        approval_by: Option<String>,
        #[arg(long, requires = "approval_by")]
        approval_source: Option<String>,
        #[arg(long, requires = "approval_by")]
        approval_ref: Option<String>,
        /// Print the records that would be appended (JSON Lines) and append nothing
        #[arg(long)]
        dry_run: bool,
        /// Import the valid events and report the invalid ones, instead of refusing the input
        #[arg(long)]
        skip_invalid: bool,
        /// List every skipped event with its reason
        #[arg(long)]
        explain: bool,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// Write an incident's evidence bundle: entries, inclusion proofs, checkpoint, keys, manifest,
    /// README; verifiable offline with only the public key
    Bundle {
        #[command(flatten)]
        ledger: LedgerArg,
        #[arg(long)]
        incident: String,
        #[arg(long)]
        out: PathBuf,
        /// The signed checkpoint to prove against (e.g. one with witness cosignatures); default:
        /// the latest issued checkpoint that covers the incident
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Issue a fresh checkpoint with this key when none covers the incident yet
        #[arg(long, env = "CUSTODY_KEY")]
        key: Option<PathBuf>,
        /// Leave this field's values and salts out of the bundle (repeatable), e.g. reason
        #[arg(long)]
        withhold: Vec<String>,
    },
    /// Check an evidence bundle offline and say exactly what it proves
    VerifyBundle {
        file: PathBuf,
        /// The ledger's genesis public key (custody-ed25519:HEX or a key file)
        #[arg(long)]
        trust: Option<String>,
        /// Witness vkey whose cosignature counts (repeatable)
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        #[arg(long, default_value_t = 0)]
        quorum: usize,
        #[arg(long)]
        json: bool,
    },
    /// Create a demo ledger with a realistic incident, verify it and print its timeline
    Demo {
        /// Directory for the demo ledger and key (default: a new temporary directory)
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Run the ledger as an HTTP/1.1 and HTTP/2 service, its single writer (API: docs/API.md)
    Serve(ServeArgs),
    /// Service clients: register one (its bearer token is shown once), remove one, list them
    #[command(subcommand)]
    Client(ClientCommand),
    /// Export selected entries (an incident's timeline) as jsonl, csv, html, ocsf or timesketch;
    /// verifies the ledger first and exits 1 (after writing) if it does not verify
    Export(ExportArgs),
    /// Effective access state (identity -> entitlements, exceptions, rotations) replayed from the
    /// verified ledger, at the head, after entry --seq N, or as of --at TIME
    State(crate::govern_cmd::StateArgs),
    /// Access differences between two times, each with the entries that explain it; unapproved
    /// gains are flagged
    Drift(crate::govern_cmd::DriftArgs),
    /// Closure findings (rule ID, severity, identity, owner, evidence, action); --fail-on SEVERITY
    /// exits 1 when a finding at or above it exists (see docs/GOVERNANCE.md)
    Report(crate::govern_cmd::ReportArgs),
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Authorise a new signer key (its public key: custody-ed25519:HEX, HEX, or a key file)
    Add {
        #[command(flatten)]
        ledger: LedgerArg,
        #[command(flatten)]
        key: KeyArg,
        /// The public key to authorise, or a private key file to take it from
        #[arg(long = "public")]
        public: String,
        /// What this key is for, e.g. "soar-prod"
        #[arg(long)]
        label: String,
        #[arg(long)]
        json: bool,
    },
    /// Retire a signer key: entries it signs after this are invalid
    Retire {
        #[command(flatten)]
        ledger: LedgerArg,
        #[command(flatten)]
        key: KeyArg,
        /// Key ID (16 hex digits) to retire
        #[arg(long = "key-id")]
        key_id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// List the ledger's signer keys
    List {
        #[command(flatten)]
        ledger: LedgerArg,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum HoldCommand {
    /// Place an incident under legal hold (a signed entry)
    Add(HoldArgs),
    /// Release a legal hold (a signed entry)
    Release(HoldArgs),
    /// List holds in force
    List {
        #[command(flatten)]
        ledger: LedgerArg,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct HoldArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
    #[command(flatten)]
    pub key: KeyArg,
    #[arg(long)]
    pub incident: String,
    #[arg(long)]
    pub reason: String,
    /// Matter or case reference
    #[arg(long = "ref")]
    pub reference: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Redact every redactable field of entries recorded before the cutoff (not under hold), as
    /// one signed redaction entry
    Apply {
        #[command(flatten)]
        ledger: LedgerArg,
        /// Signing key (not needed with --dry-run)
        #[arg(long, env = "CUSTODY_KEY")]
        key: Option<PathBuf>,
        /// Entries recorded more than this long ago, e.g. 7y, 400d, 12w
        #[arg(long, conflicts_with = "before", required_unless_present = "before")]
        older_than: Option<String>,
        /// Entries recorded before this time (RFC 3339)
        #[arg(long)]
        before: Option<String>,
        /// List what would be redacted; change nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(long, default_value = "retention schedule")]
        reason: String,
        /// The retention policy or its reference
        #[arg(long, default_value = "retention policy")]
        authority: String,
        #[arg(long, default_value = "retention-job")]
        approved_by: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    #[arg(long)]
    pub incident: Option<String>,
    /// Target identity ID
    #[arg(long)]
    pub target: Option<String>,
    /// Actor ID
    #[arg(long)]
    pub actor: Option<String>,
    /// Event time at or after (RFC 3339)
    #[arg(long)]
    pub since: Option<String>,
    /// Event time at or before (RFC 3339)
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(Args, Debug)]
pub struct AppendArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
    /// Private key file (from `custody keygen`) that signs the new entries; not with --server
    #[arg(long, env = "CUSTODY_KEY", required_unless_present = "server")]
    pub key: Option<PathBuf>,
    /// Read records from a file or `-` (stdin): one JSON object, or JSON Lines (one batch)
    #[arg(long, conflicts_with_all = ["incident", "action"])]
    pub json: Option<String>,
    /// With --json: append each line as its own durable append as it arrives, printing its
    /// receipt at once (for long-running pipelines), instead of one all-or-nothing batch
    #[arg(long, requires = "json")]
    pub each: bool,
    #[command(flatten)]
    pub record: RecordFlags,
    /// Send the records to a running `custody serve` at this URL (http:// or https://) instead
    #[arg(long, env = "CUSTODY_SERVER", requires = "token_file")]
    pub server: Option<String>,
    /// File holding this client's bearer token (from `custody client add`), for --server
    #[arg(long, env = "CUSTODY_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Idempotency key for --server (default: a new random one); sending the same key again
    /// appends nothing and returns the original receipts
    #[arg(long, requires = "server")]
    pub idempotency_key: Option<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// How to reach a running service.
#[derive(Args, Debug, Clone)]
pub struct RemoteArgs {
    /// Trust this CA certificate (PEM) for an https:// server (default: the public web roots)
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for a service that requires mutual TLS
    #[arg(long, requires = "tls_client_key")]
    pub tls_client_cert: Option<PathBuf>,
    /// Client certificate's private key (PEM)
    #[arg(long, requires = "tls_client_cert")]
    pub tls_client_key: Option<PathBuf>,
    /// Speak HTTP/2 (prior knowledge on http://, ALPN on https://)
    #[arg(long)]
    pub http2: bool,
    /// Retries after a failed attempt (same idempotency key each time)
    #[arg(long, default_value_t = 8)]
    pub retries: u32,
    /// Seconds allowed for one attempt
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
    #[command(flatten)]
    pub key: KeyArg,
    /// Address to listen on; port 0 takes any free port (the address is printed on stdout)
    #[arg(long, default_value = "127.0.0.1:7440")]
    pub listen: String,
    /// TLS certificate chain (PEM); with --tls-key, serves https (HTTP/2 and HTTP/1.1 by ALPN)
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates issued by this CA (mutual TLS), in addition to bearer tokens
    #[arg(long, requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Largest request body in bytes (413 above it)
    #[arg(long, default_value_t = 4 << 20)]
    pub max_body: usize,
    /// Append requests that may wait for the writer (503 with Retry-After when full)
    #[arg(long, default_value_t = 4096)]
    pub queue: usize,
    /// Records that may wait for the writer, over all queued requests
    #[arg(long, default_value_t = 100_000)]
    pub queue_records: usize,
    /// Requests per second per client, on average (0: no limit; 429 above it)
    #[arg(long, default_value_t = 1000.0)]
    pub rate_limit: f64,
    /// Requests a client may send in a burst above its rate
    #[arg(long, default_value_t = 2000.0)]
    pub rate_burst: f64,
    /// Seconds allowed for a request's headers (and a TLS handshake); also the idle timeout
    #[arg(long, default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds allowed for a request's body (408 after it)
    #[arg(long, default_value_t = 30)]
    pub body_timeout: u64,
    /// Connections served at once
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds open requests may take to finish after SIGTERM
    #[arg(long, default_value_t = 30)]
    pub shutdown_grace: u64,
}

/// Where client registrations go: a local ledger (signed with --key) or a running service (with an
/// admin client's token).
#[derive(Args, Debug)]
pub struct ClientTarget {
    #[command(flatten)]
    pub ledger: LedgerArg,
    /// Private key file that signs the registration entry (local ledger)
    #[arg(long, env = "CUSTODY_KEY")]
    pub key: Option<PathBuf>,
    /// Or go through a running `custody serve` at this URL (needs an admin client's token)
    #[arg(long, env = "CUSTODY_SERVER", requires = "token_file")]
    pub server: Option<String>,
    /// File holding an admin client's bearer token, for --server
    #[arg(long, env = "CUSTODY_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register a service client with a role; prints its bearer token once (only its hash is kept,
    /// in a signed ledger entry)
    Add {
        #[command(flatten)]
        target: ClientTarget,
        /// Client name, recorded as the submitter of every entry it appends
        name: String,
        /// append, read or admin
        #[arg(long)]
        role: String,
        /// Write the token to this new file (mode 0600) instead of printing it
        #[arg(long)]
        token_out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a service client: its token stops working (a signed ledger entry)
    Remove {
        #[command(flatten)]
        target: ClientTarget,
        name: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// List registered service clients
    List {
        #[command(flatten)]
        target: ClientTarget,
        #[arg(long)]
        json: bool,
    },
}

/// The common record fields as flags (see the record contract in docs/FORMAT.md).
#[derive(Args, Debug, Default)]
pub struct RecordFlags {
    /// Incident (correlation) ID, e.g. INC-2026-0042
    #[arg(long)]
    pub incident: Option<String>,
    /// grant, revoke, emergency_grant, rotate, disable, enable, create, delete, session_revoke, ...
    #[arg(long)]
    pub action: Option<String>,
    /// Who did it
    #[arg(long)]
    pub actor: Option<String>,
    /// human, service, agent or system
    #[arg(long, default_value = "human")]
    pub actor_kind: String,
    /// The identity acted on
    #[arg(long)]
    pub target: Option<String>,
    /// human, service_account, api_key, oauth_grant, token, certificate, service_principal, ...
    #[arg(long)]
    pub target_kind: Option<String>,
    /// The system the target lives in, e.g. aws-iam, okta, vault, github
    #[arg(long)]
    pub system: Option<String>,
    /// Entitlement, permission or resource concerned
    #[arg(long)]
    pub scope: Option<String>,
    /// Who approved
    #[arg(long)]
    pub approved_by: Option<String>,
    /// Through what, e.g. servicenow
    #[arg(long)]
    pub approval_source: Option<String>,
    /// Ticket or change ID
    #[arg(long)]
    pub approval_ref: Option<String>,
    /// When it was approved (RFC 3339)
    #[arg(long)]
    pub approved_at: Option<String>,
    /// Record explicitly that there was no approval, and why
    #[arg(long, conflicts_with = "approved_by")]
    pub no_approval: Option<String>,
    #[arg(long)]
    pub reason: Option<String>,
    /// success, failure, partial or pending
    #[arg(long, default_value = "success")]
    pub status: String,
    /// Outcome detail
    #[arg(long)]
    pub detail: Option<String>,
    /// When it happened at the source (RFC 3339); absent if not given
    #[arg(long)]
    pub occurred_at: Option<String>,
    /// When a temporary grant expires (RFC 3339); required for emergency_grant
    #[arg(long)]
    pub expires_at: Option<String>,
    /// Accountable owner of the target
    #[arg(long)]
    pub owner: Option<String>,
    /// Seq of an earlier entry this one answers (repeatable)
    #[arg(long = "ref")]
    pub refs: Vec<u64>,
    /// Evidence as SYSTEM:ID or SYSTEM:sha256:HEX (repeatable)
    #[arg(long)]
    pub evidence: Vec<String>,
    /// Extension attribute KEY=VALUE (repeatable)
    #[arg(long = "attr")]
    pub attributes: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// jsonl, csv, html, ocsf or timesketch (docs/EXPORT.md)
    #[arg(long)]
    pub format: String,
    /// Write here instead of stdout (replaced only once the export is complete)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Issue a fresh signed checkpoint with this key (an active ledger key) and verify against it;
    /// default: the latest checkpoint the ledger issued
    #[arg(long)]
    pub checkpoint_key: Option<PathBuf>,
    /// Public key the genesis entry must be signed by (custody-ed25519:HEX, HEX, or a file), as in
    /// `custody verify --trust`; without it the genesis key is trusted on first use
    #[arg(long)]
    pub trust: Option<String>,
}
