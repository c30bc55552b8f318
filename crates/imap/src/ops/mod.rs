//! The commands, one family per file, each writing its responses into the session's output.

mod append;
pub(crate) mod auth;
mod copy;
mod fetch;
mod mailbox;
mod misc;
mod search;
mod select;
mod sort;
mod store;

use crate::session::{After, Next, Session};
use carepost_mail::MailError;
use carepost_proto_imap::Command;
use carepost_proto_imap::mutf7::{self, InvalidName};

/// IMAP4rev1 clients that have not enabled UTF-8 write mailbox names in modified UTF-7; the
/// store keeps UTF-8 (RFC 3501 section 5.1.3). A name that is not valid modified UTF-7 is
/// taken as written (it names no mailbox, or one made outside IMAP), but no mailbox is
/// created or renamed to one.
fn decode_names(cmd: &mut Command) -> Result<(), InvalidName> {
    use Command as C;
    let d = |n: &mut String| -> Result<(), InvalidName> {
        *n = mutf7::decode(n)?;
        Ok(())
    };
    let lenient = |n: &mut String| {
        if let Ok(u) = mutf7::decode(n) {
            *n = u;
        }
    };
    match cmd {
        C::Create { mailbox, .. } => d(mailbox),
        C::Rename { from, to } => {
            lenient(from);
            d(to)
        }
        C::Select { mailbox, .. }
        | C::Delete(mailbox)
        | C::Subscribe(mailbox)
        | C::Unsubscribe(mailbox)
        | C::Status { mailbox, .. }
        | C::Append { mailbox, .. }
        | C::Copy { mailbox, .. }
        | C::Move { mailbox, .. }
        | C::GetQuotaRoot(mailbox) => {
            lenient(mailbox);
            Ok(())
        }
        C::List {
            reference,
            patterns,
            ..
        } => {
            lenient(reference);
            patterns.iter_mut().for_each(lenient);
            Ok(())
        }
        C::Lsub { reference, pattern } => {
            lenient(reference);
            lenient(pattern);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Runs a command the state allows.
pub(crate) async fn run(s: &mut Session, tag: &str, mut cmd: Command) -> After {
    use Command as C;
    let done = After::Next(Next::Continue);
    if !s.utf8()
        && let Err(e) = decode_names(&mut cmd)
    {
        s.no(tag, Some("CANNOT"), &e.to_string());
        return done;
    }
    match cmd {
        C::Capability => misc::capability(s, tag),
        C::Noop | C::Check => misc::noop(s, tag).await,
        C::Logout => return misc::logout(s, tag),
        C::Id(_) => misc::id(s, tag),
        C::Enable(caps) => misc::enable(s, tag, &caps),
        C::Namespace => misc::namespace(s, tag),
        C::GetQuota(root) => misc::get_quota(s, tag, &root).await,
        C::GetQuotaRoot(mailbox) => misc::get_quota_root(s, tag, &mailbox).await,
        C::SetQuota(_) => s.no(tag, Some("NOPERM"), "Quotas are set by the organization"),
        C::StartTls => return auth::starttls(s, tag),
        C::Login { user, password } => auth::login(s, tag, &user, &password).await,
        C::Authenticate { mechanism, initial } => {
            return auth::authenticate(s, tag, &mechanism, initial.as_deref()).await;
        }
        C::Create {
            mailbox,
            special_use,
        } => mailbox::create(s, tag, &mailbox, &special_use).await,
        C::Delete(m) => mailbox::delete(s, tag, &m).await,
        C::Rename { from, to } => mailbox::rename(s, tag, &from, &to).await,
        C::Subscribe(m) => mailbox::subscribe(s, tag, &m, true).await,
        C::Unsubscribe(m) => mailbox::subscribe(s, tag, &m, false).await,
        C::List {
            reference,
            patterns,
            options,
        } => mailbox::list(s, tag, &reference, &patterns, &options).await,
        C::Lsub { reference, pattern } => mailbox::lsub(s, tag, &reference, &pattern).await,
        C::Status { mailbox, items } => mailbox::status(s, tag, &mailbox, &items).await,
        C::Append {
            mailbox,
            flags,
            date,
            message,
        } => append::append(s, tag, &mailbox, &flags, date, message).await,
        C::Select {
            mailbox,
            read_only,
            condstore,
            qresync,
        } => select::select(s, tag, &mailbox, read_only, condstore, qresync).await,
        C::Close => select::close(s, tag, true).await,
        C::Unselect => select::close(s, tag, false).await,
        C::Idle => {
            s.sync(true).await;
            s.out.extend_from_slice(b"+ idling\r\n");
            return After::Idle;
        }
        C::Expunge { uids } => copy::expunge(s, tag, uids.as_ref()).await,
        C::Copy { uid, set, mailbox } => copy::copy(s, tag, uid, &set, &mailbox, false).await,
        C::Move { uid, set, mailbox } => copy::copy(s, tag, uid, &set, &mailbox, true).await,
        C::Fetch {
            uid,
            set,
            items,
            changed_since,
            vanished,
        } => fetch::fetch(s, tag, uid, &set, &items, changed_since, vanished).await,
        C::Store {
            uid,
            set,
            mode,
            silent,
            flags,
            unchanged_since,
        } => store::store(s, tag, uid, &set, mode, silent, &flags, unchanged_since).await,
        C::Search {
            uid,
            ret,
            charset,
            key,
        } => search::search(s, tag, uid, ret, charset.as_deref(), &key).await,
        C::Sort {
            uid,
            ret,
            keys,
            charset,
            key,
        } => sort::sort(s, tag, uid, ret, &keys, &charset, &key).await,
        C::Thread {
            uid,
            algorithm,
            charset,
            key,
        } => sort::thread(s, tag, uid, algorithm, &charset, &key).await,
    }
    done
}

/// Answers a mail store failure: the client's words, the detail in the log.
pub(crate) fn store_failure(s: &mut Session, tag: &str, e: MailError) {
    match e {
        MailError::NoMailbox(_) => s.no(tag, Some("NONEXISTENT"), "No such mailbox"),
        MailError::Exists(name) => s.no(
            tag,
            Some("ALREADYEXISTS"),
            &format!("Mailbox {name} exists already"),
        ),
        MailError::Invalid(why) => s.no(tag, Some("CANNOT"), &why),
        MailError::OverQuota => s.no(tag, Some("OVERQUOTA"), "The mailbox is full"),
        e => {
            tracing::warn!(error = %e, "IMAP command failed in the mail store");
            s.no(tag, Some("UNAVAILABLE"), "Temporary failure, try again");
        }
    }
}
