//! Builds a [`Node`] tree from granit-parser's events.
//!
//! We use granit-parser, the saphyr-parser fork under serde-saphyr, because it accepts what Qt's
//! files do and libyaml accepts: a flow list whose closing `]` sits at its key's indentation.
//! We build our own tree rather than use a serde layer because Coin's `!include` is a tag on a
//! scalar, and because we need every node's position for diagnostics. Repository YAML is
//! untrusted: aliases are copied under a node budget (an alias bomb stops with an error, not an
//! out-of-memory kill) and nesting is bounded (a deep tree would overflow the stack when
//! dropped or walked).

use std::collections::HashMap;

use granit_parser::{Event, Parser, Span};

use super::node::{Node, Scalar, ScalarStyle, Value};
use crate::diagnostic::Position;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Nodes in the whole document after aliases are expanded.
    pub max_nodes: usize,
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        // The largest Coin file has a few thousand nodes.
        Limits { max_nodes: 200_000, max_depth: 128 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub position: Position,
    pub message: String,
}

pub fn parse(bytes: &[u8], limits: Limits) -> Result<Node, YamlError> {
    let text = std::str::from_utf8(bytes).map_err(|e| YamlError {
        position: position_of_offset(bytes, e.valid_up_to()),
        message: "the file is not valid UTF-8".to_owned(),
    })?;
    let mut builder = Builder { limits, ..Builder::default() };
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| YamlError {
            position: Position::new(line(e.marker().line()), line(e.marker().col() + 1)),
            message: e.info().to_owned(),
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.root.unwrap_or_else(|| Node {
        value: Value::Scalar(Scalar { text: String::new(), style: ScalarStyle::Plain }),
        position: Position::new(1, 1),
        tag: None,
        anchored: false,
    }))
}

#[derive(Default)]
struct Builder {
    limits: Limits,
    stack: Vec<Frame>,
    /// Completed anchored nodes and their sizes, by saphyr's anchor id.
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    root: Option<Node>,
}

struct Frame {
    start: Position,
    tag: Option<String>,
    anchor: usize,
    /// Nodes in this container so far, including its own.
    size: usize,
    kind: FrameKind,
}

enum FrameKind {
    Seq(Vec<Node>),
    Map { entries: Vec<(Node, Node)>, key: Option<Node> },
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let position = Position::new(line(span.start.line()), line(span.start.col() + 1));
        match event {
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentEnd
            | Event::Comment(..) => Ok(()),
            Event::DocumentStart(..) => match self.root {
                Some(_) => Err(YamlError {
                    position,
                    message: "a second YAML document in one file; a Coin file holds one".to_owned(),
                }),
                None => Ok(()),
            },
            Event::Scalar(text, style, anchor, tag) => {
                let style = match style {
                    granit_parser::ScalarStyle::Plain => ScalarStyle::Plain,
                    granit_parser::ScalarStyle::SingleQuoted
                    | granit_parser::ScalarStyle::DoubleQuoted => ScalarStyle::Quoted,
                    granit_parser::ScalarStyle::Literal | granit_parser::ScalarStyle::Folded => {
                        ScalarStyle::Block
                    }
                };
                let node = Node {
                    value: Value::Scalar(Scalar { text: text.into_owned(), style }),
                    position,
                    tag: tag.map(|t| tag_text(&t)),
                    anchored: anchor != 0,
                };
                self.complete(node, anchor, 1, position)
            }
            Event::Alias(anchor) => {
                let Some((node, size)) = self.anchors.get(&anchor).cloned() else {
                    return Err(YamlError {
                        position,
                        message: "alias refers to an anchor that is not complete (a node cannot contain itself)"
                            .to_owned(),
                    });
                };
                let node = Node { anchored: false, ..node };
                self.complete(node, 0, size, position)
            }
            Event::SequenceStart(_, anchor, tag) => {
                self.open(position, anchor, tag.map(|t| tag_text(&t)), FrameKind::Seq(Vec::new()))
            }
            Event::MappingStart(_, anchor, tag) => {
                let kind = FrameKind::Map { entries: Vec::new(), key: None };
                self.open(position, anchor, tag.map(|t| tag_text(&t)), kind)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Err(YamlError {
                        position,
                        message: "unbalanced YAML events".to_owned(),
                    });
                };
                let value = match frame.kind {
                    FrameKind::Seq(items) => Value::Seq(items),
                    FrameKind::Map { entries, .. } => Value::Map(entries),
                };
                let node = Node {
                    value,
                    position: frame.start,
                    tag: frame.tag,
                    anchored: frame.anchor != 0,
                };
                // The container's own node was counted when it opened.
                self.nodes -= 1;
                self.complete(node, frame.anchor, frame.size, position)
            }
        }
    }

    fn open(
        &mut self,
        position: Position,
        anchor: usize,
        tag: Option<String>,
        kind: FrameKind,
    ) -> Result<(), YamlError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(YamlError {
                position,
                message: format!("nesting is deeper than {} levels", self.limits.max_depth),
            });
        }
        self.count(1, position)?;
        self.stack.push(Frame { start: position, tag, anchor, size: 1, kind });
        Ok(())
    }

    fn count(&mut self, size: usize, position: Position) -> Result<(), YamlError> {
        self.nodes += size;
        if self.nodes > self.limits.max_nodes {
            return Err(YamlError {
                position,
                message: format!(
                    "the document expands to more than {} nodes (through aliases?)",
                    self.limits.max_nodes
                ),
            });
        }
        Ok(())
    }

    /// Places a finished node into its parent, or makes it the root.
    fn complete(
        &mut self,
        node: Node,
        anchor: usize,
        size: usize,
        position: Position,
    ) -> Result<(), YamlError> {
        self.count(size, position)?;
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        parent.size += size;
        match &mut parent.kind {
            FrameKind::Seq(items) => items.push(node),
            FrameKind::Map { entries, key } => match key.take() {
                None => {
                    if let Some(text) = node.as_str()
                        && entries.iter().any(|(k, _)| k.as_str() == Some(text))
                    {
                        return Err(YamlError {
                            position: node.position,
                            message: format!("duplicate key `{text}`"),
                        });
                    }
                    *key = Some(node);
                }
                Some(k) => entries.push((k, node)),
            },
        }
        Ok(())
    }
}

fn tag_text(tag: &granit_parser::Tag) -> String {
    if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

fn line(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Line and column (in characters) of a byte offset, for errors found before parsing.
fn position_of_offset(bytes: &[u8], offset: usize) -> Position {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let lines = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    Position::new(line(lines), line(column))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Node, YamlError> {
        parse(text.as_bytes(), Limits::default())
    }

    #[test]
    fn include_tag_and_positions_are_kept() {
        let node = load("Build:\n  - !include \"{{qt/qtbase}}/a.yaml\"\n").unwrap();
        let item = &node.get("Build").unwrap().as_seq().unwrap()[0];
        assert_eq!(item.tag.as_deref(), Some("!include"));
        assert_eq!(item.as_str(), Some("{{qt/qtbase}}/a.yaml"));
        // The position of a tagged scalar is that of its text, after the tag.
        assert_eq!(item.position, Position::new(2, 14));
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let node = load("a: &x {type: Group}\nb: [*x, *x]\n").unwrap();
        assert!(node.get("a").unwrap().anchored);
        let b = node.get("b").unwrap().as_seq().unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].get("type").unwrap().as_str(), Some("Group"));
    }

    #[test]
    fn alias_bombs_stop_at_the_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text += &format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            );
        }
        let error = load(&text).unwrap_err();
        assert!(error.message.contains("expands to more than"), "{error:?}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let error = load(&("[".repeat(200) + &"]".repeat(200))).unwrap_err();
        assert!(error.message.contains("deeper than 128"), "{error:?}");
        // The parser has its own limit for flow collections; either way it is an error.
        assert!(load(&"[".repeat(100_000)).is_err());
        assert!(load(&"- ".repeat(10_000)).is_err());
    }

    #[test]
    fn scalar_oddities_read_as_written() {
        let node = load(concat!(
            "a: 'C:\\Utils\\x'\n",
            "b: \"a\\\\b\"\n",
            "c: [ 'x', 'y', ]\n",
            "d: ['Packaging', UseLegacyInstructions']\n",
            "e: amd64 # comment\n",
            "f: null\n",
            "g: >-\n  one\n  two\n",
        ))
        .unwrap();
        assert_eq!(node.get("a").unwrap().as_str(), Some("C:\\Utils\\x"));
        assert_eq!(node.get("b").unwrap().as_str(), Some("a\\b"));
        assert_eq!(node.get("c").unwrap().as_seq().unwrap().len(), 2);
        assert_eq!(
            node.get("d").unwrap().as_seq().unwrap()[1].as_str(),
            Some("UseLegacyInstructions'")
        );
        assert_eq!(node.get("e").unwrap().as_str(), Some("amd64"));
        assert!(node.get("f").unwrap().is_null());
        assert_eq!(node.get("g").unwrap().as_str(), Some("one two"));
    }

    #[test]
    fn errors_carry_positions() {
        let error = load("a: b\n c: d\n  - e\n").unwrap_err();
        assert!(error.position.line >= 2, "{error:?}");
        let error = load("a: 1\na: 2\n").unwrap_err();
        assert_eq!(error.position, Position::new(2, 1));
        assert!(error.message.contains("duplicate key"));
        let error = parse(b"a: \"\xff\"\n", Limits::default()).unwrap_err();
        assert_eq!(error.position, Position::new(1, 5));
    }
}
