//! Modified UTF-7 (RFC 3501 section 5.1.3): how IMAP4rev1 clients that have not enabled
//! UTF-8 write non-ASCII mailbox names. Stored names are UTF-8; these convert at the edge.
//! The base64 is the `base64` crate's IMAP alphabet; the UTF-16 is the standard library's.

use base64::Engine;
use base64::engine::{GeneralPurpose, general_purpose};

const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::IMAP_MUTF7,
    general_purpose::NO_PAD.with_decode_allow_trailing_bits(false),
);

/// A mailbox name as a rev1 client writes it: printable ASCII as is, `&` as `&-`, everything
/// else as UTF-16 in `&...-` shifts.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&B64.encode(bytes));
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mailbox name is not valid modified UTF-7")]
pub struct InvalidName;

/// The UTF-8 name a rev1 client means. Characters outside printable ASCII are taken as they
/// are (a client that sends raw UTF-8 means it); a broken `&` shift is an error.
pub fn decode(name: &str) -> Result<String, InvalidName> {
    if !name.contains('&') {
        return Ok(name.to_string());
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after.find('-').ok_or(InvalidName)?;
        let shifted = &after[..end];
        if shifted.is_empty() {
            out.push('&');
        } else {
            let bytes = B64.decode(shifted).map_err(|_| InvalidName)?;
            if bytes.len() % 2 != 0 {
                return Err(InvalidName);
            }
            let units = bytes.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]]));
            for c in char::decode_utf16(units) {
                let c = c.map_err(|_| InvalidName)?;
                // A shift must not hide what could be written plainly.
                if (' '..='~').contains(&c) {
                    return Err(InvalidName);
                }
                out.push(c);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (utf8, wire) in [
            ("INBOX/pää", "INBOX/p&AOQA5A-"),
            ("R&D", "R&-D"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("plain", "plain"),
            ("😀", "&2D3eAA-"),
        ] {
            assert_eq!(encode(utf8), wire);
            assert_eq!(decode(wire).as_deref(), Ok(utf8));
        }
    }

    #[test]
    fn broken_shifts_are_refused() {
        for bad in ["&", "&AOQ", "&AOQA-", "&AGE-", "&2D3-", "&,,,-"] {
            assert_eq!(decode(bad), Err(InvalidName), "{bad}");
        }
        assert_eq!(decode("pää").as_deref(), Ok("pää"));
    }
}
