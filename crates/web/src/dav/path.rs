//! DAV paths: `/dav/`, `/dav/principals/ADDRESS/`, `/dav/calendars/ADDRESS/`,
//! `/dav/calendars/ADDRESS/COLLECTION/` and `/dav/calendars/ADDRESS/COLLECTION/OBJECT`, and
//! the same three under `/dav/addressbooks/` for address books (the directory book is
//! `/dav/addressbooks/ADDRESS/directory/` in everyone's home), each
//! segment percent-decoded once. A segment that decodes to something with a slash, a NUL, a
//! backslash, or is `.` or `..`, makes the path invalid (400): nothing a client builds can
//! reach past its place.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

pub const ROOT: &str = "/dav/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DavPath {
    Root,
    Principal(String),
    Home(String),
    Collection(String, String),
    Object(String, String, String),
    BookHome(String),
    Book(String, String),
    Card(String, String, String),
}

/// Characters kept as they are in hrefs we write; the rest is percent-encoded.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'@')
    .remove(b'+');

/// One path segment as we write it in an href.
pub(super) fn seg(s: &str) -> String {
    utf8_percent_encode(s, KEEP).to_string()
}

impl DavPath {
    /// Reads a request path (without query); `None` when it is not a DAV path we serve.
    pub fn parse(path: &str) -> Result<DavPath, ()> {
        let rest = path.strip_prefix("/dav").ok_or(())?;
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let mut parts = Vec::new();
        for raw in rest.split('/').filter(|s| !s.is_empty()) {
            parts.push(segment(raw)?);
        }
        let mut it = parts.into_iter();
        Ok(
            match (it.next(), it.next(), it.next(), it.next(), it.next()) {
                (None, ..) => DavPath::Root,
                (Some(p), Some(a), None, ..) if p == "principals" => {
                    DavPath::Principal(a.to_lowercase())
                }
                (Some(c), Some(a), None, ..) if c == "calendars" => DavPath::Home(a.to_lowercase()),
                (Some(c), Some(a), Some(col), None, _) if c == "calendars" => {
                    DavPath::Collection(a.to_lowercase(), col)
                }
                (Some(c), Some(a), Some(col), Some(obj), None) if c == "calendars" => {
                    DavPath::Object(a.to_lowercase(), col, obj)
                }
                (Some(b), Some(a), None, ..) if b == "addressbooks" => {
                    DavPath::BookHome(a.to_lowercase())
                }
                (Some(b), Some(a), Some(col), None, _) if b == "addressbooks" => {
                    DavPath::Book(a.to_lowercase(), col)
                }
                (Some(b), Some(a), Some(col), Some(obj), None) if b == "addressbooks" => {
                    DavPath::Card(a.to_lowercase(), col, obj)
                }
                _ => return Err(()),
            },
        )
    }

    /// The account address the path belongs to.
    pub fn owner(&self) -> Option<&str> {
        match self {
            DavPath::Root => None,
            DavPath::Principal(a) | DavPath::Home(a) | DavPath::BookHome(a) => Some(a),
            DavPath::Collection(a, _) | DavPath::Object(a, _, _) => Some(a),
            DavPath::Book(a, _) | DavPath::Card(a, _, _) => Some(a),
        }
    }
}

pub fn principal(address: &str) -> String {
    format!("{ROOT}principals/{}/", seg(address))
}

pub fn home(address: &str) -> String {
    format!("{ROOT}calendars/{}/", seg(address))
}

pub fn collection(address: &str, slug: &str) -> String {
    format!("{}{}/", home(address), seg(slug))
}

#[cfg(test)]
fn object(address: &str, slug: &str, name: &str) -> String {
    format!("{}{}", collection(address, slug), seg(name))
}

pub fn book_home(address: &str) -> String {
    format!("{ROOT}addressbooks/{}/", seg(address))
}

pub fn book(address: &str, slug: &str) -> String {
    format!("{}{}/", book_home(address), seg(slug))
}

pub fn card(address: &str, slug: &str, name: &str) -> String {
    format!("{}{}", book(address, slug), seg(name))
}

/// One segment of a path, percent-decoded once; refused when it decodes to something that
/// could reach past its place.
fn segment(raw: &str) -> Result<String, ()> {
    let decoded = percent_decode_str(raw).decode_utf8().map_err(|_| ())?;
    if decoded == "."
        || decoded == ".."
        || decoded.contains(['/', '\\', '\0'])
        || decoded.len() > 255
    {
        return Err(());
    }
    Ok(decoded.into_owned())
}

/// The object name an href in a multiget names, when it is in `collection_href`.
pub fn name_in(collection_href: &str, href: &str) -> Option<String> {
    // Clients send absolute URLs or absolute paths.
    let path = match href.find("://") {
        Some(i) => &href[href[i + 3..].find('/').map_or(href.len(), |j| i + 3 + j)..],
        None => href,
    };
    // Most hrefs are the ones we wrote: the collection's own href and one segment. The same
    // answer as reading the whole path below, without building the collection's href again
    // for each of a multiget's hundreds.
    if let Some(rest) = path.strip_prefix(collection_href)
        && !rest.is_empty()
        && !rest.contains('/')
    {
        return segment(rest).ok();
    }
    match DavPath::parse(path).ok()? {
        DavPath::Object(a, c, o) if collection(&a, &c) == collection_href => Some(o),
        DavPath::Card(a, c, o) if book(&a, &c) == collection_href => Some(o),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_and_refuse_escapes() {
        assert_eq!(DavPath::parse("/dav/"), Ok(DavPath::Root));
        assert_eq!(DavPath::parse("/dav"), Ok(DavPath::Root));
        assert_eq!(
            DavPath::parse("/dav/calendars/Ann.Lee%40kaiser.org/calendar/x%20y.ics"),
            Ok(DavPath::Object(
                "ann.lee@kaiser.org".into(),
                "calendar".into(),
                "x y.ics".into()
            ))
        );
        for bad in [
            "/dav/calendars/a@x/../b@x/",
            "/dav/calendars/a@x/%2e%2e/",
            "/dav/calendars/a@x/c%2fd/",
            "/dav/calendars/a@x/c/d/e",
            "/dav/other/",
            "/davx/",
            "/dav/calendars/a@x/c%00/",
        ] {
            assert!(DavPath::parse(bad).is_err(), "{bad}");
        }
        let href = object("ann.lee@kaiser.org", "calendar", "a b.ics");
        assert_eq!(href, "/dav/calendars/ann.lee@kaiser.org/calendar/a%20b.ics");
        let col = collection("ann.lee@kaiser.org", "calendar");
        assert_eq!(name_in(&col, &href).as_deref(), Some("a b.ics"));
        // Another spelling of the same collection reads the same; what decodes past its
        // place, or lies in another collection, names nothing.
        let other_spelling =
            "https://mail.kaiser.org/dav/calendars/Ann.Lee%40kaiser.org/calendar/a%20b.ics";
        assert_eq!(name_in(&col, other_spelling).as_deref(), Some("a b.ics"));
        for bad in ["..", "%2e%2e", "a%2fb", "a%5cb", "%00"] {
            assert_eq!(name_in(&col, &format!("{col}{bad}")), None, "{bad}");
        }
        assert_eq!(name_in(&col, &format!("{col}x/y.ics")), None);
        assert_eq!(
            name_in(&col, "/dav/calendars/bob@kaiser.org/calendar/a.ics"),
            None
        );
        assert_eq!(
            name_in(&col, &format!("https://mail.kaiser.org{href}")).as_deref(),
            Some("a b.ics")
        );
        assert_eq!(
            name_in(&col, "/dav/calendars/bob@kaiser.org/calendar/x.ics"),
            None
        );
    }
}
