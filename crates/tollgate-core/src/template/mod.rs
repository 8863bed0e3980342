//! The `{{ … }}` templates of Coin files, and how a command line becomes an argv.
//!
//! Coin renders its string fields with Go's `text/template` (COIN-FORMAT.md §9.1). This is the
//! subset Coin's files use: text, actions with trim markers and comments, pipelines, variables,
//! field chains on the [`Context`], literals, Go's builtin functions and Coin's own
//! (`unixPathSeparators`, `ToUpper`, `ToLower`, `toUpper`, `toLower`), and `if`/`else`.
//! `range`, `with`, `define`, `template` and `block` are refused when parsing.
//!
//! Where Coin differs from plain Go, we follow Coin: an unset `.Env.X`, like a missing `index`
//! key, renders as the empty string, never `<no value>`.
//!
//! Repository text is untrusted, so nothing here panics: parsing and rendering return a
//! [`TemplateError`], nesting is bounded (64 levels of `if` and parentheses together) and so is
//! the rendered size.

mod ast;
mod format;
mod func;
mod lex;
mod parse;
mod render;
mod split;
mod value;

#[cfg(test)]
mod fixture;

use std::collections::BTreeMap;
use std::fmt;

pub use split::{CommandForm, Splitting, command_argv, split_words};

/// How deep `if` blocks and parentheses may nest, together.
const MAX_DEPTH: usize = 64;

/// A parsed template. Parse once, render in many contexts.
#[derive(Clone, Debug)]
pub struct Template {
    source: String,
    nodes: Vec<ast::Node>,
}

impl Template {
    /// Parses once; syntax errors (unclosed action, unknown function, unknown keyword, bad
    /// literal, undefined variable) are errors here, so that a plan can report them before
    /// anything runs.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        Ok(Template { source: text.to_owned(), nodes: parse::parse(text)? })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the text has no actions (rendering returns the text unchanged). A lone `}}` is
    /// text, as in Go.
    pub fn is_literal(&self) -> bool {
        !self.source.contains("{{")
    }

    pub fn render(&self, ctx: &Context<'_>) -> Result<String, TemplateError> {
        let mut out = String::new();
        render::Renderer::new(ctx).nodes(&self.nodes, &mut out)?;
        Ok(out)
    }

    /// Top-level fields used that [`Context`] does not know, such as `.Config`, with their dot,
    /// in order of first use. Rendering them fails; a plan warns about them early.
    pub fn unknown_fields(&self) -> Vec<String> {
        let mut names = Vec::new();
        ast::walk_root_fields(&self.nodes, &mut |field| {
            if !value::is_context_field(field) {
                let name = format!(".{field}");
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        });
        names
    }

    /// The source text between two char offsets.
    fn source_chars(&self, span: ast::Span) -> String {
        self.source.chars().skip(span.start).take(span.end.saturating_sub(span.start)).collect()
    }
}

/// One convenience: parse + render.
pub fn render(text: &str, ctx: &Context<'_>) -> Result<String, TemplateError> {
    Template::parse(text)?.render(ctx)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    /// Char (not byte) offset into the template text of the offending action or token.
    pub offset: usize,
    pub message: String,
}

impl TemplateError {
    fn new(offset: usize, message: impl Into<String>) -> TemplateError {
        TemplateError { offset, message: message.into() }
    }
}

/// `at character 4: function `foo` not defined`
impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for TemplateError {}

/// The data a template sees as `.` (COIN-FORMAT.md §9.2).
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// `.Env`: the work item's current environment.
    pub env: &'a BTreeMap<String, String>,
    pub agent_working_dir: &'a str,
    pub source_dir: &'a str,
    pub build_dir: &'a str,
    pub install_dir: &'a str,
    pub install_root: &'a str,
    pub num_cpu: u32,
    pub coin_download_url: &'a str,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::fixture::fixture;
    use super::*;

    /// Runs everything there is on `text`; none of it may panic.
    fn exercise(text: &str) {
        let fixture = fixture();
        let ctx = fixture.ctx();
        if let Ok(template) = Template::parse(text) {
            let _ = template.render(&ctx);
            let _ = template.unknown_fields();
            let _ = template.is_literal();
        }
        let _ = split_words(text);
        let list = [text.to_owned(), format!("a {text}")];
        for splitting in [Splitting::BeforeSubstitution, Splitting::AfterSubstitution] {
            let _ = command_argv(CommandForm::Line(text), splitting, &ctx);
            let _ = command_argv(CommandForm::List(&list), splitting, &ctx);
        }
    }

    /// Pieces that make random text look like templates, so that deep paths get reached.
    const PIECES: &[&str] = &[
        "{{",
        "}}",
        "{{- ",
        " -}}",
        "{{/*",
        "*/}}",
        "if ",
        "else ",
        "end",
        "range",
        ".Env.X",
        ".Env",
        ".SourceDir",
        ".Config",
        ".",
        "$",
        "$x",
        "$y",
        " := ",
        " = ",
        "(",
        ")",
        " | ",
        "\"",
        "'",
        "`",
        "\\",
        "index ",
        "slice ",
        "printf ",
        "print ",
        "len ",
        "and ",
        "or ",
        "eq ",
        "unixPathSeparators ",
        "ToUpper ",
        "\"%s %d %q %5.2v %\"",
        "\"a b\"",
        "5",
        "-1",
        "0x",
        "1.5",
        "'x'",
        " ",
        "\n",
        "\t",
        "é",
        "🦀",
        "\"\\u00e9\\x41\"",
        "a",
        "/",
    ];

    fn pieces() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn random_text_never_panics(text in "\\PC{0,80}") {
            exercise(&text);
        }

        #[test]
        fn random_template_pieces_never_panic(text in pieces()) {
            exercise(&text);
        }
    }

    /// Every prefix and every one-char deletion of real-looking templates.
    #[test]
    fn truncated_and_damaged_templates_never_panic() {
        let samples = [
            r#"{{$p := index .Env "QT_CI_ARTIFACT_ID_PATH_Android-host" }}{{index .Env $p}}/install"#,
            "{{.Env.CONFIGURE_ENV_PREFIX}} cmake --build . --parallel -v",
            r#"echo "a {{ printf "%s %q" .Env.X 'é' }}" 'b\c' {{- /* c */ -}} d"#,
            "{{if and .Env.A (not (eq .NumCPU 3))}}x{{else if .Env.B}}y{{else}}z{{end}}",
            "{{ slice .Env.TESTED_MODULE_BRANCH_COIN 5 | ToUpper | printf `%-9s|` }}",
        ];
        for sample in samples {
            let chars: Vec<char> = sample.chars().collect();
            for i in 0..=chars.len() {
                exercise(&chars[..i].iter().collect::<String>());
                let mut damaged = chars.clone();
                if i < damaged.len() {
                    damaged.remove(i);
                    exercise(&damaged.iter().collect::<String>());
                }
            }
        }
    }
}
