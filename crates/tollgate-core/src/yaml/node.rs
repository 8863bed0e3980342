use crate::diagnostic::Position;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub position: Position,
    /// The tag as written: `!include`, or `!!str` for the core schema.
    pub tag: Option<String>,
    /// Whether this node defines an anchor (`&name`). Keys whose value defines an anchor are
    /// anchor holders in Coin files and are not reported as unknown.
    pub anchored: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    Quoted,
    Block,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub text: String,
    pub style: ScalarStyle,
}

impl Node {
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The text of any scalar that is not null. Coin writes `variableValue: 1` where a string is
    /// meant, so numbers and booleans read as their text.
    pub fn as_str(&self) -> Option<&str> {
        if self.is_null() {
            return None;
        }
        self.scalar().map(|s| s.text.as_str())
    }

    /// YAML null: an untagged plain `null`, `Null`, `NULL`, `~` or nothing at all.
    pub fn is_null(&self) -> bool {
        match (&self.value, self.tag.as_deref()) {
            (_, Some("!!null")) => true,
            (Value::Scalar(s), None) => {
                s.style == ScalarStyle::Plain
                    && matches!(s.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
            }
            _ => false,
        }
    }

    /// Booleans as YAML 1.1 and 1.2 spell them (`True` is seen in Coin files), quoted or not.
    pub fn as_bool(&self) -> Option<bool> {
        match self.scalar()?.text.as_str() {
            "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
            "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
            _ => None,
        }
    }

    /// A decimal integer (`fileMode: 420` is decimal for octal 0644).
    pub fn as_u64(&self) -> Option<u64> {
        let text = self.scalar()?.text.trim();
        let digits = text.strip_prefix('+').unwrap_or(text).replace('_', "");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }

    /// What the node is, for messages: "a mapping", "a list", "a string", "null".
    pub fn describe(&self) -> &'static str {
        if self.is_null() {
            return "null";
        }
        match &self.value {
            Value::Scalar(_) => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}
