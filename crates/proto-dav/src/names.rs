//! Property and element names: a namespace and a local name. The namespaces are the four
//! that CalDAV and CardDAV clients use (DAV:, CalDAV, CardDAV, and Apple's CalendarServer
//! and iCal extensions for ctag and calendar colour).

pub mod ns {
    pub const DAV: &str = "DAV:";
    pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
    pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
    pub const CALSERVER: &str = "http://calendarserver.org/ns/";
    pub const APPLE: &str = "http://apple.com/ns/ical/";
}

/// An element or property name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    pub ns: String,
    pub local: String,
}

impl Name {
    pub fn new(ns: &str, local: &str) -> Name {
        Name {
            ns: ns.to_string(),
            local: local.to_string(),
        }
    }

    pub fn dav(local: &str) -> Name {
        Name::new(ns::DAV, local)
    }

    pub fn caldav(local: &str) -> Name {
        Name::new(ns::CALDAV, local)
    }

    pub fn carddav(local: &str) -> Name {
        Name::new(ns::CARDDAV, local)
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// The prefix this crate writes the namespace with (any other namespace is declared on
    /// the element itself).
    pub(crate) fn prefix(&self) -> Option<&'static str> {
        match self.ns.as_str() {
            ns::DAV => Some("d"),
            ns::CALDAV => Some("c"),
            ns::CARDDAV => Some("card"),
            ns::CALSERVER => Some("cs"),
            ns::APPLE => Some("ical"),
            _ => None,
        }
    }
}
