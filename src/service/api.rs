//! The HTTP API under `/v1`: routes, request parsing, and JSON answers and errors.
//!
//! This module owns the translation between HTTP and the library: it authenticates and authorizes
//! each call ([`super::auth`]), reads bodies within the size and time limits, parses records with
//! the same strict contract as `custody append --json`, hands appends to the group commit
//! ([`super::commit`]) and turns every refusal into a JSON error that names the problem:
//!
//! ```json
//! {"error": {"code": "invalid_record", "message": "record 1: record field `reason` is empty",
//!            "field": "reason", "record": 1}}
//! ```
//!
//! Ledger reads run on the blocking pool; nothing here writes to the ledger except through the
//! committer (records) and `append_control_by` (client registrations, admin only). `docs/API.md`
//! is the reference for every route.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{self, AuthError, Caller, Clients, Need, RateLimiter};
use super::commit::{Committer, Refused};
use super::metrics::{Metrics, Reject};
use super::Limits;
use crate::checkpoint::{self, ProofError};
use crate::entry::{Control, Role};
use crate::ledger::{Filter, Ledger, LedgerError, Submission, Submitted, MAX_BATCH};
use crate::record::{limits, Record};
use crate::sign::SecretKey;
use crate::time::Timestamp;

/// Everything a handler can reach.
pub struct AppState {
    pub ledger: Arc<Ledger>,
    pub key: Arc<SecretKey>,
    pub committer: Committer,
    pub clients: Clients,
    pub limiter: RateLimiter,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// The last checkpoint handed out: when, its size, its note.
    checkpoint: tokio::sync::Mutex<Option<(Instant, u64, String)>>,
}

impl AppState {
    pub fn new(
        ledger: Arc<Ledger>,
        key: Arc<SecretKey>,
        committer: Committer,
        metrics: Arc<Metrics>,
        limits: Limits,
    ) -> Self {
        let clients = Clients::new(&ledger.with_state(|s| s.clients.clone()));
        let limiter = RateLimiter::new(limits.rate_per_client, limits.rate_burst);
        AppState {
            ledger,
            key,
            committer,
            clients,
            limiter,
            metrics,
            limits,
            checkpoint: tokio::sync::Mutex::new(None),
        }
    }

    fn authorize(&self, headers: &HeaderMap, need: Need) -> Result<Caller, ApiError> {
        self.clients.authorize(headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes), need).map_err(|e| match e
        {
            AuthError::Forbidden { .. } => ApiError::new(StatusCode::FORBIDDEN, Reject::Forbidden, e.to_string()),
            _ => ApiError::new(StatusCode::UNAUTHORIZED, Reject::Unauthorized, e.to_string()),
        })
    }

    /// Re-reads the registered clients from the chain state.
    fn reload_clients(&self) {
        self.clients.reload(&self.ledger.with_state(|s| s.clients.clone()));
    }
}

/// The `/v1` API, `/healthz` and `/metrics`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/head", get(head))
        .route("/v1/checkpoint", get(checkpoint_note))
        .route("/v1/entries", get(list_entries).post(post_entries))
        .route("/v1/entries/{seq}", get(get_entry))
        .route("/v1/proof/inclusion", get(proof_inclusion))
        .route("/v1/proof/consistency", get(proof_consistency))
        .route("/v1/incidents/{id}/export", get(export))
        .route("/v1/clients", get(list_clients).post(add_client))
        .route("/v1/clients/{name}", delete(remove_client))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response_with_state(state.clone(), count_rejects))
        .with_state(state)
}

// ---- errors --------------------------------------------------------------------------------------

/// A refused or failed call, answered as `{"error": {...}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: Reject,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub record: Option<usize>,
    pub retry_after: Option<Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: Reject, message: impl Into<String>) -> Self {
        ApiError {
            status,
            reason,
            code: reason.as_str(),
            message: message.into(),
            field: None,
            record: None,
            retry_after: None,
        }
    }

    fn code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, Reject::InvalidRequest, message)
    }

    fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Reject::Failed, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut e = serde_json::Map::new();
        e.insert("code".into(), json!(self.code));
        e.insert("message".into(), json!(self.message));
        if let Some(f) = &self.field {
            e.insert("field".into(), json!(f));
        }
        if let Some(r) = self.record {
            e.insert("record".into(), json!(r));
        }
        let mut resp = (self.status, Json(json!({ "error": e }))).into_response();
        if let Some(d) = self.retry_after {
            let secs = d.as_secs_f64().ceil().max(1.0) as u64;
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp.extensions_mut().insert(self.reason);
        resp
    }
}

async fn count_rejects(State(st): State<Arc<AppState>>, resp: Response) -> Response {
    if let Some(r) = resp.extensions().get::<Reject>() {
        st.metrics.reject(*r);
    }
    resp
}

fn ledger_error(e: LedgerError) -> ApiError {
    match e {
        LedgerError::Record { index, problem } => {
            let mut a = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Reject::InvalidRecord,
                format!("record {index}: {problem}"),
            );
            a.field = Some(problem.field);
            a.record = Some(index);
            a
        }
        LedgerError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Reject::InvalidRequest, m),
        LedgerError::RequestReused { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Reject::InvalidRequest, e.to_string())
                .code("idempotency_key_reused")
        }
        LedgerError::NoSuchEntry { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, Reject::NotFound, e.to_string()).code("no_such_entry")
        }
        e => ApiError::internal(e.to_string()).code("append_failed"),
    }
}

fn proof_error(e: ProofError) -> ApiError {
    match e {
        ProofError::Usage(m) => ApiError::bad_request(m),
        ProofError::Ledger(l) => ledger_error(l),
        e => ApiError::internal(e.to_string()),
    }
}

/// Runs ledger work on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("a worker failed: {e}")))?
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, Reject::NotFound, "no such route; the API is under /v1 (see docs/API.md)")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, Reject::InvalidRequest, "this route does not take that method")
        .code("method_not_allowed")
}

// ---- health and metrics --------------------------------------------------------------------------

async fn healthz(State(st): State<Arc<AppState>>) -> Response {
    if st.committer.is_open() {
        Json(json!({"status": "ok"})).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "writer stopped"}))).into_response()
    }
}

async fn metrics(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let l = st.ledger.clone();
    let size = blocking(move || Ok(l.head().size)).await?;
    let body = st.metrics.render(size);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response())
}

// ---- appends -------------------------------------------------------------------------------------

/// The header that makes a retry safe.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

async fn post_entries(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let caller = st.authorize(&headers, Need::Append)?;
    st.limiter.check(&caller.name).map_err(|wait| {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            Reject::RateLimited,
            format!("client {} is over its rate limit; retry after the Retry-After delay", caller.name),
        );
        e.retry_after = Some(wait);
        e
    })?;
    let request = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(v) => {
            let k = v.to_str().map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))?;
            crate::record::check_text("Idempotency-Key", k, limits::ID)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            Some(k.to_string())
        }
    };
    let bytes = read_body(&st.limits, &headers, body).await?;
    let records = parse_records(&bytes)?;
    let rx = st.committer.submit(Submission { submitter: Some(caller.name), request }, records).map_err(|r| {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Reject::QueueFull,
            match r {
                Refused::Full => {
                    "the append queue is full; retry after the Retry-After delay (with the same Idempotency-Key)"
                }
                Refused::Closed => "the service is shutting down; retry against the restarted service",
            },
        );
        e.retry_after = Some(Duration::from_secs(1));
        e
    })?;
    let answer = rx.await.map_err(|_| ApiError::internal("the writer stopped before answering; retry the request"))?;
    Ok(match answer.map_err(ledger_error)? {
        Submitted::Appended(r) => {
            (StatusCode::CREATED, Json(json!({"receipts": r, "replayed": false}))).into_response()
        }
        Submitted::Replayed(r) => {
            let mut resp = Json(json!({"receipts": r, "replayed": true})).into_response();
            resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            resp
        }
    })
}

/// Reads a body within the size cap and the body timeout.
async fn read_body(l: &Limits, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Reject::BodyTooLarge,
            format!("the request body is larger than {} bytes; split the batch", l.max_body),
        )
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > l.max_body as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(l.body_timeout, Limited::new(body, l.max_body).collect()).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            Reject::BodyTimeout,
            format!("the request body did not arrive within {:?}", l.body_timeout),
        )),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Ok(Err(e)) => Err(ApiError::bad_request(format!("could not read the request body: {e}"))),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

/// Parses one JSON record or JSON Lines (one request, one batch) with the strict record contract.
pub fn parse_records(bytes: &[u8]) -> Result<Vec<Record>, ApiError> {
    let mut out = Vec::new();
    for r in serde_json::Deserializer::from_slice(bytes).into_iter::<Record>() {
        match r {
            Ok(r) if out.len() < MAX_BATCH => out.push(r),
            Ok(_) => {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Reject::BodyTooLarge,
                    format!("a request holds at most {MAX_BATCH} records"),
                )
                .code("too_many_records"))
            }
            Err(_) => return Err(explain_parse_error(bytes)),
        }
    }
    if out.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            Reject::MalformedJson,
            "the body holds no record (expected one JSON object, or JSON Lines)",
        )
        .code("no_records"));
    }
    Ok(out)
}

/// The slow path after a parse failure: find the record and say what is wrong with it, naming the
/// field for contract violations (unknown field, missing field, wrong type).
fn explain_parse_error(bytes: &[u8]) -> ApiError {
    for (i, v) in serde_json::Deserializer::from_slice(bytes).into_iter::<Value>().enumerate() {
        let n = i + 1;
        match v {
            Err(e) => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    Reject::MalformedJson,
                    format!("record {n}: not valid JSON (line {}, column {}): {e}", e.line(), e.column()),
                )
            }
            Ok(v) => {
                if let Err(problem) = Record::from_value(v) {
                    let mut a = ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Reject::InvalidRecord,
                        format!("record {n}: {problem}"),
                    );
                    a.field = Some(problem.field);
                    a.record = Some(n);
                    return a;
                }
            }
        }
    }
    ApiError::new(StatusCode::BAD_REQUEST, Reject::MalformedJson, "the body is not JSON records")
}

// ---- reads ---------------------------------------------------------------------------------------

async fn head(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    st.authorize(&headers, Need::Client)?;
    let l = st.ledger.clone();
    let h = blocking(move || Ok(l.head())).await?;
    Ok(Json(h).into_response())
}

/// How long a checkpoint is handed out again before a newer one is issued (when the ledger grew).
const CHECKPOINT_REUSE: Duration = Duration::from_secs(1);

async fn checkpoint_note(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    st.authorize(&headers, Need::Client)?;
    let mut cache = st.checkpoint.lock().await;
    let l = st.ledger.clone();
    let size = blocking(move || Ok(l.head().size)).await?;
    let reuse = cache.as_ref().filter(|(at, s, _)| *s == size || at.elapsed() < CHECKPOINT_REUSE);
    let note = match reuse {
        Some((_, _, note)) => note.clone(),
        None => {
            let (l, k) = (st.ledger.clone(), st.key.clone());
            let cp = blocking(move || checkpoint::issue(&l, &k).map_err(proof_error)).await?;
            *cache = Some((Instant::now(), cp.checkpoint.size(), cp.note.clone()));
            cp.note
        }
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

async fn get_entry(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    seq: Result<Path<u64>, PathRejection>,
) -> Result<Response, ApiError> {
    st.authorize(&headers, Need::Read)?;
    let Path(seq) = seq.map_err(|e| ApiError::bad_request(format!("entry seq: {}", e.body_text())))?;
    let l = st.ledger.clone();
    let v = blocking(move || l.get(seq).map(|e| l.entry_json(&e)).map_err(ledger_error)).await?;
    Ok(Json(v).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    incident: Option<String>,
    target: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
    /// Only entries after this seq (the `next_after` of the previous page).
    after: Option<u64>,
    limit: Option<usize>,
}

/// The default and the largest page.
const PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

async fn list_entries(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    st.authorize(&headers, Need::Read)?;
    let q = query(q)?;
    let time = |what: &str, v: &Option<String>| -> Result<Option<Timestamp>, ApiError> {
        v.as_deref()
            .map(Timestamp::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("`{what}`: {e} (expected RFC 3339, e.g. 2026-03-02T10:00:00Z)")))
    };
    let filter = Filter {
        since: time("since", &q.since)?,
        until: time("until", &q.until)?,
        incident: q.incident,
        target: q.target,
        actor: q.actor,
    };
    let limit = q.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let after = q.after;
    let l = st.ledger.clone();
    let v = blocking(move || {
        let first = after.map_or(0, |a| a.saturating_add(1));
        let mut seqs: Vec<u64> = if filter.is_empty() {
            let size = l.head().size;
            (first..size.min(first.saturating_add(limit as u64 + 1))).collect()
        } else {
            l.select(&filter).map_err(ledger_error)?.into_iter().filter(|s| *s >= first).take(limit + 1).collect()
        };
        let more = seqs.len() > limit;
        seqs.truncate(limit);
        let entries: Vec<Value> =
            seqs.iter().map(|s| l.get(*s).map(|e| l.entry_json(&e))).collect::<Result<_, _>>().map_err(ledger_error)?;
        let next = if more { seqs.last().copied() } else { None };
        Ok(json!({"entries": entries, "next_after": next}))
    })
    .await?;
    Ok(Json(v).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    seq: u64,
    size: Option<u64>,
}

async fn proof_inclusion(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    st.authorize(&headers, Need::Client)?;
    let q = query(q)?;
    let l = st.ledger.clone();
    let p = blocking(move || {
        let size = q.size.unwrap_or_else(|| l.head().size);
        checkpoint::prove_inclusion(&l, q.seq, size).map_err(proof_error)
    })
    .await?;
    Ok(Json(p).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    old: u64,
    new: Option<u64>,
}

async fn proof_consistency(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    st.authorize(&headers, Need::Client)?;
    let q = query(q)?;
    let l = st.ledger.clone();
    let p = blocking(move || {
        let new = q.new.unwrap_or_else(|| l.head().size);
        checkpoint::prove_consistency(&l, q.old, new).map_err(proof_error)
    })
    .await?;
    Ok(Json(p).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    format: Option<String>,
    /// The genesis key the verification must find (`custody-ed25519:HEX` or HEX).
    trust: Option<String>,
}

async fn export(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    st.authorize(&headers, Need::Read)?;
    let Path(id) = id.map_err(|e| ApiError::bad_request(format!("incident: {}", e.body_text())))?;
    let q = query(q)?;
    let trust = q
        .trust
        .as_deref()
        .map(crate::sign::PublicKey::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("trust: {e}")))?;
    export_incident(&st.ledger, &id, q.format.as_deref(), trust).await
}

/// Exports one incident in one of the exporter's formats (`jsonl` by default; `csv`, `html`, `ocsf`,
/// `timesketch`), as `custody export --incident ID` does: the whole ledger is verified first (against
/// the latest kept checkpoint) and the result is part of the export and of the `X-Custody-Verified`
/// header; a ledger that does not verify is still exported and says so. `trust` pins the genesis
/// key, as `--trust` does.
pub async fn export_incident(
    ledger: &Arc<Ledger>,
    incident: &str,
    format: Option<&str>,
    trust: Option<crate::sign::PublicKey>,
) -> Result<Response, ApiError> {
    use crate::export::{export, Context, Format, Verification};
    let format: Format = format.unwrap_or("jsonl").parse().map_err(ApiError::bad_request)?;
    let (l, id) = (ledger.clone(), incident.to_string());
    let (body, entries, intact) = blocking(move || {
        let failed = |e: crate::export::ExportError| ApiError::internal(format!("export: {e}"));
        let filter = Filter { incident: Some(id), ..Filter::default() };
        let verification = Verification::check(&l, None, trust).map_err(failed)?;
        let intact = verification.intact;
        let mut ctx = Context::new(&l, &filter);
        ctx.verification = Some(verification);
        let mut body = Vec::new();
        let stats = export(&l, &filter, format, &ctx, &mut body).map_err(failed)?;
        Ok((body, stats.entries, intact && stats.damaged.is_empty()))
    })
    .await?;
    if entries == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            Reject::NotFound,
            format!("incident {incident} has no entries"),
        )
        .code("no_such_incident"));
    }
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Html => "text/html; charset=utf-8",
        Format::Jsonl | Format::Ocsf | Format::Timesketch => "application/x-ndjson",
    };
    let ext = match format {
        Format::Jsonl | Format::Ocsf | Format::Timesketch => "jsonl",
        Format::Csv => "csv",
        Format::Html => "html",
    };
    let file: String =
        incident.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}-{format}.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert("x-custody-verified", HeaderValue::from_static(if intact { "intact" } else { "NOT-VERIFIED" }));
    h.insert("x-custody-entries", HeaderValue::from(entries));
    Ok(resp)
}

// ---- clients (admin) -----------------------------------------------------------------------------

async fn list_clients(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    st.authorize(&headers, Need::Admin)?;
    let clients = st.ledger.with_state(|s| s.clients.clone());
    let list: Vec<Value> =
        clients.iter().map(|(name, c)| json!({"name": name, "role": c.role, "added_at": c.added_at})).collect();
    Ok(Json(json!({ "clients": list })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewClient {
    name: String,
    role: Role,
}

async fn add_client(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let admin = st.authorize(&headers, Need::Admin)?;
    let bytes = read_body(&st.limits, &headers, body).await?;
    let new: NewClient = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Reject::InvalidRequest, format!("client registration: {e}"))
    })?;
    auth::check_client_name(&new.name)
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Reject::InvalidRequest, m))?;
    let token = auth::new_token();
    let control = Control::ClientAdd { name: new.name.clone(), role: new.role, token_hash: auth::token_hash(&token) };
    let receipt = register(&st, admin, control).await?;
    Ok((StatusCode::CREATED, Json(json!({"name": new.name, "role": new.role, "token": token, "receipt": receipt})))
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveQuery {
    reason: Option<String>,
}

async fn remove_client(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    name: Result<Path<String>, PathRejection>,
    q: Result<Query<RemoveQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let admin = st.authorize(&headers, Need::Admin)?;
    let Path(name) = name.map_err(|e| ApiError::bad_request(format!("client name: {}", e.body_text())))?;
    let reason = query(q)?.reason.unwrap_or_else(|| format!("removed by {} through the service API", admin.name));
    crate::record::check_text("reason", &reason, limits::REASON).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !st.ledger.with_state(|s| s.clients.contains_key(&name)) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, Reject::NotFound, format!("client {name} is not registered")));
    }
    let receipt = register(&st, admin, Control::ClientRemove { name: name.clone(), reason }).await?;
    Ok(Json(json!({"name": name, "receipt": receipt})).into_response())
}

/// Appends a client registration or removal, recording the admin as its submitter, and reloads the
/// token table once it is durable.
async fn register(st: &Arc<AppState>, admin: Caller, control: Control) -> Result<crate::ledger::Receipt, ApiError> {
    let s = st.clone();
    let receipt = blocking(move || {
        let sub = Submission { submitter: Some(admin.name), request: None };
        s.ledger.append_control_by(&s.key, control, &sub).map_err(|e| match e {
            LedgerError::Invalid(m) => ApiError::new(StatusCode::CONFLICT, Reject::InvalidRequest, m).code("conflict"),
            e => ledger_error(e),
        })
    })
    .await?;
    st.reload_clients();
    Ok(receipt)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"incident": "INC-1", "action": "revoke",
      "actor": {"id": "soar", "kind": "service"},
      "target": {"id": "carol@corp.example", "kind": "human", "system": "okta"},
      "approval": {"none": "containment"}, "reason": "leaked session", "outcome": {"status": "success"}}"#;

    #[test]
    fn parses_one_object_or_json_lines() {
        assert_eq!(parse_records(RECORD.as_bytes()).unwrap().len(), 1);
        let lines = format!("{}\n{}\n", RECORD.replace('\n', " "), RECORD.replace('\n', " "));
        assert_eq!(parse_records(lines.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn parse_errors_name_the_record_and_field() {
        let e = parse_records(b"{\"incident\": ").unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "malformed_json"));
        let bad = RECORD.replace("\"reason\"", "\"colour\": \"red\", \"reason\"");
        let e = parse_records(format!("{}\n{}", RECORD.replace('\n', " "), bad).as_bytes()).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_record"));
        assert_eq!((e.field.as_deref(), e.record), (Some("colour"), Some(2)), "{}", e.message);
        let e = parse_records(b"  \n").unwrap_err();
        assert_eq!(e.code, "no_records");
    }
}
