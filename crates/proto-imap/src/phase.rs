//! Which commands each connection state allows (RFC 9051 section 3 and 6): the session in the
//! imap crate holds the state's data; this is the rule it asks before running a command.

use crate::command::Command;

/// The connection state, without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    NotAuthenticated,
    Authenticated,
    Selected,
    Logout,
}

impl Phase {
    /// Whether `cmd` may run now; otherwise it gets BAD (a client bug, not a refusal).
    pub fn allows(self, cmd: &Command) -> bool {
        use Command as C;
        match cmd {
            C::Capability | C::Noop | C::Logout | C::Id(_) => self != Phase::Logout,
            C::StartTls | C::Authenticate { .. } | C::Login { .. } => {
                self == Phase::NotAuthenticated
            }
            C::Enable(_)
            | C::Select { .. }
            | C::Create { .. }
            | C::Delete(_)
            | C::Rename { .. }
            | C::Subscribe(_)
            | C::Unsubscribe(_)
            | C::List { .. }
            | C::Lsub { .. }
            | C::Namespace
            | C::Status { .. }
            | C::Append { .. }
            | C::Idle
            | C::GetQuota(_)
            | C::GetQuotaRoot(_)
            | C::SetQuota(_) => matches!(self, Phase::Authenticated | Phase::Selected),
            C::Check
            | C::Close
            | C::Unselect
            | C::Expunge { .. }
            | C::Search { .. }
            | C::Fetch { .. }
            | C::Store { .. }
            | C::Copy { .. }
            | C::Move { .. }
            | C::Sort { .. }
            | C::Thread { .. } => self == Phase::Selected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_commands_need_a_signed_in_selected_session() {
        assert!(!Phase::NotAuthenticated.allows(&Command::Namespace));
        assert!(!Phase::Authenticated.allows(&Command::Close));
        assert!(Phase::Selected.allows(&Command::Close));
        assert!(!Phase::Authenticated.allows(&Command::Login {
            user: "a".into(),
            password: "b".into()
        }));
        assert!(!Phase::Logout.allows(&Command::Noop));
    }
}
