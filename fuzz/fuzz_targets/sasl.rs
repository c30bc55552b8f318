//! Any sequence of client lines, for any mechanism, ends in a challenge, credentials or a
//! clean failure: never a panic.
#![no_main]

use carepost_proto_sasl::{Exchange, Mechanism, Step};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else { return };
    let mech = match first % 4 {
        0 => Mechanism::Plain,
        1 => Mechanism::Login,
        2 => Mechanism::OAuthBearer,
        _ => Mechanism::XOAuth2,
    };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let initial = lines.next().filter(|_| first & 4 == 0);
    let (mut x, mut step) = Exchange::start(mech, initial);
    for line in lines {
        if !matches!(step, Step::Challenge(_)) {
            break;
        }
        step = x.feed(line);
    }
});
