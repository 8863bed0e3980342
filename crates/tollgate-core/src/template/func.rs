//! The functions, on evaluated arguments. `and` and `or` are not here: they stop evaluating
//! at the first argument that decides, so the renderer runs them.

use std::cmp::Ordering;

use super::ast::Func;
use super::format::sprintf;
use super::value::Value;

/// `name` is the function as written, for messages. The parser checked the argument count.
/// `limit` bounds what `printf` may write, since its widths make text from nothing.
pub(super) fn call<'c>(
    func: Func,
    name: &str,
    args: Vec<Value<'c>>,
    limit: usize,
) -> Result<Value<'c>, String> {
    let mut args = args.into_iter();
    let first = args.next();
    let rest: Vec<Value<'c>> = args.collect();
    let Some(first) = first else {
        return match func {
            Func::Print => Ok(Value::Str(String::new())),
            Func::Println => Ok(Value::Str("\n".to_owned())),
            _ => Err(format!("`{name}` needs an argument")),
        };
    };
    match func {
        Func::Index => rest.into_iter().try_fold(first, |item, key| index(item, &key)),
        Func::Slice => slice(first, &rest),
        Func::Len => len(&first).map(Value::Int),
        Func::Print => print(std::iter::once(first).chain(rest)),
        Func::Println => {
            let words: Vec<String> =
                std::iter::once(first).chain(rest).map(|v| v.print()).collect::<Result<_, _>>()?;
            Ok(Value::Str(words.join(" ") + "\n"))
        }
        Func::Printf => match first {
            Value::Str(format) => sprintf(&format, &rest, limit).map(Value::Str),
            other => {
                Err(format!("the format of `printf` must be a string, not {}", other.type_name()))
            }
        },
        // `eq a b c` is `a == b || a == c`, and stops at the first match, as Go does.
        Func::Eq => {
            for other in &rest {
                if compare(&first, other)? == Ordering::Equal {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        Func::Ne | Func::Lt | Func::Le | Func::Gt | Func::Ge => {
            let Some(second) = rest.first() else {
                return Err(format!("`{name}` needs two arguments"));
            };
            if !matches!(func, Func::Ne) && matches!(first, Value::Bool(_)) {
                return Err("booleans cannot be ordered".to_owned());
            }
            let order = compare(&first, second)?;
            Ok(Value::Bool(match func {
                Func::Ne => order != Ordering::Equal,
                Func::Lt => order == Ordering::Less,
                Func::Le => order != Ordering::Greater,
                Func::Gt => order == Ordering::Greater,
                _ => order != Ordering::Less,
            }))
        }
        Func::Not => Ok(Value::Bool(!first.truthy())),
        // The renderer does these; here for completeness, without short-circuiting.
        Func::And => Ok(rest.into_iter().fold(first, |a, b| if a.truthy() { b } else { a })),
        Func::Or => Ok(rest.into_iter().fold(first, |a, b| if a.truthy() { a } else { b })),
        Func::UnixPathSeparators => string(name, first).map(|s| Value::Str(s.replace('\\', "/"))),
        Func::ToUpper => string(name, first).map(|s| Value::Str(s.to_uppercase())),
        Func::ToLower => string(name, first).map(|s| Value::Str(s.to_lowercase())),
    }
}

fn string<'c>(name: &str, value: Value<'c>) -> Result<String, String> {
    match value {
        Value::Str(s) => Ok(s),
        other => Err(format!("`{name}` wants a string, not {}", other.type_name())),
    }
}

/// Go's `fmt.Sprint`: a space between two operands when neither is a string.
fn print<'c>(values: impl Iterator<Item = Value<'c>>) -> Result<Value<'c>, String> {
    let mut out = String::new();
    let mut previous_is_string = true;
    for (i, value) in values.enumerate() {
        let is_string = matches!(value, Value::Str(_));
        if i > 0 && !is_string && !previous_is_string {
            out.push(' ');
        }
        out.push_str(&value.print()?);
        previous_is_string = is_string;
    }
    Ok(Value::Str(out))
}

/// A missing key in `.Env` is the empty string, as an unset `.Env.X` is. On a string, Go's
/// `index` gives the byte.
fn index<'c>(item: Value<'c>, key: &Value<'c>) -> Result<Value<'c>, String> {
    match (&item, key) {
        (Value::Env(env), Value::Str(k)) => Ok(Value::Str(env.get(k).cloned().unwrap_or_default())),
        (Value::Env(_), other) => {
            Err(format!("the key of `index` on a map must be a string, not {}", other.type_name()))
        }
        (Value::Str(s), Value::Int(i)) => usize::try_from(*i)
            .ok()
            .and_then(|i| s.as_bytes().get(i))
            .map(|b| Value::Int(i64::from(*b)))
            .ok_or_else(|| format!("index out of range: {i}")),
        (Value::Str(_), other) => {
            Err(format!("the index of a string must be an integer, not {}", other.type_name()))
        }
        _ => Err(format!("can't index item of type {}", item.type_name())),
    }
}

/// `slice s`, `slice s i`, `slice s i j`: byte offsets as in Go, which must also fall between
/// characters here, since our strings are UTF-8.
fn slice<'c>(item: Value<'c>, indices: &[Value<'c>]) -> Result<Value<'c>, String> {
    let Value::Str(s) = item else {
        return Err(format!("can't slice item of type {}", item.type_name()));
    };
    let mut bounds = Vec::new();
    for index in indices {
        match index {
            Value::Int(i) => bounds.push(
                usize::try_from(*i)
                    .ok()
                    .filter(|&i| i <= s.len())
                    .ok_or_else(|| format!("slice index out of range: {i}"))?,
            ),
            other => {
                return Err(format!("slice index must be an integer, not {}", other.type_name()));
            }
        }
    }
    let (start, end) = match bounds[..] {
        [] => (0, s.len()),
        [start] => (start, s.len()),
        [start, end] => (start, end),
        _ => return Err("cannot 3-index slice a string".to_owned()),
    };
    if start > end {
        return Err(format!("invalid slice index: {start} > {end}"));
    }
    s.get(start..end)
        .map(|part| Value::Str(part.to_owned()))
        .ok_or_else(|| format!("slice [{start}:{end}] cuts a character of `{s}` in two"))
}

fn len(value: &Value<'_>) -> Result<i64, String> {
    let n = match value {
        Value::Str(s) => s.len(),
        Value::Env(env) => env.len(),
        other => return Err(format!("len of type {}", other.type_name())),
    };
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Go compares basic values of the same kind only.
fn compare(a: &Value<'_>, b: &Value<'_>) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Str(a), Value::Str(b)) => Ok(a.cmp(b)),
        (Value::Int(a), Value::Int(b)) => Ok(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Ok(a.cmp(b)),
        (Value::Context(_) | Value::Env(_), _) | (_, Value::Context(_) | Value::Env(_)) => {
            Err("cannot compare a map or the context".to_owned())
        }
        _ => Err(format!(
            "incompatible types for comparison: {} and {}",
            a.type_name(),
            b.type_name()
        )),
    }
}
