//! Documentation step: renders IMPORTERS.md from the mapping tables, so the document and the code
//! cannot drift (a test parses the file and compares it with the tables both ways).

use super::table::markdown_table;
use super::{cloudtrail, entra, gcp, github, gworkspace, mapping_table, okta, Source};

/// The prose IMPORTERS.md gives for `source`.
pub fn source_doc(source: Source) -> &'static str {
    match source {
        Source::CloudTrail => cloudtrail::DOC,
        Source::Okta => okta::DOC,
        Source::Entra => entra::DOC,
        Source::GitHub => github::DOC,
        Source::Gcp => gcp::DOC,
        Source::GWorkspace => gworkspace::DOC,
    }
}

const INTRO: &str = "\
# Importers: audit logs to custody records

Generated from the mapping tables in `src/import/*.rs` (`mapping_table(source)`); a test parses this \
file and checks every row against the code both ways. Regenerate with \
`CUSTODY_WRITE_IMPORTERS_MD=1 cargo test importers_md`.

Every imported record carries:

- `evidence: [{\"system\": \"<source>\", \"id\": \"<source event id, when the event has one>\", \
\"digest\": \"sha256:<hex of the event's bytes as read>\"}]`. The bytes are the event's JSON text as it \
appears in the input (one line of JSON Lines without its line terminator, or one array element), \
after gzip decompression.
- `approval: {\"none\": \"imported from <source>; no approval in the source event\"}` unless the caller \
passes one approval for the whole batch. Approval-like fields of the source (Entra PIM justification) \
go to attributes and the reason.
- `reason: \"imported from <source>: <event name>\"` (plus the justification where there is one).
- `outcome` from the event's own result fields (column *outcome field*); `occurred_at` from the \
event's own time, normalised to RFC 3339 UTC (Panther's `2022-03-22 14:21:53.225`, zone-less ISO \
8601 and epoch milliseconds included; an unparsable time is left out).
- `target.system`: cloudtrail `aws-iam`, otherwise the source name.
- `attributes.source_event`: the event name. Values that look like credentials (the contract's list) \
are replaced by `[redacted]` (ids) or left out (scope, attributes) and listed in `attributes.redacted`. \
Request bodies, session tokens and passwords are never read into records: only the fields named below.
- dedup key: `<source>:<event id>`, or `<source>:sha256:<hex>` when the event has no id; one event \
that yields several records adds `#<n>` (GCP binding deltas, Workspace events).

Rows whose action is `observe` are *context* (sign-ins, token uses): they become `observe` records only \
when importing with context, and are skipped otherwise. Event names that are not in a table are \
skipped, with the reason.

## Field paths

The *target field* and *scope field* columns are paths into the event: `a.b` (object keys; the first \
key also matches ignoring ASCII case, for exports that lower-case top-level keys), `list[key=value]` \
(the first element whose `key` equals `value`, ignoring case), `list[]` (the first element), `list[2]`. \
`a|b` tries alternatives in order; `@actor` is the event's actor; `=text` is a constant; a \
`{path}` inside text is a template that yields a value only when every placeholder has one. `-` means \
none. When a path yields an object, the source's identifier fields are used (see each source). When \
no target alternative yields a value the target id is `unknown` and `attributes.target_unresolved` \
names the spec. In the *action* column, `a/b` means the importer chooses between the actions from the \
event (explained per source).
";

/// The whole of IMPORTERS.md.
pub fn importers_markdown() -> String {
    let mut out = String::from(INTRO);
    for source in Source::ALL {
        out.push_str(&format!("\n## {source}\n\n"));
        out.push_str(source_doc(source));
        out.push_str("\n\n");
        out.push_str(&markdown_table(mapping_table(source)));
    }
    out.push_str(
        "\n## Not covered\n\n\
- Vault audit devices (`vault-audit.datadog.jsonl`): no vault importer yet.\n\
- Entra events outside the tables above (for example directory settings, devices, B2C, access \
reviews) are skipped.\n\
- Event names these tables list from vendor documentation but that the samples do not contain are \
mapped from the documented field names and have not been checked against real events.\n",
    );
    out
}
