//! JSON text indented as it is, for `--json`: the keys keep the service's order and the
//! numbers their digits, which a round trip through `serde_json::Value` would not keep.

/// `raw`, valid JSON, indented by two spaces per level, with a final newline.
pub fn pretty(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                // `{}` and `[]` stay on their line.
                match chars.next_if(|c| matches!(c, '}' | ']')) {
                    Some(close) => out.push(close),
                    None => {
                        depth += 1;
                        new_line(&mut out, depth);
                    }
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                new_line(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                new_line(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

fn new_line(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

#[cfg(test)]
mod tests {
    use super::pretty;

    #[test]
    fn indents_like_serde_json_and_keeps_the_order() {
        let raw = r#"{"z":1.50,"a":[],"m":{ },"s":"a, \"b\": [c]","l":[1,{"k":null}]}"#;
        assert_eq!(
            pretty(raw),
            r#"{
  "z": 1.50,
  "a": [],
  "m": {},
  "s": "a, \"b\": [c]",
  "l": [
    1,
    {
      "k": null
    }
  ]
}
"#
        );
    }

    #[test]
    fn matches_serde_json_on_its_own_compact_text() {
        let value = serde_json::json!({"a": [1, 2], "b": {"c": "d\\"}, "e": []});
        let compact = serde_json::to_string(&value).unwrap();
        assert_eq!(pretty(&compact), serde_json::to_string_pretty(&value).unwrap() + "\n");
    }
}
