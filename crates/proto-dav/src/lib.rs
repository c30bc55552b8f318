//! Sans-IO WebDAV for carepost's calendars and address books: request bodies (PROPFIND,
//! PROPPATCH, MKCALENDAR / extended MKCOL, REPORT) read into typed values, and answers
//! (`multistatus`, precondition errors) written as XML. RFC 4918 (WebDAV), RFC 4791 (CalDAV),
//! RFC 6352 (CardDAV), RFC 6578 (sync-collection), RFC 5397 (current-user-principal). Bytes
//! in, values out: no HTTP, no storage, no accounts. What a property's value is, and whether
//! the caller may see it, is the calendar crate's business.

pub mod names;
mod request;
mod response;
mod tree;

pub use names::{Name, ns};
pub use request::{
    CompFilter, DataShape, Depth, MkCollection, ParamFilter, PatchOp, PropFilter, PropPatch,
    PropRequest, Report, ShareChange, TextMatch, TimeRange, parse_mkcol, parse_propfind,
    parse_proppatch, parse_report, parse_share,
};
pub use response::{Multistatus, Prop, ScheduleAnswer, Value, error_body, schedule_response};
pub use tree::{Element, Node, XML_NS, XmlError};
