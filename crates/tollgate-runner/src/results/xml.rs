//! A results file as a tree of elements: small files, read whole, walked by the formats'
//! readers. Text keeps character data, CDATA and entities, resolved.

use quick_xml::events::{BytesStart, Event};

#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    pub fn children<'e>(&'e self, name: &'e str) -> impl Iterator<Item = &'e Element> + 'e {
        self.children.iter().filter(move |child| child.name == name)
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }
}

/// The root element of `text`, or what is wrong with it (with the byte offset).
pub fn parse(text: &str) -> Result<Element, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut open: Vec<Element> = Vec::new();
    let at = |reader: &quick_xml::Reader<&[u8]>, error: &dyn std::fmt::Display| {
        format!("at byte {}: {error}", reader.buffer_position())
    };
    loop {
        let event = reader.read_event().map_err(|error| at(&reader, &error))?;
        match event {
            Event::Start(start) => open.push(element(&start).map_err(|e| at(&reader, &e))?),
            Event::Empty(start) => {
                let element = element(&start).map_err(|e| at(&reader, &e))?;
                match open.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Ok(element),
                }
            }
            Event::End(_) => {
                let done = open.pop().ok_or_else(|| at(&reader, &"an end without a start"))?;
                match open.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Text(text) => {
                if let Some(current) = open.last_mut() {
                    current.text.push_str(&text.decode().map_err(|e| at(&reader, &e))?);
                }
            }
            Event::CData(data) => {
                if let Some(current) = open.last_mut() {
                    current.text.push_str(&data.decode().map_err(|e| at(&reader, &e))?);
                }
            }
            Event::GeneralRef(reference) => {
                let Some(current) = open.last_mut() else { continue };
                match reference.resolve_char_ref().map_err(|e| at(&reader, &e))? {
                    Some(character) => current.text.push(character),
                    None => {
                        let name = reference.decode().map_err(|e| at(&reader, &e))?;
                        let resolved = quick_xml::escape::resolve_predefined_entity(&name);
                        current.text.push_str(resolved.unwrap_or_default());
                    }
                }
            }
            Event::Eof => return Err(at(&reader, &"the file ends before its root element does")),
            _ => {}
        }
    }
}

fn element(start: &BytesStart) -> Result<Element, quick_xml::Error> {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(quick_xml::Error::from)?;
        let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
        attributes.push((key, attribute.unescape_value()?.into_owned()));
    }
    Ok(Element { name, attributes, ..Element::default() })
}
