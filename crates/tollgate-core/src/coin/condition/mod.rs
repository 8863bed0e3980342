//! Conditions (`enable_if`, `disable_if`, `accept_configuration`), COIN-FORMAT.md §7.
//!
//! `property` leaves depend only on the platform configuration and are decided when planning.
//! `runtime` leaves read the live environment and are decided when their instruction is
//! reached. Planning therefore evaluates partially ([`decide`]): what is left is a residual
//! condition that the executor finishes ([`evaluate`]).

mod eval;
mod parse;

pub use eval::{Decision, Runtime, decide, evaluate};
pub(crate) use parse::read_condition;

use crate::diagnostic::Location;

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub kind: ConditionKind,
    pub location: Location,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConditionKind {
    /// A property of the platform configuration: `host.os`, `features`, `id`, ...
    Property {
        property: String,
        test: Test,
    },
    /// An environment variable of the running work item. The name may be a template.
    Runtime {
        env_var: String,
        test: Test,
    },
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// A condition that could not be read; it is never true, and the plan carries the error.
    Invalid,
}

/// One operator with its operand. Values may be templates (`"{{.Env.TESTED_MODULE_COIN}}"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Test {
    /// `None` is YAML null: "is unset" for variables, "is absent" for properties.
    Equals(Option<String>),
    NotEquals(Option<String>),
    Contains(String),
    NotContains(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    EqualsProperty(String),
    NotEqualsProperty(String),
}

impl Test {
    /// The operator's name as written in YAML.
    pub fn operator(&self) -> &'static str {
        match self {
            Test::Equals(_) => "equals_value",
            Test::NotEquals(_) => "not_equals_value",
            Test::Contains(_) => "contains_value",
            Test::NotContains(_) => "not_contains_value",
            Test::In(_) => "in_values",
            Test::NotIn(_) => "not_in_values",
            Test::EqualsProperty(_) => "equals_property",
            Test::NotEqualsProperty(_) => "not_equals_property",
        }
    }

    /// Whether any operand needs the environment to be known.
    fn is_templated(&self) -> bool {
        let templated = |s: &str| s.contains("{{");
        match self {
            Test::Equals(v) | Test::NotEquals(v) => v.as_deref().is_some_and(templated),
            Test::Contains(v) | Test::NotContains(v) => templated(v),
            Test::In(vs) | Test::NotIn(vs) => vs.iter().any(|v| templated(v)),
            Test::EqualsProperty(_) | Test::NotEqualsProperty(_) => false,
        }
    }
}
