//! What IMAP and the portal need to know about a message without reading its body again:
//! sizes, the envelope's fields and the MIME structure with byte offsets. Parsed once with
//! mail-parser at delivery and kept, as JSON, beside the stored body.

use mail_parser::{Address, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub size: u64,
    /// Bytes of the top-level header, including the blank line after it.
    pub header_size: u64,
    /// Lines in the whole message.
    pub lines: u64,
    /// The Date header, seconds since the epoch.
    pub date: Option<i64>,
    pub subject: Option<String>,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    #[serde(default)]
    pub sender: Vec<String>,
    pub message_id: Option<String>,
    /// The MIME parts in mail-parser's order; part 0 is the message itself.
    pub parts: Vec<PartSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartSummary {
    /// `type/subtype`, lower case; `text/plain` when the part does not say.
    pub content_type: String,
    pub params: Vec<(String, String)>,
    pub encoding: Option<String>,
    pub header_start: u32,
    pub body_start: u32,
    pub end: u32,
    /// Indexes of the sub-parts of a multipart.
    pub children: Vec<u32>,
}

fn addresses(a: Option<&Address<'_>>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address.as_deref().map(str::to_string))
            .collect()
    })
    .unwrap_or_default()
}

/// The summary of `raw`, or `None` when it is not a message at all (no header).
pub fn summarize(raw: &[u8]) -> Option<Summary> {
    let msg = MessageParser::default().parse(raw)?;
    let parts = msg
        .parts
        .iter()
        .map(|p| {
            let (content_type, params) = match p.content_type() {
                Some(ct) => (
                    format!(
                        "{}/{}",
                        ct.ctype().to_ascii_lowercase(),
                        ct.subtype().unwrap_or("plain").to_ascii_lowercase()
                    ),
                    ct.attributes()
                        .unwrap_or_default()
                        .iter()
                        .map(|a| (a.name.to_ascii_lowercase(), a.value.to_string()))
                        .collect(),
                ),
                None => ("text/plain".to_string(), Vec::new()),
            };
            let children = match &p.body {
                PartType::Multipart(ids) => ids.clone(),
                _ => Vec::new(),
            };
            PartSummary {
                content_type,
                params,
                encoding: p.content_transfer_encoding().map(str::to_ascii_lowercase),
                header_start: p.offset_header,
                body_start: p.offset_body,
                end: p.offset_end,
                children,
            }
        })
        .collect::<Vec<_>>();
    let header_size = parts
        .first()
        .map_or(raw.len() as u64, |p| u64::from(p.body_start));
    Some(Summary {
        size: raw.len() as u64,
        header_size,
        lines: raw.iter().filter(|b| **b == b'\n').count() as u64,
        date: msg.date().map(|d| d.to_timestamp()),
        subject: msg.subject().map(str::to_string),
        from: addresses(msg.from()),
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        sender: addresses(msg.sender()),
        message_id: msg.message_id().map(str::to_string),
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::summarize;

    #[test]
    fn a_multipart_message_is_summarized_with_offsets() {
        let raw = b"From: Ann <ann@example.org>\r\nTo: john.smith@kaiser.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n";
        let s = summarize(raw).unwrap();
        assert_eq!(s.subject.as_deref(), Some("café"));
        assert_eq!(s.from, vec!["ann@example.org"]);
        assert_eq!(s.to, vec!["john.smith@kaiser.org"]);
        assert_eq!(s.message_id.as_deref(), Some("m1@example.org"));
        assert_eq!(s.date, Some(1_795_600_800));
        assert_eq!(s.parts[0].content_type, "multipart/mixed");
        assert_eq!(s.parts[0].children, vec![1, 2]);
        assert_eq!(s.parts[2].content_type, "application/pdf");
        assert_eq!(s.parts[2].encoding.as_deref(), Some("base64"));
        let body = &raw[s.parts[1].body_start as usize..s.parts[1].end as usize];
        assert!(body.starts_with(b"hello"));
        assert_eq!(
            &raw[s.header_size as usize - 2..s.header_size as usize],
            b"\r\n"
        );
    }
}
