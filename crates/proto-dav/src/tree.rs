//! A request body read into a small tree of elements with resolved namespaces, on quick-xml.
//! WebDAV bodies are small and are read whole (the web layer bounds their size); a tree keeps
//! the typed readers in `request` simple. Bounded: no DTD (so no entity expansion), at most
//! 64 levels and 20,000 elements. Besides the typed view (children, text), each element keeps
//! its content in document order, its attributes with their namespaces and the `xml:lang` in
//! scope, so that a dead property's value (any XML a client sets with PROPPATCH) can be stored
//! and written back as it came (`inner_xml`).

use crate::names::Name;
use quick_xml::events::Event;
use quick_xml::name::{PrefixDeclaration, ResolveResult};
use quick_xml::reader::NsReader;

const MAX_DEPTH: usize = 64;
const MAX_ELEMENTS: usize = 20_000;
/// The longest namespace name accepted (the ones DAV uses are under 40 bytes).
const MAX_NAMESPACE: usize = 256;
/// The longest `xml:lang` accepted (language tags are rarely over 20 bytes).
const MAX_LANG: usize = 64;

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

/// The namespace the `xml` prefix is bound to (`xml:lang`, `xml:space`).
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: Name,
    /// Attributes with their namespace (empty for an unprefixed one); namespace declarations
    /// are not attributes.
    pub attrs: Vec<(Name, String)>,
    pub children: Vec<Element>,
    /// The text directly inside, entities resolved.
    pub text: String,
    /// The content in document order: text runs and, by index into `children`, elements.
    pub content: Vec<Node>,
    /// The `xml:lang` in scope (the element's own or an ancestor's).
    pub lang: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Text(String),
    Child(usize),
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

    /// An unprefixed attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.ns.is_empty() && k.local == name)
            .map(|(_, v)| v.as_str())
    }

    fn push_text(&mut self, t: &str) {
        self.text.push_str(t);
        match self.content.last_mut() {
            Some(Node::Text(run)) => run.push_str(t),
            _ => self.content.push(Node::Text(t.to_string())),
        }
    }

    fn push_child(&mut self, child: Element) {
        self.content.push(Node::Child(self.children.len()));
        self.children.push(child);
    }

    /// The content as self-contained XML: every element declares the namespace it is in
    /// (prefix `v`, or none for an element in no namespace; the writer of the enclosing
    /// answer declares no default namespace), namespaced attributes declare theirs, text is
    /// escaped. Parsed again inside any element, it reads as the same names and text.
    pub fn inner_xml(&self) -> String {
        let mut out = String::new();
        self.write_content(&mut out);
        out
    }

    fn write_content(&self, out: &mut String) {
        for node in &self.content {
            match node {
                Node::Text(t) => out.push_str(&quick_xml::escape::escape(t.as_str())),
                Node::Child(i) => self.children[*i].write(out),
            }
        }
    }

    fn write(&self, out: &mut String) {
        let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
        let tag = if self.name.ns.is_empty() {
            self.name.local.to_string()
        } else {
            format!("v:{}", self.name.local)
        };
        out.push('<');
        out.push_str(&tag);
        if !self.name.ns.is_empty() {
            out.push_str(&format!(" xmlns:v=\"{}\"", esc(&self.name.ns)));
        }
        for (i, (k, v)) in self.attrs.iter().enumerate() {
            match k.ns.as_ref() {
                "" => out.push_str(&format!(" {}=\"{}\"", k.local, esc(v))),
                XML_NS => out.push_str(&format!(" xml:{}=\"{}\"", k.local, esc(v))),
                ns => out.push_str(&format!(
                    " xmlns:a{i}=\"{}\" a{i}:{}=\"{}\"",
                    esc(ns),
                    k.local,
                    esc(v)
                )),
            }
        }
        if self.content.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        self.write_content(out);
        out.push_str(&format!("</{tag}>"));
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
                    let mut lang = stack.last().and_then(|p| p.lang.clone());
                    for a in e.attributes() {
                        let a = a.map_err(|e| XmlError::Malformed(e.to_string()))?;
                        let value = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map_err(|e| XmlError::Malformed(e.to_string()))?
                            .into_owned();
                        match a.key.as_namespace_binding() {
                            // Namespaces in XML 1.0 section 3: a prefix cannot be undeclared.
                            Some(PrefixDeclaration::Named(_)) if value.is_empty() => {
                                return Err(XmlError::Malformed(
                                    "a namespace prefix declared as empty".into(),
                                ));
                            }
                            Some(_) => continue,
                            None => {}
                        }
                        let (resolved, key) = reader.resolver().resolve_attribute(a.key);
                        let key = key.as_ref().to_string();
                        if !valid_name(&key) {
                            return Err(XmlError::Malformed(format!(
                                "'{key}' is not an attribute name"
                            )));
                        }
                        let ans = match resolved {
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
                        if ans == XML_NS && key == "lang" {
                            // Copied into every element below it: a language tag only (BCP
                            // 47's letters, digits and hyphens), short, or one long value
                            // over thousands of elements would take gigabytes.
                            if value.len() > MAX_LANG
                                || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                            {
                                return Err(XmlError::Malformed(
                                    "xml:lang is not a language tag".into(),
                                ));
                            }
                            lang = Some(value.clone());
                        }
                        attrs.push((Name::read(ans, key), value));
                    }
                    let el = Element {
                        name: Name::read(ns, local),
                        attrs,
                        children: Vec::new(),
                        text: String::new(),
                        content: Vec::new(),
                        lang,
                    };
                    if matches!(event, Event::Start(_)) {
                        stack.push(el);
                    } else {
                        match stack.last_mut() {
                            Some(parent) => parent.push_child(el),
                            None => return Ok(el),
                        }
                    }
                }
                Event::End(_) => {
                    let Some(done) = stack.pop() else {
                        return Err(XmlError::Malformed("an end tag without a start".into()));
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.push_child(done),
                        None => return Ok(done),
                    }
                }
                Event::Text(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.push_text(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.push_text(&t.xml10_content());
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
                        top.push_text(c.encode_utf8(&mut [0; 4]));
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
        assert!(Element::parse("<a xmlns:p=''/>").is_err());
        let long = format!("<a xml:lang='{}'><b/></a>", "x".repeat(65));
        assert!(Element::parse(&long).is_err());
        assert!(Element::parse("<a xml:lang='en&lt;'/>").is_err());
        assert!(Element::parse("<a xml:lang='en-GB'/>").is_ok());
    }

    #[test]
    fn inner_xml_keeps_names_order_attributes_and_language() {
        let e = Element::parse(
            "<p:prop xmlns:p='urn:p' xml:lang='en'>one <q:x xmlns:q='urn:q' q:k='1' j='2'>\
             two</q:x> &lt;three&gt; <y xmlns=''/><z xml:lang='fr'>\u{10000}</z></p:prop>",
        )
        .unwrap();
        assert_eq!(e.lang.as_deref(), Some("en"));
        assert_eq!(e.children[2].lang.as_deref(), Some("fr"));
        let inner = e.inner_xml();
        let back = Element::parse(&format!("<w:wrap xmlns:w='urn:w'>{inner}</w:wrap>")).unwrap();
        assert_eq!(back.text, e.text);
        assert_eq!(back.children.len(), 3);
        assert_eq!(back.children[0].name, Name::new("urn:q", "x"));
        assert_eq!(
            back.children[0].attrs,
            vec![
                (Name::new("urn:q", "k"), "1".to_string()),
                (Name::new("", "j"), "2".to_string())
            ]
        );
        assert_eq!(back.children[1].name, Name::new("", "y"));
        assert_eq!(back.children[2].text, "\u{10000}");
        assert_eq!(back.children[2].lang.as_deref(), Some("fr"));
        assert_eq!(back.inner_xml(), inner, "written the same way again");
    }
}
