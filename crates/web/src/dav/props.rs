//! The properties of each kind of DAV resource, as PROPFIND and REPORT answers give them:
//! the root and the principal (what discovery reads: `current-user-principal`,
//! `calendar-home-set`, `calendar-user-address-set`), the calendar home, a calendar
//! (`resourcetype`, `supported-calendar-component-set`, `getctag`, `sync-token`, colour) and an
//! object (`getetag`, `calendar-data`). What a PROPPATCH may set is decided here too.

use super::auth::DavUser;
use super::path;
use carepost_calendar::{
    Access, Collection, CollectionProps, DIRECTORY_SLUG, DavObject, Kind, MAX_ATTENDEES,
    MAX_OBJECT_SIZE, OUTBOX_SLUG, quoted,
};
use carepost_proto_dav::{Element, Multistatus, Name, Prop, PropRequest, Value, ns};

fn privileges() -> Value {
    Value::Privileges(
        [
            "read",
            "write",
            "write-properties",
            "write-content",
            "bind",
            "unbind",
            "read-current-user-privilege-set",
        ]
        .into_iter()
        .map(Name::dav)
        .collect(),
    )
}

/// What one may do with an outbox (RFC 6638 section 6.1): send, and ask for free/busy.
fn outbox_privileges() -> Value {
    Value::Privileges(vec![
        Name::dav("read"),
        Name::dav("read-current-user-privilege-set"),
        Name::caldav("schedule-send"),
        Name::caldav("schedule-query-freebusy"),
    ])
}

/// Answers `request` from `available` (every property the resource has, in the order
/// allprop lists them; `extra` are those given only when asked for by name).
pub(super) fn answer(
    m: &mut Multistatus,
    href: &str,
    request: &PropRequest,
    available: Vec<Prop>,
    extra: Vec<Prop>,
) {
    match request {
        PropRequest::All => m.props(href, available, Vec::new()),
        PropRequest::Names => m.props(
            href,
            available
                .into_iter()
                .chain(extra)
                .map(|p| Prop::new(p.name, Value::Empty))
                .collect(),
            Vec::new(),
        ),
        PropRequest::Props(names) => {
            let mut all: Vec<Prop> = available.into_iter().chain(extra).collect();
            let mut found = Vec::new();
            let mut missing = Vec::new();
            for n in names {
                match all.iter().position(|p| &p.name == n) {
                    Some(i) => found.push(all.swap_remove(i)),
                    None => missing.push(n.clone()),
                }
            }
            m.props(href, found, missing)
        }
    }
}

fn common(user: &DavUser) -> Vec<Prop> {
    vec![
        Prop::new(
            Name::dav("current-user-principal"),
            Value::Href(path::principal(&user.address)),
        ),
        Prop::new(Name::dav("current-user-privilege-set"), privileges()),
    ]
}

pub fn root(m: &mut Multistatus, user: &DavUser, request: &PropRequest) {
    let mut props = vec![Prop::new(
        Name::dav("resourcetype"),
        Value::Elements(vec![Name::dav("collection")]),
    )];
    props.extend(common(user));
    answer(m, path::ROOT, request, props, Vec::new());
}

pub fn principal(m: &mut Multistatus, user: &DavUser, request: &PropRequest) {
    let mut props = vec![
        Prop::new(
            Name::dav("resourcetype"),
            Value::Elements(vec![Name::dav("principal")]),
        ),
        Prop::new(Name::dav("displayname"), Value::Text(user.address.clone())),
        Prop::new(
            Name::dav("principal-URL"),
            Value::Href(path::principal(&user.address)),
        ),
        Prop::new(
            Name::caldav("calendar-home-set"),
            Value::Href(path::home(&user.address)),
        ),
        Prop::new(
            Name::caldav("calendar-user-address-set"),
            Value::Hrefs(vec![
                format!("mailto:{}", user.address),
                path::principal(&user.address),
            ]),
        ),
        Prop::new(
            Name::caldav("calendar-user-type"),
            Value::Text("INDIVIDUAL".into()),
        ),
        Prop::new(
            Name::caldav("schedule-inbox-URL"),
            Value::Href(path::collection(
                &user.address,
                carepost_calendar::INBOX_SLUG,
            )),
        ),
        Prop::new(
            Name::caldav("schedule-outbox-URL"),
            Value::Href(path::collection(&user.address, OUTBOX_SLUG)),
        ),
        Prop::new(
            Name::carddav("addressbook-home-set"),
            Value::Href(path::book_home(&user.address)),
        ),
    ];
    props.extend(common(user));
    answer(
        m,
        &path::principal(&user.address),
        request,
        props,
        Vec::new(),
    );
}

pub fn home(m: &mut Multistatus, user: &DavUser, request: &PropRequest) {
    let mut props = vec![
        Prop::new(
            Name::dav("resourcetype"),
            Value::Elements(vec![Name::dav("collection")]),
        ),
        Prop::new(
            Name::dav("owner"),
            Value::Href(path::principal(&user.address)),
        ),
    ];
    props.extend(common(user));
    answer(m, &path::home(&user.address), request, props, Vec::new());
}

/// The scheduling outbox: where free/busy requests are posted (it holds nothing).
pub fn outbox(m: &mut Multistatus, user: &DavUser, request: &PropRequest) {
    let props = vec![
        Prop::new(
            Name::dav("resourcetype"),
            Value::Elements(vec![
                Name::dav("collection"),
                Name::caldav("schedule-outbox"),
            ]),
        ),
        Prop::new(Name::dav("displayname"), Value::Text("Outbox".into())),
        Prop::new(
            Name::dav("owner"),
            Value::Href(path::principal(&user.address)),
        ),
        Prop::new(
            Name::dav("current-user-principal"),
            Value::Href(path::principal(&user.address)),
        ),
        Prop::new(Name::dav("current-user-privilege-set"), outbox_privileges()),
    ];
    answer(
        m,
        &path::collection(&user.address, OUTBOX_SLUG),
        request,
        props,
        Vec::new(),
    );
}

/// A calendar, task list or inbox. `invites` are the sharees of an own calendar, for Apple's
/// sharing (calendarserver-sharing's `invite`): each `mailto:` href and whether it may write.
pub fn collection(
    m: &mut Multistatus,
    user: &DavUser,
    c: &Collection,
    invites: &[(String, bool)],
    request: &PropRequest,
) {
    let kind = match c.kind {
        Kind::Calendar => Name::caldav("calendar"),
        Kind::Inbox => Name::caldav("schedule-inbox"),
        Kind::AddressBook => Name::carddav("addressbook"),
    };
    let mut props = vec![
        Prop::new(
            Name::dav("resourcetype"),
            Value::Elements(vec![Name::dav("collection"), kind]),
        ),
        Prop::new(
            Name::dav("displayname"),
            Value::Text(c.display_name.clone()),
        ),
        Prop::new(
            Name::caldav("supported-calendar-component-set"),
            Value::Components(c.components.clone()),
        ),
        Prop::new(
            Name::new(ns::CALSERVER, "getctag"),
            Value::Text(c.sync_token()),
        ),
        Prop::new(Name::dav("sync-token"), Value::Text(c.sync_token())),
        Prop::new(
            Name::dav("owner"),
            Value::Href(path::principal(
                c.shared.as_ref().map_or(&user.address, |s| &s.owner),
            )),
        ),
    ];
    if !c.description.is_empty() {
        props.push(Prop::new(
            Name::caldav("calendar-description"),
            Value::Text(c.description.clone()),
        ));
    }
    if !c.color.is_empty() {
        props.push(Prop::new(
            Name::new(ns::APPLE, "calendar-color"),
            Value::Text(c.color.clone()),
        ));
    }
    match &c.shared {
        // Read-only for a grantee who may only read: clients then offer no editing.
        Some(s) if s.access == Access::Read => {
            props.push(Prop::new(
                Name::dav("current-user-principal"),
                Value::Href(path::principal(&user.address)),
            ));
            props.push(Prop::new(
                Name::dav("current-user-privilege-set"),
                Value::Privileges(vec![
                    Name::dav("read"),
                    Name::dav("read-current-user-privilege-set"),
                ]),
            ));
        }
        _ => props.extend(common(user)),
    }
    let mut extra = vec![
        Prop::new(
            Name::dav("supported-report-set"),
            Value::Reports(vec![
                Name::dav("sync-collection"),
                Name::caldav("calendar-multiget"),
                Name::caldav("calendar-query"),
            ]),
        ),
        Prop::new(
            Name::caldav("max-resource-size"),
            Value::Text(MAX_OBJECT_SIZE.to_string()),
        ),
        Prop::new(
            Name::caldav("max-attendees-per-instance"),
            Value::Text(MAX_ATTENDEES.to_string()),
        ),
        Prop::new(
            Name::caldav("schedule-calendar-transp"),
            Value::Elements(vec![Name::caldav("opaque")]),
        ),
        Prop::new(
            Name::caldav("supported-calendar-data"),
            Value::Text(String::new()),
        ),
    ];
    // Not part of allprop (RFC 4791 section 5.2.2): only when named.
    if !c.timezone.is_empty() {
        extra.push(Prop::new(
            Name::caldav("calendar-timezone"),
            Value::Text(c.timezone.clone()),
        ));
    }
    if c.kind == Kind::Calendar && c.shared.is_none() {
        extra.push(Prop::new(
            Name::new(ns::CALSERVER, "allowed-sharing-modes"),
            Value::Elements(vec![Name::new(ns::CALSERVER, "can-be-shared")]),
        ));
        extra.push(Prop::new(
            Name::new(ns::CALSERVER, "invite"),
            Value::Invite(invites.to_vec()),
        ));
    }
    answer(
        m,
        &path::collection(&user.address, &c.slug),
        request,
        props,
        extra,
    );
}

/// Whether the request names the property `ns:local` (calendar-data and address-data are
/// given only then, being left out of allprop).
pub fn asks_for(request: &PropRequest, ns: &str, local: &str) -> bool {
    matches!(request, PropRequest::Props(names) if names.iter().any(|n| n.is(ns, local)))
}

/// One object of collection `c`, whose href is `base` (`path::collection`, made once for all
/// the objects of an answer).
pub fn object(m: &mut Multistatus, base: &str, o: DavObject, request: &PropRequest) {
    // Only what is asked for is made (a multiget of 500 asks for two properties of each);
    // allprop and propname get all of them.
    let wants = |local: &str| match request {
        PropRequest::Props(names) => names.iter().any(|n| n.is(ns::DAV, local)),
        _ => true,
    };
    let mut props = Vec::with_capacity(4);
    if wants("resourcetype") {
        props.push(Prop::new(Name::dav("resourcetype"), Value::Empty));
    }
    if wants("getetag") {
        props.push(Prop::new(
            Name::dav("getetag"),
            Value::Text(quoted(&o.etag)),
        ));
    }
    if wants("getcontenttype") {
        props.push(Prop::new(
            Name::dav("getcontenttype"),
            Value::Text(format!(
                "text/calendar; charset=utf-8; component={}",
                o.component.to_ascii_lowercase()
            )),
        ));
    }
    if wants("getcontentlength") {
        props.push(Prop::new(
            Name::dav("getcontentlength"),
            Value::Text(o.size.to_string()),
        ));
    }
    // calendar-data is not part of allprop (RFC 4791 section 9.6): only when named, and
    // only then read (a sync asking for ETags alone reads no text).
    let named = asks_for(request, ns::CALDAV, "calendar-data");
    let href = format!("{base}{}", path::seg(&o.name));
    let data = if named {
        Value::Text(o.data)
    } else {
        Value::Empty
    };
    let extra = vec![Prop::new(Name::caldav("calendar-data"), data)];
    answer(m, &href, request, props, extra);
}

/// What a PROPPATCH (or a new collection's `set`) may change: the name, the description and
/// the colour. Returns them, the names set, and the names refused (anything else).
pub fn settable(
    set: &[(Name, Element)],
    remove: &[Name],
) -> (CollectionProps, Vec<Name>, Vec<Name>) {
    let mut props = CollectionProps::default();
    let (mut done, mut refused) = (Vec::new(), Vec::new());
    let values = set
        .iter()
        .map(|(n, e)| (n, Some(e.text.trim().to_string())))
        .chain(remove.iter().map(|n| (n, None)));
    for (name, value) in values {
        let v = value.unwrap_or_default();
        if name.is(ns::DAV, "displayname") {
            props.display_name = Some(v);
        } else if name.is(ns::CALDAV, "calendar-description")
            || name.is(ns::CARDDAV, "addressbook-description")
        {
            props.description = Some(v);
        } else if name.is(ns::APPLE, "calendar-color") {
            props.color = Some(v);
        } else if name.is(ns::CALDAV, "calendar-timezone") {
            // Kept when it is one VTIMEZONE (a zone carepost does not know reads floating
            // times as UTC).
            if !v.is_empty() && carepost_calendar::known_timezone(&v).is_err() {
                refused.push(name.clone());
                continue;
            }
            props.timezone = Some(v);
        } else if name.is(ns::CALDAV, "supported-calendar-component-set")
            || name.is(ns::APPLE, "calendar-order")
        {
            // Accepted and not kept: set once at creation (components) or not used yet.
        } else {
            refused.push(name.clone());
            continue;
        }
        done.push(name.clone());
    }
    (props, done, refused)
}

/// The components a new calendar is to hold (`supported-calendar-component-set`).
pub fn components_of(set: &[(Name, Element)]) -> Vec<String> {
    set.iter()
        .find(|(n, _)| n.is(ns::CALDAV, "supported-calendar-component-set"))
        .map(|(_, e)| {
            e.children_named(ns::CALDAV, "comp")
                .filter_map(|c| c.attr("name").map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The address-book home: the personal books and the directory.
pub fn book_home(m: &mut Multistatus, user: &DavUser, request: &PropRequest) {
    let mut props = vec![
        Prop::new(
            Name::dav("resourcetype"),
            Value::Elements(vec![Name::dav("collection")]),
        ),
        Prop::new(
            Name::dav("owner"),
            Value::Href(path::principal(&user.address)),
        ),
    ];
    props.extend(common(user));
    answer(
        m,
        &path::book_home(&user.address),
        request,
        props,
        Vec::new(),
    );
}

fn book_props(
    user: &DavUser,
    name: &str,
    description: &str,
    token: &str,
    read_only: bool,
) -> (Vec<Prop>, Vec<Prop>) {
    let mut props = vec![
        Prop::new(
            Name::dav("resourcetype"),
            Value::Elements(vec![Name::dav("collection"), Name::carddav("addressbook")]),
        ),
        Prop::new(Name::dav("displayname"), Value::Text(name.to_string())),
        Prop::new(
            Name::new(ns::CALSERVER, "getctag"),
            Value::Text(token.to_string()),
        ),
        Prop::new(Name::dav("sync-token"), Value::Text(token.to_string())),
        Prop::new(
            Name::dav("current-user-principal"),
            Value::Href(path::principal(&user.address)),
        ),
    ];
    if !description.is_empty() {
        props.push(Prop::new(
            Name::carddav("addressbook-description"),
            Value::Text(description.to_string()),
        ));
    }
    props.push(Prop::new(
        Name::dav("current-user-privilege-set"),
        if read_only {
            Value::Privileges(vec![
                Name::dav("read"),
                Name::dav("read-current-user-privilege-set"),
            ])
        } else {
            privileges()
        },
    ));
    let extra = vec![
        Prop::new(
            Name::dav("supported-report-set"),
            Value::Reports(vec![
                Name::dav("sync-collection"),
                Name::carddav("addressbook-multiget"),
                Name::carddav("addressbook-query"),
            ]),
        ),
        Prop::new(
            Name::carddav("max-resource-size"),
            Value::Text(MAX_OBJECT_SIZE.to_string()),
        ),
        Prop::new(
            Name::carddav("supported-address-data"),
            Value::Text(String::new()),
        ),
    ];
    (props, extra)
}

/// A personal address book.
pub fn book(m: &mut Multistatus, user: &DavUser, c: &Collection, request: &PropRequest) {
    let (mut props, extra) = book_props(
        user,
        &c.display_name,
        &c.description,
        &c.sync_token(),
        false,
    );
    props.push(Prop::new(
        Name::dav("owner"),
        Value::Href(path::principal(&user.address)),
    ));
    answer(
        m,
        &path::book(&user.address, &c.slug),
        request,
        props,
        extra,
    );
}

/// The organization's directory, read-only, with its position token.
pub fn directory_book(m: &mut Multistatus, user: &DavUser, token: &str, request: &PropRequest) {
    let (props, extra) = book_props(
        user,
        "Directory",
        "Everyone in the organization",
        token,
        true,
    );
    answer(
        m,
        &path::book(&user.address, DIRECTORY_SLUG),
        request,
        props,
        extra,
    );
}

/// A vCard, personal or of the directory.
pub fn card(m: &mut Multistatus, href: &str, etag: &str, data: &str, request: &PropRequest) {
    let props = vec![
        Prop::new(Name::dav("resourcetype"), Value::Empty),
        Prop::new(Name::dav("getetag"), Value::Text(quoted(etag))),
        Prop::new(
            Name::dav("getcontenttype"),
            Value::Text("text/vcard; charset=utf-8".into()),
        ),
        Prop::new(
            Name::dav("getcontentlength"),
            Value::Text(data.len().to_string()),
        ),
    ];
    // address-data is not part of allprop (RFC 6352 section 10.4): only when named.
    let extra = vec![Prop::new(
        Name::carddav("address-data"),
        Value::Text(data.to_string()),
    )];
    answer(m, href, request, props, extra);
}
