//! Command lines → argv (COIN-FORMAT.md §9.4), for `ExecuteCommand`, `RunQtUnitTest` and
//! `SetEnvironmentFromScript`.
//!
//! Coin does not publish its word-splitting rules. These are our inference from the files:
//!
//! - Words are separated by spaces, tabs, carriage returns and newlines (a folded YAML scalar
//!   leaves `\n` between its lines).
//! - `'…'` groups literally. `"…"` groups too, and inside it `\"` and `\\` are escapes. The quotes
//!   themselves are removed.
//! - Outside quotes a backslash is literal: Windows paths such as `C:\Utils\x.bat`, and even
//!   `c:\\users\\qt\\MSVC.bat`, pass unchanged.
//! - An unclosed quote is an error.
//! - When splitting before substitution, an action `{{ … }}` is atomic: it belongs to the word it
//!   touches and is never split, whatever spaces or quotes it holds. So is a whole
//!   `{{if}} … {{end}}`. Quotes around an action still group: `"a {{.X}}"` is one word.
//!   The words are rendered in order by one renderer, so a variable set in one word is seen in
//!   the next, and trim markers act on the text before it is split, as when rendering the line.
//!
//! Errors in a list element carry offsets into that element; a quote left open by substituted
//! text is reported at offset 0.

use super::ast::Node;
use super::render::Renderer;
use super::{Context, Template, TemplateError, render};

/// When a command is split into arguments, relative to rendering its templates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Splitting {
    /// Coin's default: split the raw text, then render each word, so that one `{{.Env.X}}` stays
    /// one argument even if X holds spaces.
    #[default]
    BeforeSubstitution,
    /// `executeCommandArgumentSplitingBehavior: SplitAfterVariableSubstitution`: render, then
    /// split, so that `{{.Env.COIN_CMAKE_ARGS}}` becomes many arguments.
    AfterSubstitution,
}

#[derive(Clone, Copy, Debug)]
pub enum CommandForm<'a> {
    /// `command: "a b"`
    Line(&'a str),
    /// `command: [a, b]`
    List(&'a [String]),
}

/// Returns argv.
///
/// - `List` + `BeforeSubstitution`: one argument per element, even one with spaces, even an
///   empty one.
/// - `List` + `AfterSubstitution`: each element rendered, then split; empty words dropped.
/// - `Line` + `BeforeSubstitution`: split, then each word rendered; empty words dropped (on
///   Linux `{{.Env.CONFIGURE_ENV_PREFIX}}` is empty and must not become an empty argv\[0\]).
/// - `Line` + `AfterSubstitution`: rendered, then split; empty words dropped.
pub fn command_argv(
    command: CommandForm<'_>,
    splitting: Splitting,
    ctx: &Context<'_>,
) -> Result<Vec<String>, TemplateError> {
    match (command, splitting) {
        (CommandForm::Line(text), Splitting::BeforeSubstitution) => {
            let template = Template::parse(text)?;
            let mut renderer = Renderer::new(ctx);
            let mut argv = Vec::new();
            for word in words_of(&template)? {
                let mut arg = String::new();
                for piece in word {
                    match piece {
                        Piece::Text(text) => arg.push_str(&text),
                        Piece::Node(node) => {
                            renderer.nodes(std::slice::from_ref(node), &mut arg)?;
                        }
                    }
                }
                if !arg.is_empty() {
                    argv.push(arg);
                }
            }
            Ok(argv)
        }
        (CommandForm::Line(text), Splitting::AfterSubstitution) => {
            split_rendered(&render(text, ctx)?)
        }
        (CommandForm::List(items), Splitting::BeforeSubstitution) => {
            items.iter().map(|item| render(item, ctx)).collect()
        }
        (CommandForm::List(items), Splitting::AfterSubstitution) => {
            let mut argv = Vec::new();
            for item in items {
                argv.extend(split_rendered(&render(item, ctx)?)?);
            }
            Ok(argv)
        }
    }
}

/// The raw tokens of a Line before substitution, for plan-time checks (each token keeps its
/// `{{ }}` actions intact; quotes in the text around them are removed). Empty tokens (`''`)
/// are kept here; [`command_argv`] drops them once rendered.
pub fn split_words(text: &str) -> Result<Vec<String>, TemplateError> {
    let template = Template::parse(text)?;
    let words = words_of(&template)?;
    let raw = |piece: Piece<'_>| match piece {
        Piece::Text(text) => text,
        Piece::Node(node) => node.span().map(|s| template.source_chars(s)).unwrap_or_default(),
    };
    Ok(words.into_iter().map(|word| word.into_iter().map(raw).collect()).collect())
}

fn words_of(template: &Template) -> Result<Vec<Vec<Piece<'_>>>, TemplateError> {
    let mut words = Words::default();
    for node in &template.nodes {
        match node {
            Node::Text { text, offset } => words.text(text, *offset),
            action => words.node(action),
        }
    }
    words.finish()
}

fn split_rendered(text: &str) -> Result<Vec<String>, TemplateError> {
    let mut words = Words::default();
    words.text(text, 0);
    let words = words.finish().map_err(|e| {
        TemplateError::new(0, format!("after substitution, the command has an {}", e.message))
    })?;
    let text_of = |word: Vec<Piece<'_>>| -> String {
        word.into_iter()
            .map(|piece| match piece {
                Piece::Text(text) => text,
                Piece::Node(_) => String::new(),
            })
            .collect()
    };
    Ok(words.into_iter().map(text_of).filter(|word| !word.is_empty()).collect())
}

/// A part of a word: text with its quotes removed, or an action kept whole.
enum Piece<'t> {
    Text(String),
    Node(&'t Node),
}

/// Words being split; the quote state carries over actions.
#[derive(Default)]
struct Words<'t> {
    done: Vec<Vec<Piece<'t>>>,
    /// The word being read, if any. A word may be empty (`''`).
    word: Option<Vec<Piece<'t>>>,
    /// The open quote and its offset.
    quote: Option<(char, usize)>,
}

impl<'t> Words<'t> {
    /// `offset` is where `text` starts in the template, for errors.
    fn text(&mut self, text: &str, offset: usize) {
        let mut chars = text.chars().enumerate();
        while let Some((i, c)) = chars.next() {
            match (self.quote, c) {
                (None, ' ' | '\t' | '\r' | '\n') => self.done.extend(self.word.take()),
                (None, '\'' | '"') => {
                    self.quote = Some((c, offset + i));
                    self.word.get_or_insert_with(Vec::new);
                }
                (Some(('\'', _)), '\'') | (Some(('"', _)), '"') => self.quote = None,
                (Some(('"', _)), '\\') => {
                    let next = chars.clone().next().map(|(_, n)| n);
                    if let Some(escaped @ ('"' | '\\')) = next {
                        chars.next();
                        self.push(escaped);
                    } else {
                        self.push('\\');
                    }
                }
                _ => self.push(c),
            }
        }
    }

    fn push(&mut self, c: char) {
        let word = self.word.get_or_insert_with(Vec::new);
        match word.last_mut() {
            Some(Piece::Text(text)) => text.push(c),
            _ => word.push(Piece::Text(c.to_string())),
        }
    }

    fn node(&mut self, node: &'t Node) {
        self.word.get_or_insert_with(Vec::new).push(Piece::Node(node));
    }

    fn finish(mut self) -> Result<Vec<Vec<Piece<'t>>>, TemplateError> {
        if let Some((quote, offset)) = self.quote {
            return Err(TemplateError::new(offset, format!("unclosed quote `{quote}`")));
        }
        self.done.extend(self.word.take());
        Ok(self.done)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{fixture, show};
    use super::*;

    fn check(command: CommandForm<'_>, splitting: Splitting, expected: &str) {
        let fixture = fixture();
        let actual = show(command_argv(command, splitting, &fixture.ctx()));
        assert_eq!(actual, expected, "splitting {command:?} {splitting:?}");
    }

    fn line(text: &str, expected: &str) {
        check(CommandForm::Line(text), Splitting::BeforeSubstitution, expected);
    }

    fn line_after(text: &str, expected: &str) {
        check(CommandForm::Line(text), Splitting::AfterSubstitution, expected);
    }

    fn list(items: &[&str], splitting: Splitting, expected: &str) {
        let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        check(CommandForm::List(&items), splitting, expected);
    }

    fn words(text: &str, expected: &str) {
        assert_eq!(show(split_words(text)), expected, "words of {text:?}");
    }

    #[test]
    fn an_empty_prefix_is_dropped() {
        // COIN-FORMAT.md §13.7, the default splitting.
        line(
            "{{.Env.CONFIGURE_ENV_PREFIX}} cmake --build . --parallel -v",
            r#"["cmake", "--build", ".", "--parallel", "-v"]"#,
        );
    }

    #[test]
    fn split_after_substitution_spreads_cmake_args() {
        line_after(
            "{{.Env.CONFIGURE_ENV_PREFIX}} {{.Env.CONFIGURE_EXECUTABLE}} {{.SourceDir}} {{.Env.COIN_CONFIGURE_ARGS}} -- {{.Env.COIN_CMAKE_ARGS}}",
            r#"["/home/qt/work/install/bin/qt-configure-module", "/home/qt/work/qt/qtbase", "--", "-DFFMPEG_DIR=/x", "-DQT_DEPLOY_FFMPEG=TRUE", "-DQT_BUILD_TESTS=OFF"]"#,
        );
    }

    #[test]
    fn default_splitting_keeps_one_action_one_argument() {
        line("echo {{.Env.X}}", r#"["echo", "a b"]"#);
        line(
            "echo {{.Env.COIN_CMAKE_ARGS}}",
            r#"["echo", "-DFFMPEG_DIR=/x -DQT_DEPLOY_FFMPEG=TRUE  -DQT_BUILD_TESTS=OFF"]"#,
        );
        line_after("echo {{.Env.X}}", r#"["echo", "a", "b"]"#);
        // Spaces and quotes inside an action do not split it.
        line(r#"echo {{ printf "%s %s" "a b" .Env.X }}x y"#, r#"["echo", "a b a bx", "y"]"#);
        line(r#"a"{{.Env.X}} c"d"#, r#"["aa b cd"]"#);
    }

    #[test]
    fn list_elements_are_never_split() {
        list(
            &["{{.InstallDir}}/bin/qmake"],
            Splitting::BeforeSubstitution,
            r#"["/home/qt/work/my install/bin/qmake"]"#,
        );
        list(
            &["echo", "{{.Env.UNSET}}", "a b"],
            Splitting::BeforeSubstitution,
            r#"["echo", "", "a b"]"#,
        );
        list(
            &["cmd.exe", "/C", "{{.Env.COIN_CMAKE_ARGS}}", "{{.Env.UNSET}}"],
            Splitting::AfterSubstitution,
            r#"["cmd.exe", "/C", "-DFFMPEG_DIR=/x", "-DQT_DEPLOY_FFMPEG=TRUE", "-DQT_BUILD_TESTS=OFF"]"#,
        );
    }

    #[test]
    fn folded_ctest_copy_gives_five_arguments() {
        // qtbase cmake_run_ctest.yaml: a folded scalar keeps the newlines of its lines.
        let text = "cmake -E copy\n  Testing{{.Env.CI_PATH_SEP}}Temporary{{.Env.CI_PATH_SEP}}LastTest.log\n  {{.Env.COIN_CTEST_RESULTSDIR}}{{.Env.CI_PATH_SEP}}CTest.log\n";
        let expected = r#"["cmake", "-E", "copy", "Testing/Temporary/LastTest.log", "/home/qt/work/ctest_results/CTest.log"]"#;
        line_after(text, expected);
        line(text, expected);
    }

    #[test]
    fn quotes_and_backslashes() {
        line(r"C:\Utils\x.bat /c", r#"["C:\\Utils\\x.bat", "/c"]"#);
        line(r"c:\\users\\qt\\MSVC.bat", r#"["c:\\\\users\\\\qt\\\\MSVC.bat"]"#);
        line(
            r#"echo " should run" 'a "b"' "a \"q\" \\ \n""#,
            r#"["echo", " should run", "a \"b\"", "a \"q\" \\ \\n"]"#,
        );
        line("a\tb\r\nc", r#"["a", "b", "c"]"#);
        line("echo '' \"\" x", r#"["echo", "x"]"#);
        line(r#"echo "a"#, "error at 5: unclosed quote `\"`");
        line("echo 'a {{.Env.X}}", "error at 5: unclosed quote `'`");
        line_after("echo {{.Env.Q}}", r#"["echo"]"#);
    }

    #[test]
    fn quotes_in_substituted_text_split_after() {
        let fixture = fixture();
        let mut env = fixture.ctx().env.clone();
        env.insert("ARGS".into(), r#"-DA="x y" 'b c' C:\d"#.into());
        env.insert("BAD".into(), r#"-DA="x"#.into());
        let ctx = Context { env: &env, ..fixture.ctx() };
        let argv =
            command_argv(CommandForm::Line("t {{.Env.ARGS}}"), Splitting::AfterSubstitution, &ctx);
        assert_eq!(show(argv), r#"["t", "-DA=x y", "b c", "C:\\d"]"#);
        let argv =
            command_argv(CommandForm::Line("t {{.Env.ARGS}}"), Splitting::BeforeSubstitution, &ctx);
        assert_eq!(show(argv), r#"["t", "-DA=\"x y\" 'b c' C:\\d"]"#);
        let argv =
            command_argv(CommandForm::Line("t {{.Env.BAD}}"), Splitting::AfterSubstitution, &ctx);
        assert_eq!(
            show(argv),
            "error at 0: after substitution, the command has an unclosed quote `\"`"
        );
    }

    #[test]
    fn words_share_variables_and_blocks_stay_whole() {
        line(
            r#"{{$p := index .Env "QT_CI_ARTIFACT_ID_PATH_Android-host"}} ls {{index .Env $p}}/install"#,
            r#"["ls", "/home/qt/work/artifacts/rhel/install"]"#,
        );
        line("echo {{if .Env.X}}a b{{else}}c{{end}} d", r#"["echo", "a b", "d"]"#);
        line("echo a {{- .Env.TESTED_MODULE_COIN}}", r#"["echo", "aqtdeclarative"]"#);
    }

    #[test]
    fn raw_words_keep_their_actions() {
        words(
            "{{.Env.CONFIGURE_ENV_PREFIX}} cmake --build . --parallel -v",
            r#"["{{.Env.CONFIGURE_ENV_PREFIX}}", "cmake", "--build", ".", "--parallel", "-v"]"#,
        );
        words(r#"a"{{ printf "%s %s" 1 2 }} x"b  ''"#, r#"["a{{ printf \"%s %s\" 1 2 }} xb", ""]"#);
        words("x{{if 1}} y {{end}}z", r#"["x{{if 1}} y {{end}}z"]"#);
        words("é {{.X}}é", r#"["é", "{{.X}}é"]"#);
        words("a {{", "error at 2: unclosed action: missing `}}`");
    }

    #[test]
    fn errors_in_words_and_elements() {
        line("echo {{.Config}}", "error at 7: unknown field `.Config`");
        list(
            &["a", "{{foo}}"],
            Splitting::BeforeSubstitution,
            "error at 2: function `foo` not defined",
        );
    }
}
