//! The parser from one framed command (RFC 9051 section 9, with the grammar of the
//! extensions carepost advertises) to a `Command`.

use crate::ParseError;
use crate::command::{
    Command, ListOptions, Qresync, SortKey, StatusItem, StoreMode, ThreadAlgorithm,
};
use crate::cursor::Cursor;
use crate::fetch;
use crate::search;
use crate::sequence::SequenceSet;

type R<T> = Result<T, ParseError>;

fn syntax(s: &str) -> ParseError {
    ParseError::Syntax(s.to_string())
}

/// A mailbox name: an astring, `INBOX` in any case meaning INBOX (RFC 9051 section 5.1).
fn mailbox(c: &mut Cursor<'_>) -> R<String> {
    let name = c.astring_utf8()?;
    Ok(if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_string()
    } else {
        name
    })
}

/// Parses `tag SP command` (the frame without its final CRLF). On error, returns the tag when
/// it could be read, so that the BAD carries it.
pub fn parse_command(frame: &[u8]) -> Result<(String, Command), (Option<String>, ParseError)> {
    let mut c = Cursor::new(frame);
    let tag = c.tag().map_err(|e| (None, e))?;
    let cmd = (|| {
        c.sp()?;
        let cmd = command(&mut c)?;
        c.end()?;
        Ok(cmd)
    })();
    cmd.map(|cmd| (tag.clone(), cmd))
        .map_err(|e| (Some(tag), e))
}

fn command(c: &mut Cursor<'_>) -> R<Command> {
    let word = c.atom()?.to_ascii_uppercase();
    let cmd = match word.as_str() {
        "CAPABILITY" => Command::Capability,
        "NOOP" => Command::Noop,
        "LOGOUT" => Command::Logout,
        "STARTTLS" => Command::StartTls,
        "NAMESPACE" => Command::Namespace,
        "IDLE" => Command::Idle,
        "CHECK" => Command::Check,
        "CLOSE" => Command::Close,
        "UNSELECT" => Command::Unselect,
        "EXPUNGE" => Command::Expunge { uids: None },
        "AUTHENTICATE" => {
            c.sp()?;
            let mechanism = c.atom()?.to_ascii_uppercase();
            let initial = if c.eat(b' ') {
                let ir = if c.eat(b'=') {
                    String::new()
                } else {
                    c.atom()?
                };
                Some(ir)
            } else {
                None
            };
            Command::Authenticate { mechanism, initial }
        }
        "LOGIN" => {
            c.sp()?;
            let user = c.astring_utf8()?;
            c.sp()?;
            let password = c.astring_utf8()?;
            Command::Login { user, password }
        }
        "ENABLE" => {
            let mut caps = Vec::new();
            while c.eat(b' ') {
                caps.push(c.atom()?.to_ascii_uppercase());
            }
            if caps.is_empty() {
                return Err(syntax("ENABLE needs a capability"));
            }
            Command::Enable(caps)
        }
        "SELECT" | "EXAMINE" => select(c, word == "EXAMINE")?,
        "CREATE" => {
            c.sp()?;
            let mailbox = mailbox(c)?;
            let mut special_use = Vec::new();
            if c.eat(b' ') {
                c.require(b'(')?;
                if !c.keyword("USE") {
                    return Err(syntax("unknown CREATE parameter"));
                }
                c.sp()?;
                special_use = c.list(false, |c| c.flag())?;
                c.require(b')')?;
            }
            Command::Create {
                mailbox,
                special_use,
            }
        }
        "DELETE" | "SUBSCRIBE" | "UNSUBSCRIBE" | "GETQUOTAROOT" => {
            c.sp()?;
            let m = mailbox(c)?;
            match word.as_str() {
                "DELETE" => Command::Delete(m),
                "SUBSCRIBE" => Command::Subscribe(m),
                "UNSUBSCRIBE" => Command::Unsubscribe(m),
                _ => Command::GetQuotaRoot(m),
            }
        }
        "GETQUOTA" => {
            c.sp()?;
            Command::GetQuota(c.astring_utf8()?)
        }
        "SETQUOTA" => {
            c.sp()?;
            let root = c.astring_utf8()?;
            c.sp()?;
            c.list(true, |c| {
                c.atom()?;
                c.sp()?;
                c.number()
            })?;
            Command::SetQuota(root)
        }
        "RENAME" => {
            c.sp()?;
            let from = mailbox(c)?;
            c.sp()?;
            let to = mailbox(c)?;
            Command::Rename { from, to }
        }
        "LIST" => list(c)?,
        "LSUB" => {
            c.sp()?;
            let reference = c.astring_utf8()?;
            c.sp()?;
            let pattern = c.list_mailbox()?;
            Command::Lsub { reference, pattern }
        }
        "STATUS" => {
            c.sp()?;
            let mailbox = mailbox(c)?;
            c.sp()?;
            let items = status_items(c)?;
            Command::Status { mailbox, items }
        }
        "APPEND" => append(c)?,
        "ID" => {
            c.sp()?;
            if c.keyword("NIL") {
                Command::Id(None)
            } else {
                let pairs = c.list(true, |c| {
                    let k = String::from_utf8_lossy(&c.string()?).into_owned();
                    c.sp()?;
                    let v = c
                        .nstring()?
                        .map(|v| String::from_utf8_lossy(&v).into_owned());
                    Ok((k, v))
                })?;
                Command::Id(Some(pairs))
            }
        }
        "UID" => {
            c.sp()?;
            let sub = c.atom()?.to_ascii_uppercase();
            if sub == "EXPUNGE" {
                c.sp()?;
                Command::Expunge {
                    uids: Some(SequenceSet::parse(c)?),
                }
            } else {
                selected(c, &sub, true)?
            }
        }
        "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE" | "SORT" | "THREAD" => {
            selected(c, &word, false)?
        }
        _ => return Err(ParseError::Unknown(word)),
    };
    Ok(cmd)
}

fn select(c: &mut Cursor<'_>, read_only: bool) -> R<Command> {
    c.sp()?;
    let mailbox = mailbox(c)?;
    let (mut condstore, mut qresync) = (false, None);
    if c.eat(b' ') {
        c.list(false, |c| {
            if c.keyword("CONDSTORE") {
                condstore = true;
            } else if c.keyword("QRESYNC") {
                c.sp()?;
                c.require(b'(')?;
                let uid_validity = u32::try_from(c.number()?)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| syntax("bad UIDVALIDITY"))?;
                c.sp()?;
                let modseq = c.number()?;
                let mut known_uids = None;
                let mut seq_match = None;
                if c.eat(b' ') {
                    if c.peek() != Some(b'(') {
                        known_uids = Some(SequenceSet::parse(c)?);
                        if c.eat(b' ') {
                            seq_match = Some(seq_match_data(c)?);
                        }
                    } else {
                        seq_match = Some(seq_match_data(c)?);
                    }
                }
                c.require(b')')?;
                qresync = Some(Qresync {
                    uid_validity,
                    modseq,
                    known_uids,
                    seq_match,
                });
            } else {
                return Err(syntax("unknown SELECT parameter"));
            }
            Ok(())
        })?;
    }
    Ok(Command::Select {
        mailbox,
        read_only,
        condstore,
        qresync,
    })
}

fn seq_match_data(c: &mut Cursor<'_>) -> R<(SequenceSet, SequenceSet)> {
    c.require(b'(')?;
    let a = SequenceSet::parse(c)?;
    c.sp()?;
    let b = SequenceSet::parse(c)?;
    c.require(b')')?;
    Ok((a, b))
}

fn status_items(c: &mut Cursor<'_>) -> R<Vec<StatusItem>> {
    c.list(false, |c| {
        let w = c.atom()?.to_ascii_uppercase();
        Ok(match w.as_str() {
            "MESSAGES" => StatusItem::Messages,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "DELETED" => StatusItem::Deleted,
            "SIZE" => StatusItem::Size,
            "RECENT" => StatusItem::Recent,
            "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            _ => return Err(ParseError::Syntax(format!("unknown status item {w}"))),
        })
    })
}

fn list(c: &mut Cursor<'_>) -> R<Command> {
    c.sp()?;
    let mut options = ListOptions::default();
    if c.peek() == Some(b'(') {
        options.extended = true;
        for o in c.list(true, |c| Ok(c.atom()?.to_ascii_uppercase()))? {
            match o.as_str() {
                "SUBSCRIBED" => options.subscribed = true,
                "REMOTE" => options.remote = true,
                "RECURSIVEMATCH" => options.recursive_match = true,
                "SPECIAL-USE" => options.special_use = true,
                _ => return Err(ParseError::Syntax(format!("unknown LIST option {o}"))),
            }
        }
        if options.recursive_match && !(options.subscribed || options.special_use) {
            return Err(syntax("RECURSIVEMATCH needs another selection option"));
        }
        c.sp()?;
    }
    let reference = c.astring_utf8()?;
    c.sp()?;
    let patterns = if c.peek() == Some(b'(') {
        options.extended = true;
        c.list(false, |c| c.list_mailbox())?
    } else {
        vec![c.list_mailbox()?]
    };
    if c.eat(b' ') {
        if !c.keyword("RETURN") {
            return Err(syntax("expected RETURN"));
        }
        options.extended = true;
        c.sp()?;
        c.list(true, |c| {
            if c.keyword("SUBSCRIBED") {
                options.return_subscribed = true;
            } else if c.keyword("CHILDREN") {
                options.return_children = true;
            } else if c.keyword("SPECIAL-USE") {
                options.return_special_use = true;
            } else if c.keyword("STATUS") {
                c.sp()?;
                options.return_status = Some(status_items(c)?);
            } else {
                return Err(syntax("unknown LIST return option"));
            }
            Ok(())
        })?;
    }
    Ok(Command::List {
        reference,
        patterns,
        options,
    })
}

fn append(c: &mut Cursor<'_>) -> R<Command> {
    c.sp()?;
    let mailbox = mailbox(c)?;
    c.sp()?;
    let mut flags = Vec::new();
    if c.peek() == Some(b'(') {
        flags = c.list(true, |c| c.flag())?;
        c.sp()?;
    }
    let mut date = None;
    if c.peek() == Some(b'"') {
        date = Some(c.date_time()?);
        c.sp()?;
    }
    let message = c.literal()?;
    Ok(Command::Append {
        mailbox,
        flags,
        date,
        message,
    })
}

/// The commands of the selected state that have a UID form.
fn selected(c: &mut Cursor<'_>, word: &str, uid: bool) -> R<Command> {
    c.sp()?;
    Ok(match word {
        "SEARCH" => {
            let (ret, charset, key) = search::parse_search(c)?;
            Command::Search {
                uid,
                ret,
                charset,
                key,
            }
        }
        "FETCH" => {
            let set = SequenceSet::parse(c)?;
            c.sp()?;
            let items = fetch::parse_items(c)?;
            let (mut changed_since, mut vanished) = (None, false);
            if c.eat(b' ') {
                c.list(false, |c| {
                    if c.keyword("CHANGEDSINCE") {
                        c.sp()?;
                        changed_since = Some(c.number()?);
                    } else if c.keyword("VANISHED") {
                        vanished = true;
                    } else {
                        return Err(syntax("unknown FETCH modifier"));
                    }
                    Ok(())
                })?;
            }
            if vanished && (!uid || changed_since.is_none()) {
                return Err(syntax("VANISHED needs UID FETCH with CHANGEDSINCE"));
            }
            Command::Fetch {
                uid,
                set,
                items,
                changed_since,
                vanished,
            }
        }
        "STORE" => store(c, uid)?,
        "COPY" | "MOVE" => {
            let set = SequenceSet::parse(c)?;
            c.sp()?;
            let mailbox = mailbox(c)?;
            if word == "COPY" {
                Command::Copy { uid, set, mailbox }
            } else {
                Command::Move { uid, set, mailbox }
            }
        }
        "SORT" => sort(c, uid)?,
        "THREAD" => {
            let alg = c.atom()?.to_ascii_uppercase();
            let algorithm = match alg.as_str() {
                "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
                "REFERENCES" => ThreadAlgorithm::References,
                _ => return Err(ParseError::Syntax(format!("unknown algorithm {alg}"))),
            };
            c.sp()?;
            let charset = c.astring_utf8()?;
            c.sp()?;
            Command::Thread {
                uid,
                algorithm,
                charset,
                key: search::parse_keys(c)?,
            }
        }
        _ => return Err(ParseError::Unknown(format!("UID {word}"))),
    })
}

fn store(c: &mut Cursor<'_>, uid: bool) -> R<Command> {
    let set = SequenceSet::parse(c)?;
    c.sp()?;
    let mut unchanged_since = None;
    if c.peek() == Some(b'(') {
        c.list(false, |c| {
            if !c.keyword("UNCHANGEDSINCE") {
                return Err(syntax("unknown STORE modifier"));
            }
            c.sp()?;
            unchanged_since = Some(c.number()?);
            Ok(())
        })?;
        c.sp()?;
    }
    let mode = if c.eat(b'+') {
        StoreMode::Add
    } else if c.eat(b'-') {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    let item = c.atom()?.to_ascii_uppercase();
    let silent = match item.as_str() {
        "FLAGS" => false,
        "FLAGS.SILENT" => true,
        _ => return Err(syntax("expected FLAGS or FLAGS.SILENT")),
    };
    c.sp()?;
    let flags = if c.peek() == Some(b'(') {
        c.list(true, |c| c.flag())?
    } else {
        let mut f = vec![c.flag()?];
        while c.eat(b' ') {
            f.push(c.flag()?);
        }
        f
    };
    Ok(Command::Store {
        uid,
        set,
        mode,
        silent,
        flags,
        unchanged_since,
    })
}

fn sort(c: &mut Cursor<'_>, uid: bool) -> R<Command> {
    let mut ret = None;
    if c.keyword("RETURN") {
        c.sp()?;
        ret = Some(search::return_options(c)?);
        c.sp()?;
    }
    let keys = c.list(false, |c| {
        let reverse = c.keyword("REVERSE");
        if reverse {
            c.sp()?;
        }
        let w = c.atom()?.to_ascii_uppercase();
        let k = match w.as_str() {
            "ARRIVAL" => SortKey::Arrival,
            "CC" => SortKey::Cc,
            "DATE" => SortKey::Date,
            "FROM" => SortKey::From,
            "SIZE" => SortKey::Size,
            "SUBJECT" => SortKey::Subject,
            "TO" => SortKey::To,
            "DISPLAYFROM" => SortKey::DisplayFrom,
            "DISPLAYTO" => SortKey::DisplayTo,
            _ => return Err(ParseError::Syntax(format!("unknown sort key {w}"))),
        };
        Ok((k, reverse))
    })?;
    c.sp()?;
    let charset = c.astring_utf8()?;
    c.sp()?;
    Ok(Command::Sort {
        uid,
        ret,
        keys,
        charset,
        key: search::parse_keys(c)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        match parse_command(line.as_bytes()) {
            Ok((tag, cmd)) => {
                assert_eq!(tag, "a1");
                cmd
            }
            Err(e) => panic!("{line}: {e:?}"),
        }
    }

    #[test]
    fn rfc9051_commands_parse() {
        assert_eq!(ok("a1 noop"), Command::Noop);
        assert_eq!(
            ok("a1 LOGIN \"ann\" {2+}\r\npw"),
            Command::Login {
                user: "ann".into(),
                password: "pw".into()
            }
        );
        assert_eq!(
            ok("a1 AUTHENTICATE PLAIN AGFubgBwdw=="),
            Command::Authenticate {
                mechanism: "PLAIN".into(),
                initial: Some("AGFubgBwdw==".into())
            }
        );
        assert_eq!(
            ok("a1 RENAME inbox Old"),
            Command::Rename {
                from: "INBOX".into(),
                to: "Old".into()
            }
        );
        assert!(matches!(
            ok("a1 APPEND Sent (\\Seen) \"25-Nov-2026 10:00:00 +0000\" {5}\r\nhello"),
            Command::Append { flags, date: Some(_), message, .. } if flags == ["\\Seen"] && message == b"hello"
        ));
        assert!(matches!(
            ok("a1 UID STORE 1:* (UNCHANGEDSINCE 5) -FLAGS.SILENT (\\Deleted $Junk)"),
            Command::Store { uid: true, mode: StoreMode::Remove, silent: true, unchanged_since: Some(5), flags, .. } if flags.len() == 2
        ));
        assert!(matches!(
            ok("a1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12 VANISHED)"),
            Command::Fetch {
                uid: true,
                changed_since: Some(12),
                vanished: true,
                ..
            }
        ));
        assert!(matches!(
            ok("a1 UID EXPUNGE 3:4"),
            Command::Expunge { uids: Some(_) }
        ));
        assert!(matches!(
            ok("a1 MOVE 1 Trash"),
            Command::Move { uid: false, .. }
        ));
        assert!(matches!(
            ok("a1 STATUS INBOX (MESSAGES UIDNEXT SIZE HIGHESTMODSEQ)"),
            Command::Status { items, .. } if items.len() == 4
        ));
        assert!(matches!(
            ok("a1 ID (\"name\" \"mutt\" \"version\" NIL)"),
            Command::Id(Some(p)) if p.len() == 2
        ));
    }

    #[test]
    fn rfc7162_select_with_qresync() {
        let Command::Select { qresync, .. } =
            ok("a1 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))")
        else {
            panic!()
        };
        let q = qresync.unwrap();
        assert_eq!(q.uid_validity, 67_890_007);
        assert_eq!(q.modseq, 20_050_715_194_045_000);
        assert!(q.known_uids.is_some());
        let Command::Select { qresync, .. } =
            ok("a1 EXAMINE INBOX (QRESYNC (1 2 1:5 (1:3 4,6,8)))")
        else {
            panic!()
        };
        assert!(qresync.unwrap().seq_match.is_some());
    }

    #[test]
    fn rfc5258_list_extended_and_rfc5819_list_status() {
        let Command::List {
            patterns, options, ..
        } = ok(
            "a1 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"%\" Work/*) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))",
        )
        else {
            panic!()
        };
        assert_eq!(patterns, vec!["%", "Work/*"]);
        assert!(options.subscribed && options.recursive_match && options.return_children);
        assert_eq!(
            options.return_status,
            Some(vec![StatusItem::Messages, StatusItem::Unseen])
        );
        let Command::List { options, .. } = ok("a1 LIST \"\" *") else {
            panic!()
        };
        assert!(!options.extended);
    }

    #[test]
    fn rfc6154_create_special_use_and_searchres() {
        assert_eq!(
            ok("a1 CREATE MySent (USE (\\Sent))"),
            Command::Create {
                mailbox: "MySent".into(),
                special_use: vec!["\\Sent".into()]
            }
        );
        assert!(matches!(
            ok("a1 UID FETCH $ (FLAGS)"),
            Command::Fetch {
                set: SequenceSet::Saved,
                ..
            }
        ));
        assert!(matches!(
            ok("a1 UID SORT RETURN (COUNT) (REVERSE DATE SUBJECT) UTF-8 ALL"),
            Command::Sort { keys, ret: Some(_), .. } if keys.len() == 2 && keys[0].1
        ));
        assert!(matches!(
            ok("a1 THREAD REFERENCES UTF-8 SINCE 1-Jan-2020"),
            Command::Thread {
                algorithm: ThreadAlgorithm::References,
                ..
            }
        ));
    }

    #[test]
    fn malformed_commands_are_errors_with_their_tag() {
        for line in [
            "a1 LOGIN ann",
            "a1 FETCH 1 (FLAGS",
            "a1 SELECT",
            "a1 STORE 1 FLAGZ (\\Seen)",
            "a1 FROB",
            "a1 NOOP extra",
            "a1 FETCH 1:2 FLAGS (VANISHED)",
            "a1 LIST (RECURSIVEMATCH) \"\" *",
            "a1 APPEND x {10}\r\nshort",
        ] {
            let e = parse_command(line.as_bytes()).unwrap_err();
            assert_eq!(e.0.as_deref(), Some("a1"), "{line}");
        }
        assert_eq!(parse_command(b"").unwrap_err().0, None);
        assert_eq!(parse_command(b"+ x").unwrap_err().0, None);
    }
}
