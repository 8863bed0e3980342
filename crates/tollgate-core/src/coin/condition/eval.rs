use std::borrow::Cow;

use super::{Condition, ConditionKind, Test};
use crate::coin::properties::{Properties, PropertyValue};

/// What planning knows about a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Known(bool),
    /// Depends on the environment; this is what is left once the properties are substituted.
    Residual(Condition),
}

/// The live side of a work item, for `runtime` conditions.
pub trait Runtime {
    /// The value of an environment variable; `None` when it is unset.
    fn var(&self, name: &str) -> Option<&str>;
    /// Renders a templated operand or variable name against the live environment.
    fn render(&self, text: &str) -> Result<String, String>;
}

/// Decides what the platform configuration decides, and leaves the rest.
pub fn decide(condition: &Condition, properties: &Properties) -> Decision {
    let residual = |kind: ConditionKind| {
        Decision::Residual(Condition { kind, location: condition.location.clone() })
    };
    match &condition.kind {
        ConditionKind::Invalid => Decision::Known(false),
        ConditionKind::Property { property, test } if !test.is_templated() => Decision::Known(
            property_test(properties, property, test, &|s| Ok(Cow::Borrowed(s))).unwrap_or(false),
        ),
        ConditionKind::Property { .. } | ConditionKind::Runtime { .. } => {
            Decision::Residual(condition.clone())
        }
        ConditionKind::Not(inner) => match decide(inner, properties) {
            Decision::Known(value) => Decision::Known(!value),
            Decision::Residual(inner) => residual(ConditionKind::Not(Box::new(inner))),
        },
        ConditionKind::And(items) | ConditionKind::Or(items) => {
            let is_and = matches!(condition.kind, ConditionKind::And(_));
            let mut left = Vec::new();
            for item in items {
                match decide(item, properties) {
                    // false decides an `and`, true decides an `or`.
                    Decision::Known(value) if value != is_and => return Decision::Known(value),
                    Decision::Known(_) => {}
                    Decision::Residual(rest) => left.push(rest),
                }
            }
            match left.len() {
                0 => Decision::Known(is_and),
                1 => Decision::Residual(left.remove(0)),
                _ if is_and => residual(ConditionKind::And(left)),
                _ => residual(ConditionKind::Or(left)),
            }
        }
    }
}

/// Evaluates a condition completely, when its instruction is reached. An error is a template
/// that does not render, reported against the condition's location.
pub fn evaluate(
    condition: &Condition,
    properties: &Properties,
    runtime: &dyn Runtime,
) -> Result<bool, String> {
    match &condition.kind {
        ConditionKind::Invalid => Ok(false),
        ConditionKind::Property { property, test } => {
            property_test(properties, property, test, &|s| runtime.render(s).map(Cow::Owned))
        }
        ConditionKind::Runtime { env_var, test } => {
            let name = runtime.render(env_var)?;
            let value = runtime.var(&name);
            let render = |s: &str| runtime.render(s);
            let equals =
                |v: &str| -> Result<bool, String> { Ok(value == Some(render(v)?.as_str())) };
            let contains = |v: &str| -> Result<bool, String> {
                let v = render(v)?;
                Ok(value.is_some_and(|x| x.contains(&v)))
            };
            Ok(match test {
                Test::Equals(None) => value.is_none(),
                Test::NotEquals(None) => value.is_some(),
                Test::Equals(Some(v)) => equals(v)?,
                Test::NotEquals(Some(v)) => !equals(v)?,
                Test::Contains(v) => contains(v)?,
                Test::NotContains(v) => !contains(v)?,
                Test::In(vs) => in_values(value, vs, &render)?,
                Test::NotIn(vs) => !in_values(value, vs, &render)?,
                // Refused when read; kept false should one arrive from elsewhere.
                Test::EqualsProperty(_) | Test::NotEqualsProperty(_) => false,
            })
        }
        ConditionKind::Not(inner) => Ok(!evaluate(inner, properties, runtime)?),
        ConditionKind::And(items) => {
            for item in items {
                if !evaluate(item, properties, runtime)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        ConditionKind::Or(items) => {
            for item in items {
                if evaluate(item, properties, runtime)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

fn in_values(
    value: Option<&str>,
    values: &[String],
    render: &dyn Fn(&str) -> Result<String, String>,
) -> Result<bool, String> {
    let Some(value) = value else { return Ok(false) };
    for candidate in values {
        if render(candidate)? == value {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Renders an operand. Planning renders nothing (templated operands are left to the executor),
/// so it lends the text instead of copying it for each of the many tests of a plan.
type Render<'r> = dyn for<'s> Fn(&'s str) -> Result<Cow<'s, str>, String> + 'r;

/// COIN-FORMAT.md §7.2: `contains` is membership on lists and substring on text; an absent
/// property equals nothing and contains nothing; comparisons are on text, case-sensitive.
fn property_test(
    properties: &Properties,
    property: &str,
    test: &Test,
    render: &Render<'_>,
) -> Result<bool, String> {
    let value = properties.get(property);
    Ok(match test {
        Test::Equals(None) => value == PropertyValue::Absent,
        Test::NotEquals(None) => value != PropertyValue::Absent,
        Test::Equals(Some(v)) => equals_text(value, &render(v)?),
        Test::NotEquals(Some(v)) => !equals_text(value, &render(v)?),
        Test::Contains(v) => contains(value, &render(v)?),
        Test::NotContains(v) => !contains(value, &render(v)?),
        Test::In(vs) => any_in(value, vs, render)?,
        Test::NotIn(vs) => !any_in(value, vs, render)?,
        Test::EqualsProperty(other) => same(value, properties.get(other)),
        Test::NotEqualsProperty(other) => !same(value, properties.get(other)),
    })
}

fn equals_text(value: PropertyValue<'_>, text: &str) -> bool {
    match value {
        PropertyValue::Text(v) => v == text,
        // A list equals a value only when that value is all it holds.
        PropertyValue::List(items) => items.len() == 1 && items[0] == text,
        PropertyValue::Configuration(config) => config.id == text,
        PropertyValue::Absent | PropertyValue::Machine(_) => false,
    }
}

fn contains(value: PropertyValue<'_>, text: &str) -> bool {
    match value {
        PropertyValue::Text(v) => v.contains(text),
        PropertyValue::List(items) => items.iter().any(|item| item == text),
        PropertyValue::Absent | PropertyValue::Machine(_) | PropertyValue::Configuration(_) => {
            false
        }
    }
}

fn any_in(
    value: PropertyValue<'_>,
    values: &[String],
    render: &Render<'_>,
) -> Result<bool, String> {
    let rendered: Vec<Cow<'_, str>> = values.iter().map(|v| render(v)).collect::<Result<_, _>>()?;
    let holds = |text: &str| rendered.iter().any(|r| r == text);
    Ok(match value {
        PropertyValue::Text(v) => holds(v),
        PropertyValue::List(items) => items.iter().any(|item| holds(item)),
        PropertyValue::Configuration(config) => holds(&config.id),
        PropertyValue::Absent | PropertyValue::Machine(_) => false,
    })
}

/// `equals_property`: two present values that are equal. Whole machines compare field by field
/// (`host equals_property target`). An absent side makes it false, which is how Qt's
/// `target.arch equals_property: X86` (meant as `equals_value`) behaves.
fn same(a: PropertyValue<'_>, b: PropertyValue<'_>) -> bool {
    match (a, b) {
        (PropertyValue::Absent, _) | (_, PropertyValue::Absent) => false,
        (PropertyValue::Configuration(x), PropertyValue::Configuration(y)) => x.id == y.id,
        (a, b) => a == b,
    }
}
