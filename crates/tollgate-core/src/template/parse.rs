//! Tokens → [`Node`]s, with Go's syntax checks: functions must exist and get a sensible number
//! of arguments, variables must be declared before use, blocks must be closed.

use super::ast::{Branch, Command, Declaration, Func, Node, Operand, Pipeline, Span, Term};
use super::lex::{Spanned, Token, lex};
use super::{MAX_DEPTH, TemplateError};

pub(super) fn parse(text: &str) -> Result<Vec<Node>, TemplateError> {
    let chars: Vec<char> = text.chars().collect();
    let mut parser =
        Parser { tokens: lex(text)?, pos: 0, chars: &chars, vars: vec!["$".to_owned()] };
    let (nodes, stop) = parser.list(0)?;
    match stop {
        Stop::Eof => Ok(nodes),
        Stop::End { offset, .. } => Err(TemplateError::new(offset, "unexpected `{{end}}`")),
        Stop::Else { offset } | Stop::ElseIf { offset } => {
            Err(TemplateError::new(offset, "unexpected `{{else}}`"))
        }
    }
}

/// Keywords of Go's templates that Coin's files do not use.
const UNSUPPORTED: [&str; 8] =
    ["range", "with", "define", "template", "block", "break", "continue", "nil"];

/// What ended a list of nodes.
enum Stop {
    Eof,
    /// `offset` is where `{{end}}` starts, `end` where it ends.
    End {
        offset: usize,
        end: usize,
    },
    Else {
        offset: usize,
    },
    /// The parser stands at the condition.
    ElseIf {
        offset: usize,
    },
}

struct Parser<'c> {
    tokens: Vec<Spanned>,
    pos: usize,
    chars: &'c [char],
    /// Variables in scope, innermost last.
    vars: Vec<String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.token)
    }

    /// Where the next token starts, or the end of the text.
    fn offset(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.chars.len(), |t| t.offset)
    }

    fn next(&mut self) -> Option<Spanned> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += usize::from(token.is_some());
        token
    }

    fn skip_space(&mut self) {
        while self.peek() == Some(&Token::Space) {
            self.pos += 1;
        }
    }

    fn is_ident(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(n)) if n == name)
    }

    fn source(&self, start: usize, end: usize) -> String {
        self.chars.get(start..end).unwrap_or_default().iter().collect()
    }

    fn unexpected(&self, what: &str) -> TemplateError {
        let found = match self.tokens.get(self.pos) {
            Some(t) => format!("`{}`", self.source(t.offset, t.end)),
            None => "the end of the text".to_owned(),
        };
        TemplateError::new(self.offset(), format!("unexpected {found} {what}"))
    }

    /// Consumes the `}}` that must come next; gives its end.
    fn close(&mut self, what: &str) -> Result<usize, TemplateError> {
        self.skip_space();
        match self.tokens.get(self.pos) {
            Some(Spanned { token: Token::Close, end, .. }) => {
                let end = *end;
                self.pos += 1;
                Ok(end)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn list(&mut self, depth: usize) -> Result<(Vec<Node>, Stop), TemplateError> {
        let mut nodes = Vec::new();
        while let Some(token) = self.next() {
            let open = token.offset;
            match token.token {
                Token::Text(text) => nodes.push(Node::Text { text, offset: open }),
                Token::Open => {
                    self.skip_space();
                    if self.is_ident("if") {
                        self.pos += 1;
                        nodes.push(self.if_block(open, depth + 1)?);
                    } else if self.is_ident("else") {
                        self.pos += 1;
                        self.skip_space();
                        if self.is_ident("if") {
                            self.pos += 1;
                            return Ok((nodes, Stop::ElseIf { offset: open }));
                        }
                        self.close("in `{{else}}`")?;
                        return Ok((nodes, Stop::Else { offset: open }));
                    } else if self.is_ident("end") {
                        self.pos += 1;
                        let end = self.close("in `{{end}}`")?;
                        return Ok((nodes, Stop::End { offset: open, end }));
                    } else {
                        let pipeline = self.pipeline(depth, "command", true)?;
                        let end = self.close("in action")?;
                        nodes.push(Node::Action { pipeline, span: Span { start: open, end } });
                    }
                }
                _ => return Err(TemplateError::new(open, "unexpected token outside an action")),
            }
        }
        Ok((nodes, Stop::Eof))
    }

    /// After `{{if`: the condition, the branches, through `{{end}}`. A variable declared in a
    /// condition is visible in the rest of the block; one declared in a branch, in that branch.
    fn if_block(&mut self, open: usize, depth: usize) -> Result<Node, TemplateError> {
        if depth > MAX_DEPTH {
            return Err(TemplateError::new(open, format!("nested more than {MAX_DEPTH} deep")));
        }
        let mark = self.vars.len();
        let mut branches = Vec::new();
        let mut otherwise = Vec::new();
        let end = loop {
            let condition = self.pipeline(depth, "if", true)?;
            self.close("in `{{if}}`")?;
            let (body, stop) = self.scoped_list(depth)?;
            branches.push(Branch { condition, body });
            match stop {
                Stop::End { end, .. } => break Some(end),
                Stop::ElseIf { .. } => continue,
                Stop::Else { .. } => {
                    let (body, stop) = self.scoped_list(depth)?;
                    otherwise = body;
                    match stop {
                        Stop::End { end, .. } => break Some(end),
                        Stop::Eof => break None,
                        Stop::Else { offset } | Stop::ElseIf { offset } => {
                            return Err(TemplateError::new(offset, "`{{else}}` after `{{else}}`"));
                        }
                    }
                }
                Stop::Eof => break None,
            }
        };
        self.vars.truncate(mark);
        match end {
            Some(end) => Ok(Node::If { branches, otherwise, span: Span { start: open, end } }),
            None => Err(TemplateError::new(open, "unclosed `{{if}}`: missing `{{end}}`")),
        }
    }

    fn scoped_list(&mut self, depth: usize) -> Result<(Vec<Node>, Stop), TemplateError> {
        let mark = self.vars.len();
        let listed = self.list(depth)?;
        self.vars.truncate(mark);
        Ok(listed)
    }

    /// `[$x := | $x =] command (| command)*`, up to (not including) `}}` or `)`.
    fn pipeline(
        &mut self,
        depth: usize,
        what: &str,
        may_declare: bool,
    ) -> Result<Pipeline, TemplateError> {
        self.skip_space();
        let declaration = self.declaration(may_declare)?;
        let mut commands = Vec::new();
        loop {
            self.skip_space();
            commands.push(self.command(depth, what, !commands.is_empty())?);
            self.skip_space();
            if self.peek() != Some(&Token::Pipe) {
                break;
            }
            self.pos += 1;
        }
        if let Some(Declaration { variable, assign: false, .. }) = &declaration {
            // Declared after its value, so `$x := $x` is an error as it is at run time.
            self.vars.push(variable.clone());
        }
        Ok(Pipeline { declaration, commands })
    }

    fn declaration(&mut self, may_declare: bool) -> Result<Option<Declaration>, TemplateError> {
        let Some(Spanned { token: Token::Variable(variable), offset, .. }) =
            self.tokens.get(self.pos)
        else {
            return Ok(None);
        };
        let mut after = self.pos + 1;
        while self.tokens.get(after).is_some_and(|t| t.token == Token::Space) {
            after += 1;
        }
        let assign = match self.tokens.get(after).map(|t| &t.token) {
            Some(Token::Declare) => false,
            Some(Token::Assign) => true,
            _ => return Ok(None),
        };
        if !may_declare {
            return Err(TemplateError::new(
                *offset,
                "a variable can only be set at the start of an action",
            ));
        }
        if assign && !self.vars.contains(variable) {
            return Err(TemplateError::new(*offset, format!("undefined variable `{variable}`")));
        }
        let declaration = Declaration { variable: variable.clone(), assign, offset: *offset };
        self.pos = after + 1;
        Ok(Some(declaration))
    }

    /// Operands separated by spaces, up to `|`, `}}` or `)`.
    fn command(&mut self, depth: usize, what: &str, piped: bool) -> Result<Command, TemplateError> {
        let offset = self.offset();
        let mut operands = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None | Some(Token::Close | Token::RightParen | Token::Pipe) => break,
                _ => {}
            }
            operands.push(self.operand(depth)?);
            match self.peek() {
                None | Some(Token::Space | Token::Close | Token::RightParen | Token::Pipe) => {}
                _ => return Err(self.unexpected("in operand")),
            }
        }
        let mut operands = operands.into_iter();
        let Some(first) = operands.next() else {
            return Err(TemplateError::new(offset, format!("missing value for {what}")));
        };
        let args: Vec<Operand> = operands.collect();
        if let Some(arg) = args.iter().find(|a| matches!(a.term, Term::Func(_))) {
            return Err(TemplateError::new(
                arg.offset,
                format!("`{}` is a function: put it in parentheses to pass its result", arg.source),
            ));
        }
        let Term::Func(func) = first.term else {
            if !args.is_empty() {
                return Err(TemplateError::new(
                    first.offset,
                    format!("`{}` is not a function: it cannot take arguments", first.source),
                ));
            }
            if piped {
                return Err(TemplateError::new(
                    first.offset,
                    format!("`{}` is not a function: it cannot take a piped value", first.source),
                ));
            }
            return Ok(Command::Operand(first));
        };
        let given = args.len() + usize::from(piped);
        let (least, most) = func.arity();
        if given < least || most.is_some_and(|most| given > most) {
            let want = match most {
                Some(most) if most == least => format!("{least}"),
                Some(most) => format!("{least} to {most}"),
                None => format!("at least {least}"),
            };
            return Err(TemplateError::new(
                first.offset,
                format!(
                    "wrong number of arguments for `{}`: want {want}, got {given}",
                    first.source
                ),
            ));
        }
        Ok(Command::Call { func, name: first.source, args, offset: first.offset })
    }

    /// A term and the fields chained right after it.
    fn operand(&mut self, depth: usize) -> Result<Operand, TemplateError> {
        let Some(token) = self.next() else {
            return Err(TemplateError::new(self.chars.len(), "unclosed action"));
        };
        let offset = token.offset;
        let mut fields = Vec::new();
        let term = match token.token {
            Token::Ident(name) => {
                if UNSUPPORTED.contains(&name.as_str()) {
                    return Err(TemplateError::new(offset, format!("`{name}` is not supported")));
                }
                if matches!(name.as_str(), "if" | "else" | "end") {
                    return Err(TemplateError::new(offset, format!("unexpected `{name}`")));
                }
                let func = Func::lookup(&name).ok_or_else(|| {
                    TemplateError::new(offset, format!("function `{name}` not defined"))
                })?;
                Term::Func(func)
            }
            Token::Dot => Term::Dot,
            Token::Field(name) => {
                fields.push(name);
                Term::Dot
            }
            Token::Variable(name) => {
                if !self.vars.contains(&name) {
                    return Err(TemplateError::new(offset, format!("undefined variable `{name}`")));
                }
                Term::Variable(name)
            }
            Token::Str(s) => Term::Str(s),
            Token::Int(i) => Term::Int(i),
            Token::Bool(b) => Term::Bool(b),
            Token::LeftParen => {
                if depth + 1 > MAX_DEPTH {
                    return Err(TemplateError::new(
                        offset,
                        format!("nested more than {MAX_DEPTH} deep"),
                    ));
                }
                let pipeline = self.pipeline(depth + 1, "parenthesized pipeline", false)?;
                self.skip_space();
                if self.peek() != Some(&Token::RightParen) {
                    return Err(TemplateError::new(offset, "unclosed left parenthesis"));
                }
                self.pos += 1;
                Term::Pipeline(Box::new(pipeline))
            }
            _ => {
                self.pos -= 1;
                return Err(self.unexpected("in operand"));
            }
        };
        let chains = match &term {
            Term::Dot => !fields.is_empty(),
            Term::Variable(_) | Term::Pipeline(_) => true,
            _ => false,
        };
        while let Some(Token::Field(name)) = self.peek() {
            if !chains {
                return Err(self.unexpected("after a value that has no fields"));
            }
            fields.push(name.clone());
            self.pos += 1;
        }
        let end = self.tokens.get(self.pos.saturating_sub(1)).map_or(offset, |t| t.end);
        Ok(Operand { term, fields, source: self.source(offset, end), offset })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Template;
    use super::super::fixture::show;

    fn check(text: &str, expected: &str) {
        assert_eq!(show(Template::parse(text).map(|_| "ok")), expected, "parsing {text:?}");
    }

    #[test]
    fn coin_constructs_parse() {
        check(
            r#"{{$p:=index .Env "QT_CI_ARTIFACT_ID_PATH_Android-x86"}}{{index .Env $p}}"#,
            r#""ok""#,
        );
        check("{{ slice .Env.TESTED_MODULE_BRANCH_COIN 5 }}", r#""ok""#);
        check("{{if and .Env.A (not .Env.B)}}x{{else if .Env.C}}y{{else}}z{{end}}", r#""ok""#);
        check("{{ (index .Env \"A\").X | len | printf \"%d\" }}", r#""ok""#);
    }

    #[test]
    fn syntax_errors() {
        check("a {{ .Env.X", "error at 2: unclosed action: missing `}}`");
        check("{{ foo .X }}", "error at 3: function `foo` not defined");
        check("{{toLower .Config host.arch}}", "error at 18: function `host` not defined");
        check("{{}}", "error at 2: missing value for command");
        check("{{ | len }}", "error at 3: missing value for command");
        check("{{if}}{{end}}", "error at 4: missing value for if");
        check("{{$x}}", "error at 2: undefined variable `$x`");
        check("{{$x = 1}}", "error at 2: undefined variable `$x`");
        check("{{$x := $x}}", "error at 8: undefined variable `$x`");
        check("{{if 1}}{{$y := 1}}{{end}}{{$y}}", "error at 28: undefined variable `$y`");
        check(
            "{{ ($x := 1) }}",
            "error at 4: a variable can only be set at the start of an action",
        );
        check("{{.X .Y}}", "error at 2: `.X` is not a function: it cannot take arguments");
        check("{{.X | .Y}}", "error at 7: `.Y` is not a function: it cannot take a piped value");
        check("{{len}}", "error at 2: wrong number of arguments for `len`: want 1, got 0");
        check(
            "{{\"a\" | ne \"b\" \"c\"}}",
            "error at 8: wrong number of arguments for `ne`: want 2, got 3",
        );
        check(
            "{{slice \"a\" 1 2 3}}",
            "error at 2: wrong number of arguments for `slice`: want 1 to 3, got 4",
        );
        check(
            "{{print len}}",
            "error at 8: `len` is a function: put it in parentheses to pass its result",
        );
        check("{{(1}}", "error at 2: unclosed left parenthesis");
        check("{{1)}}", "error at 3: unexpected `)` in action");
        check(r#"{{"a""b"}}"#, r#"error at 5: unexpected `"b"` in operand"#);
        check(r#"{{"a".X}}"#, "error at 5: unexpected `.X` after a value that has no fields");
        check("{{$x := 1 | $y := 2}}", "error at 12: undefined variable `$y`");
        check("{{$x := 1}}{{ 1 | $x := 2}}", "error at 21: unexpected `:=` in operand");
        check("{{ nil }}", "error at 3: `nil` is not supported");
        check("{{ 1 = 2 }}", "error at 5: unexpected `=` in operand");
    }

    #[test]
    fn unsupported_keywords() {
        check("{{range}}", "error at 2: `range` is not supported");
        check("{{range .Env}}x{{end}}", "error at 2: `range` is not supported");
        check("{{- with .Env}}x{{end}}", "error at 4: `with` is not supported");
        check(r#"{{define "x"}}{{end}}"#, "error at 2: `define` is not supported");
        check(r#"{{template "x"}}"#, "error at 2: `template` is not supported");
        check(r#"{{ block "x" . }}{{end}}"#, "error at 3: `block` is not supported");
        check("{{ print range }}", "error at 9: `range` is not supported");
    }

    #[test]
    fn block_structure() {
        check("{{if .Env.X}}a", "error at 0: unclosed `{{if}}`: missing `{{end}}`");
        check("{{if 1}}{{else}}a", "error at 0: unclosed `{{if}}`: missing `{{end}}`");
        check("a{{end}}", "error at 1: unexpected `{{end}}`");
        check("a{{ else }}", "error at 1: unexpected `{{else}}`");
        check("{{if 1}}{{else}}{{else}}{{end}}", "error at 16: `{{else}}` after `{{else}}`");
        check("{{if 1}}{{else x}}{{end}}", "error at 15: unexpected `x` in `{{else}}`");
        check("{{if 1}}{{end 1}}", "error at 14: unexpected `1` in `{{end}}`");
        check("{{if 1}}{{ print 1 ", "error at 8: unclosed action: missing `}}`");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| format!("{{{{{}1{}}}}}", "(".repeat(n), ")".repeat(n));
        check(&deep(64), r#""ok""#);
        check(&deep(65), "error at 66: nested more than 64 deep");
        check(&deep(100_000), "error at 66: nested more than 64 deep");
        let ifs = |n: usize| format!("{}x{}", "{{if 1}}".repeat(n), "{{end}}".repeat(n));
        check(&ifs(64), r#""ok""#);
        check(&ifs(65), "error at 512: nested more than 64 deep");
        check(&ifs(100_000), "error at 512: nested more than 64 deep");
    }
}
