//! Property and element names: a namespace and a local name. The namespaces are the four
//! that CalDAV and CardDAV clients use (DAV:, CalDAV, CardDAV, and Apple's CalendarServer
//! and iCal extensions for ctag and calendar colour).

use std::borrow::Cow;

pub mod ns {
    pub const DAV: &str = "DAV:";
    pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
    pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
    pub const CALSERVER: &str = "http://calendarserver.org/ns/";
    pub const APPLE: &str = "http://apple.com/ns/ical/";
}

/// An element or property name. The names this server knows are borrowed (`Name::dav` and
/// the like), so an answer of 500 objects with a few properties each allocates no name;
/// names read from a request are owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    pub ns: Cow<'static, str>,
    pub local: Cow<'static, str>,
}

impl Name {
    pub fn new(ns: &str, local: &str) -> Name {
        Name {
            ns: Cow::Owned(ns.to_string()),
            local: Cow::Owned(local.to_string()),
        }
    }

    /// A name read from a request: the namespaces this server knows are borrowed, not
    /// kept once per element (a multiget names hundreds of `DAV:href`s).
    pub fn read(ns: String, local: String) -> Name {
        let ns = match ns.as_str() {
            ns::DAV => Cow::Borrowed(ns::DAV),
            ns::CALDAV => Cow::Borrowed(ns::CALDAV),
            ns::CARDDAV => Cow::Borrowed(ns::CARDDAV),
            _ => Cow::Owned(ns),
        };
        Name {
            ns,
            local: Cow::Owned(local),
        }
    }

    /// A name known when the server is built.
    pub const fn known(ns: &'static str, local: &'static str) -> Name {
        Name {
            ns: Cow::Borrowed(ns),
            local: Cow::Borrowed(local),
        }
    }

    pub const fn dav(local: &'static str) -> Name {
        Name::known(ns::DAV, local)
    }

    pub const fn caldav(local: &'static str) -> Name {
        Name::known(ns::CALDAV, local)
    }

    pub const fn carddav(local: &'static str) -> Name {
        Name::known(ns::CARDDAV, local)
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// The prefix this crate writes the namespace with (any other namespace is declared on
    /// the element itself).
    pub(crate) fn prefix(&self) -> Option<&'static str> {
        match self.ns.as_ref() {
            ns::DAV => Some("d"),
            ns::CALDAV => Some("c"),
            ns::CARDDAV => Some("card"),
            ns::CALSERVER => Some("cs"),
            ns::APPLE => Some("ical"),
            _ => None,
        }
    }
}
