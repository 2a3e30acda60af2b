//! JSON(C) loading that keeps a byte span for every value, so every finding can
//! name file, line and column. Comments are accepted as ARM accepts them; a BOM
//! and CRLF line ends are fine; anything else non-JSON is an `ARM001` finding.

use crate::diag::{line_col, Location, Span};
use jsonc_parser::ast;
use serde_json::{Map, Number, Value as Json};

/// Deepest nesting accepted; deeper input is a syntax finding, never a stack overflow.
pub const MAX_DEPTH: usize = 512;

/// A parsed JSON file: its text, its value and the span of every node.
#[derive(Debug)]
pub struct Document {
    /// The file name as given by the user.
    pub file: String,
    /// The text (BOM removed; offsets refer to this text).
    pub text: String,
    /// The parsed value.
    pub value: Json,
    spans: SpanNode,
}

/// Why a file could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct SyntaxError {
    /// File name.
    pub file: String,
    /// What is wrong.
    pub message: String,
    /// Where (byte span in the text as read, BOM removed).
    pub span: Span,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

#[derive(Debug)]
enum SpanNode {
    Leaf(Span),
    Object(Span, Vec<(String, SpanNode)>),
    Array(Span, Vec<SpanNode>),
}

impl SpanNode {
    fn span(&self) -> Span {
        match self {
            SpanNode::Leaf(s) | SpanNode::Object(s, _) | SpanNode::Array(s, _) => *s,
        }
    }
}

/// Parses `bytes` read from `file`.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Document, SyntaxError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            let prefix =
                std::str::from_utf8(bytes.get(..at).unwrap_or_default()).unwrap_or_default();
            let (line, column) = line_col(prefix, at);
            return Err(SyntaxError {
                file: file.to_string(),
                message: format!("invalid UTF-8 at byte {at}"),
                span: Span::new(at, at + 1),
                line,
                column,
            });
        }
    };
    parse_str(file, text)
}

/// Parses a string.
pub fn parse_str(file: &str, text: &str) -> Result<Document, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let syntax = |message: String, span: Span| {
        let (line, column) = line_col(text, span.start);
        SyntaxError {
            file: file.to_string(),
            message,
            span,
            line,
            column,
        }
    };
    let options = jsonc_parser::ParseOptions {
        allow_comments: true,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let parsed = jsonc_parser::parse_to_ast(text, &Default::default(), &options).map_err(|e| {
        let r = e.range();
        syntax(e.kind().to_string(), Span::new(r.start, r.end))
    })?;
    let Some(root) = parsed.value else {
        return Err(syntax(
            "the file holds no JSON value".into(),
            Span::new(0, 0),
        ));
    };
    let (value, spans) = convert(&root, 0).map_err(|(m, s)| syntax(m, s))?;
    Ok(Document {
        file: file.to_string(),
        text: text.to_string(),
        value,
        spans,
    })
}

fn range(r: &jsonc_parser::common::Range) -> Span {
    Span::new(r.start, r.end)
}

fn convert(node: &ast::Value<'_>, depth: usize) -> Result<(Json, SpanNode), (String, Span)> {
    // The parser already limits nesting; this guards our own recursion too.
    if depth > MAX_DEPTH {
        use jsonc_parser::common::Ranged;
        return Err((
            format!("nesting deeper than {MAX_DEPTH} levels"),
            range(&node.range()),
        ));
    }
    Ok(match node {
        ast::Value::StringLit(s) => (
            Json::String(s.value.to_string()),
            SpanNode::Leaf(range(&s.range)),
        ),
        ast::Value::NumberLit(n) => {
            let span = range(&n.range);
            let number = n
                .value
                .parse::<i64>()
                .ok()
                .map(Number::from)
                .or_else(|| n.value.parse::<f64>().ok().and_then(Number::from_f64))
                .ok_or_else(|| (format!("number {} is out of range", n.value), span))?;
            (Json::Number(number), SpanNode::Leaf(span))
        }
        ast::Value::BooleanLit(b) => (Json::Bool(b.value), SpanNode::Leaf(range(&b.range))),
        ast::Value::NullKeyword(n) => (Json::Null, SpanNode::Leaf(range(&n.range))),
        ast::Value::Array(a) => {
            let mut values = Vec::with_capacity(a.elements.len());
            let mut spans = Vec::with_capacity(a.elements.len());
            for e in &a.elements {
                let (v, s) = convert(e, depth + 1)?;
                values.push(v);
                spans.push(s);
            }
            (Json::Array(values), SpanNode::Array(range(&a.range), spans))
        }
        ast::Value::Object(o) => {
            let mut map = Map::with_capacity(o.properties.len());
            let mut spans = Vec::with_capacity(o.properties.len());
            for p in &o.properties {
                let key = p.name.as_str().to_string();
                let (v, s) = convert(&p.value, depth + 1)?;
                map.insert(key.clone(), v);
                spans.push((key, s));
            }
            (Json::Object(map), SpanNode::Object(range(&o.range), spans))
        }
    })
}

/// Splits a JSON pointer into unescaped tokens (`~1` is `/`, `~0` is `~`).
pub fn pointer_tokens(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
}

/// Appends a token to a JSON pointer, escaping it.
pub fn pointer_push(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}

impl Document {
    /// The span of the value at `pointer`, if it exists.
    pub fn span(&self, pointer: &str) -> Option<Span> {
        let (found, exact) = self.walk(pointer);
        exact.then_some(found)
    }

    /// The span of the value at `pointer`, or of the deepest existing ancestor
    /// (the object that lacks the property).
    pub fn nearest_span(&self, pointer: &str) -> Span {
        self.walk(pointer).0
    }

    fn walk(&self, pointer: &str) -> (Span, bool) {
        let mut node = &self.spans;
        for token in pointer_tokens(pointer) {
            let next = match node {
                SpanNode::Object(_, props) => props
                    .iter()
                    .rev()
                    .find(|(k, _)| *k == token)
                    .map(|(_, n)| n),
                SpanNode::Array(_, items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                SpanNode::Leaf(_) => None,
            };
            match next {
                Some(n) => node = n,
                None => return (node.span(), false),
            }
        }
        (node.span(), true)
    }

    /// A location for `pointer` (the nearest existing value's span).
    pub fn location(&self, pointer: &str) -> Location {
        Location::File {
            file: self.file.clone(),
            pointer: pointer.to_string(),
            span: Some(self.nearest_span(pointer)),
        }
    }

    /// 1-based line and column of the value at `pointer` (or its nearest ancestor).
    pub fn line_col(&self, pointer: &str) -> (usize, usize) {
        line_col(&self.text, self.nearest_span(pointer).start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_values_and_missing_properties_at_their_object() {
        let text = "\u{feff}{\r\n  // comment\r\n  \"a\": {\"b/c\": [1, true]},\r\n  /* x */ \"d\": null\r\n}";
        let doc = parse("t.json", text.as_bytes()).unwrap();
        assert_eq!(doc.value["a"]["b/c"][1], Json::Bool(true));
        assert_eq!(doc.line_col("/a/b~1c/1"), (3, 20));
        assert_eq!(doc.line_col("/d"), (4, 16));
        assert_eq!(doc.span("/a/missing"), None);
        assert_eq!(doc.line_col("/a/missing"), (3, 8));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("bad.json", b"{\n  \"a\": 1,\n}").unwrap_err();
        // The trailing comma itself is reported.
        assert_eq!((err.line, err.column), (2, 9), "{err}");
        let err = parse("bin.json", b"{\"a\": \"\xff\"}").unwrap_err();
        assert!(err.message.contains("UTF-8"), "{err}");
        assert_eq!(err.column, 8);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let err = parse("deep.json", deep.as_bytes()).unwrap_err();
        assert!(err.message.to_lowercase().contains("depth"), "{err}");
    }

    #[test]
    fn pointers_escape_and_unescape() {
        assert_eq!(pointer_push("/a", "b/c~d"), "/a/b~1c~0d");
        assert_eq!(
            pointer_tokens("/a/b~1c~0d").collect::<Vec<_>>(),
            vec!["a", "b/c~d"]
        );
    }
}
