//! Framing of what the client sends: command lines, then the message of DATA (dot-stuffed,
//! RFC 5321 section 4.5.2) or of BDAT chunks (RFC 3030), under a size limit. smtp-proto does
//! the byte work; this adds the limit (a message past it is read to its end and discarded, so
//! the session stays in step) and turns parser errors into replies.

use crate::reply::{Reply, parse_error_reply};
use smtp_proto::Request;
use smtp_proto::request::receiver::{
    BdatReceiver, DataReceiver, DummyDataReceiver, RequestReceiver,
};
use std::slice::Iter;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Command(Request<String>),
    /// A line that is not a valid command; answer with the reply and go on.
    Invalid(Reply),
    /// The message of DATA or of the last BDAT chunk, complete.
    Message(Vec<u8>),
    /// A BDAT chunk that is not the last was read.
    ChunkDone,
    /// The message went past the limit and was discarded to its end.
    TooBig,
}

enum Body {
    Data(DataReceiver),
    Bdat(BdatReceiver),
    /// Past the limit: read to the end of the DATA or chunk, keep nothing.
    Discard(DummyDataReceiver, Option<bool>),
}

pub struct Receiver {
    lines: RequestReceiver,
    /// The bytes of the command line being read, for `out_of_range` (smtp-proto keeps its
    /// own copy and does not hand it out).
    line: Vec<u8>,
    body: Option<Body>,
    message: Vec<u8>,
    max: usize,
    /// The message being received went past `max` (in an earlier BDAT chunk too).
    oversized: bool,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("in_body", &self.body.is_some())
            .field("message_len", &self.message.len())
            .field("max", &self.max)
            .finish()
    }
}

impl Receiver {
    pub fn new(max_message: usize) -> Receiver {
        Receiver {
            lines: RequestReceiver::default(),
            line: Vec::new(),
            body: None,
            message: Vec::new(),
            max: max_message,
            oversized: false,
        }
    }

    /// The next bytes are a DATA message.
    pub fn start_data(&mut self) {
        self.message.clear();
        self.oversized = false;
        self.body = Some(Body::Data(DataReceiver::new()));
    }

    /// The next `size` bytes are a BDAT chunk.
    pub fn start_bdat(&mut self, size: usize, last: bool) {
        if self.oversized || self.message.len().saturating_add(size) > self.max {
            self.oversized = true;
            self.message = Vec::new();
            self.body = Some(Body::Discard(DummyDataReceiver::new_bdat(size), Some(last)));
        } else {
            self.body = Some(Body::Bdat(BdatReceiver::new(size, last)));
        }
    }

    /// The next `size` bytes are a BDAT chunk that was refused: read and dropped, whatever
    /// the limit, so the session stays in step without holding them.
    pub fn discard_bdat(&mut self, size: usize, last: bool) {
        self.body = Some(Body::Discard(DummyDataReceiver::new_bdat(size), Some(last)));
    }

    /// Forgets a message received in part (RSET, or a refused BDAT).
    pub fn reset_message(&mut self) {
        self.message = Vec::new();
        self.oversized = false;
    }

    /// The next event, or `None` when every byte in `bytes` has been used.
    pub fn feed(&mut self, bytes: &mut Iter<'_, u8>) -> Option<Event> {
        match self.body.take() {
            None => self.feed_line(bytes),
            Some(body) => self.feed_body(body, bytes),
        }
    }

    fn feed_line(&mut self, bytes: &mut Iter<'_, u8>) -> Option<Event> {
        if bytes.as_slice().is_empty() {
            return None;
        }
        let before = bytes.as_slice();
        let result = self.lines.ingest(bytes);
        let used = before.len() - bytes.as_slice().len();
        // A line longer than smtp-proto accepts is refused by it; only the start matters here.
        if self.line.len() < MAX_LINE_KEPT {
            let keep = used.min(MAX_LINE_KEPT - self.line.len());
            self.line.extend_from_slice(&before[..keep]);
        }
        if matches!(result, Err(smtp_proto::Error::NeedsMoreData { .. })) {
            return None;
        }
        let line = std::mem::take(&mut self.line);
        match result {
            Ok(r) => Some(match out_of_range(&line) {
                Some(reply) => Event::Invalid(reply),
                None => Event::Command(r.into_owned()),
            }),
            Err(e) => parse_error_reply(&e).map(Event::Invalid),
        }
    }

    fn feed_body(&mut self, body: Body, bytes: &mut Iter<'_, u8>) -> Option<Event> {
        match body {
            Body::Data(mut d) => {
                let done = d.ingest(bytes, &mut self.message);
                if self.message.len() > self.max {
                    self.message = Vec::new();
                    self.oversized = true;
                    if !done {
                        let dummy = DummyDataReceiver::new_data(&d);
                        return self.feed_body(Body::Discard(dummy, None), bytes);
                    }
                }
                if !done {
                    self.body = Some(Body::Data(d));
                    return None;
                }
                Some(self.finish_message())
            }
            Body::Bdat(mut b) => {
                if !b.ingest(bytes, &mut self.message) {
                    self.body = Some(Body::Bdat(b));
                    return None;
                }
                if b.is_last {
                    Some(self.finish_message())
                } else {
                    Some(Event::ChunkDone)
                }
            }
            Body::Discard(mut d, last) => {
                if !d.ingest(bytes) {
                    self.body = Some(Body::Discard(d, last));
                    return None;
                }
                match last {
                    Some(false) => Some(Event::ChunkDone),
                    _ => Some(self.finish_message()),
                }
            }
        }
    }

    fn finish_message(&mut self) -> Event {
        if std::mem::take(&mut self.oversized) {
            self.message = Vec::new();
            return Event::TooBig;
        }
        Event::Message(std::mem::take(&mut self.message))
    }
}

/// How much of a command line is kept for `out_of_range`: more than any MAIL or BDAT line that
/// smtp-proto accepts needs before its numbers.
const MAX_LINE_KEPT: usize = 4096;

/// The reply to a MAIL `SIZE=` or a BDAT chunk size that does not fit in 64 bits. smtp-proto
/// saturates such numbers and then starts again from the next digit, so that
/// `SIZE=99999999999999999999999` reads as a small size and `BDAT 1000000000000000000000` as
/// an empty chunk; the line is checked here, before its parse is believed.
fn out_of_range(line: &[u8]) -> Option<Reply> {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_ascii_whitespace();
    let verb = words.next()?.to_ascii_uppercase();
    let fits = |n: &str| !n.bytes().all(|b| b.is_ascii_digit()) || n.parse::<u64>().is_ok();
    match verb.as_str() {
        "BDAT" => {
            let size = words.next()?;
            (!fits(size)).then(|| Reply::new(501, (5, 5, 4), "Chunk size out of range"))
        }
        "MAIL" => words
            .filter_map(|w| {
                let (k, v) = w.split_once('=')?;
                k.eq_ignore_ascii_case("SIZE").then_some(v)
            })
            .any(|v| !fits(v))
            .then(|| {
                Reply::new(
                    552,
                    (5, 3, 4),
                    "Message size exceeds fixed maximum message size",
                )
            }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_past_64_bits_are_refused_not_misread() {
        let mut rx = Receiver::new(1000);
        let ev = events(
            &mut rx,
            b"MAIL FROM:<a@b.org> SIZE=99999999999999999999999\r\nBDAT 1000000000000000000000 LAST\r\nbdat 99999999999999999999999\r\nMAIL FROM:<a@b.org> SIZE=18446744073709551614\r\nNOOP\r\n",
        );
        let codes: Vec<u16> = ev
            .iter()
            .map(|e| match e {
                Event::Invalid(r) => r.code,
                Event::Command(_) => 250,
                other => panic!("{other:?}"),
            })
            .collect();
        // A size that fits parses (and is then refused by the limit, elsewhere).
        assert_eq!(codes, [552, 501, 501, 250, 250], "{ev:?}");
    }

    #[test]
    fn a_command_line_split_across_reads_is_checked_whole() {
        let mut rx = Receiver::new(1000);
        let mut first = b"BDAT 100000000000".iter();
        assert!(rx.feed(&mut first).is_none());
        let mut rest = b"0000000000 LAST\r\n".iter();
        assert!(matches!(rx.feed(&mut rest), Some(Event::Invalid(r)) if r.code == 501));
    }

    fn events(rx: &mut Receiver, input: &[u8]) -> Vec<Event> {
        let mut it = input.iter();
        let mut out = Vec::new();
        while let Some(e) = rx.feed(&mut it) {
            if matches!(&e, Event::Command(Request::Data)) {
                rx.start_data();
            }
            if let Event::Command(Request::Bdat {
                chunk_size,
                is_last,
            }) = &e
            {
                rx.start_bdat(*chunk_size, *is_last);
            }
            out.push(e);
        }
        out
    }

    #[test]
    fn pipelined_commands_and_a_dot_stuffed_message_are_framed() {
        let mut rx = Receiver::new(1000);
        let ev = events(
            &mut rx,
            b"MAIL FROM:<a@b.org>\r\nRCPT TO:<c@d.org>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n",
        );
        assert!(
            matches!(&ev[0], Event::Command(Request::Mail { from }) if from.address == "a@b.org")
        );
        assert!(matches!(&ev[1], Event::Command(Request::Rcpt { .. })));
        assert_eq!(
            ev[3],
            Event::Message(b"Subject: x\r\n\r\n.dot\r\n".to_vec())
        );
        assert_eq!(ev[4], Event::Command(Request::Quit));
    }

    #[test]
    fn a_message_split_across_reads_is_joined() {
        let mut rx = Receiver::new(1000);
        assert_eq!(events(&mut rx, b"DATA\r\nSubject: x\r\n\r\nhel").len(), 1);
        let ev = events(&mut rx, b"lo\r\n.\r\n");
        assert_eq!(
            ev,
            vec![Event::Message(b"Subject: x\r\n\r\nhello\r\n".to_vec())]
        );
    }

    #[test]
    fn an_oversized_message_is_discarded_to_its_end() {
        let mut rx = Receiver::new(10);
        let big = [b"DATA\r\n".as_slice(), &[b'x'; 50], b"\r\n.\r\nNOOP\r\n"].concat();
        let ev = events(&mut rx, &big);
        assert_eq!(ev[1], Event::TooBig);
        assert_eq!(
            ev[2],
            Event::Command(Request::Noop {
                value: String::new()
            })
        );
    }

    #[test]
    fn bdat_chunks_make_one_message_and_respect_the_limit() {
        let mut rx = Receiver::new(100);
        let ev = events(&mut rx, b"BDAT 5\r\nab\r\ncBDAT 3 LAST\r\nxyz");
        assert_eq!(ev[1], Event::ChunkDone);
        assert_eq!(ev[3], Event::Message(b"ab\r\ncxyz".to_vec()));
        let mut small = Receiver::new(4);
        let ev = events(&mut small, b"BDAT 3\r\nabcBDAT 3 LAST\r\ndefNOOP\r\n");
        assert_eq!(ev[1], Event::ChunkDone);
        assert_eq!(ev[3], Event::TooBig);
        assert!(matches!(ev[4], Event::Command(Request::Noop { .. })));
    }

    #[test]
    fn bad_lines_get_replies_not_panics() {
        let mut rx = Receiver::new(100);
        let ev = events(&mut rx, b"FOO bar\r\nMAIL FROM:<<<\r\nNOOP\r\n");
        assert!(matches!(&ev[0], Event::Invalid(r) if r.code == 500));
        assert!(matches!(&ev[1], Event::Invalid(r) if r.code == 501));
        assert!(matches!(ev[2], Event::Command(Request::Noop { .. })));
        let long = [vec![b'N'; 5000], b"\r\nNOOP\r\n".to_vec()].concat();
        let ev = events(&mut Receiver::new(100), &long);
        assert!(
            matches!(&ev[0], Event::Invalid(r) if r.code == 500),
            "{ev:?}"
        );
    }
}
