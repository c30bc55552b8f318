//! Answers as XML: a `multistatus` of responses, each an href with its found properties
//! (200) and the ones it does not have (404), or a bare status (a member removed since a sync
//! token); and the `error` body that carries a precondition (RFC 4918 section 16). Values are
//! escaped here, so nothing a client stored can break out of its element.

use crate::names::Name;
use quick_xml::escape::escape;
use std::fmt::Write;

/// A property value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    /// One `href`.
    Href(String),
    /// Several `href`s.
    Hrefs(Vec<String>),
    /// Empty elements inside (`resourcetype`, `supported-report-set` parts ...).
    Elements(Vec<Name>),
    /// `<c:comp name="VEVENT"/>` for each (`supported-calendar-component-set`).
    Components(Vec<String>),
    /// `supported-report-set`: each report name in `<d:supported-report><d:report>`.
    Reports(Vec<Name>),
    /// `current-user-privilege-set`: each privilege in `<d:privilege>`.
    Privileges(Vec<Name>),
    /// CalendarServer sharing's `invite` (calendarserver-sharing): each sharee by `mailto:`
    /// href, accepted, with read or read-write access.
    Invite(Vec<(String, bool)>),
    /// A dead property as a client set it: XML written by `Element::inner_xml` (so
    /// well-formed and self-contained), with the `xml:lang` it was set under.
    Xml {
        inner: String,
        lang: Option<String>,
    },
    /// Nothing inside.
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop {
    pub name: Name,
    pub value: Value,
}

impl Prop {
    pub fn new(name: Name, value: Value) -> Prop {
        Prop { name, value }
    }
}

/// One `response` element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Props {
        href: String,
        found: Vec<Prop>,
        missing: Vec<Name>,
        /// Properties that failed (PROPPATCH): status line and names.
        failed: Vec<(u16, Vec<Name>)>,
    },
    Status {
        href: String,
        status: u16,
    },
}

/// A `207 Multi-Status` body being built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multistatus {
    entries: Vec<Entry>,
    sync_token: Option<String>,
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        423 => "Locked",
        424 => "Failed Dependency",
        507 => "Insufficient Storage",
        _ => "",
    }
}

fn open(out: &mut String, n: &Name, empty: bool) {
    open_with(out, n, empty, "");
}

/// `attrs` is written into the start tag as it is (already escaped).
fn open_with(out: &mut String, n: &Name, empty: bool, attrs: &str) {
    let end = if empty { "/>" } else { ">" };
    match n.prefix() {
        Some(p) => _ = write!(out, "<{p}:{}{attrs}{end}", n.local),
        // No namespace: the answer declares no default one, so the bare name says that.
        None if n.ns.is_empty() => _ = write!(out, "<{}{attrs}{end}", n.local),
        None => {
            _ = write!(
                out,
                "<x:{} xmlns:x=\"{}\"{attrs}{end}",
                n.local,
                escape(n.ns.as_ref())
            )
        }
    }
}

fn close(out: &mut String, n: &Name) {
    match n.prefix() {
        Some(p) => _ = write!(out, "</{p}:{}>", n.local),
        None if n.ns.is_empty() => _ = write!(out, "</{}>", n.local),
        None => _ = write!(out, "</x:{}>", n.local),
    }
}

/// Text content, escaped: `<`, `>` and `&`, and each CR as `&#13;` so that an iCalendar
/// text's CRLF line ends reach the client as they were stored (an XML parser reads a bare CR
/// as a line feed). Quotes need no escape in content. The same replacements as quick-xml's
/// `partial_escape`, written here so the text goes straight into `out` a run at a time:
/// that function builds an escaped copy of each text first, and an answer to a multiget of
/// 500 events is mostly such text (the copy and its scan were a tenth of the work, profiled).
fn text(out: &mut String, t: &str) {
    out.reserve(t.len());
    let mut run = 0;
    for (i, b) in t.bytes().enumerate() {
        let escaped = match b {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'\r' => "&#13;",
            _ => continue,
        };
        // `i` is a character boundary: the four bytes are ASCII.
        out.push_str(&t[run..i]);
        out.push_str(escaped);
        run = i + 1;
    }
    out.push_str(&t[run..]);
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Text(t) => text(out, t),
        Value::Href(h) => _ = write!(out, "<d:href>{}</d:href>", escape(h.as_str())),
        Value::Hrefs(hs) => {
            for h in hs {
                _ = write!(out, "<d:href>{}</d:href>", escape(h.as_str()));
            }
        }
        Value::Elements(names) => {
            for n in names {
                open(out, n, true);
            }
        }
        Value::Components(cs) => {
            for c in cs {
                _ = write!(out, "<c:comp name=\"{}\"/>", escape(c.as_str()));
            }
        }
        Value::Reports(rs) => {
            for r in rs {
                out.push_str("<d:supported-report><d:report>");
                open(out, r, true);
                out.push_str("</d:report></d:supported-report>");
            }
        }
        Value::Privileges(ps) => {
            for p in ps {
                out.push_str("<d:privilege>");
                open(out, p, true);
                out.push_str("</d:privilege>");
            }
        }
        Value::Invite(sharees) => {
            for (href, write) in sharees {
                let access = if *write { "read-write" } else { "read" };
                _ = write!(
                    out,
                    "<cs:user><d:href>{}</d:href><cs:invite-accepted/><cs:access><cs:{access}/></cs:access></cs:user>",
                    escape(href.as_str())
                );
            }
        }
        Value::Xml { inner, .. } => out.push_str(inner),
        Value::Empty => {}
    }
}

fn write_prop(out: &mut String, p: &Prop) {
    if p.value == Value::Empty {
        open(out, &p.name, true);
        return;
    }
    match &p.value {
        Value::Xml {
            lang: Some(lang), ..
        } => open_with(
            out,
            &p.name,
            false,
            &format!(" xml:lang=\"{}\"", escape(lang.as_str())),
        ),
        _ => open(out, &p.name, false),
    }
    write_value(out, &p.value);
    close(out, &p.name);
}

fn propstat(out: &mut String, status: u16, body: impl FnOnce(&mut String)) {
    out.push_str("<d:propstat><d:prop>");
    body(out);
    _ = write!(
        out,
        "</d:prop><d:status>HTTP/1.1 {status} {}</d:status></d:propstat>",
        reason(status)
    );
}

impl Multistatus {
    pub fn new() -> Multistatus {
        Multistatus::default()
    }

    /// A resource with the properties found and those asked for that it does not have.
    pub fn props(&mut self, href: &str, found: Vec<Prop>, missing: Vec<Name>) {
        self.entries.push(Entry::Props {
            href: href.to_string(),
            found,
            missing,
            failed: Vec::new(),
        });
    }

    /// A PROPPATCH answer: what was set (200, no values) and what failed with which status.
    pub fn patched(&mut self, href: &str, done: Vec<Name>, failed: Vec<(u16, Vec<Name>)>) {
        self.entries.push(Entry::Props {
            href: href.to_string(),
            found: done
                .into_iter()
                .map(|n| Prop::new(n, Value::Empty))
                .collect(),
            missing: Vec::new(),
            failed,
        });
    }

    /// A resource by status alone (404 for one removed since the sync token).
    pub fn status(&mut self, href: &str, status: u16) {
        self.entries.push(Entry::Status {
            href: href.to_string(),
            status,
        });
    }

    pub fn sync_token(&mut self, token: &str) {
        self.sync_token = Some(token.to_string());
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn to_xml(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:multistatus xmlns:d=\"DAV:\" \
             xmlns:c=\"urn:ietf:params:xml:ns:caldav\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\" \
             xmlns:cs=\"http://calendarserver.org/ns/\" xmlns:ical=\"http://apple.com/ns/ical/\">",
        );
        for e in &self.entries {
            out.push_str("<d:response>");
            match e {
                Entry::Props {
                    href,
                    found,
                    missing,
                    failed,
                } => {
                    _ = write!(out, "<d:href>{}</d:href>", escape(href.as_str()));
                    if !found.is_empty() || (missing.is_empty() && failed.is_empty()) {
                        propstat(&mut out, 200, |o| {
                            found.iter().for_each(|p| write_prop(o, p))
                        });
                    }
                    if !missing.is_empty() {
                        propstat(&mut out, 404, |o| {
                            missing.iter().for_each(|n| open(o, n, true))
                        });
                    }
                    for (status, names) in failed {
                        propstat(&mut out, *status, |o| {
                            names.iter().for_each(|n| open(o, n, true))
                        });
                    }
                }
                Entry::Status { href, status } => {
                    _ = write!(
                        out,
                        "<d:href>{}</d:href><d:status>HTTP/1.1 {status} {}</d:status>",
                        escape(href.as_str()),
                        reason(*status)
                    );
                }
            }
            out.push_str("</d:response>");
        }
        if let Some(t) = &self.sync_token {
            _ = write!(out, "<d:sync-token>{}</d:sync-token>", escape(t.as_str()));
        }
        out.push_str("</d:multistatus>");
        out
    }
}

/// The body of an error with a precondition or postcondition element (RFC 4918 section
/// 16), e.g. `no-uid-conflict`, `valid-calendar-data`, `max-resource-size`.
pub fn error_body(condition: &Name) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error xmlns:d=\"DAV:\" \
         xmlns:c=\"urn:ietf:params:xml:ns:caldav\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\" \
         xmlns:cs=\"http://calendarserver.org/ns/\" xmlns:ical=\"http://apple.com/ns/ical/\">",
    );
    open(&mut out, condition, true);
    out.push_str("</d:error>");
    out
}

/// One recipient's answer to a request posted to a scheduling outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleAnswer {
    /// `mailto:` address.
    pub recipient: String,
    /// An iTIP request status (RFC 5546 section 3.6): `2.0;Success`, `3.7;Invalid calendar
    /// user`.
    pub request_status: String,
    pub calendar_data: Option<String>,
}

/// The `schedule-response` body of an outbox POST (RFC 6638 section 10.1).
pub fn schedule_response(answers: &[ScheduleAnswer]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<c:schedule-response xmlns:d=\"DAV:\" \
         xmlns:c=\"urn:ietf:params:xml:ns:caldav\">",
    );
    for a in answers {
        _ = write!(
            out,
            "<c:response><c:recipient><d:href>{}</d:href></c:recipient>\
             <c:request-status>{}</c:request-status>",
            escape(a.recipient.as_str()),
            escape(a.request_status.as_str())
        );
        if let Some(data) = &a.calendar_data {
            out.push_str("<c:calendar-data>");
            text(&mut out, data);
            out.push_str("</c:calendar-data>");
        }
        out.push_str("</c:response>");
    }
    out.push_str("</c:schedule-response>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::ns;
    use crate::tree::Element;

    #[test]
    fn text_is_escaped_as_quick_xml_escapes_it() {
        for t in [
            "",
            "plain",
            "BEGIN:VEVENT\r\nSUMMARY:a <b> & c ]]> d\r\nEND:VEVENT\r\n",
            "<&>\r",
            "Zoë’s clinic — 3 < 4 & ünïcødé\r\n",
        ] {
            let mut out = String::from("x");
            text(&mut out, t);
            assert_eq!(
                out,
                format!("x{}", quick_xml::escape::partial_escape(t)),
                "{t:?}"
            );
        }
    }

    #[test]
    fn a_multistatus_parses_back_with_escaped_values() {
        let mut m = Multistatus::new();
        m.props(
            "/dav/calendars/a@x.org/default/",
            vec![
                Prop::new(
                    Name::dav("displayname"),
                    Value::Text("<b>Ward & co</b>".into()),
                ),
                Prop::new(
                    Name::dav("resourcetype"),
                    Value::Elements(vec![Name::dav("collection"), Name::caldav("calendar")]),
                ),
                Prop::new(Name::new("urn:other", "x"), Value::Text("1".into())),
                Prop::new(
                    Name::new("", "dead"),
                    Value::Xml {
                        inner: "a<v:b xmlns:v=\"urn:b\">c</v:b>".into(),
                        lang: Some("en".into()),
                    },
                ),
            ],
            vec![Name::dav("getcontentlength")],
        );
        m.status("/dav/calendars/a@x.org/default/gone.ics", 404);
        m.sync_token("t:7");
        let xml = m.to_xml();
        let tree = Element::parse(&xml).unwrap();
        assert!(tree.name.is(ns::DAV, "multistatus"));
        let first = &tree.children[0];
        let ok = first.child(ns::DAV, "propstat").unwrap();
        let prop = ok.child(ns::DAV, "prop").unwrap();
        assert_eq!(
            prop.child(ns::DAV, "displayname").unwrap().text,
            "<b>Ward & co</b>"
        );
        assert!(prop.child("urn:other", "x").is_some());
        let dead = prop.child("", "dead").unwrap();
        assert_eq!(dead.lang.as_deref(), Some("en"));
        assert_eq!(dead.children[0].name, Name::new("urn:b", "b"));
        assert_eq!(tree.child(ns::DAV, "sync-token").unwrap().text, "t:7");
        assert!(xml.contains("HTTP/1.1 404 Not Found"));
        assert!(Element::parse(&error_body(&Name::caldav("valid-calendar-data"))).is_ok());
    }

    #[test]
    fn a_schedule_response_parses_back() {
        let xml = schedule_response(&[ScheduleAnswer {
            recipient: "mailto:bob@x.org".into(),
            request_status: "2.0;Success".into(),
            calendar_data: Some("BEGIN:VCALENDAR\n<&>".into()),
        }]);
        let tree = Element::parse(&xml).unwrap();
        let r = tree.child(ns::CALDAV, "response").unwrap();
        assert_eq!(
            r.child(ns::CALDAV, "calendar-data").unwrap().text,
            "BEGIN:VCALENDAR\n<&>"
        );
    }
}
