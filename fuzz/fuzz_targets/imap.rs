//! Any bytes a client sends, cut into reads at any points, go through the IMAP framing and
//! command parser without a panic, and no frame outgrows the receiver's limits.
#![no_main]

use carepost_proto_imap::{Frame, Phase, Receiver, parse_command};
use libfuzzer_sys::fuzz_target;

const LINE: usize = 1024;
const LITERAL: usize = 4096;
const FRAME: usize = 8192;

fuzz_target!(|data: &[u8]| {
    let Some((cuts, input)) = data.split_first() else { return };
    let mut rx = Receiver::new(LINE, LITERAL, FRAME);
    let step = usize::from(*cuts).max(1);
    for chunk in input.chunks(step) {
        rx.feed(chunk);
        while let Some(frame) = rx.next_frame() {
            match frame {
                Frame::Command(bytes) => {
                    assert!(bytes.len() <= FRAME);
                    if let Ok((tag, cmd)) = parse_command(&bytes) {
                        assert!(!tag.is_empty());
                        for phase in [Phase::NotAuthenticated, Phase::Authenticated, Phase::Selected] {
                            let _ = phase.allows(&cmd);
                        }
                    }
                }
                Frame::Fatal(_) => return,
                Frame::Continue | Frame::LiteralRefused { .. } => {}
            }
        }
        assert!(rx.buffered() <= FRAME + LINE + step);
    }
});
