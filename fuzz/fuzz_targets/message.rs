//! Any bytes as a submitted message: the strict From:/Sender: reading never panics, and what
//! it accepts is what the checks after it rely on. An accepted message has exactly one From:
//! mailbox, an `local@domain` address with no white space, no comment and no line break, whose
//! domain is in lower case; the header section it came from has no bare CR or LF. Making line
//! breaks CRLF leaves no bare CR or LF and changes nothing when done twice (what is signed is
//! what is sent).
#![no_main]

use carepost_proto_message::{display_holds_address, header_senders, normalize_line_breaks};
use libfuzzer_sys::fuzz_target;

fn bare_break(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, b)| match b {
        b'\r' => bytes.get(i + 1) != Some(&b'\n'),
        b'\n' => i == 0 || bytes[i - 1] != b'\r',
        _ => false,
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = header_senders(data) {
        for m in std::iter::once(&s.from).chain(&s.sender) {
            let a = &m.address;
            assert!(!a.contains([' ', '\t', '\r', '\n', '(', ')', '<', '>', ',']) || a.starts_with('"'), "{a:?}");
            let (local, domain) = a.rsplit_once('@').expect("an address has an @");
            assert!(!local.is_empty() && !domain.is_empty(), "{a:?}");
            assert_eq!(domain, domain.to_ascii_lowercase(), "{a:?}");
            if let Some(d) = &m.display {
                let _ = display_holds_address(d);
            }
        }
        let end = data
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(data.len(), |i| i + 2);
        assert!(!bare_break(&data[..end]), "accepted with a bare line break");
    }
    let once = normalize_line_breaks(data);
    assert!(!bare_break(&once));
    assert_eq!(normalize_line_breaks(&once), once);
});
