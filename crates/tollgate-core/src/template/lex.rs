//! Template text → tokens: runs of text, and the tokens of each `{{ … }}` action.
//!
//! Trim markers (`{{- ` and ` -}}`) are applied here, to the neighbouring text, and comments
//! (`{{/* … */}}`) are dropped. The lexer works on chars, so offsets are char offsets and no
//! slice can fall inside a UTF-8 sequence.

use super::TemplateError;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Token {
    /// Text between actions, already trimmed.
    Text(String),
    /// `{{`
    Open,
    /// `}}`
    Close,
    /// Spaces inside an action. They matter: `$x.Y` is one operand, `$x .Y` two.
    Space,
    /// A function name or a keyword.
    Ident(String),
    /// `.Name`, without the dot.
    Field(String),
    /// `.` alone.
    Dot,
    /// `$name`, with the `$`; `$` alone is the root.
    Variable(String),
    Str(String),
    Int(i64),
    Bool(bool),
    LeftParen,
    RightParen,
    Pipe,
    /// `:=`
    Declare,
    /// `=`
    Assign,
}

#[derive(Clone, Debug)]
pub(super) struct Spanned {
    pub token: Token,
    /// Char offsets of the token in the template text.
    pub offset: usize,
    pub end: usize,
}

pub(super) fn lex(text: &str) -> Result<Vec<Spanned>, TemplateError> {
    let chars: Vec<char> = text.chars().collect();
    let mut lexer = Lexer { chars: &chars, pos: 0, tokens: Vec::new(), trim_next: false };
    lexer.run()?;
    Ok(lexer.tokens)
}

/// Go's whitespace for trim markers and inside actions.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Lexer<'c> {
    chars: &'c [char],
    pos: usize,
    tokens: Vec<Spanned>,
    /// The previous action ended with ` -}}`: the next text loses its leading whitespace.
    trim_next: bool,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn starts_with(&self, i: usize, s: &str) -> bool {
        (i..).zip(s.chars()).all(|(i, c)| self.at(i) == Some(c))
    }

    fn find(&self, from: usize, s: &str) -> Option<usize> {
        (from..self.chars.len()).find(|&i| self.starts_with(i, s))
    }

    fn push(&mut self, token: Token, offset: usize, end: usize) {
        self.tokens.push(Spanned { token, offset, end });
    }

    fn run(&mut self) -> Result<(), TemplateError> {
        loop {
            let open = self.find(self.pos, "{{");
            let trim_left = open.is_some_and(|o| {
                self.at(o + 2) == Some('-') && self.at(o + 3).is_some_and(is_space)
            });
            let (mut start, mut end) = (self.pos, open.unwrap_or(self.chars.len()));
            if self.trim_next {
                while start < end && is_space(self.chars[start]) {
                    start += 1;
                }
            }
            if trim_left {
                while end > start && is_space(self.chars[end - 1]) {
                    end -= 1;
                }
            }
            if start < end {
                let text = self.chars[start..end].iter().collect();
                self.push(Token::Text(text), start, end);
            }
            let Some(open) = open else { return Ok(()) };
            self.trim_next = false;
            self.pos = open + if trim_left { 4 } else { 2 };
            if self.starts_with(self.pos, "/*") {
                self.comment(open)?;
            } else {
                self.push(Token::Open, open, self.pos);
                self.action(open)?;
            }
        }
    }

    /// Go allows a comment only right after the delimiter and only right before the closing one.
    fn comment(&mut self, open: usize) -> Result<(), TemplateError> {
        let Some(close) = self.find(self.pos + 2, "*/") else {
            return Err(TemplateError::new(open, "unclosed comment"));
        };
        let after = close + 2;
        if self.at(after).is_some_and(is_space)
            && self.at(after + 1) == Some('-')
            && self.starts_with(after + 2, "}}")
        {
            self.trim_next = true;
            self.pos = after + 4;
        } else if self.starts_with(after, "}}") {
            self.pos = after + 2;
        } else {
            return Err(TemplateError::new(open, "comment ends before the closing `}}`"));
        }
        Ok(())
    }

    fn action(&mut self, open: usize) -> Result<(), TemplateError> {
        loop {
            let start = self.pos;
            let Some(c) = self.at(start) else {
                return Err(TemplateError::new(open, "unclosed action: missing `}}`"));
            };
            if self.starts_with(start, "}}") {
                self.push(Token::Close, start, start + 2);
                self.pos = start + 2;
                return Ok(());
            }
            match c {
                c if is_space(c) => {
                    let mut end = start;
                    while self.at(end).is_some_and(is_space) {
                        end += 1;
                    }
                    if self.at(end) == Some('-') && self.starts_with(end + 1, "}}") {
                        // ` -}}`: the last space belongs to the trim marker.
                        if end - start > 1 {
                            self.push(Token::Space, start, end - 1);
                        }
                        self.push(Token::Close, end - 1, end + 3);
                        self.pos = end + 3;
                        self.trim_next = true;
                        return Ok(());
                    }
                    self.push(Token::Space, start, end);
                    self.pos = end;
                }
                '(' => self.single(Token::LeftParen),
                ')' => self.single(Token::RightParen),
                '|' => self.single(Token::Pipe),
                '=' => self.single(Token::Assign),
                ':' if self.at(start + 1) == Some('=') => {
                    self.push(Token::Declare, start, start + 2);
                    self.pos = start + 2;
                }
                '"' => self.quoted('"', "unterminated quoted string")?,
                '\'' => self.quoted('\'', "unterminated character constant")?,
                '`' => self.raw_string()?,
                '$' => {
                    let end = self.word_end(start + 1);
                    let name = self.chars[start..end].iter().collect();
                    self.push(Token::Variable(name), start, end);
                    self.pos = end;
                }
                '.' if self.at(start + 1).is_some_and(|c| c.is_ascii_digit()) => self.number()?,
                '.' if self.at(start + 1).is_some_and(is_word) => {
                    let end = self.word_end(start + 1);
                    let name = self.chars[start + 1..end].iter().collect();
                    self.push(Token::Field(name), start, end);
                    self.pos = end;
                }
                '.' => self.single(Token::Dot),
                '0'..='9' => self.number()?,
                '+' | '-' if self.at(start + 1).is_some_and(|c| c.is_ascii_digit() || c == '.') => {
                    self.number()?
                }
                c if is_word(c) => {
                    let end = self.word_end(start);
                    let word: String = self.chars[start..end].iter().collect();
                    let token = match word.as_str() {
                        "true" => Token::Bool(true),
                        "false" => Token::Bool(false),
                        _ => Token::Ident(word),
                    };
                    self.push(token, start, end);
                    self.pos = end;
                }
                c => {
                    return Err(TemplateError::new(start, format!("unexpected `{c}` in action")));
                }
            }
        }
    }

    fn single(&mut self, token: Token) {
        self.push(token, self.pos, self.pos + 1);
        self.pos += 1;
    }

    fn word_end(&self, from: usize) -> usize {
        let mut end = from;
        while self.at(end).is_some_and(is_word) {
            end += 1;
        }
        end
    }

    /// `"…"` or `'…'`, with Go's escapes. Neither may span lines.
    fn quoted(&mut self, quote: char, unterminated: &str) -> Result<(), TemplateError> {
        let start = self.pos;
        let mut end = start + 1;
        loop {
            match self.at(end) {
                None | Some('\n') => return Err(TemplateError::new(start, unterminated)),
                Some('\\') => end += 2,
                Some(c) if c == quote => break,
                Some(_) => end += 1,
            }
        }
        let body = &self.chars[start + 1..end];
        let bytes = unescape(body, quote).map_err(|m| TemplateError::new(start, m))?;
        let token = if quote == '"' {
            let text = String::from_utf8(bytes)
                .map_err(|_| TemplateError::new(start, "string literal is not valid UTF-8"))?;
            Token::Str(text)
        } else {
            Token::Int(char_constant(&bytes).ok_or_else(|| {
                TemplateError::new(start, "a character constant must hold exactly one character")
            })?)
        };
        self.push(token, start, end + 1);
        self.pos = end + 1;
        Ok(())
    }

    /// `` `…` ``: no escapes, may span lines; carriage returns are dropped, as Go does.
    fn raw_string(&mut self) -> Result<(), TemplateError> {
        let start = self.pos;
        let Some(end) = self.find(start + 1, "`") else {
            return Err(TemplateError::new(start, "unterminated raw quoted string"));
        };
        let text = self.chars[start + 1..end].iter().filter(|&&c| c != '\r').collect();
        self.push(Token::Str(text), start, end + 1);
        self.pos = end + 1;
        Ok(())
    }

    /// Integers as Go writes them: `42`, `-1`, `0x1F`, `0o17`, `017`, `0b101`, `1_000`.
    fn number(&mut self) -> Result<(), TemplateError> {
        let start = self.pos;
        let mut end = start + 1;
        while self.at(end).is_some_and(|c| is_word(c) || c == '.') {
            end += 1;
        }
        let text: String = self.chars[start..end].iter().collect();
        let value = parse_int(&text).map_err(|m| TemplateError::new(start, m))?;
        self.push(Token::Int(value), start, end);
        self.pos = end;
        Ok(())
    }
}

fn parse_int(text: &str) -> Result<i64, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits = digits.replace('_', "");
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(b) = lower.strip_prefix("0x") {
        (16, b)
    } else if let Some(b) = lower.strip_prefix("0o") {
        (8, b)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    let float = body.contains('.') || (radix == 10 && body.contains('e'));
    if float {
        return Err(format!("floating-point numbers are not supported: `{text}`"));
    }
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return Err(format!("bad number syntax: `{text}`"));
    }
    // Parse with the sign so that i64::MIN fits.
    let signed = if negative { format!("-{body}") } else { body.to_owned() };
    i64::from_str_radix(&signed, radix).map_err(|_| format!("number out of range: `{text}`"))
}

/// Go's escapes in a quoted literal. `\x` and octal escapes give bytes, so the result is bytes.
fn unescape(body: &[char], quote: char) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = body.get(i) {
        i += 1;
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some(&e) = body.get(i) else {
            return Err("unterminated escape".to_owned());
        };
        i += 1;
        let simple = match e {
            'a' => Some(7),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            c if c == quote => Some(c as u8),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            continue;
        }
        let (digits, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (3, 8),
            _ => return Err(format!("unknown escape `\\{e}`")),
        };
        // An octal escape's first digit is the escape letter itself.
        let from = if radix == 8 { i - 1 } else { i };
        let Some(hex) = body.get(from..from + digits) else {
            return Err(format!("short escape `\\{e}`"));
        };
        let hex: String = hex.iter().collect();
        let value = u32::from_str_radix(&hex, radix).map_err(|_| format!("bad escape `\\{e}`"))?;
        i = from + digits;
        if matches!(e, 'u' | 'U') {
            let c = char::from_u32(value).ok_or_else(|| format!("bad escape `\\{e}{hex}`"))?;
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        } else {
            out.push(
                u8::try_from(value).map_err(|_| format!("octal escape out of range: `{hex}`"))?,
            );
        }
    }
    Ok(out)
}

/// `'a'` is the number 97; `'\xff'` is 255.
fn char_constant(bytes: &[u8]) -> Option<i64> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let mut chars = text.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return Some(i64::from(u32::from(c)));
        }
    }
    match bytes {
        [b] => Some(i64::from(*b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens in a compact form: text in `<…>`, other tokens by their Debug form.
    fn check(text: &str, expected: &str) {
        let actual = match lex(text) {
            Ok(tokens) => tokens
                .iter()
                .map(|t| match &t.token {
                    Token::Text(s) => format!("<{s}>"),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join(" "),
            Err(e) => format!("error at {}: {}", e.offset, e.message),
        };
        assert_eq!(actual, expected, "lexing {text:?}");
    }

    #[test]
    fn actions_and_text() {
        check("a {{.Env.X}} b", r#"<a > Open Field("Env") Field("X") Close < b>"#);
        check("}} alone", "<}} alone>");
        check(
            r#"{{$p:=index .Env "A-b"}}"#,
            r#"Open Variable("$p") Declare Ident("index") Space Field("Env") Space Str("A-b") Close"#,
        );
        check("{{ . | len }}", "Open Space Dot Space Pipe Space Ident(\"len\") Space Close");
    }

    #[test]
    fn trim_markers_and_comments() {
        check("a \n{{- .X -}}\n b", r#"<a> Open Field("X") Close <b>"#);
        check("a {{-3}}", "<a > Open Int(-3) Close");
        check("a {{/* c */}} b", "<a > < b>");
        check("a {{- /* c */ -}} b", "<a> <b>");
        check("{{/* c", "error at 0: unclosed comment");
        check("{{/* c */ x}}", "error at 0: comment ends before the closing `}}`");
    }

    #[test]
    fn literals() {
        check(r#"{{"a\tb\"\u00e9\x41\101"}}"#, "Open Str(\"a\\tb\\\"éAA\") Close");
        check("{{`a\\b`}}", r#"Open Str("a\\b") Close"#);
        check("{{'a' '\\n'}}", "Open Int(97) Space Int(10) Close");
        check(
            "{{0x1F 017 0b11 1_000 -5}}",
            "Open Int(31) Space Int(15) Space Int(3) Space Int(1000) Space Int(-5) Close",
        );
        check("{{1.5}}", "error at 2: floating-point numbers are not supported: `1.5`");
        check("{{12ab}}", "error at 2: bad number syntax: `12ab`");
        check(
            "{{99999999999999999999}}",
            "error at 2: number out of range: `99999999999999999999`",
        );
        check(r#"{{"\q"}}"#, "error at 2: unknown escape `\\q`");
        check(r#"{{"\xff"}}"#, "error at 2: string literal is not valid UTF-8");
        check("{{\"ab}}", "error at 2: unterminated quoted string");
        check("{{`ab}}", "error at 2: unterminated raw quoted string");
        check("{{'ab'}}", "error at 2: a character constant must hold exactly one character");
    }

    #[test]
    fn unclosed_and_unexpected() {
        check("ab {{ .X", "error at 3: unclosed action: missing `}}`");
        check("ab {{ \"}}\"", "error at 3: unclosed action: missing `}}`");
        check("ab {{ \"}} x", "error at 6: unterminated quoted string");
        check("ab {{ .X }", "error at 9: unexpected `}` in action");
        check("{{ # }}", "error at 3: unexpected `#` in action");
        check("{{ a: }}", "error at 4: unexpected `:` in action");
    }
}
