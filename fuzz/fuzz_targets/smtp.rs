//! Any bytes a client sends, cut into reads at any points, drive the SMTP receiver and session
//! without a panic, and every message stays within the size limit.
#![no_main]

use carepost_proto_smtp::{Event, Mode, Receiver, Request, Session};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((cuts, input)) = data.split_first() else { return };
    let mut rx = Receiver::new(MAX);
    let mut session = Session::new(if cuts % 2 == 0 { Mode::Mx } else { Mode::Submission }, cuts & 2 != 0);
    let step = usize::from(*cuts).max(1);
    for chunk in input.chunks(step) {
        let mut it = chunk.iter();
        while let Some(ev) = rx.feed(&mut it) {
            match ev {
                Event::Command(req) => {
                    let allowed = session.check(&req).is_ok();
                    match req {
                        Request::Ehlo { host } | Request::Helo { host } => session.on_helo(&host),
                        Request::Mail { .. } if allowed => session.on_mail(),
                        Request::Rcpt { .. } if allowed => session.on_rcpt(),
                        Request::Data if allowed => rx.start_data(),
                        Request::Bdat { chunk_size, is_last } => {
                            rx.start_bdat(chunk_size, is_last);
                            if allowed {
                                session.on_chunk();
                            }
                        }
                        Request::Rset => {
                            rx.reset_message();
                            session.on_reset();
                        }
                        Request::Auth { .. } if allowed => session.on_authenticated(),
                        _ => {}
                    }
                }
                Event::Message(m) => {
                    assert!(m.len() <= MAX);
                    session.on_reset();
                }
                Event::TooBig => session.on_reset(),
                Event::ChunkDone | Event::Invalid(_) => {}
            }
        }
    }
});
