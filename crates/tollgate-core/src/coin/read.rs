//! Reading typed fields out of YAML nodes of one file, with diagnostics for everything that
//! does not fit. Each reader of the format (instructions, conditions, platform configurations,
//! dependencies) goes through [`FileReader`], so messages look alike everywhere.

use crate::diagnostic::{Diagnostic, Diagnostics, FileRef, Location};
use crate::template::Template;
use crate::yaml::{Node, Value};

pub(crate) struct FileReader<'a> {
    pub file: &'a FileRef,
    pub diagnostics: &'a mut Diagnostics,
}

impl FileReader<'_> {
    pub fn at(&self, node: &Node) -> Location {
        Location { file: self.file.clone(), position: node.position }
    }

    pub fn error(&mut self, node: &Node, message: impl Into<String>) {
        let location = self.at(node);
        self.diagnostics.push(Diagnostic::error(location, message));
    }

    pub fn warning(&mut self, node: &Node, message: impl Into<String>) {
        let location = self.at(node);
        self.diagnostics.push(Diagnostic::warning(location, message));
    }

    /// The entries of a mapping, or an error naming what was expected.
    pub fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.value {
            Value::Map(entries) => Some(entries),
            _ => {
                self.error(node, format!("{what} must be a mapping, not {}", node.describe()));
                None
            }
        }
    }

    /// A list; a single scalar is read as a list of one, as Coin writes both.
    pub fn list<'n>(&mut self, node: &'n Node, what: &str) -> Option<Vec<&'n Node>> {
        match &node.value {
            Value::Seq(items) => Some(items.iter().collect()),
            Value::Scalar(_) if node.is_null() => Some(Vec::new()),
            Value::Scalar(_) => Some(vec![node]),
            Value::Map(_) => {
                self.error(node, format!("{what} must be a list, not a mapping"));
                None
            }
        }
    }

    /// A scalar read as text (`1` and `True` included), or an error.
    pub fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_str() {
            Some(text) => Some(text.to_owned()),
            None => {
                self.error(node, format!("{what} must be a string, not {}", node.describe()));
                None
            }
        }
    }

    /// A list of strings (a single string counts as a list of one).
    pub fn texts(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        let items = self.list(node, what)?;
        let mut texts = Vec::with_capacity(items.len());
        for item in items {
            texts.push(self.text(item, &format!("each item of {what}"))?);
        }
        Some(texts)
    }

    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        let value = node.as_bool();
        if value.is_none() {
            self.error(node, format!("{what} must be true or false"));
        }
        value
    }

    /// Checks a templated field when it is read, so that a broken template is reported when
    /// planning rather than when the instruction runs.
    pub fn template(&mut self, node: &Node, text: &str) {
        if !text.contains("{{") {
            return;
        }
        match Template::parse(text) {
            Ok(template) => {
                for field in template.unknown_fields() {
                    self.warning(node, format!("template uses `{field}`, which tollgate does not provide; it fails when rendered"));
                }
            }
            Err(error) => self.error(node, format!("invalid template: {error}")),
        }
    }

    /// Reports the keys of a mapping that are not in `known`. Keys whose value defines an anchor
    /// are anchor holders (`analysis_instructions_axivion: &analysis_instructions_axivion`), a
    /// Coin idiom, and pass in silence.
    pub fn unknown_keys(&mut self, entries: &[(Node, Node)], known: &[&str], context: &str) {
        for (key, value) in entries {
            let name = key.as_str().unwrap_or_default();
            if !known.contains(&name) && !value.anchored {
                self.warning(key, format!("unknown field `{name}` in {context}; it is ignored"));
            }
        }
    }
}

/// The value of `key` in a mapping's entries.
pub(crate) fn field<'n>(entries: &'n [(Node, Node)], key: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
}

/// The key node of `key`, for diagnostics that point at the key.
pub(crate) fn key_node<'n>(entries: &'n [(Node, Node)], key: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(k, _)| k)
}
