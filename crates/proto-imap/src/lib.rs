//! Sans-IO IMAP for carepost's IMAP listeners: framing of client input with literals
//! (`framing`), the command parser (`parse` into the values of `command`, with `fetch`,
//! `search` and `sequence`), which commands each state allows (`phase`), response writing
//! (`response`), modified UTF-7 names (`mutf7`) and RFC 5256's base subject and threading
//! (`thread`). Bytes in, commands out, responses built as bytes; no sockets, no storage, no
//! accounts.
//!
//! The parser is carepost's own rather than imap-codec's. The usable imap-codec release
//! (2.0.0-alpha.10) cannot parse several parts of the grammar carepost must serve (LIST
//! selection and RETURN options, `SEARCH RETURN`, SEARCHRES's `$`, `CREATE ... (USE ...)`);
//! building on it would mean a second parser for those commands in front of it, two grammars
//! to keep in step, and imap-codec's borrowed, non-empty-typed values threaded through every
//! handler. The grammar is small and regular (RFC 9051 section 9), so one hand-written
//! recursive-descent parser with bounded nesting covers all of it; it is table-tested here
//! and fuzzed (`fuzz/fuzz_targets/imap.rs`).

mod command;
mod cursor;
mod fetch;
mod framing;
pub mod mutf7;
mod parse;
mod phase;
pub mod response;
mod search;
mod sequence;
mod thread;

pub use command::{Command, ListOptions, Qresync, SortKey, StatusItem, StoreMode, ThreadAlgorithm};
pub use cursor::days_from_civil;
pub use fetch::{FetchAttr, Section, SectionText};
pub use framing::{Frame, Receiver};
pub use parse::parse_command;
pub use phase::Phase;
pub use search::{Date, SearchKey, SearchReturn};
pub use sequence::{Bound, SequenceSet, compact, ordered};
pub use thread::{
    ThreadMessage, ThreadNode, base_subject, casemap_cmp, ordered_subject, references,
    render_threads,
};

/// Why a command could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{0}")]
    Syntax(String),
    #[error("unknown command {0}")]
    Unknown(String),
}
