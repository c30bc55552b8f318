//! Small rewrites of a message's top-level header that the transport makes: trace and
//! authentication headers in front, the external-sender subject tag, and the Message-ID and
//! Date a submitting client left out (RFC 6409 section 8). Header positions come from
//! mail-parser; the body is never touched.

use carepost_types::{Rng, UnixMillis};
use mail_parser::{HeaderName, MessageParser};

/// A domain as compared with the organization's: Unicode compatibility forms folded (a
/// full-width `ｋ` is `k`), lower case, without the root's trailing dot.
pub fn normalize_domain(domain: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    domain
        .nfkc()
        .collect::<String>()
        .to_lowercase()
        .trim_end_matches('.')
        .to_string()
}

/// A plain `local@domain` address as it may stand in an SMTP command: printable ASCII or
/// UTF-8 without white space, control characters, `<`, `>`, `\\`, `"` or a second `@`,
/// at most 254 bytes (RFC 5321 section 4.5.3.1.3).
pub fn is_plain_address(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && a.len() <= 254
        && !domain.contains('@')
        && a.chars().all(|c| {
            !c.is_control()
                && !c.is_whitespace()
                && !matches!(c, '<' | '>' | '\\' | '"' | ',' | ';')
        })
}

/// Why a message's top-level header is unacceptable, if it is: RFC 5322 section 3.6 allows one
/// From (here with exactly one address), at most one Sender, Reply-To and Subject. Duplicates
/// are how a message shows one sender to a filter and another to the reader.
pub fn header_problem(raw: &[u8]) -> Option<&'static str> {
    let parsed = MessageParser::new().parse_headers(raw)?;
    let headers = &parsed.root_part().headers;
    let count = |name: HeaderName<'static>| headers.iter().filter(|h| h.name == name).count();
    if count(HeaderName::From) != 1 {
        return Some("a message needs exactly one From: header");
    }
    let from_addresses = match parsed.from() {
        Some(mail_parser::Address::List(list)) => list.len(),
        Some(mail_parser::Address::Group(groups)) => {
            groups.iter().map(|g| g.addresses.len()).sum::<usize>() + 1
        }
        None => 0,
    };
    if from_addresses != 1 {
        return Some("the From: header must name exactly one address");
    }
    for (name, what) in [
        (HeaderName::Sender, "Sender:"),
        (HeaderName::ReplyTo, "Reply-To:"),
        (HeaderName::Subject, "Subject:"),
    ] {
        if count(name) > 1 {
            return Some(match what {
                "Sender:" => "a message may have only one Sender: header",
                "Reply-To:" => "a message may have only one Reply-To: header",
                _ => "a message may have only one Subject: header",
            });
        }
    }
    None
}

/// `raw` with `Name: value` as its first header line.
pub fn prepend_header(raw: &[u8], name: &str, value: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + name.len() + value.len() + 4);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(raw);
    out
}

/// `raw` without the top-level header fields named `name` whose value starts with `prefix`
/// (RFC 8601 section 5: an `Authentication-Results` field carrying our own server's name that
/// arrives from outside is a forgery and is removed).
pub fn remove_headers(raw: &[u8], name: &str, prefix: &str) -> Vec<u8> {
    let Some(parsed) = MessageParser::new().parse_headers(raw) else {
        return raw.to_vec();
    };
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    for h in &parsed.root_part().headers {
        if !h.name.as_str().eq_ignore_ascii_case(name) {
            continue;
        }
        let (start, value_end) = (h.offset_field as usize, h.offset_end as usize);
        let value = raw
            .get(h.offset_start as usize..value_end)
            .unwrap_or_default();
        let value = String::from_utf8_lossy(value);
        if !value
            .trim_start()
            .to_ascii_lowercase()
            .starts_with(&prefix.to_ascii_lowercase())
        {
            continue;
        }
        // Through the end of the field's last line (mail-parser's end may or may not
        // include the line break).
        let value_end = value_end.min(raw.len());
        let end = match value_end > 0 && raw[value_end - 1] == b'\n' {
            true => value_end,
            false => raw[value_end..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(raw.len(), |p| value_end + p + 1),
        };
        cuts.push((start, end));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    for (start, end) in cuts {
        if start >= at {
            out.extend_from_slice(&raw[at..start]);
            at = end;
        }
    }
    out.extend_from_slice(&raw[at.min(raw.len())..]);
    out
}

/// `raw` with `prefix` in front of its subject, unless the subject already starts with it
/// (a reply to a tagged message); a message without a subject gets one.
pub fn prefix_subject(raw: &[u8], prefix: &str) -> Vec<u8> {
    if prefix.is_empty() {
        return raw.to_vec();
    }
    let parsed = MessageParser::new().parse_headers(raw);
    let subject = parsed.as_ref().and_then(|m| {
        m.root_part()
            .headers
            .iter()
            .find(|h| h.name == HeaderName::Subject)
            .map(|h| (h.offset_start as usize, h.offset_end as usize))
    });
    let Some((start, end)) = subject else {
        return prepend_header(raw, "Subject", prefix);
    };
    let value = raw.get(start..end).unwrap_or_default();
    let skip = value
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    if value[skip..].starts_with(prefix.as_bytes()) {
        return raw.to_vec();
    }
    let at = start + skip;
    let mut out = Vec::with_capacity(raw.len() + prefix.len() + 1);
    out.extend_from_slice(&raw[..at]);
    out.extend_from_slice(prefix.as_bytes());
    out.push(b' ');
    out.extend_from_slice(&raw[at..]);
    out
}

/// `raw` with a Message-ID and a Date header added where it has none.
pub fn add_missing_headers(raw: &[u8], now: UnixMillis, hostname: &str, rng: &dyn Rng) -> Vec<u8> {
    let parsed = MessageParser::new().parse_headers(raw);
    let has = |name: HeaderName<'static>| {
        parsed
            .as_ref()
            .is_some_and(|m| m.root_part().headers.iter().any(|h| h.name == name))
    };
    let mut out = raw.to_vec();
    if !has(HeaderName::Date) {
        out = prepend_header(&out, "Date", &rfc5322_date(now));
    }
    if !has(HeaderName::MessageId) {
        let id = format!("<{}@{hostname}>", hex::encode(rng.bytes(16)));
        out = prepend_header(&out, "Message-ID", &id);
    }
    out
}

/// `Wed, 25 Nov 2026 10:00:00 +0000`.
pub fn rfc5322_date(now: UnixMillis) -> String {
    match jiff::Timestamp::from_millisecond(now.0) {
        Ok(ts) => ts.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string(),
        Err(_) => "Thu, 01 Jan 1970 00:00:00 +0000".to_string(),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn only_plain_addresses_may_stand_in_a_command() {
        assert!(is_plain_address("tls@reports.example"));
        assert!(is_plain_address("jürgen@beispiel.example"));
        for bad in [
            "x@r.example\r\nRSET",
            "a@b>",
            "<a@b",
            "a b@c",
            "a@b@c",
            "@b",
            "a@",
            "a",
        ] {
            assert!(!is_plain_address(bad), "{bad:?}");
        }
    }

    use super::*;

    use carepost_types::SeededRng;

    #[test]
    fn the_external_tag_goes_in_front_of_the_subject_once() {
        let raw = b"From: a@example.org\r\nSubject: Lab results\r\n\r\nSubject: not a header\r\n";
        let tagged = prefix_subject(raw, "[EXTERNAL]");
        assert_eq!(
            tagged,
            b"From: a@example.org\r\nSubject: [EXTERNAL] Lab results\r\n\r\nSubject: not a header\r\n"
        );
        assert_eq!(prefix_subject(&tagged, "[EXTERNAL]"), tagged);
        let none = prefix_subject(b"From: a@example.org\r\n\r\nhi\r\n", "[EXTERNAL]");
        assert!(none.starts_with(b"Subject: [EXTERNAL]\r\nFrom:"));
    }

    #[test]
    fn rfc5322_3_6_one_from_with_one_address_and_no_duplicate_subject() {
        assert_eq!(
            header_problem(b"From: a@x.org\r\nSubject: s\r\n\r\nb"),
            None
        );
        assert!(header_problem(b"From: a@x.org\r\nFrom: ceo@kaiser.org\r\n\r\nb").is_some());
        assert!(header_problem(b"From: a@x.org, ceo@kaiser.org\r\n\r\nb").is_some());
        assert!(header_problem(b"Subject: s\r\n\r\nb").is_some());
        assert!(header_problem(b"From: a@x.org\r\nSubject: a\r\nSubject: b\r\n\r\nb").is_some());
        assert_eq!(normalize_domain("ＫAISER.org."), "kaiser.org");
    }

    #[test]
    fn forged_authentication_results_are_removed() {
        let raw = b"Authentication-Results: mail.kaiser.org;\r\n\tdkim=pass\r\nAuthentication-Results: mx.other.org; spf=fail\r\nSubject: x\r\n\r\nAuthentication-Results: mail.kaiser.org\r\n";
        let out = remove_headers(raw, "Authentication-Results", "mail.kaiser.org");
        assert_eq!(
            out,
            b"Authentication-Results: mx.other.org; spf=fail\r\nSubject: x\r\n\r\nAuthentication-Results: mail.kaiser.org\r\n"
        );
    }

    #[test]
    fn message_id_and_date_are_added_only_when_missing() {
        let rng = SeededRng::new(3);
        let now = UnixMillis(1_795_600_800_000);
        let out = add_missing_headers(b"Subject: x\r\n\r\nbody\r\n", now, "mail.kaiser.org", &rng);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n"),
            "{text}"
        );
        assert!(text.contains("@mail.kaiser.org>\r\n"), "{text}");
        let full = b"Date: Tue, 1 Dec 2026 08:00:00 +0100\r\nMessage-ID: <a@b>\r\n\r\nx\r\n";
        assert_eq!(add_missing_headers(full, now, "h", &rng), full);
    }
}
