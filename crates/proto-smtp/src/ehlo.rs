//! The EHLO reply (RFC 5321 section 4.1.1.1) with the extensions carepost implements:
//! PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
//! ENHANCEDSTATUSCODES (RFC 2034), CHUNKING (RFC 3030), STARTTLS (RFC 3207) until TLS is up,
//! AUTH PLAIN LOGIN OAUTHBEARER XOAUTH2 (RFC 4954, RFC 7628) on submission once TLS is up,
//! and REQUIRETLS (RFC 8689) once TLS is up: a sender may ask for it only over TLS, and the
//! outbound queue then delivers the message only over verified TLS to hosts that honour it.

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
        } else {
            lines.push("REQUIRETLS".into());
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

/// The client's EHLO name as a `Received:` header's `from` clause records it (RFC 5321
/// section 4.4): a domain name or an address literal as it is, anything else never raw. A
/// name such as `a(b)c;d`, one with quotes or angle brackets, or with bytes that are not
/// ASCII, becomes `unknown` with the name in a comment, its parentheses and backslashes
/// escaped and every byte a header cannot hold shown as `?` (so that nothing is dropped
/// unseen). `ip` is the connection's address, added as Postfix does.
pub fn received_from(name: &str, ip: &str) -> String {
    if is_domain(name) || is_address_literal(name) {
        return format!("{name} ({ip})");
    }
    let shown: String = name
        .chars()
        .take(255)
        .flat_map(|c| match c {
            '(' | ')' | '\\' => vec!['\\', c],
            c if c.is_ascii_graphic() || c == ' ' => vec![c],
            _ => vec!['?'],
        })
        .collect();
    format!("unknown ({ip} helo={shown})")
}

/// A host name: labels of letters, digits and hyphens (not at either end), dots between.
fn is_domain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.trim_end_matches('.').split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 section 4.1.3).
fn is_address_literal(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) else {
        return false;
    };
    match inner.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("IPv6:") => {
            inner[5..].parse::<std::net::Ipv6Addr>().is_ok()
        }
        _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_is_no_domain_is_recorded_in_a_safe_form() {
        let ip = "192.0.2.7";
        assert_eq!(
            received_from("mail.peer.example", ip),
            "mail.peer.example (192.0.2.7)"
        );
        assert_eq!(received_from("DESKTOP-42", ip), "DESKTOP-42 (192.0.2.7)");
        assert_eq!(received_from("[192.0.2.7]", ip), "[192.0.2.7] (192.0.2.7)");
        assert_eq!(
            received_from("[IPv6:2001:db8::1]", ip),
            "[IPv6:2001:db8::1] (192.0.2.7)"
        );
        assert_eq!(
            received_from("a(b)c;d", ip),
            "unknown (192.0.2.7 helo=a\\(b\\)c;d)"
        );
        assert_eq!(
            received_from("\"x\" <evil@kaiser.org>", ip),
            "unknown (192.0.2.7 helo=\"x\" <evil@kaiser.org>)"
        );
        assert_eq!(
            received_from("h\u{e9}llo", ip),
            "unknown (192.0.2.7 helo=h?llo)"
        );
        assert_eq!(
            received_from("[999.1.1.1]", ip),
            "unknown (192.0.2.7 helo=[999.1.1.1])"
        );
        assert_eq!(
            received_from("-bad-.example", ip),
            "unknown (192.0.2.7 helo=-bad-.example)"
        );
    }

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
