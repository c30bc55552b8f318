//! Sans-IO checks of an Internet message (RFC 5322) that decide whom it is from and what is
//! signed: the strict reading of From: and Sender:, bare CR and LF in the header section, and
//! line breaks made CRLF before signing. No I/O and no storage, so that the fuzz target can
//! drive it alone (`fuzz/fuzz_targets/message.rs`).

mod header_from;
mod line_breaks;

pub use header_from::{
    FromProblem, HeaderSenders, Mailbox, display_holds_address, header_senders, names_shown,
};
pub use line_breaks::normalize_line_breaks;
