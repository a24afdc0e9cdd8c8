//! The XML of WebDAV (RFC 4918), CardDAV (RFC 6352) and sync-collection (RFC 6578), read and
//! written with quick-xml: request bodies are parsed strictly by namespace, and every text in
//! an answer goes through the writer's escaping.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

pub const DAV: &str = "DAV:";
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub const CALSERVER: &str = "http://calendarserver.org/ns/";

/// A property name: its namespace and local name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prop {
    pub ns: String,
    pub name: String,
}

impl Prop {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }
}

/// What a PROPFIND asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Wanted {
    /// Every property (also an empty body).
    All,
    /// The names only.
    Names,
    Props(Vec<Prop>),
}

/// A REPORT body.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    Multiget {
        props: Vec<Prop>,
        hrefs: Vec<String>,
    },
    Query {
        props: Vec<Prop>,
    },
    Sync {
        token: String,
        props: Vec<Prop>,
    },
}

/// One element of a body: its namespace, local name, children and text.
#[derive(Debug, Default)]
struct Node {
    ns: String,
    name: String,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn child(&self, ns: &str, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.ns == ns && c.name == name)
    }

    fn props(&self) -> Vec<Prop> {
        self.children
            .iter()
            .map(|c| Prop {
                ns: c.ns.clone(),
                name: c.name.clone(),
            })
            .collect()
    }
}

/// Deepest nesting a request body may have.
const MAX_DEPTH: usize = 16;
/// Most elements a request body may have.
const MAX_NODES: usize = 10_000;

/// Parses a whole body into a tree; `Err` says what is wrong for the client.
fn parse(body: &str) -> Result<Node, String> {
    let mut reader = NsReader::from_str(body);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut count = 0;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("malformed XML: {e}"))?;
        let ns = match ns {
            ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(prefix) => {
                return Err(format!(
                    "unknown namespace prefix {:?}",
                    String::from_utf8_lossy(&prefix)
                ));
            }
        };
        match event {
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                let _ = e;
                return Err("more than one root element".into());
            }
            Event::Start(e) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_NODES {
                    return Err("the body is nested too deeply or too large".into());
                }
                stack.push(Node {
                    ns,
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Node::default()
                });
            }
            Event::Empty(e) => {
                count += 1;
                if count > MAX_NODES {
                    return Err("the body is too large".into());
                }
                let node = Node {
                    ns,
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Node::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("an end tag without its start")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                if let Some(node) = stack.last_mut() {
                    let text = t.decode().map_err(|e| format!("unreadable text: {e}"))?;
                    let text = quick_xml::escape::unescape(&text)
                        .map_err(|e| format!("unreadable text: {e}"))?;
                    node.text.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                // A character or predefined entity reference inside text.
                if let Some(node) = stack.last_mut() {
                    let name = r.decode().map_err(|e| format!("unreadable text: {e}"))?;
                    let entity = format!("&{name};");
                    let text = quick_xml::escape::unescape(&entity)
                        .map_err(|e| format!("unknown entity: {e}"))?;
                    node.text.push_str(&text);
                }
            }
            Event::CData(c) => {
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::DocType(_) => return Err("document types are not accepted".into()),
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("the body ends inside an element".into());
    }
    root.ok_or_else(|| "no root element".into())
}

/// A PROPFIND body (an empty one asks for every property).
pub fn propfind(body: &str) -> Result<Wanted, String> {
    if body.trim().is_empty() {
        return Ok(Wanted::All);
    }
    let root = parse(body)?;
    if !(root.ns == DAV && root.name == "propfind") {
        return Err("expected DAV:propfind".into());
    }
    if root.child(DAV, "allprop").is_some() {
        return Ok(Wanted::All);
    }
    if root.child(DAV, "propname").is_some() {
        return Ok(Wanted::Names);
    }
    match root.child(DAV, "prop") {
        Some(prop) => Ok(Wanted::Props(prop.props())),
        None => Err("DAV:propfind needs prop, allprop or propname".into()),
    }
}

/// A REPORT body.
pub fn report(body: &str) -> Result<Report, String> {
    let root = parse(body)?;
    let props = root.child(DAV, "prop").map(Node::props).unwrap_or_default();
    match (root.ns.as_str(), root.name.as_str()) {
        (CARDDAV, "addressbook-multiget") => Ok(Report::Multiget {
            props,
            hrefs: root
                .children
                .iter()
                .filter(|c| c.ns == DAV && c.name == "href")
                .map(|c| c.text.trim().to_string())
                .collect(),
        }),
        (CARDDAV, "addressbook-query") => Ok(Report::Query { props }),
        (DAV, "sync-collection") => Ok(Report::Sync {
            token: root
                .child(DAV, "sync-token")
                .map(|t| t.text.trim().to_string())
                .unwrap_or_default(),
            props,
        }),
        _ => Err(format!("unsupported report {}:{}", root.ns, root.name)),
    }
}

/// The value of one property in an answer.
pub enum Value {
    Text(String),
    /// An `href` element holding this path.
    Href(String),
    /// Empty elements, by (namespace, name).
    Empty(Vec<(&'static str, &'static str)>),
    /// `supported-report-set`: one `supported-report/report/<name>` per report.
    Reports(Vec<(&'static str, &'static str)>),
    /// `current-user-privilege-set`: one `privilege/<name>` per privilege.
    Privileges(Vec<&'static str>),
    /// `supported-address-data`: the vCard versions served.
    AddressDataTypes,
}

/// One `response` of a multistatus: an href and its properties (found with their values,
/// and those not found), or just a status.
pub struct Response {
    pub href: String,
    pub found: Vec<(Prop, Value)>,
    pub missing: Vec<Prop>,
    pub status: Option<u16>,
}

fn prefix(ns: &str) -> &'static str {
    match ns {
        DAV => "D",
        CARDDAV => "CR",
        CALSERVER => "CS",
        _ => "X",
    }
}

/// The element name of a property, with the prefix the answer declares (or its own `xmlns`).
fn qualified(prop: &Prop) -> (String, Option<(String, String)>) {
    let p = prefix(&prop.ns);
    if p == "X" {
        (
            prop.name.clone(),
            Some(("xmlns".to_string(), prop.ns.clone())),
        )
    } else {
        (format!("{p}:{}", prop.name), None)
    }
}

fn status_line(code: u16) -> String {
    let reason = match code {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "",
    };
    format!("HTTP/1.1 {code} {reason}")
}

fn write_value(w: &mut Writer<Vec<u8>>, value: &Value) -> io::Result<()> {
    match value {
        Value::Text(t) => {
            w.write_event(Event::Text(BytesText::new(t)))?;
        }
        Value::Href(h) => {
            w.create_element("D:href")
                .write_text_content(BytesText::new(h))?;
        }
        Value::Empty(names) => {
            for (ns, name) in names {
                w.create_element(format!("{}:{name}", prefix(ns)).as_str())
                    .write_empty()?;
            }
        }
        Value::Reports(names) => {
            for (ns, name) in names {
                w.create_element("D:supported-report")
                    .write_inner_content(|w| {
                        w.create_element("D:report").write_inner_content(|w| {
                            w.create_element(format!("{}:{name}", prefix(ns)).as_str())
                                .write_empty()?;
                            Ok(())
                        })?;
                        Ok(())
                    })?;
            }
        }
        Value::Privileges(names) => {
            for name in names {
                w.create_element("D:privilege").write_inner_content(|w| {
                    w.create_element(format!("D:{name}").as_str())
                        .write_empty()?;
                    Ok(())
                })?;
            }
        }
        Value::AddressDataTypes => {
            for version in ["4.0", "3.0"] {
                w.create_element("CR:address-data-type")
                    .with_attribute(("content-type", "text/vcard"))
                    .with_attribute(("version", version))
                    .write_empty()?;
            }
        }
    }
    Ok(())
}

fn write_prop(w: &mut Writer<Vec<u8>>, prop: &Prop, value: Option<&Value>) -> io::Result<()> {
    let (name, xmlns) = qualified(prop);
    let mut el = w.create_element(name.as_str());
    if let Some((k, v)) = &xmlns {
        el = el.with_attribute((k.as_str(), v.as_str()));
    }
    match value {
        None => {
            el.write_empty()?;
        }
        Some(value) => {
            el.write_inner_content(|w| write_value(w, value))?;
        }
    }
    Ok(())
}

fn write_responses(
    w: &mut Writer<Vec<u8>>,
    responses: &[Response],
    sync_token: Option<&str>,
) -> io::Result<()> {
    for r in responses {
        w.create_element("D:response").write_inner_content(|w| {
            w.create_element("D:href")
                .write_text_content(BytesText::new(&r.href))?;
            if let Some(code) = r.status {
                w.create_element("D:status")
                    .write_text_content(BytesText::new(&status_line(code)))?;
                return Ok(());
            }
            if !r.found.is_empty() {
                w.create_element("D:propstat").write_inner_content(|w| {
                    w.create_element("D:prop").write_inner_content(|w| {
                        for (prop, value) in &r.found {
                            write_prop(w, prop, Some(value))?;
                        }
                        Ok(())
                    })?;
                    w.create_element("D:status")
                        .write_text_content(BytesText::new(&status_line(200)))?;
                    Ok(())
                })?;
            }
            if !r.missing.is_empty() {
                w.create_element("D:propstat").write_inner_content(|w| {
                    w.create_element("D:prop").write_inner_content(|w| {
                        for prop in &r.missing {
                            write_prop(w, prop, None)?;
                        }
                        Ok(())
                    })?;
                    w.create_element("D:status")
                        .write_text_content(BytesText::new(&status_line(404)))?;
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    }
    if let Some(token) = sync_token {
        w.create_element("D:sync-token")
            .write_text_content(BytesText::new(token))?;
    }
    Ok(())
}

/// A `207 Multi-Status` body.
pub fn multistatus(responses: &[Response], sync_token: Option<&str>) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = w
        .create_element("D:multistatus")
        .with_attribute(("xmlns:D", DAV))
        .with_attribute(("xmlns:CR", CARDDAV))
        .with_attribute(("xmlns:CS", CALSERVER))
        .write_inner_content(|w| write_responses(w, responses, sync_token));
    finish(w)
}

/// A DAV error body: `<D:error><ns:condition/></D:error>` with a description.
pub fn error(ns: &'static str, condition: &'static str, description: &str) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    let _ = w
        .create_element("D:error")
        .with_attribute(("xmlns:D", DAV))
        .with_attribute(("xmlns:CR", CARDDAV))
        .write_inner_content(|w| {
            w.create_element(format!("{}:{condition}", prefix(ns)).as_str())
                .write_empty()?;
            w.create_element("D:responsedescription")
                .write_text_content(BytesText::new(description))?;
            Ok(())
        });
    finish(w)
}

fn finish(w: Writer<Vec<u8>>) -> Vec<u8> {
    let mut out = br#"<?xml version="1.0" encoding="utf-8"?>"#.to_vec();
    out.extend(w.into_inner());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_clients_send() {
        let body = r#"<?xml version="1.0"?><A:propfind xmlns:A="DAV:"><A:prop>
            <A:current-user-principal/><B:addressbook-home-set xmlns:B="urn:ietf:params:xml:ns:carddav"/>
            <C:getctag xmlns:C="http://calendarserver.org/ns/"/><X:odd xmlns:X="urn:x"/></A:prop></A:propfind>"#;
        let Wanted::Props(props) = propfind(body).unwrap() else {
            panic!("props");
        };
        assert!(props[0].is(DAV, "current-user-principal"));
        assert!(props[1].is(CARDDAV, "addressbook-home-set"));
        assert!(props[2].is(CALSERVER, "getctag"));
        assert!(props[3].is("urn:x", "odd"));
        assert_eq!(propfind("").unwrap(), Wanted::All);

        let sync = r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>urn:contact-vault:sync:3</d:sync-token>
            <d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#;
        assert!(matches!(report(sync).unwrap(),
            Report::Sync { token, props } if token == "urn:contact-vault:sync:3" && props.len() == 1));
        let multiget = r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
            <D:prop><D:getetag/><C:address-data/></D:prop><D:href>/dav/a/b.vcf</D:href><D:href>/x&amp;y.vcf</D:href></C:addressbook-multiget>"#;
        let Report::Multiget { hrefs, .. } = report(multiget).unwrap() else {
            panic!("multiget");
        };
        assert_eq!(hrefs, ["/dav/a/b.vcf", "/x&y.vcf"]);
    }

    #[test]
    fn refuses_what_is_not_a_dav_body() {
        for bad in [
            "<propfind>",
            "<D:propfind xmlns:D=\"DAV:\"><D:prop></D:propfind>",
            "<Q:propfind xmlns:D=\"DAV:\"/>",
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><D:propfind xmlns:D=\"DAV:\"/>",
            "<D:propfind xmlns:D=\"DAV:\"/><D:propfind xmlns:D=\"DAV:\"/>",
            "<D:propfind xmlns:D=\"DAV:\"/>",
            "not xml at all",
        ] {
            assert!(propfind(bad).is_err(), "{bad}");
        }
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(propfind(&deep).is_err());
    }

    #[test]
    fn answers_escape_what_they_carry() {
        let body = multistatus(
            &[Response {
                href: "/dav/<x>&.vcf".into(),
                found: vec![(
                    Prop {
                        ns: DAV.into(),
                        name: "displayname".into(),
                    },
                    Value::Text("Ann & <Bob>".into()),
                )],
                missing: vec![Prop {
                    ns: "urn:x".into(),
                    name: "odd".into(),
                }],
                status: None,
            }],
            Some("urn:contact-vault:sync:1"),
        );
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("Ann &amp; &lt;Bob&gt;"), "{text}");
        assert!(text.contains("/dav/&lt;x&gt;&amp;.vcf"), "{text}");
        assert!(text.contains(r#"<odd xmlns="urn:x"/>"#), "{text}");
        assert!(text.contains("HTTP/1.1 404 Not Found"), "{text}");
    }
}
