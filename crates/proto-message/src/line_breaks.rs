//! Line breaks as SMTP carries them: every line ends in CRLF.

/// `raw` with every CR or LF that is not part of a CRLF made one (as Postfix does for what
/// it sends): SMTP carries lines, so a bare CR or LF would reach the next hop changed by
/// whoever turns it into a line, and a DKIM signature made over the bytes before would no
/// longer verify. What is signed is then exactly what is sent.
pub fn normalize_line_breaks(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 64);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' if raw.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_line_breaks_become_crlf_and_crlf_stays() {
        assert_eq!(
            normalize_line_breaks(b"a\r\nb\nc\rd\r\r\ne"),
            b"a\r\nb\r\nc\r\nd\r\n\r\ne".to_vec()
        );
    }
}
