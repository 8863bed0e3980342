//! `printf` with Go's verbs `%v %s %d %q %t %x %X %c %%`, flags `-` `+` `0`, width and
//! precision, and Go's in-band error forms (`%!d(string=x)`, `%!v(MISSING)`, `%!(EXTRA …)`).

use super::render::too_big;
use super::value::Value;

/// Go gives up on a width or precision once it has passed this, and drops the rest of the
/// format; so do we.
const MAX_WIDTH: usize = 1_000_000;

/// Fails once the text passes `limit` bytes.
pub(super) fn sprintf(format: &str, args: &[Value<'_>], limit: usize) -> Result<String, String> {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() > limit {
            return Err(too_big());
        }
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut verb = None;
        if let Ok(width) = number(&mut chars) {
            spec.width = width;
            if chars.next_if_eq(&'.').is_none() {
                verb = chars.next();
            } else if let Ok(precision) = number(&mut chars) {
                spec.precision = Some(precision.unwrap_or(0));
                verb = chars.next();
            }
        }
        let Some(verb) = verb else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.next() {
            Some(arg) => out.push_str(&spec.pad(verb, format_one(verb, &spec, arg)?)),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
    }
    let extra: Vec<String> = args
        .map(|arg| Ok(format!("{}={}", arg.type_name(), arg.print()?)))
        .collect::<Result<_, String>>()?;
    if !extra.is_empty() {
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    Ok(out)
}

#[derive(Default)]
struct Spec {
    left: bool,
    plus: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

impl Spec {
    fn pad(&self, verb: char, text: String) -> String {
        let len = text.chars().count();
        let Some(width) = self.width.filter(|&w| w > len) else { return text };
        let fill = width - len;
        if self.left {
            return text + &" ".repeat(fill);
        }
        if self.zero && matches!(verb, 'd' | 'x' | 'X') {
            // Zeros go after the sign.
            let (sign, digits) = match text.strip_prefix(['-', '+']) {
                Some(rest) => (&text[..1], rest),
                None => ("", text.as_str()),
            };
            return format!("{sign}{}{digits}", "0".repeat(fill));
        }
        " ".repeat(fill) + &text
    }
}

/// The digits of a width or precision, if any. Too large a number, like Go's `parsenum`,
/// swallows the rest of the format.
fn number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Option<usize>, ()> {
    let mut value: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        if value.is_some_and(|v| v > MAX_WIDTH) {
            chars.for_each(drop);
            return Err(());
        }
        chars.next();
        value = Some(value.unwrap_or(0) * 10 + d as usize);
    }
    Ok(value)
}

fn format_one(verb: char, spec: &Spec, arg: &Value<'_>) -> Result<String, String> {
    let truncate = |s: &str| match spec.precision {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_owned(),
    };
    Ok(match (verb, arg) {
        ('v' | 's', Value::Str(s)) => truncate(s),
        ('q', Value::Str(s)) => quote(&truncate(s), '"'),
        ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Value::Str(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('v' | 'd', Value::Int(i)) if spec.plus && *i >= 0 => format!("+{i}"),
        ('v' | 'd', Value::Int(i)) => i.to_string(),
        ('x', Value::Int(i)) => signed_hex(*i, false),
        ('X', Value::Int(i)) => signed_hex(*i, true),
        ('c', Value::Int(i)) => char_of(*i).to_string(),
        ('q', Value::Int(i)) => quote(&char_of(*i).to_string(), '\''),
        ('v' | 't', Value::Bool(b)) => b.to_string(),
        ('v' | 's', Value::Env(_)) => arg.print()?,
        _ => format!("%!{verb}({}={})", arg.type_name(), arg.print()?),
    })
}

fn signed_hex(i: i64, upper: bool) -> String {
    let digits =
        if upper { format!("{:X}", i.unsigned_abs()) } else { format!("{:x}", i.unsigned_abs()) };
    if i < 0 { format!("-{digits}") } else { digits }
}

/// Go prints an invalid code point as U+FFFD.
fn char_of(i: i64) -> char {
    u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}')
}

/// Go's `strconv.Quote` (or `QuoteRune` with `'`), close enough: C escapes for control
/// characters, everything printable kept as it is.
pub(super) fn quote(s: &str, mark: char) -> String {
    let mut out = String::from(mark);
    for c in s.chars() {
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            c if c == mark => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(mark);
    out
}
