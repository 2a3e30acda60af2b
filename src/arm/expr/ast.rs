//! The expression tree. Spans are byte offsets within the JSON string's content.

/// A half-open byte range inside the expression string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExprSpan {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// An expression node.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `'text'`.
    Str(String, ExprSpan),
    /// `42`, `-1`.
    Int(i64, ExprSpan),
    /// `1.5`.
    Float(f64, ExprSpan),
    /// `name(args)` or `namespace.name(args)` (user-defined function).
    Call(Call),
    /// `base.name` (case-insensitive property access).
    Prop(Box<Expr>, String, ExprSpan),
    /// `base[index]`.
    Index(Box<Expr>, Box<Expr>, ExprSpan),
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `Some("ns")` for `ns.name(...)`.
    pub namespace: Option<String>,
    /// The function name as written.
    pub name: String,
    /// Lower-cased name, for case-insensitive dispatch (borrowed for built-ins).
    pub lname: std::borrow::Cow<'static, str>,
    /// Arguments.
    pub args: Vec<Expr>,
    /// The whole call.
    pub span: ExprSpan,
    /// The function name only.
    pub name_span: ExprSpan,
}

impl Expr {
    /// Where this node is.
    pub fn span(&self) -> ExprSpan {
        match self {
            Expr::Str(_, s) | Expr::Int(_, s) | Expr::Float(_, s) => *s,
            Expr::Prop(_, _, s) | Expr::Index(_, _, s) => *s,
            Expr::Call(c) => c.span,
        }
    }

    /// Visits this node and every node below it, parents first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        // Recursion is bounded: the parser refuses trees deeper than its
        // MAX_DEPTH. No stack vector: this runs for every expression of a file.
        f(self);
        match self {
            Expr::Call(c) => c.args.iter().for_each(|a| a.walk(f)),
            Expr::Prop(b, _, _) => b.walk(f),
            Expr::Index(b, i, _) => {
                b.walk(f);
                i.walk(f);
            }
            _ => {}
        }
    }

    /// The literal string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Expr::Str(s, _) => Some(s),
            _ => None,
        }
    }
}
