//! Sans-IO SMTP for carepost's MX and submission listeners: framing of commands and messages
//! (`receiver`, on smtp-proto's parser), replies as values (`reply`) and the session's state
//! machine (`session`). Bytes in, events and replies out; no sockets, no storage, no accounts.
//! The EHLO capability list is built here too, so what is advertised and what `Session::check`
//! allows cannot drift apart.

pub mod dane;
pub mod ehlo;
pub mod mta_sts;
mod receiver;
mod reply;
mod session;

pub use ehlo::Capabilities;
pub use receiver::{Event, Receiver};
pub use reply::{Reply, parse_error_reply, replies};
pub use session::{Mode, Phase, Session};
/// SASL mechanism bits as smtp-proto parses them from AUTH.
pub use smtp_proto::{AUTH_LOGIN, AUTH_OAUTHBEARER, AUTH_PLAIN, AUTH_XOAUTH2};
/// The flags of MAIL FROM parameters (`BODY=8BITMIME`, `SMTPUTF8`, ...).
pub use smtp_proto::{MAIL_BODY_8BITMIME, MAIL_BODY_BINARYMIME, MAIL_REQUIRETLS, MAIL_SMTPUTF8};
pub use smtp_proto::{MailFrom, RcptTo, Request};
