//! The parsed form of a template.

/// Char offsets `[start, end)` in the template text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug)]
pub(super) enum Node {
    Text {
        text: String,
        offset: usize,
    },
    /// `{{ pipeline }}`: prints the value unless the pipeline declares or assigns a variable.
    Action {
        pipeline: Pipeline,
        span: Span,
    },
    /// `{{if}} … {{else if}} … {{else}} … {{end}}`
    If {
        branches: Vec<Branch>,
        otherwise: Vec<Node>,
        span: Span,
    },
}

impl Node {
    /// The whole node in the source: `{{ … }}`, or `{{if …}}` through `{{end}}`.
    pub fn span(&self) -> Option<Span> {
        match self {
            Node::Text { .. } => None,
            Node::Action { span, .. } | Node::If { span, .. } => Some(*span),
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Branch {
    pub condition: Pipeline,
    pub body: Vec<Node>,
}

/// `[$var := | $var =] command (| command)*`; never without commands.
#[derive(Clone, Debug)]
pub(super) struct Pipeline {
    pub declaration: Option<Declaration>,
    pub commands: Vec<Command>,
}

#[derive(Clone, Debug)]
pub(super) struct Declaration {
    /// With its `$`.
    pub variable: String,
    /// `=` rather than `:=`.
    pub assign: bool,
    pub offset: usize,
}

#[derive(Clone, Debug)]
pub(super) enum Command {
    /// A function and its arguments. A piped value becomes the last argument.
    Call {
        func: Func,
        name: String,
        args: Vec<Operand>,
        offset: usize,
    },
    Operand(Operand),
}

/// A term and the fields chained on it: `.Env.X`, `$p`, `(index .Env "A").X`, `"text"`.
#[derive(Clone, Debug)]
pub(super) struct Operand {
    pub term: Term,
    pub fields: Vec<String>,
    /// As written, for messages.
    pub source: String,
    pub offset: usize,
}

#[derive(Clone, Debug)]
pub(super) enum Term {
    /// `.`, the context (`.Env` is `Dot` with the field `Env`).
    Dot,
    /// With its `$`; `$` alone is the context.
    Variable(String),
    Str(String),
    Int(i64),
    Bool(bool),
    Pipeline(Box<Pipeline>),
    /// A function name; the parser leaves one only at the head of a [`Command::Call`].
    Func(Func),
}

/// The functions a template may call: Go's builtins that make sense on strings, and Coin's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Func {
    Index,
    Slice,
    Len,
    Print,
    Printf,
    Println,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Not,
    UnixPathSeparators,
    ToUpper,
    ToLower,
}

impl Func {
    pub fn lookup(name: &str) -> Option<Func> {
        Some(match name {
            "index" => Func::Index,
            "slice" => Func::Slice,
            "len" => Func::Len,
            "print" => Func::Print,
            "printf" => Func::Printf,
            "println" => Func::Println,
            "eq" => Func::Eq,
            "ne" => Func::Ne,
            "lt" => Func::Lt,
            "le" => Func::Le,
            "gt" => Func::Gt,
            "ge" => Func::Ge,
            "and" => Func::And,
            "or" => Func::Or,
            "not" => Func::Not,
            "unixPathSeparators" => Func::UnixPathSeparators,
            "ToUpper" | "toUpper" => Func::ToUpper,
            "ToLower" | "toLower" => Func::ToLower,
            _ => return None,
        })
    }

    /// The least and the most arguments, the piped value included.
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::Print | Func::Println => (0, None),
            Func::Index | Func::Printf | Func::And | Func::Or => (1, None),
            Func::Slice => (1, Some(3)),
            Func::Eq => (2, None),
            Func::Ne | Func::Lt | Func::Le | Func::Gt | Func::Ge => (2, Some(2)),
            Func::Len | Func::Not | Func::UnixPathSeparators | Func::ToUpper | Func::ToLower => {
                (1, Some(1))
            }
        }
    }
}

/// Calls `visit` with the first field of every chain on the context (`.Config` → `Config`,
/// `$.Config` too), in source order.
pub(super) fn walk_root_fields(nodes: &[Node], visit: &mut dyn FnMut(&str)) {
    for node in nodes {
        match node {
            Node::Text { .. } => {}
            Node::Action { pipeline, .. } => walk_pipeline(pipeline, visit),
            Node::If { branches, otherwise, .. } => {
                for branch in branches {
                    walk_pipeline(&branch.condition, visit);
                    walk_root_fields(&branch.body, visit);
                }
                walk_root_fields(otherwise, visit);
            }
        }
    }
}

fn walk_pipeline(pipeline: &Pipeline, visit: &mut dyn FnMut(&str)) {
    for command in &pipeline.commands {
        match command {
            Command::Call { args, .. } => args.iter().for_each(|a| walk_operand(a, visit)),
            Command::Operand(operand) => walk_operand(operand, visit),
        }
    }
}

fn walk_operand(operand: &Operand, visit: &mut dyn FnMut(&str)) {
    match &operand.term {
        Term::Dot => {}
        Term::Variable(name) if name == "$" => {}
        Term::Pipeline(pipeline) => return walk_pipeline(pipeline, visit),
        _ => return,
    }
    if let Some(first) = operand.fields.first() {
        visit(first);
    }
}
