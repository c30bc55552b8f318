//! Client-chosen text that IMAP turns into values: any mailbox name through modified UTF-7
//! (a decoded name encodes back to what was sent, when decoding accepted it), and any subject
//! through RFC 5256's base subject (no panic, never longer than the subject).
#![no_main]

use carepost_proto_imap::{base_subject, mutf7};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(name) = mutf7::decode(text)
        && text.is_ascii()
    {
        assert_eq!(mutf7::decode(&mutf7::encode(&name)).as_deref(), Ok(name.as_str()));
    }
    let (base, _) = base_subject(text);
    assert!(base.len() <= text.len());
});
