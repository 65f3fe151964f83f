//! Error step: the one error type of the importers, naming the file, line or element, and field.

use std::fmt;

/// Where an event sits in its input: a 1-based line of JSON Lines, or a 1-based array element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based line of a JSON Lines input.
    Line(u64),
    /// 1-based element of a JSON array (bare, or inside `{"Records": [...]}` and the like).
    Element(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Element(n) => write!(f, "element {n}"),
        }
    }
}

/// Everything that can go wrong while reading or mapping audit events.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input could not be read (I/O or gzip failure).
    #[error("{pos}: read failed: {source}")]
    Io {
        pos: Position,
        #[source]
        source: std::io::Error,
    },
    /// The bytes of an event are not valid JSON.
    #[error("{pos}: not valid json: {source}")]
    Json {
        pos: Position,
        #[source]
        source: serde_json::Error,
    },
    /// The input's framing is broken (array punctuation, trailing data, oversized event).
    #[error("{pos}: {detail}")]
    Structure { pos: Position, detail: String },
    /// The event is JSON but not an event of the source it was read as.
    #[error("{pos}: not a {expected} event: {detail}")]
    WrongFormat { pos: Position, expected: &'static str, detail: String },
    /// A field the mapping needs is missing or has the wrong type.
    #[error("{pos}: field {field}: {problem}")]
    Field { pos: Position, field: String, problem: String },
    /// The caller's import options are unusable.
    #[error("import options: {field}: {problem}")]
    Options { field: &'static str, problem: String },
    /// A source name that is not one of the supported sources.
    #[error("unknown source `{0}`; expected one of cloudtrail, okta, entra, github, gcp, gworkspace")]
    UnknownSource(String),
    /// Any of the above, with the file it came from.
    #[error("{file}: {source}")]
    InFile {
        file: String,
        #[source]
        source: Box<ImportError>,
    },
}

impl ImportError {
    /// Prefixes the error with the file it came from (the importers themselves read from `Read`ers
    /// and do not know file names).
    pub fn in_file(self, file: impl fmt::Display) -> ImportError {
        ImportError::InFile { file: file.to_string(), source: Box::new(self) }
    }

    /// The position of the event the error is about, if it is about one.
    pub fn position(&self) -> Option<Position> {
        match self {
            ImportError::Io { pos, .. }
            | ImportError::Json { pos, .. }
            | ImportError::Structure { pos, .. }
            | ImportError::WrongFormat { pos, .. }
            | ImportError::Field { pos, .. } => Some(*pos),
            ImportError::InFile { source, .. } => source.position(),
            ImportError::Options { .. } | ImportError::UnknownSource(_) => None,
        }
    }
}
