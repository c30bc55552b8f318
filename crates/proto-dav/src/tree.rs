//! A request body read into a small tree of elements with resolved namespaces, on quick-xml.
//! WebDAV bodies are small and are read whole (the web layer bounds their size); a tree keeps
//! the typed readers in `request` simple. Bounded: no DTD (so no entity expansion), at most
//! 64 levels and 20,000 elements.

use crate::names::Name;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

const MAX_DEPTH: usize = 64;
const MAX_ELEMENTS: usize = 20_000;
/// The longest namespace name accepted (the ones DAV uses are under 40 bytes).
const MAX_NAMESPACE: usize = 256;

/// An XML NCName, simply: letters, digits, `-`, `_`, `.`, not starting with a digit, `-` or
/// `.`, at most 128 bytes.
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && n.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
        && n.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: Name,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// The text directly inside, entities resolved.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the body is not well-formed XML: {0}")]
    Malformed(String),
    #[error(
        "the body nests deeper than {MAX_DEPTH} levels or has more than {MAX_ELEMENTS} elements"
    )]
    TooLarge,
    #[error("a document type declaration is not accepted")]
    Dtd,
    #[error("the body is not a {0} request")]
    Unexpected(&'static str),
}

impl Element {
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name.is(ns, local))
    }

    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name.is(ns, local))
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Reads `body` whole.
    pub fn parse(body: &str) -> Result<Element, XmlError> {
        let mut reader = NsReader::from_str(body);
        let mut stack: Vec<Element> = Vec::new();
        let mut count = 0usize;
        let bad = |e: quick_xml::Error| XmlError::Malformed(e.to_string());
        loop {
            let (resolved, event) = reader.read_resolved_event().map_err(bad)?;
            let ns = match resolved {
                // Every element keeps its namespace: one long declaration over thousands of
                // elements would otherwise multiply into gigabytes.
                ResolveResult::Bound(n) if n.0.len() > MAX_NAMESPACE => {
                    return Err(XmlError::TooLarge);
                }
                ResolveResult::Bound(n) => n.0.to_string(),
                ResolveResult::Unbound => String::new(),
                ResolveResult::Unknown(p) => {
                    return Err(XmlError::Malformed(format!(
                        "unknown namespace prefix '{p}'"
                    )));
                }
            };
            match event {
                Event::Start(_) | Event::Empty(_) if stack.len() >= MAX_DEPTH => {
                    return Err(XmlError::TooLarge);
                }
                Event::Start(ref e) | Event::Empty(ref e) => {
                    count += 1;
                    if count > MAX_ELEMENTS {
                        return Err(XmlError::TooLarge);
                    }
                    let local = e.local_name().as_ref().to_string();
                    // A name is written back in answers (unknown properties): only NCNames.
                    if !valid_name(&local) {
                        return Err(XmlError::Malformed(format!(
                            "'{local}' is not an element name"
                        )));
                    }
                    let mut attrs = Vec::new();
                    for a in e.attributes() {
                        let a = a.map_err(|e| XmlError::Malformed(e.to_string()))?;
                        let key = a.key.local_name().as_ref().to_string();
                        let value = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map_err(|e| XmlError::Malformed(e.to_string()))?
                            .into_owned();
                        attrs.push((key, value));
                    }
                    let el = Element {
                        name: Name { ns, local },
                        attrs,
                        children: Vec::new(),
                        text: String::new(),
                    };
                    if matches!(event, Event::Start(_)) {
                        stack.push(el);
                    } else {
                        match stack.last_mut() {
                            Some(parent) => parent.children.push(el),
                            None => return Ok(el),
                        }
                    }
                }
                Event::End(_) => {
                    let Some(done) = stack.pop() else {
                        return Err(XmlError::Malformed("an end tag without a start".into()));
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => return Ok(done),
                    }
                }
                Event::Text(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.xml10_content());
                    }
                }
                Event::GeneralRef(r) => {
                    let c = if r.is_char_ref() {
                        r.resolve_char_ref()
                            .map_err(|e| XmlError::Malformed(e.to_string()))?
                    } else {
                        quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                            .and_then(|s| s.chars().next())
                    };
                    let Some(c) = c else {
                        return Err(XmlError::Malformed("an unknown entity".into()));
                    };
                    if let Some(top) = stack.last_mut() {
                        top.text.push(c);
                    }
                }
                Event::DocType(_) => return Err(XmlError::Dtd),
                Event::Eof => {
                    return Err(XmlError::Malformed("the document ends early".into()));
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_entities_and_limits() {
        let e = Element::parse(
            r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><x:a xmlns:x="urn:x">1 &amp; &#50;</x:a><D:getetag/></D:prop></D:propfind>"#,
        )
        .unwrap();
        assert!(e.name.is("DAV:", "propfind"));
        let prop = e.child("DAV:", "prop").unwrap();
        assert_eq!(prop.children[0].name, Name::new("urn:x", "a"));
        assert_eq!(prop.children[0].text, "1 & 2");
        assert!(prop.children[1].name.is("DAV:", "getetag"));
        assert_eq!(
            Element::parse("<!DOCTYPE x [<!ENTITY a 'b'>]><x/>"),
            Err(XmlError::Dtd)
        );
        assert!(Element::parse("<a><b></a>").is_err());
        assert!(Element::parse("<a>").is_err());
        assert!(Element::parse("<p:a/>").is_err());
        let long = format!("<a xmlns='urn:{}'/>", "x".repeat(1000));
        assert_eq!(Element::parse(&long), Err(XmlError::TooLarge));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(Element::parse(&deep), Err(XmlError::TooLarge));
    }
}
