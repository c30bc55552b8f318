//! `calendar-query` (RFC 4791 section 7.8): the client's filter read into the calendar
//! crate's query (a collation or a filter it cannot answer is refused with the RFC's
//! precondition), the objects that meet it, and their data as asked: whole, or with
//! `expand` each instance in the range on its own.

use super::auth::DavUser;
use super::{MAX_REPORT, condition, dav_error, multistatus, over_limit, plain, props};
use axum::http::StatusCode;
use axum::response::Response;
use carepost_calendar::{
    Collation, Collection, CompQuery, ParamQuery, PropQuery, Range, TextQuery, Unanswerable,
};
use carepost_proto_dav::{
    CompFilter, DataShape, Multistatus, Name, PropFilter, PropRequest, TextMatch, TimeRange,
};

/// Filters nested or listed past this are refused (a query is a few dozen elements), as is
/// a text to match longer than a line of text.
const MAX_FILTER_NODES: usize = 200;
const MAX_MATCH_TEXT: usize = 1024;
/// The calendar data one answer carries at most, expanded or not (past it: 403
/// `number-of-matches-within-limits`), and the longest range an `expand` covers.
const MAX_ANSWER_BYTES: usize = 64 << 20;
const MAX_EXPAND_RANGE: i64 = 366 * 86_400;

fn range(r: TimeRange) -> Range {
    Range {
        start: r.start,
        end: r.end,
    }
}

/// The query the filter asks, or the precondition it breaks.
fn query_of(f: CompFilter) -> Result<CompQuery, Name> {
    let mut nodes = 0usize;
    let q = comp(f, &mut nodes)?;
    if nodes > MAX_FILTER_NODES {
        return Err(Name::caldav("supported-filter"));
    }
    q.check().map_err(|e| match e {
        Unanswerable::Invalid => Name::caldav("valid-filter"),
        Unanswerable::Unsupported => Name::caldav("supported-filter"),
    })?;
    Ok(q)
}

fn text(t: TextMatch) -> Result<TextQuery, Name> {
    if t.text.len() > MAX_MATCH_TEXT {
        return Err(Name::caldav("supported-filter"));
    }
    let collation = Collation::named(&t.collation).ok_or(Name::caldav("supported-collation"))?;
    Ok(TextQuery::new(&t.text, t.negate, collation))
}

fn comp(f: CompFilter, nodes: &mut usize) -> Result<CompQuery, Name> {
    *nodes += 1 + f.props.iter().map(|p| 1 + p.params.len()).sum::<usize>();
    if *nodes > MAX_FILTER_NODES {
        return Err(Name::caldav("supported-filter"));
    }
    let props = f.props.into_iter().map(prop).collect::<Result<_, _>>()?;
    let comps = f
        .comps
        .into_iter()
        .map(|c| comp(c, nodes))
        .collect::<Result<_, _>>()?;
    Ok(CompQuery {
        name: f.name,
        is_not_defined: f.is_not_defined,
        range: f.time_range.map(range),
        comps,
        props,
    })
}

fn prop(p: PropFilter) -> Result<PropQuery, Name> {
    let params = p
        .params
        .into_iter()
        .map(|p| {
            Ok(ParamQuery {
                name: p.name,
                is_not_defined: p.is_not_defined,
                text: p.text_match.map(text).transpose()?,
            })
        })
        .collect::<Result<_, Name>>()?;
    Ok(PropQuery {
        name: p.name,
        is_not_defined: p.is_not_defined,
        range: p.time_range.map(range),
        text: p.text_match.map(text).transpose()?,
        params,
    })
}

pub(super) async fn calendar_query(
    state: &crate::WebState,
    user: &DavUser,
    c: &Collection,
    props: PropRequest,
    filter: CompFilter,
    shape: Option<DataShape>,
) -> Response {
    let q = match query_of(filter) {
        Ok(q) => q,
        Err(name) => return condition(StatusCode::FORBIDDEN, name),
    };
    if let Some(DataShape::Expand(r)) = shape
        && r.end.unwrap_or(0).saturating_sub(r.start.unwrap_or(0)) > MAX_EXPAND_RANGE
    {
        return plain(
            StatusCode::BAD_REQUEST,
            "an expand range must be a year or less",
        );
    }
    let found = match state.calendars.query(c, &q, MAX_REPORT + 1).await {
        Ok(os) if os.len() > MAX_REPORT => return over_limit(),
        Ok(os) => os,
        Err(e) => return dav_error(e),
    };
    let base = super::path::collection(&user.address, &c.slug);
    let mut budget = MAX_ANSWER_BYTES;
    let mut m = Multistatus::new();
    for mut o in found {
        // `limit-recurrence-set` is answered with the whole object: the master and every
        // override, more than it asks, which RFC 4791 section 9.6.6 lets a client take.
        if let Some(DataShape::Expand(r)) = shape {
            match carepost_calendar::expanded(&o.data, range(r), c.zone, &mut budget) {
                Ok(Some(text)) => o.data = text,
                Ok(None) => {}
                Err(carepost_calendar::TooLarge) => return over_limit(),
            }
        } else {
            match budget.checked_sub(o.data.len()) {
                Some(left) => budget = left,
                None => return over_limit(),
            }
        }
        props::object(&mut m, &base, o, &props);
    }
    multistatus(&m)
}
