//! SMTP replies as values (RFC 5321 section 4.2) with enhanced status codes (RFC 3463,
//! RFC 2034), and the replies of parser errors. Text for the client only; log detail stays
//! with the caller.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The enhanced status code, e.g. `(5, 1, 1)`; omitted for greetings and EHLO.
    pub status: Option<(u8, u8, u8)>,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, status: (u8, u8, u8), text: impl Into<String>) -> Reply {
        Reply {
            code,
            status: Some(status),
            lines: vec![text.into()],
        }
    }

    /// A reply without an enhanced status code (220 greeting, 221 and 250 to EHLO, 354).
    pub fn plain(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            status: None,
            lines: vec![text.into()],
        }
    }

    pub fn multiline(code: u16, lines: Vec<String>) -> Reply {
        Reply {
            code,
            status: None,
            lines,
        }
    }

    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// Permanent (5xx) or temporary (4xx) failure.
    pub fn is_failure(&self) -> bool {
        self.code >= 400
    }

    /// The reply on the wire; line breaks in a text never split a reply line.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        let n = self.lines.len().max(1);
        for i in 0..n {
            let text = self.lines.get(i).map_or("", String::as_str);
            let sep = if i + 1 == n { ' ' } else { '-' };
            let _ = write!(out, "{}{sep}", self.code);
            if let Some((a, b, c)) = self.status {
                let _ = write!(out, "{a}.{b}.{c} ");
            }
            out.extend(text.chars().map(|c| if c.is_control() { ' ' } else { c }));
            out.push_str("\r\n");
        }
        out.into_bytes()
    }
}

/// Replies every server gives the same way.
pub mod replies {
    use super::Reply;

    pub fn ok() -> Reply {
        Reply::new(250, (2, 0, 0), "OK")
    }
    pub fn bad_sequence(text: &str) -> Reply {
        Reply::new(503, (5, 5, 1), text)
    }
    pub fn unknown_command() -> Reply {
        Reply::new(500, (5, 5, 1), "Unknown command")
    }
    pub fn not_implemented(what: &str) -> Reply {
        Reply::new(502, (5, 5, 1), format!("{what} is not implemented here"))
    }
    pub fn tls_required() -> Reply {
        Reply::new(530, (5, 7, 0), "Must issue a STARTTLS command first")
    }
    pub fn auth_required() -> Reply {
        Reply::new(530, (5, 7, 0), "Authentication required")
    }
    pub fn closing(host: &str) -> Reply {
        Reply::new(221, (2, 0, 0), format!("{host} closing connection"))
    }
    pub fn too_many_errors() -> Reply {
        Reply::new(421, (4, 7, 0), "Too many errors, closing connection")
    }
    pub fn timeout() -> Reply {
        Reply::new(421, (4, 4, 2), "Timeout, closing connection")
    }
    pub fn shutting_down(host: &str) -> Reply {
        Reply::new(
            421,
            (4, 3, 2),
            format!("{host} is shutting down, try again later"),
        )
    }
    pub fn message_too_big(max: u64) -> Reply {
        Reply::new(
            552,
            (5, 3, 4),
            format!("Message too big: this server accepts up to {max} bytes"),
        )
    }
    pub fn try_later() -> Reply {
        Reply::new(451, (4, 3, 0), "Temporary failure, try again later")
    }
}

/// The reply to a line smtp-proto could not parse; `None` when it only needs more bytes.
pub fn parse_error_reply(e: &smtp_proto::Error) -> Option<Reply> {
    use smtp_proto::Error;
    Some(match e {
        Error::NeedsMoreData { .. } => return None,
        Error::UnknownCommand => replies::unknown_command(),
        Error::InvalidSenderAddress => Reply::new(501, (5, 1, 7), "Bad sender address syntax"),
        Error::InvalidRecipientAddress => {
            Reply::new(501, (5, 1, 3), "Bad recipient address syntax")
        }
        Error::SyntaxError { syntax } => Reply::new(501, (5, 5, 4), format!("Syntax: {syntax}")),
        Error::InvalidParameter { param } => {
            Reply::new(501, (5, 5, 4), format!("Invalid parameter {param}"))
        }
        Error::UnsupportedParameter { param } => {
            let param: String = param.chars().take(64).collect();
            Reply::new(504, (5, 5, 4), format!("Unsupported parameter {param}"))
        }
        Error::ResponseTooLong => Reply::new(500, (5, 5, 2), "Line too long"),
        Error::InvalidResponse { .. } => Reply::new(500, (5, 5, 2), "Syntax error"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_written_as_rfc_5321_lines() {
        assert_eq!(
            Reply::new(550, (5, 1, 1), "No such user").to_bytes(),
            b"550 5.1.1 No such user\r\n"
        );
        assert_eq!(
            Reply::multiline(250, vec!["host".into(), "PIPELINING".into()]).to_bytes(),
            b"250-host\r\n250 PIPELINING\r\n"
        );
        assert_eq!(
            Reply::plain(354, "go\r\n.bad").to_bytes(),
            b"354 go  .bad\r\n",
            "a text never breaks the line"
        );
    }
}
