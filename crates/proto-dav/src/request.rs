//! Typed WebDAV requests read from their XML bodies: which properties a PROPFIND asks for,
//! what a PROPPATCH sets and removes, what a new collection is to be (MKCALENDAR, extended
//! MKCOL), and the REPORTs calendar and contacts clients send (sync-collection,
//! calendar-multiget, calendar-query, addressbook-multiget, addressbook-query, free-busy-query).

use crate::names::{Name, ns};
use crate::tree::{Element, XmlError};

/// The `Depth` header (RFC 4918 section 10.2); `infinity` is refused by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
    Infinity,
}

impl Depth {
    /// The header's value; `None` when absent, which RFC 4918 reads as infinity for PROPFIND.
    pub fn parse(header: Option<&str>) -> Result<Depth, XmlError> {
        match header.map(str::trim) {
            Some("0") => Ok(Depth::Zero),
            Some("1") => Ok(Depth::One),
            Some(v) if v.eq_ignore_ascii_case("infinity") => Ok(Depth::Infinity),
            None => Ok(Depth::Infinity),
            Some(_) => Err(XmlError::Unexpected("Depth: 0, 1 or infinity")),
        }
    }
}

/// What a PROPFIND (or a REPORT) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropRequest {
    /// Every property (an empty body too, RFC 4918 section 9.1).
    All,
    /// Only the names.
    Names,
    Props(Vec<Name>),
}

impl PropRequest {
    fn from_parent(parent: &Element) -> PropRequest {
        if parent.child(ns::DAV, "allprop").is_some() {
            PropRequest::All
        } else if parent.child(ns::DAV, "propname").is_some() {
            PropRequest::Names
        } else {
            match parent.child(ns::DAV, "prop") {
                Some(p) => PropRequest::Props(p.children.iter().map(|c| c.name.clone()).collect()),
                None => PropRequest::All,
            }
        }
    }
}

fn root<'a>(
    body: &'a Option<Element>,
    local: &'static str,
    ns_: &str,
) -> Result<&'a Element, XmlError> {
    match body {
        Some(e) if e.name.is(ns_, local) => Ok(e),
        _ => Err(XmlError::Unexpected(local)),
    }
}

fn parse_body(body: &str) -> Result<Option<Element>, XmlError> {
    if body.trim().is_empty() {
        return Ok(None);
    }
    Element::parse(body).map(Some)
}

pub fn parse_propfind(body: &str) -> Result<PropRequest, XmlError> {
    let tree = parse_body(body)?;
    if tree.is_none() {
        return Ok(PropRequest::All);
    }
    Ok(PropRequest::from_parent(root(&tree, "propfind", ns::DAV)?))
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PropPatch {
    /// In document order, as RFC 4918 section 9.2 says they apply.
    pub set: Vec<(Name, Element)>,
    pub remove: Vec<Name>,
    /// Sets and removals together in document order: a store of dead properties applies
    /// them one after the other (a set then a remove of one name leaves it removed).
    pub ops: Vec<PatchOp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOp {
    /// The property element as sent: its value is `inner_xml()`, its language `lang`.
    Set(Element),
    Remove(Name),
}

fn props_of(container: &Element, out: &mut Vec<(Name, Element)>) {
    for prop in container.children_named(ns::DAV, "prop") {
        for p in &prop.children {
            out.push((p.name.clone(), p.clone()));
        }
    }
}

pub fn parse_proppatch(body: &str) -> Result<PropPatch, XmlError> {
    let tree = parse_body(body)?;
    let r = root(&tree, "propertyupdate", ns::DAV)?;
    let mut patch = PropPatch::default();
    for op in &r.children {
        if op.name.is(ns::DAV, "set") {
            let mut set = Vec::new();
            props_of(op, &mut set);
            patch
                .ops
                .extend(set.iter().map(|(_, e)| PatchOp::Set(e.clone())));
            patch.set.extend(set);
        } else if op.name.is(ns::DAV, "remove") {
            let mut names = Vec::new();
            props_of(op, &mut names);
            patch
                .ops
                .extend(names.iter().map(|(n, _)| PatchOp::Remove(n.clone())));
            patch.remove.extend(names.into_iter().map(|(n, _)| n));
        }
    }
    Ok(patch)
}

/// A collection to make: MKCALENDAR (RFC 4791 section 5.3.1) or extended MKCOL (RFC 5689).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MkCollection {
    /// The `resourcetype` asked for (extended MKCOL); MKCALENDAR implies a calendar.
    pub resource_types: Vec<Name>,
    pub set: Vec<(Name, Element)>,
}

pub fn parse_mkcol(body: &str) -> Result<MkCollection, XmlError> {
    let tree = parse_body(body)?;
    let Some(r) = tree.as_ref() else {
        return Ok(MkCollection::default());
    };
    if !(r.name.is(ns::CALDAV, "mkcalendar") || r.name.is(ns::DAV, "mkcol")) {
        return Err(XmlError::Unexpected("mkcalendar or mkcol"));
    }
    let mut m = MkCollection::default();
    for op in r.children_named(ns::DAV, "set") {
        props_of(op, &mut m.set);
    }
    if let Some((_, rt)) = m.set.iter().find(|(n, _)| n.is(ns::DAV, "resourcetype")) {
        m.resource_types = rt.children.iter().map(|c| c.name.clone()).collect();
    }
    m.set.retain(|(n, _)| !n.is(ns::DAV, "resourcetype"));
    Ok(m)
}

/// One change of a CalendarServer `share` request (what Apple's clients POST to a calendar
/// to share it): the sharee's href (`mailto:` address), and the access to give, or none to
/// take it away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareChange {
    pub href: String,
    /// `Some(true)`: read-write; `Some(false)`: read; `None`: removed.
    pub write: Option<bool>,
}

/// Reads a CalendarServer `share` body: `set` elements (with `read` or `read-write`) and
/// `remove` elements, each naming a sharee by `href`.
pub fn parse_share(body: &str) -> Result<Vec<ShareChange>, XmlError> {
    let tree = parse_body(body)?;
    let Some(r) = tree.as_ref() else {
        return Err(XmlError::Unexpected("share"));
    };
    if !r.name.is(ns::CALSERVER, "share") {
        return Err(XmlError::Unexpected("share"));
    }
    let mut out = Vec::new();
    for c in &r.children {
        let set = c.name.is(ns::CALSERVER, "set");
        if !set && !c.name.is(ns::CALSERVER, "remove") {
            continue;
        }
        let Some(href) = c.child(ns::DAV, "href") else {
            return Err(XmlError::Unexpected("href"));
        };
        out.push(ShareChange {
            href: href.text.trim().to_string(),
            write: set.then(|| c.child(ns::CALSERVER, "read-write").is_some()),
        });
    }
    Ok(out)
}

/// `time-range` (RFC 4791 section 9.9), as seconds since the epoch; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// `text-match` (RFC 4791 section 9.7.5, RFC 6352 section 10.5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    pub text: String,
    pub negate: bool,
    /// `contains` (the default), `equals`, `starts-with`, `ends-with`.
    pub match_type: String,
    /// The collation asked for (RFC 4790 names); `i;ascii-casemap` when none is.
    pub collation: String,
}

/// A `comp-filter` (RFC 4791 section 9.7.1), nested as in the request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub comps: Vec<CompFilter>,
    pub props: Vec<PropFilter>,
}

/// A `prop-filter` of a calendar query (RFC 4791 section 9.7.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PropFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub text_match: Option<TextMatch>,
    pub params: Vec<ParamFilter>,
}

/// A `param-filter` (RFC 4791 section 9.7.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParamFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub text_match: Option<TextMatch>,
}

/// What `calendar-data` asks of the objects returned (RFC 4791 section 9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataShape {
    /// `expand`: each instance in the range as its own component, in UTC.
    Expand(TimeRange),
    /// `limit-recurrence-set`: the master and the overrides that meet the range.
    LimitRecurrenceSet(TimeRange),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// RFC 6578: the changes since `token` (empty: everything).
    SyncCollection {
        token: String,
        props: PropRequest,
        limit: Option<usize>,
    },
    /// RFC 4791 section 7.9 / RFC 6352 section 8.7.
    Multiget {
        props: PropRequest,
        hrefs: Vec<String>,
    },
    /// RFC 4791 section 7.8.
    CalendarQuery {
        props: PropRequest,
        filter: CompFilter,
        /// `calendar-data` asked for with `expand` or `limit-recurrence-set`.
        shape: Option<DataShape>,
        /// The `timezone` element (section 9.8): a VCALENDAR whose VTIMEZONE floating times
        /// are read in for this query, instead of the calendar's.
        timezone: Option<String>,
    },
    /// RFC 6352 section 8.6: `prop-filter`s on vCard properties, any or all of them.
    AddressbookQuery {
        props: PropRequest,
        filters: Vec<(String, TextMatch)>,
        all_of: bool,
        limit: Option<usize>,
    },
    /// RFC 4791 section 7.10.
    FreeBusy(TimeRange),
}

/// An iCalendar UTC time (`20261207T090000Z`, RFC 5545 section 3.3.5 form 2) as seconds
/// since the epoch.
pub fn parse_utc(text: &str) -> Option<i64> {
    let t = text.trim().strip_suffix('Z')?;
    if t.len() != 15 {
        return None;
    }
    let dt = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%S", t).ok()?;
    Some(
        dt.to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_second(),
    )
}

fn time_range(e: &Element) -> Result<TimeRange, XmlError> {
    let bound = |k: &str| -> Result<Option<i64>, XmlError> {
        match e.attr(k) {
            None => Ok(None),
            Some(v) => parse_utc(v)
                .map(Some)
                .ok_or(XmlError::Unexpected("time-range with UTC times")),
        }
    };
    let r = TimeRange {
        start: bound("start")?,
        end: bound("end")?,
    };
    if r.start.is_none() && r.end.is_none() {
        return Err(XmlError::Unexpected("time-range with a start or an end"));
    }
    Ok(r)
}

fn text_match(e: &Element) -> TextMatch {
    TextMatch {
        text: e.text.clone(),
        negate: e.attr("negate-condition") == Some("yes"),
        match_type: e.attr("match-type").unwrap_or("contains").to_string(),
        collation: e.attr("collation").unwrap_or("i;ascii-casemap").to_string(),
    }
}

fn prop_filter(c: &Element) -> Result<PropFilter, XmlError> {
    let mut f = PropFilter {
        name: c.attr("name").unwrap_or("").to_ascii_uppercase(),
        is_not_defined: c.child(ns::CALDAV, "is-not-defined").is_some(),
        time_range: c
            .child(ns::CALDAV, "time-range")
            .map(time_range)
            .transpose()?,
        text_match: c.child(ns::CALDAV, "text-match").map(text_match),
        params: Vec::new(),
    };
    for p in c.children_named(ns::CALDAV, "param-filter") {
        f.params.push(ParamFilter {
            name: p.attr("name").unwrap_or("").to_ascii_uppercase(),
            is_not_defined: p.child(ns::CALDAV, "is-not-defined").is_some(),
            text_match: p.child(ns::CALDAV, "text-match").map(text_match),
        });
    }
    Ok(f)
}

fn comp_filter(e: &Element, depth: usize) -> Result<CompFilter, XmlError> {
    if depth > 8 {
        return Err(XmlError::TooLarge);
    }
    let mut f = CompFilter {
        name: e.attr("name").unwrap_or("").to_ascii_uppercase(),
        ..CompFilter::default()
    };
    for c in &e.children {
        if c.name.is(ns::CALDAV, "is-not-defined") {
            f.is_not_defined = true;
        } else if c.name.is(ns::CALDAV, "time-range") {
            f.time_range = Some(time_range(c)?);
        } else if c.name.is(ns::CALDAV, "comp-filter") {
            f.comps.push(comp_filter(c, depth + 1)?);
        } else if c.name.is(ns::CALDAV, "prop-filter") {
            f.props.push(prop_filter(c)?);
        }
    }
    Ok(f)
}

fn limit_of(r: &Element) -> Option<usize> {
    r.child(ns::DAV, "limit")
        .or_else(|| r.child(ns::CARDDAV, "limit"))
        .and_then(|l| {
            l.child(ns::DAV, "nresults")
                .or_else(|| l.child(ns::CARDDAV, "nresults"))
        })
        .and_then(|n| n.text.trim().parse().ok())
}

/// The `expand` or `limit-recurrence-set` inside the request's `calendar-data`, if any.
fn data_shape(r: &Element) -> Result<Option<DataShape>, XmlError> {
    let Some(data) = r
        .child(ns::DAV, "prop")
        .and_then(|p| p.child(ns::CALDAV, "calendar-data"))
    else {
        return Ok(None);
    };
    let bounded = |e: &Element| -> Result<TimeRange, XmlError> {
        match time_range(e)? {
            r @ TimeRange {
                start: Some(_),
                end: Some(_),
            } => Ok(r),
            _ => Err(XmlError::Unexpected(
                "calendar-data range with a start and an end",
            )),
        }
    };
    if let Some(e) = data.child(ns::CALDAV, "expand") {
        return Ok(Some(DataShape::Expand(bounded(e)?)));
    }
    if let Some(e) = data.child(ns::CALDAV, "limit-recurrence-set") {
        return Ok(Some(DataShape::LimitRecurrenceSet(bounded(e)?)));
    }
    Ok(None)
}

pub fn parse_report(body: &str) -> Result<Report, XmlError> {
    let tree = parse_body(body)?;
    let Some(r) = tree.as_ref() else {
        return Err(XmlError::Unexpected("REPORT"));
    };
    let props = PropRequest::from_parent(r);
    if r.name.is(ns::DAV, "sync-collection") {
        return Ok(Report::SyncCollection {
            token: r
                .child(ns::DAV, "sync-token")
                .map(|t| t.text.trim().to_string())
                .unwrap_or_default(),
            props,
            limit: limit_of(r),
        });
    }
    if r.name.is(ns::CALDAV, "calendar-multiget") || r.name.is(ns::CARDDAV, "addressbook-multiget")
    {
        return Ok(Report::Multiget {
            props,
            hrefs: r
                .children_named(ns::DAV, "href")
                .map(|h| h.text.trim().to_string())
                .collect(),
        });
    }
    if r.name.is(ns::CALDAV, "calendar-query") {
        let filter = r
            .child(ns::CALDAV, "filter")
            .and_then(|f| f.child(ns::CALDAV, "comp-filter"))
            .map(|c| comp_filter(c, 0))
            .transpose()?
            .unwrap_or_default();
        return Ok(Report::CalendarQuery {
            props,
            filter,
            shape: data_shape(r)?,
            timezone: r
                .child(ns::CALDAV, "timezone")
                .map(|t| t.text.trim().to_string())
                .filter(|t| !t.is_empty()),
        });
    }
    if r.name.is(ns::CARDDAV, "addressbook-query") {
        let filter = r.child(ns::CARDDAV, "filter");
        let all_of = filter.and_then(|f| f.attr("test")) == Some("allof");
        let filters = filter
            .map(|f| {
                f.children_named(ns::CARDDAV, "prop-filter")
                    .filter_map(|p| {
                        let tm = p.child(ns::CARDDAV, "text-match")?;
                        Some((p.attr("name")?.to_ascii_uppercase(), text_match(tm)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        return Ok(Report::AddressbookQuery {
            props,
            filters,
            all_of,
            limit: limit_of(r),
        });
    }
    if r.name.is(ns::CALDAV, "free-busy-query") {
        let range = r
            .child(ns::CALDAV, "time-range")
            .ok_or(XmlError::Unexpected("free-busy-query with a time-range"))?;
        return Ok(Report::FreeBusy(time_range(range)?));
    }
    Err(XmlError::Unexpected("supported REPORT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_read_as_clients_send_them() {
        let q = r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
          <d:prop><d:getetag/><c:calendar-data/></d:prop>
          <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">
            <c:time-range start="20261201T000000Z" end="20270101T000000Z"/>
          </c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#;
        let Report::CalendarQuery { props, filter, .. } = parse_report(q).unwrap() else {
            panic!("not a calendar-query");
        };
        assert_eq!(
            props,
            PropRequest::Props(vec![Name::dav("getetag"), Name::caldav("calendar-data")])
        );
        assert_eq!(filter.name, "VCALENDAR");
        let range = filter.comps[0].time_range.unwrap();
        assert_eq!(range.start, Some(1_796_083_200));
        assert_eq!(range.end, Some(1_798_761_600));
        let s = r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>t:5</d:sync-token>
            <d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#;
        assert!(
            matches!(parse_report(s), Ok(Report::SyncCollection { token, .. }) if token == "t:5")
        );
        assert!(parse_report("<x/>").is_err());
        assert!(parse_report("").is_err());
    }

    #[test]
    fn utc_times_and_depth() {
        assert_eq!(parse_utc("19700101T000000Z"), Some(0));
        assert_eq!(parse_utc("20000301T000000Z"), Some(951_868_800));
        assert_eq!(parse_utc("20261207T090000"), None);
        assert_eq!(parse_utc("20261307T090000Z"), None);
        assert_eq!(Depth::parse(Some("1")), Ok(Depth::One));
        assert_eq!(Depth::parse(None), Ok(Depth::Infinity));
        assert!(Depth::parse(Some("2")).is_err());
    }
}
