//! [`Node`]s + [`Context`] → text.

use super::ast::{Command, Func, Node, Operand, Pipeline, Term};
use super::func;
use super::value::Value;
use super::{Context, TemplateError};

/// The most bytes one rendering may produce, output and intermediate strings together. A
/// template has no loops, but `{{$a = print $a $a}}` doubles a string each time it is written.
const MAX_BYTES: usize = 16 << 20;

/// Renders nodes in order. Variables live as long as the renderer, so that the words of a
/// command line, rendered one by one, share them as the whole line would.
pub(super) fn too_big() -> String {
    format!("the text grows beyond {} MiB", MAX_BYTES >> 20)
}

pub(super) struct Renderer<'c> {
    ctx: &'c Context<'c>,
    /// Innermost last; `$` is the context.
    vars: Vec<(String, Value<'c>)>,
    budget: usize,
}

impl<'c> Renderer<'c> {
    pub fn new(ctx: &'c Context<'c>) -> Renderer<'c> {
        Renderer { ctx, vars: vec![("$".to_owned(), Value::Context(ctx))], budget: MAX_BYTES }
    }

    pub fn nodes(&mut self, nodes: &[Node], out: &mut String) -> Result<(), TemplateError> {
        for node in nodes {
            match node {
                Node::Text { text, offset } => {
                    self.spend(text.len(), *offset)?;
                    out.push_str(text);
                }
                Node::Action { pipeline, span } => {
                    let value = self.pipeline(pipeline)?;
                    if pipeline.declaration.is_none() {
                        let text = value.print().map_err(|m| TemplateError::new(span.start, m))?;
                        self.spend(text.len(), span.start)?;
                        out.push_str(&text);
                    }
                }
                Node::If { branches, otherwise, .. } => {
                    let mark = self.vars.len();
                    let mut body = otherwise;
                    for branch in branches {
                        if self.pipeline(&branch.condition)?.truthy() {
                            body = &branch.body;
                            break;
                        }
                    }
                    let rendered = self.nodes(body, out);
                    self.vars.truncate(mark);
                    rendered?;
                }
            }
        }
        Ok(())
    }

    fn spend(&mut self, bytes: usize, offset: usize) -> Result<(), TemplateError> {
        self.budget =
            self.budget.checked_sub(bytes).ok_or_else(|| TemplateError::new(offset, too_big()))?;
        Ok(())
    }

    fn pipeline(&mut self, pipeline: &Pipeline) -> Result<Value<'c>, TemplateError> {
        let mut value = None;
        for command in &pipeline.commands {
            value = Some(self.command(command, value.take())?);
        }
        // The parser never makes an empty pipeline; `true` keeps this total.
        let value = value.unwrap_or(Value::Bool(true));
        if let Some(declaration) = &pipeline.declaration {
            let name = &declaration.variable;
            if !declaration.assign {
                self.vars.push((name.clone(), value.clone()));
            } else if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = value.clone();
            } else {
                let message = format!("undefined variable `{name}`");
                return Err(TemplateError::new(declaration.offset, message));
            }
        }
        Ok(value)
    }

    fn command(
        &mut self,
        command: &Command,
        piped: Option<Value<'c>>,
    ) -> Result<Value<'c>, TemplateError> {
        let (func, name, args, offset) = match command {
            Command::Operand(operand) => return self.operand(operand),
            Command::Call { func, name, args, offset } => (*func, name, args, *offset),
        };
        if matches!(func, Func::And | Func::Or) {
            return self.and_or(func, args, piped);
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        for arg in args {
            values.push(self.operand(arg)?);
        }
        values.extend(piped);
        // Check before the call, so that a string is never built far beyond the budget.
        let input: usize = values.iter().map(Value::len_hint).sum();
        if input > self.budget {
            self.spend(input, offset)?;
        }
        let value = func::call(func, name, values, self.budget)
            .map_err(|m| TemplateError::new(offset, m))?;
        if let Value::Str(s) = &value {
            self.spend(s.len(), offset)?;
        }
        Ok(value)
    }

    /// Go's `and` and `or` give the first argument that decides and evaluate no further, so
    /// `and .Env.X (slice .Env.X 5)` is safe when X is unset.
    fn and_or(
        &mut self,
        func: Func,
        args: &[Operand],
        piped: Option<Value<'c>>,
    ) -> Result<Value<'c>, TemplateError> {
        let mut last = None;
        for arg in args {
            let value = self.operand(arg)?;
            if value.truthy() != matches!(func, Func::And) {
                return Ok(value);
            }
            last = Some(value);
        }
        Ok(piped.or(last).unwrap_or(Value::Bool(matches!(func, Func::And))))
    }

    fn operand(&mut self, operand: &Operand) -> Result<Value<'c>, TemplateError> {
        let error = |m| TemplateError::new(operand.offset, m);
        let (mut value, mut path) = match &operand.term {
            Term::Dot => (Value::Context(self.ctx), String::new()),
            Term::Variable(name) => {
                let found = self.vars.iter().rev().find(|(n, _)| n == name);
                let value = found
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| error(format!("undefined variable `{name}`")))?;
                (value, name.clone())
            }
            Term::Str(s) => (Value::Str(s.clone()), String::new()),
            Term::Int(i) => (Value::Int(*i), String::new()),
            Term::Bool(b) => (Value::Bool(*b), String::new()),
            Term::Pipeline(pipeline) => (self.pipeline(pipeline)?, "(…)".to_owned()),
            Term::Func(_) => return Err(error("a function is not a value".to_owned())),
        };
        for field in &operand.fields {
            value = value.field(field, &path).map_err(error)?;
            path = format!("{path}.{field}");
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{check_render, fixture};
    use super::super::{Context, Template, render};

    #[test]
    fn coin_fields_and_env() {
        check_render("{{.SourceDir}}", "/home/qt/work/qt/qtbase");
        check_render("{{ .InstallDir }}", "/home/qt/work/my install");
        check_render(
            "{{.AgentWorkingDir}}|{{.BuildDir}}|{{.InstallRoot}}",
            "/home/qt/work|/home/qt/work/qt/qtbase/build|/home/qt/work/install-root",
        );
        check_render("-j{{.NumCPU}}", "-j8");
        check_render("wget {{.CoinDownloadURL}}/x", "wget http://coin/x");
        check_render("{{$.SourceDir}}", "/home/qt/work/qt/qtbase");
    }

    #[test]
    fn unset_env_is_empty_never_no_value() {
        // COIN-FORMAT.md §13.6.
        check_render("{{.Env.NON_QTBASE_CONFIGURE_ARGS}}", "");
        check_render("{{index .Env \"NOT-SET\"}}", "");
        check_render("[{{.Env.CONFIGURE_ENV_PREFIX}}]", "[]");
    }

    #[test]
    fn double_indirection_through_a_variable() {
        check_render(
            r#"{{$p := index .Env "QT_CI_ARTIFACT_ID_PATH_Android-host" }}{{index .Env $p}}/install"#,
            "/home/qt/work/artifacts/rhel/install",
        );
        check_render(
            r#"{{$p:=index .Env "QT_CI_ARTIFACT_ID_PATH_Android-host"}}{{index .Env $p}}"#,
            "/home/qt/work/artifacts/rhel",
        );
        // Redeclaring shadows, assigning replaces.
        check_render(r#"{{$a := "x"}}{{$a := "y"}}{{$a}}{{$a = "z"}}{{$a}}"#, "yz");
    }

    #[test]
    fn coin_functions() {
        check_render("{{ slice .Env.TESTED_MODULE_BRANCH_COIN 5 }}", "dev");
        check_render("{{ slice .Env.TESTED_MODULE_BRANCH_COIN 0 4 }}", "tqtc");
        check_render("{{unixPathSeparators .Env.MINGW_PATH}}", "C:/MINGW");
        check_render("{{ToUpper .Env.TESTED_MODULE_COIN}}_CMAKE_ARGS", "QTDECLARATIVE_CMAKE_ARGS");
        check_render(
            " ${{ToUpper .Env.TESTED_MODULE_COIN}}_CONFIGURE_ARGS",
            " $QTDECLARATIVE_CONFIGURE_ARGS",
        );
        check_render("{{toUpper \"a\"}}{{ToLower \"B\"}}{{toLower \"C\"}}", "Abc");
        check_render("{{ .Env.TESTED_MODULE_COIN | ToUpper | printf \"%s!\" }}", "QTDECLARATIVE!");
    }

    #[test]
    fn unix_path_separators_on_a_windows_install_dir() {
        let fixture = fixture();
        let mut ctx = fixture.ctx();
        ctx.install_dir = r"C:\Users\qt\work\install";
        assert_eq!(
            render("{{unixPathSeparators .InstallDir}}", &ctx).unwrap(),
            "C:/Users/qt/work/install"
        );
    }

    #[test]
    fn backslashes_stay_literal() {
        check_render(
            r"Path={{.Env.MINGW_PATH}}\bin;{{.Env.Path}}",
            r"Path=C:\MINGW\bin;C:\Windows",
        );
        check_render(
            r"{{.SourceDir}}\examples\examples.pro",
            r"/home/qt/work/qt/qtbase\examples\examples.pro",
        );
    }

    #[test]
    fn go_builtins() {
        check_render("{{len .Env.TESTED_MODULE_COIN}} {{len \"\"}}", "13 0");
        check_render("{{index \"abc\" 1}}", "98");
        check_render("{{print 1 2 \"a\" \"b\" 3 true}}", "1 2ab3 true");
        check_render("{{println 1 \"a\"}}", "1 a\n");
        check_render(
            r#"{{printf "%s-%d-%v-%q-%t" "a" 3 true "q\"" false}}"#,
            r#"a-3-true-"q\""-false"#,
        );
        check_render(
            r#"{{printf "%5s|%-3d|%03d|%x|%X|%c|%.2s|%%" "ab" 7 -5 255 "hi" 65 "xyz"}}"#,
            "   ab|7  |-05|ff|6869|A|xy|%",
        );
        check_render(r#"{{printf "%d %s" "a"}}"#, "%!d(string=a) %!s(MISSING)");
        check_render(r#"{{printf "%s" "a" 1}}"#, "a%!(EXTRA int=1)");
        check_render(
            r#"{{printf "%99999999999999999999999s" "a"}}"#,
            "%!(NOVERB)%!(EXTRA string=a)",
        );
        check_render(
            r#"{{eq 1 1}} {{eq "a" "b" "a"}} {{ne "a" "b"}} {{lt 1 2}} {{ge "a" "b"}}"#,
            "true true true true false",
        );
        check_render(
            r#"{{and 1 0 2}} {{and 1 2}} {{or "" "x"}} {{or 0 ""}} {{not ""}}"#,
            "0 2 x  true",
        );
        check_render("{{and .Env.UNSET (slice .Env.UNSET 5)}}", "");
        check_render("{{.Env.TESTED_MODULE_COIN | len}}", "13");
        check_render("{{(index .Env \"TESTED_MODULE_COIN\") | printf \"%s\"}}", "qtdeclarative");
    }

    #[test]
    fn literals_and_printing() {
        check_render(r#"{{"a\tb"}}{{`c\d`}}{{-1}}{{0x10}}{{true}}{{'a'}}"#, "a\tbc\\d-116true97");
    }

    #[test]
    fn maps_print_as_go_does() {
        let env = [("B", "2"), ("A", "x y")].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
        let fixture = fixture();
        let ctx = Context { env: &env, ..fixture.ctx() };
        assert_eq!(render("{{.Env}}", &ctx).unwrap(), "map[A:x y B:2]");
        assert_eq!(
            render("{{printf \"%v|%s\" .Env .Env}}", &ctx).unwrap(),
            "map[A:x y B:2]|map[A:x y B:2]"
        );
        assert_eq!(render("{{len .Env}}{{if .Env}}!{{end}}", &ctx).unwrap(), "2!");
    }

    #[test]
    fn if_else() {
        check_render("{{if .Env.TESTED_MODULE_COIN}}yes{{else}}no{{end}}", "yes");
        check_render("{{if .Env.UNSET}}yes{{else}}no{{end}}", "no");
        check_render("{{if .Env.UNSET}}a{{else if eq .NumCPU 8}}b{{else}}c{{end}}", "b");
        check_render("{{if 0}}a{{else if false}}b{{end}}", "");
        check_render("{{if $x := .Env.TESTED_MODULE_COIN}}{{$x}}{{end}}", "qtdeclarative");
        check_render("{{$x := 1}}{{if true}}{{$x = 2}}{{$y := 3}}{{end}}{{$x}}", "2");
        check_render("a {{- if true -}} b {{- end -}} c", "abc");
        check_render("{{/* comment */}}a{{- /* trimmed */ -}}  b", "ab");
    }

    #[test]
    fn render_errors() {
        check_render("{{.Config}}", "error at 2: unknown field `.Config`");
        check_render(
            "x {{.SourceDir.X}}",
            "error at 4: `.SourceDir` is a string: it has no field `X`",
        );
        check_render("{{slice .Env.UNSET 5}}", "error at 2: slice index out of range: 5");
        check_render("{{slice \"é\" 1}}", "error at 2: slice [1:2] cuts a character of `é` in two");
        check_render(
            "{{index .Env 1}}",
            "error at 2: the key of `index` on a map must be a string, not int",
        );
        check_render(
            "{{eq 1 \"a\"}}",
            "error at 2: incompatible types for comparison: int and string",
        );
        check_render("{{.}}", "error at 0: the whole context `.` cannot be printed");
        check_render("{{ToUpper 1}}", "error at 2: `ToUpper` wants a string, not int");
    }

    #[test]
    fn unknown_fields_are_listed() {
        let template = Template::parse(
            "{{.Config}} {{$.Config.X}} {{.Env.A}} {{if .Other}}{{(.Third)}}{{end}}",
        )
        .unwrap();
        assert_eq!(template.unknown_fields(), [".Config", ".Other", ".Third"]);
        assert!(Template::parse("{{.SourceDir}}").unwrap().unknown_fields().is_empty());
    }

    #[test]
    fn every_context_field_resolves() {
        let fixture = fixture();
        for field in super::super::value::CONTEXT_FIELDS {
            let template = Template::parse(&format!("{{{{.{field}}}}}")).unwrap();
            assert!(template.unknown_fields().is_empty(), "{field}");
            assert!(template.render(&fixture.ctx()).is_ok(), "{field}");
        }
    }

    #[test]
    fn runaway_growth_is_stopped() {
        let mut text = String::from(r#"{{$a := "xxxxxxxxxxxxxxxx"}}"#);
        text += &"{{$a = print $a $a}}".repeat(40);
        check_render(&text, "error at 415: the text grows beyond 16 MiB");
    }

    #[test]
    fn literal_templates() {
        let template = Template::parse("plain }} text").unwrap();
        assert!(template.is_literal());
        assert_eq!(template.source(), "plain }} text");
        assert_eq!(template.render(&fixture().ctx()).unwrap(), "plain }} text");
        assert!(!Template::parse("{{/* c */}}").unwrap().is_literal());
    }
}
