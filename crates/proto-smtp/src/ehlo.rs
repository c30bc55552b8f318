//! The EHLO reply (RFC 5321 section 4.1.1.1) with the extensions carepost implements:
//! PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
//! ENHANCEDSTATUSCODES (RFC 2034), CHUNKING (RFC 3030), STARTTLS (RFC 3207) until TLS is up,
//! AUTH PLAIN LOGIN OAUTHBEARER XOAUTH2 (RFC 4954, RFC 7628) on submission once TLS is up.

use crate::reply::Reply;
use crate::session::{Mode, Session};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub hostname: String,
    pub max_size: u64,
}

impl Capabilities {
    pub fn ehlo_reply(&self, s: &Session, client: &str) -> Reply {
        let mut lines = vec![format!("{} greets {}", self.hostname, sanitize(client))];
        lines.push("PIPELINING".into());
        lines.push(format!("SIZE {}", self.max_size));
        lines.push("8BITMIME".into());
        lines.push("SMTPUTF8".into());
        lines.push("ENHANCEDSTATUSCODES".into());
        lines.push("CHUNKING".into());
        if !s.tls {
            lines.push("STARTTLS".into());
        }
        if s.mode == Mode::Submission && s.tls && !s.authenticated {
            lines.push("AUTH PLAIN LOGIN OAUTHBEARER XOAUTH2".into());
        }
        Reply::multiline(250, lines)
    }
}

/// A client's EHLO name as it may appear in a reply or a header: printable ASCII, bounded.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_is_offered_only_on_submission_under_tls() {
        let caps = Capabilities {
            hostname: "mail.kaiser.org".into(),
            max_size: 1000,
        };
        let plain = caps.ehlo_reply(&Session::new(Mode::Submission, false), "c");
        assert!(plain.lines.contains(&"STARTTLS".to_string()));
        assert!(!plain.lines.iter().any(|l| l.starts_with("AUTH")));
        let tls = caps.ehlo_reply(&Session::new(Mode::Submission, true), "c");
        assert!(
            tls.lines
                .contains(&"AUTH PLAIN LOGIN OAUTHBEARER XOAUTH2".to_string())
        );
        assert!(!tls.lines.contains(&"STARTTLS".to_string()));
        let mx = caps.ehlo_reply(&Session::new(Mode::Mx, true), "c\r\nx");
        assert!(!mx.lines.iter().any(|l| l.starts_with("AUTH")));
        assert_eq!(mx.lines[0], "mail.kaiser.org greets cx");
    }
}
