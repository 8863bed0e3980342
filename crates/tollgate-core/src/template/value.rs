//! The values a template computes with, and how Go prints them and judges them true.

use std::collections::BTreeMap;

use super::Context;

/// The fields of [`Context`], as templates name them.
pub(super) const CONTEXT_FIELDS: [&str; 8] = [
    "Env",
    "AgentWorkingDir",
    "SourceDir",
    "BuildDir",
    "InstallDir",
    "InstallRoot",
    "NumCPU",
    "CoinDownloadURL",
];

pub(super) fn is_context_field(name: &str) -> bool {
    CONTEXT_FIELDS.contains(&name)
}

#[derive(Clone, Debug)]
pub(super) enum Value<'c> {
    /// `.` and `$`.
    Context(&'c Context<'c>),
    /// `.Env`.
    Env(&'c BTreeMap<String, String>),
    Str(String),
    Int(i64),
    Bool(bool),
}

impl<'c> Value<'c> {
    /// The bytes of a string, for the size budget.
    pub fn len_hint(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            _ => 0,
        }
    }

    /// Go's truth: false, 0, the empty string and the empty map are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Context(_) => true,
            Value::Env(env) => !env.is_empty(),
            Value::Str(s) => !s.is_empty(),
            Value::Int(i) => *i != 0,
            Value::Bool(b) => *b,
        }
    }

    /// The type's name in Go's terms, for messages and `%!d(string=x)`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Context(_) => "context",
            Value::Env(_) => "map[string]string",
            Value::Str(_) => "string",
            Value::Int(_) => "int",
            Value::Bool(_) => "bool",
        }
    }

    /// Go's `%v`. A map prints as `map[K:V K2:V2]`, keys sorted. The context has no agreed
    /// printed form (its field order is Coin's secret), so printing it is an error.
    pub fn print(&self) -> Result<String, String> {
        Ok(match self {
            Value::Context(_) => return Err("the whole context `.` cannot be printed".to_owned()),
            Value::Env(env) => {
                let pairs: Vec<String> = env.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", pairs.join(" "))
            }
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
        })
    }

    /// `value.name`, where `path` is how the value was reached, for messages. An unset variable
    /// in `.Env` is the empty string (COIN-FORMAT.md §9.1).
    pub fn field(&self, name: &str, path: &str) -> Result<Value<'c>, String> {
        let ctx = match self {
            Value::Context(ctx) => *ctx,
            Value::Env(env) => return Ok(Value::Str(env.get(name).cloned().unwrap_or_default())),
            other => {
                let kind = other.type_name();
                return Err(format!("`{path}` is a {kind}: it has no field `{name}`"));
            }
        };
        Ok(match name {
            "Env" => Value::Env(ctx.env),
            "AgentWorkingDir" => Value::Str(ctx.agent_working_dir.to_owned()),
            "SourceDir" => Value::Str(ctx.source_dir.to_owned()),
            "BuildDir" => Value::Str(ctx.build_dir.to_owned()),
            "InstallDir" => Value::Str(ctx.install_dir.to_owned()),
            "InstallRoot" => Value::Str(ctx.install_root.to_owned()),
            "NumCPU" => Value::Int(i64::from(ctx.num_cpu)),
            "CoinDownloadURL" => Value::Str(ctx.coin_download_url.to_owned()),
            _ => return Err(format!("unknown field `.{name}`")),
        })
    }
}
