//! Framing of client input (RFC 9051 section 2.2; LITERAL+ and LITERAL-, RFC 7888; literal8,
//! RFC 3516): gathers one command's line and its literals into a frame, tells the connection
//! when a synchronizing literal needs its `+` continuation, and bounds the memory one command
//! may take. Bytes in, frames out.

/// What the receiver found in the bytes it was fed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole command without its final CRLF; literals are inside, after their `{n}` CRLF.
    Command(Vec<u8>),
    /// The client announced a synchronizing literal: answer `+`, then feed more.
    Continue,
    /// A synchronizing literal over the limit: refuse the command (the client sends nothing
    /// more of it); the connection goes on.
    LiteralRefused { tag: Option<String>, size: u64 },
    /// Input the connection cannot recover from (a line or non-synchronizing literal over the
    /// limit): answer BYE and close.
    Fatal(&'static str),
}

/// Gathers frames from a byte stream.
#[derive(Debug)]
pub struct Receiver {
    buf: Vec<u8>,
    /// Bytes of the current frame already scanned (lines and whole literals).
    scanned: usize,
    /// Literal bytes still to come in the current frame.
    literal_left: usize,
    max_line: usize,
    max_literal: usize,
    max_frame: usize,
}

/// LITERAL-: a non-synchronizing literal may be at most this big (RFC 7888 section 5).
pub const LITERAL_MINUS_MAX: u64 = 4096;

impl Receiver {
    /// `max_line`: bytes of command text between literals; `max_literal`: one literal (the
    /// APPENDLIMIT); `max_frame`: the whole command.
    pub fn new(max_line: usize, max_literal: usize, max_frame: usize) -> Receiver {
        Receiver {
            buf: Vec::new(),
            scanned: 0,
            literal_left: 0,
            max_line,
            max_literal,
            max_frame,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Changes the limits (smaller before sign-in, the APPENDLIMIT after).
    pub fn set_limits(&mut self, max_literal: usize, max_frame: usize) {
        self.max_literal = max_literal;
        self.max_frame = max_frame;
    }

    /// Whether a complete line is waiting (more to handle before reading again).
    pub fn has_line(&self) -> bool {
        self.literal_left == 0 && self.buf[self.scanned..].contains(&b'\n')
    }

    /// Drops everything held (what a client pipelined after STARTTLS).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.scanned = 0;
        self.literal_left = 0;
    }

    /// Bytes held (for the per-session memory bound).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next frame, or `None` until more bytes are fed.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if self.literal_left > 0 {
                let have = self.buf.len() - self.scanned;
                if have < self.literal_left {
                    return None;
                }
                self.scanned += self.literal_left;
                self.literal_left = 0;
            }
            let Some(nl) = self.buf[self.scanned..].iter().position(|b| *b == b'\n') else {
                if self.buf.len() - self.scanned > self.max_line {
                    return Some(Frame::Fatal("command line too long"));
                }
                return None;
            };
            let line_end = self.scanned + nl + 1;
            if nl > self.max_line {
                return Some(Frame::Fatal("command line too long"));
            }
            let line = &self.buf[self.scanned..line_end];
            match literal_announced(line) {
                None => {
                    let mut frame: Vec<u8> = self.buf.drain(..line_end).collect();
                    self.scanned = 0;
                    frame.pop();
                    if frame.last() == Some(&b'\r') {
                        frame.pop();
                    }
                    return Some(Frame::Command(frame));
                }
                Some((size, sync)) => {
                    let too_big = size > self.max_literal as u64
                        || (line_end as u64).saturating_add(size) > self.max_frame as u64;
                    if too_big {
                        if !sync {
                            return Some(Frame::Fatal("literal too large"));
                        }
                        let tag = tag_of(&self.buf);
                        self.buf.drain(..line_end);
                        self.scanned = 0;
                        return Some(Frame::LiteralRefused { tag, size });
                    }
                    self.scanned = line_end;
                    // Checked against max_literal above, which is a usize.
                    self.literal_left = size as usize;
                    if sync {
                        return Some(Frame::Continue);
                    }
                }
            }
        }
    }

    /// One raw line without its CRLF (an AUTHENTICATE response, IDLE's DONE), or `None`
    /// until it is complete. Only between commands.
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, &'static str>> {
        let Some(nl) = self.buf.iter().position(|b| *b == b'\n') else {
            if self.buf.len() > self.max_line {
                return Some(Err("line too long"));
            }
            return None;
        };
        let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(Ok(line))
    }
}

/// The tag at the start of a frame, for the answer to a refused one.
fn tag_of(buf: &[u8]) -> Option<String> {
    let end = buf.iter().position(|b| *b == b' ')?;
    let tag = &buf[..end];
    let ok = !tag.is_empty()
        && tag.len() <= 64
        && tag
            .iter()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(b));
    ok.then(|| String::from_utf8_lossy(tag).into_owned())
}

/// `{n}`, `{n+}`, `{n-}` or `~{n}` at the end of a line: `(n, synchronizing)`.
fn literal_announced(line: &[u8]) -> Option<(u64, bool)> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let mut digits = &inner[open + 1..];
    let mut sync = true;
    let mut minus = false;
    if let Some(d) = digits.strip_suffix(b"+") {
        (digits, sync) = (d, false);
    } else if let Some(d) = digits.strip_suffix(b"-") {
        (digits, sync, minus) = (d, false, true);
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // A size past 64 bits is refused like one past the limit: the bytes of a `{N+}` are on
    // their way whatever the number, and must never be read as commands.
    let n: u64 = std::str::from_utf8(digits)
        .ok()?
        .parse()
        .unwrap_or(u64::MAX);
    if minus && n > LITERAL_MINUS_MAX {
        // LITERAL- allows non-synchronizing literals only up to 4096 bytes; the bytes are
        // already on their way, so the connection cannot refuse it and go on.
        return Some((u64::MAX, false));
    }
    Some((n, sync))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rx() -> Receiver {
        Receiver::new(1000, 100, 2000)
    }

    #[test]
    fn a_literal_size_past_64_bits_is_refused_never_read_as_commands() {
        let mut r = rx();
        r.feed(b"a1 APPEND INBOX {99999999999999999999999+}\r\na2 LOGOUT\r\n");
        assert_eq!(r.next_frame(), Some(Frame::Fatal("literal too large")));
        let mut r = rx();
        r.feed(b"a1 APPEND INBOX {99999999999999999999999}\r\n");
        assert!(matches!(r.next_frame(), Some(Frame::LiteralRefused { .. })));
    }

    #[test]
    fn a_command_is_framed_at_crlf() {
        let mut r = rx();
        r.feed(b"a1 NOOP\r\na2 CAPA");
        assert_eq!(r.next_frame(), Some(Frame::Command(b"a1 NOOP".to_vec())));
        assert_eq!(r.next_frame(), None);
        r.feed(b"BILITY\r\n");
        assert_eq!(
            r.next_frame(),
            Some(Frame::Command(b"a2 CAPABILITY".to_vec()))
        );
    }

    #[test]
    fn a_synchronizing_literal_asks_for_continuation() {
        let mut r = rx();
        r.feed(b"a LOGIN {3}\r\n");
        assert_eq!(r.next_frame(), Some(Frame::Continue));
        assert_eq!(r.next_frame(), None);
        r.feed(b"ann {2+}\r\npw\r\n");
        assert_eq!(
            r.next_frame(),
            Some(Frame::Command(b"a LOGIN {3}\r\nann {2+}\r\npw".to_vec()))
        );
    }

    #[test]
    fn a_literal_may_hold_crlf_and_braces() {
        let mut r = rx();
        r.feed(b"a APPEND x {7+}\r\n{1}\r\n\r\nb\r\n");
        assert_eq!(
            r.next_frame(),
            Some(Frame::Command(b"a APPEND x {7+}\r\n{1}\r\n\r\nb".to_vec()))
        );
    }

    #[test]
    fn oversized_literals_are_refused_or_fatal() {
        let mut r = rx();
        r.feed(b"t1 APPEND x {101}\r\nt2 NOOP\r\n");
        assert_eq!(
            r.next_frame(),
            Some(Frame::LiteralRefused {
                tag: Some("t1".into()),
                size: 101
            })
        );
        assert_eq!(r.next_frame(), Some(Frame::Command(b"t2 NOOP".to_vec())));
        let mut r = rx();
        r.feed(b"t1 APPEND x {101+}\r\n");
        assert!(matches!(r.next_frame(), Some(Frame::Fatal(_))));
        let mut r = Receiver::new(1000, 10_000, 20_000);
        r.feed(b"t1 APPEND x {5000-}\r\n");
        assert!(matches!(r.next_frame(), Some(Frame::Fatal(_))));
    }

    #[test]
    fn a_long_line_is_fatal() {
        let mut r = rx();
        r.feed(&[b'a'; 1500]);
        assert!(matches!(r.next_frame(), Some(Frame::Fatal(_))));
    }

    #[test]
    fn raw_lines_for_authenticate_and_idle() {
        let mut r = rx();
        r.feed(b"DONE\r\nx");
        assert_eq!(r.next_line(), Some(Ok(b"DONE".to_vec())));
        assert_eq!(r.next_line(), None);
    }
}
