use super::{Condition, ConditionKind, Test};
use crate::coin::properties::is_known_property;
use crate::coin::read::{FileReader, field};
use crate::yaml::Node;

const OPERATORS: [&str; 8] = [
    "equals_value",
    "not_equals_value",
    "contains_value",
    "not_contains_value",
    "in_values",
    "not_in_values",
    "equals_property",
    "not_equals_property",
];

/// Reads a condition. A condition that cannot be read becomes [`ConditionKind::Invalid`] with an
/// error, so the instruction around it is still read and its other problems reported too.
pub(crate) fn read_condition(reader: &mut FileReader<'_>, node: &Node) -> Condition {
    let kind = read_kind(reader, node).unwrap_or(ConditionKind::Invalid);
    Condition { kind, location: reader.at(node) }
}

fn read_kind(reader: &mut FileReader<'_>, node: &Node) -> Option<ConditionKind> {
    let entries = reader.map(node, "a condition")?;
    let Some(kind_node) = field(entries, "condition") else {
        reader
            .error(node, "a condition needs a `condition` field (property, runtime, and, or, not)");
        return None;
    };
    let kind = reader.text(kind_node, "`condition`")?;
    match kind.as_str() {
        "property" => {
            reader.unknown_keys(entries, &leaf_keys("property"), "a property condition");
            let name_node = required(reader, node, entries, "property", "a property condition")?;
            let property = reader.text(name_node, "`property`")?;
            let test = read_test(reader, node, entries, false)?;
            for name in std::iter::once(&property).chain(match &test {
                Test::EqualsProperty(other) | Test::NotEqualsProperty(other) => Some(other),
                _ => None,
            }) {
                if !is_known_property(name) {
                    reader.warning(
                        name_node,
                        format!("unknown property `{name}`; it is treated as absent"),
                    );
                }
            }
            Some(ConditionKind::Property { property, test })
        }
        "runtime" => {
            reader.unknown_keys(entries, &leaf_keys("env_var"), "a runtime condition");
            let name_node = required(reader, node, entries, "env_var", "a runtime condition")?;
            let env_var = reader.text(name_node, "`env_var`")?;
            let test = read_test(reader, node, entries, true)?;
            Some(ConditionKind::Runtime { env_var, test })
        }
        "and" | "or" | "not" => {
            reader.unknown_keys(entries, &["condition", "conditions"], "a composite condition");
            let list =
                required(reader, node, entries, "conditions", &format!("an `{kind}` condition"))?;
            let items = reader.list(list, "`conditions`")?;
            let mut conditions: Vec<Condition> =
                items.into_iter().map(|item| read_condition(reader, item)).collect();
            match kind.as_str() {
                "and" => Some(ConditionKind::And(conditions)),
                "or" => Some(ConditionKind::Or(conditions)),
                _ if conditions.len() == 1 => {
                    Some(ConditionKind::Not(Box::new(conditions.remove(0))))
                }
                _ => {
                    reader.error(
                        list,
                        "a `not` condition takes exactly one condition in `conditions`",
                    );
                    None
                }
            }
        }
        other => {
            reader.error(
                kind_node,
                format!("unknown condition `{other}` (expected property, runtime, and, or, not)"),
            );
            None
        }
    }
}

fn leaf_keys(subject: &'static str) -> Vec<&'static str> {
    let mut keys = vec!["condition", subject];
    keys.extend(OPERATORS);
    keys
}

fn required<'n>(
    reader: &mut FileReader<'_>,
    node: &Node,
    entries: &'n [(Node, Node)],
    key: &str,
    what: &str,
) -> Option<&'n Node> {
    let value = field(entries, key);
    if value.is_none() {
        reader.error(node, format!("{what} needs a `{key}` field"));
    }
    value
}

/// The one operator of a leaf.
fn read_test(
    reader: &mut FileReader<'_>,
    node: &Node,
    entries: &[(Node, Node)],
    runtime: bool,
) -> Option<Test> {
    let present: Vec<&str> =
        OPERATORS.iter().copied().filter(|op| field(entries, op).is_some()).collect();
    let operator = match present.as_slice() {
        [one] => *one,
        [] => {
            reader.error(node, format!("a condition needs one operator: {}", OPERATORS.join(", ")));
            return None;
        }
        many => {
            reader
                .error(node, format!("a condition takes one operator, not {}", many.join(" and ")));
            return None;
        }
    };
    let value = field(entries, operator)?;
    let nullable = |reader: &mut FileReader<'_>| match value.is_null() {
        true => Some(None),
        false => reader.text(value, &format!("`{operator}`")).map(Some),
    };
    let test = match operator {
        "equals_value" => Test::Equals(nullable(reader)?),
        "not_equals_value" => Test::NotEquals(nullable(reader)?),
        "contains_value" => Test::Contains(reader.text(value, "`contains_value`")?),
        "not_contains_value" => Test::NotContains(reader.text(value, "`not_contains_value`")?),
        "in_values" => Test::In(reader.texts(value, "`in_values`")?),
        "not_in_values" => Test::NotIn(reader.texts(value, "`not_in_values`")?),
        "equals_property" | "not_equals_property" if runtime => {
            reader.error(
                value,
                format!(
                    "`{operator}` compares properties; it cannot be used in a runtime condition"
                ),
            );
            return None;
        }
        "equals_property" => Test::EqualsProperty(reader.text(value, "`equals_property`")?),
        _ => Test::NotEqualsProperty(reader.text(value, "`not_equals_property`")?),
    };
    Some(test)
}
