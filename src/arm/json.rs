//! JSON(C) loading that keeps a byte span for every value, so every finding can
//! name file, line and column. Comments are accepted as ARM accepts them; a BOM
//! and CRLF line ends are fine; anything else non-JSON is an `ARM001` finding.

use crate::arm::expr::index::ExprIndex;
use crate::diag::{line_col, Location, Span};
use jsonc_parser::errors::ParseErrorKind;
use jsonc_parser::tokens::Token;
use jsonc_parser::{Scanner, ScannerOptions};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value as Json};
use std::sync::{Arc, OnceLock};

/// Deepest nesting accepted; deeper input is a syntax finding, never a stack overflow.
pub const MAX_DEPTH: usize = 512;

/// A parsed JSON file: its text, its value and the span of every node.
#[derive(Debug)]
pub struct Document {
    /// The file name as given by the user.
    pub file: String,
    /// The text (BOM removed; offsets refer to this text).
    pub text: String,
    /// The parsed value. Never changed after parsing: [`Document::expressions`]
    /// finds strings by address.
    pub value: Json,
    spans: Spans,
    exprs: OnceLock<Arc<ExprIndex>>,
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

/// The spans of every value of a document, in three flat vectors rather than
/// a tree with a vector per container (a few allocations per document instead
/// of one per object and array). A container's children are listed in the order of its map's
/// entries (a duplicate key keeps its first position and its last value, as
/// `serde_json` does), so keys are not stored twice.
#[derive(Debug, Default)]
struct Spans {
    nodes: Vec<SpanNode>,
    /// Children of every container: node indices, one run per container.
    kids: Vec<u32>,
    /// The root's index in `nodes`.
    root: u32,
}

#[derive(Debug, Clone, Copy)]
struct SpanNode {
    span: Span,
    /// The node's children: `kids[first..first + len]`.
    first: u32,
    len: u32,
}

impl Spans {
    fn node(&self, i: u32) -> Option<&SpanNode> {
        self.nodes.get(i as usize)
    }

    /// The `n`th child of `node`.
    fn kid(&self, node: &SpanNode, n: usize) -> Option<&SpanNode> {
        if n >= node.len as usize {
            return None;
        }
        let i = *self.kids.get(node.first as usize + n)?;
        self.node(i)
    }
}

/// Parses `bytes` read from `file`.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Document, SyntaxError> {
    parse_owned(file, bytes.to_vec()).map_err(|unparsed| unparsed.error)
}

/// A file that is not JSON: why, and its text for the report's excerpt.
#[derive(Debug)]
pub struct Unparsed {
    /// The syntax error.
    pub error: SyntaxError,
    /// The text (BOM removed; invalid UTF-8 replaced).
    pub text: String,
}

/// Parses `bytes` read from `file`, keeping them as the document's text
/// without a copy.
pub fn parse_owned(file: &str, mut bytes: Vec<u8>) -> Result<Document, Box<Unparsed>> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    match String::from_utf8(bytes) {
        Ok(text) => parse_string(file, text),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let prefix = text.get(..at).unwrap_or_default();
            let (line, column) = line_col(prefix, at);
            let error = SyntaxError {
                file: file.to_string(),
                message: format!("invalid UTF-8 at byte {at}"),
                span: Span::new(at, at + 1),
                line,
                column,
            };
            Err(Box::new(Unparsed { error, text }))
        }
    }
}

/// Parses a string.
pub fn parse_str(file: &str, text: &str) -> Result<Document, SyntaxError> {
    parse_string(file, text.to_string()).map_err(|unparsed| unparsed.error)
}

fn parse_string(file: &str, mut text: String) -> Result<Document, Box<Unparsed>> {
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    let parsed = Builder::new(&text).document();
    match parsed {
        Ok((value, spans)) => Ok(Document {
            file: file.to_string(),
            text,
            value,
            spans,
            exprs: OnceLock::new(),
        }),
        Err((message, span)) => {
            let (line, column) = line_col(&text, span.start);
            let error = SyntaxError {
                file: file.to_string(),
                message,
                span,
                line,
                column,
            };
            Err(Box::new(Unparsed { error, text }))
        }
    }
}

/// A syntax problem: jsonc-parser's wording, and where.
type Fault = (String, Span);

/// Builds the value and its spans straight from jsonc-parser's scanner (which
/// handles strings, escapes, numbers and comments), in one pass: no syntax
/// tree in between. The grammar is strict JSON plus comments, as ARM accepts,
/// and the error wording and ranges are those of jsonc-parser's own parser.
struct Builder<'a> {
    scanner: Scanner<'a>,
    text: &'a str,
    depth: usize,
    spans: Spans,
    /// Children of the containers being built, innermost last.
    pending: Vec<u32>,
}

impl<'a> Builder<'a> {
    fn new(text: &'a str) -> Self {
        let options = ScannerOptions {
            allow_single_quoted_strings: false,
            allow_hexadecimal_numbers: false,
            allow_unary_plus_numbers: false,
            allow_bare_decimal_point_numbers: false,
            allow_non_finite_numbers: false,
            allow_extended_string_escapes: false,
        };
        Builder {
            scanner: Scanner::new(text, &options),
            text,
            depth: 0,
            spans: Spans::default(),
            pending: Vec::new(),
        }
    }

    fn document(mut self) -> Result<(Json, Spans), Fault> {
        let Some(token) = self.scan()? else {
            return Err(("the file holds no JSON value".into(), Span::new(0, 0)));
        };
        let (value, root) = self.value(token)?;
        if self.scan()?.is_some() {
            return Err(self.at_token(ParseErrorKind::MultipleRootJsonValues));
        }
        self.spans.root = root;
        Ok((value, self.spans))
    }

    /// Records a node whose children are `pending[from..]`; returns its index.
    fn node(&mut self, span: Span, from: usize) -> Result<u32, Fault> {
        let too_many = || ("the file holds too many values".to_string(), span);
        let first = u32::try_from(self.spans.kids.len()).map_err(|_| too_many())?;
        let len = u32::try_from(self.pending.len().saturating_sub(from)).map_err(|_| too_many())?;
        if len > 0 {
            self.spans.kids.extend(self.pending.drain(from..));
        }
        let index = u32::try_from(self.spans.nodes.len()).map_err(|_| too_many())?;
        self.spans.nodes.push(SpanNode { span, first, len });
        Ok(index)
    }

    /// The next token that is not a comment.
    fn scan(&mut self) -> Result<Option<Token<'a>>, Fault> {
        loop {
            match self.scanner.scan() {
                Ok(Some(Token::CommentLine(_) | Token::CommentBlock(_))) => continue,
                Ok(token) => return Ok(token),
                Err(e) => {
                    let r = e.range();
                    return Err((e.kind().to_string(), Span::new(r.start, r.end)));
                }
            }
        }
    }

    fn token_span(&self) -> Span {
        Span::new(self.scanner.token_start(), self.scanner.token_end())
    }

    /// An error over the current token (or the character at the end of input),
    /// as jsonc-parser reports it.
    fn at_token(&self, kind: ParseErrorKind) -> Fault {
        let start = self.scanner.token_start();
        let mut end = self.scanner.token_end();
        if end == start {
            end = self.text[start..]
                .chars()
                .next()
                .map_or(self.text.len(), |c| start + c.len_utf8());
        }
        (kind.to_string(), Span::new(start, end))
    }

    fn value(&mut self, token: Token<'a>) -> Result<(Json, u32), Fault> {
        let span = self.token_span();
        let from = self.pending.len();
        let value = match token {
            Token::OpenBrace => return self.object(span.start),
            Token::OpenBracket => return self.array(span.start),
            Token::String(s) => Json::String(s.into_owned()),
            Token::Number(n) => {
                let number = n
                    .parse::<i64>()
                    .ok()
                    .map(Number::from)
                    .or_else(|| n.parse::<f64>().ok().and_then(Number::from_f64))
                    .ok_or_else(|| (format!("number {n} is out of range"), span))?;
                Json::Number(number)
            }
            Token::Boolean(b) => Json::Bool(b),
            Token::Null => Json::Null,
            other => {
                return Err(self.at_token(match other {
                    Token::CloseBracket => ParseErrorKind::UnexpectedCloseBracket,
                    Token::CloseBrace => ParseErrorKind::UnexpectedCloseBrace,
                    Token::Comma => ParseErrorKind::UnexpectedComma,
                    Token::Colon => ParseErrorKind::UnexpectedColon,
                    Token::Word(_) => ParseErrorKind::UnexpectedWord,
                    _ => ParseErrorKind::UnexpectedToken,
                }))
            }
        };
        Ok((value, self.node(span, from)?))
    }

    fn enter(&mut self) -> Result<(), Fault> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.at_token(ParseErrorKind::NestingDepthExceeded));
        }
        Ok(())
    }

    /// The range of an unclosed container: from its opening to where input ended.
    fn unterminated(&self, start: usize, kind: ParseErrorKind) -> Fault {
        err(kind, Span::new(start, self.scanner.token_end()))
    }

    /// An object key, or `None` at `}`; `start` is where the object opened.
    fn key(&self, token: Option<Token<'a>>, start: usize) -> Result<Option<String>, Fault> {
        match token {
            Some(Token::CloseBrace) => Ok(None),
            Some(Token::String(s)) => Ok(Some(s.into_owned())),
            None => Err(self.unterminated(start, ParseErrorKind::UnterminatedObject)),
            Some(Token::Word(_) | Token::Number(_) | Token::Boolean(_) | Token::Null) => {
                Err(self.at_token(ParseErrorKind::ExpectedStringObjectProperty))
            }
            Some(_) => Err(self.at_token(ParseErrorKind::UnexpectedTokenInObject)),
        }
    }

    /// After a member of an object or array: the token after the comma, or the
    /// closing token. A comma right before `close` is a trailing comma; a token
    /// that starts another member right away is a missing comma (reported at
    /// the end of the member, as jsonc-parser does).
    fn next_member(
        &mut self,
        close: &Token<'_>,
        starts_member: fn(&Token<'_>) -> bool,
    ) -> Result<Option<Token<'a>>, Fault> {
        let member_end = self.scanner.token_end();
        match self.scan()? {
            Some(Token::Comma) => {
                let comma = self.token_span();
                let next = self.scan()?;
                if next.as_ref() == Some(close) {
                    return Err(err(ParseErrorKind::TrailingCommasNotAllowed, comma));
                }
                Ok(next)
            }
            Some(t) if starts_member(&t) => Err(err(
                ParseErrorKind::ExpectedComma,
                Span::new(member_end, member_end),
            )),
            other => Ok(other),
        }
    }

    fn object(&mut self, start: usize) -> Result<(Json, u32), Fault> {
        self.enter()?;
        let mut map = Map::new();
        let from = self.pending.len();
        let mut token = self.scan()?;
        while let Some(key) = self.key(token, start)? {
            if !matches!(self.scan()?, Some(Token::Colon)) {
                return Err(self.at_token(ParseErrorKind::ExpectedColonAfterObjectKey));
            }
            let Some(value_token) = self.scan()? else {
                return Err(self.at_token(ParseErrorKind::ExpectedObjectValue));
            };
            let (value, node) = self.value(value_token)?;
            match map.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                    self.pending.push(node);
                }
                Entry::Occupied(mut slot) => {
                    // Rare: a duplicate keeps its first position and takes the last value.
                    slot.insert(value);
                    let key = slot.key().clone();
                    if let Some(i) = map.keys().position(|k| *k == key) {
                        if let Some(kid) = self.pending.get_mut(from + i) {
                            *kid = node;
                        }
                    }
                }
            }
            token = self.next_member(&Token::CloseBrace, |t| {
                matches!(
                    t,
                    Token::String(_)
                        | Token::Word(_)
                        | Token::Number(_)
                        | Token::Boolean(_)
                        | Token::Null
                )
            })?;
        }
        self.depth -= 1;
        let span = Span::new(start, self.scanner.token_end());
        Ok((Json::Object(map), self.node(span, from)?))
    }

    fn array(&mut self, start: usize) -> Result<(Json, u32), Fault> {
        self.enter()?;
        let mut values = Vec::new();
        let from = self.pending.len();
        let mut token = self.scan()?;
        loop {
            match token {
                Some(Token::CloseBracket) => break,
                None => return Err(self.unterminated(start, ParseErrorKind::UnterminatedArray)),
                Some(t) => {
                    let (value, node) = self.value(t)?;
                    values.push(value);
                    self.pending.push(node);
                }
            }
            token = self.next_member(&Token::CloseBracket, |t| {
                matches!(
                    t,
                    Token::OpenBrace
                        | Token::OpenBracket
                        | Token::String(_)
                        | Token::Boolean(_)
                        | Token::Number(_)
                        | Token::Null
                )
            })?;
        }
        self.depth -= 1;
        let span = Span::new(start, self.scanner.token_end());
        Ok((Json::Array(values), self.node(span, from)?))
    }
}

fn err(kind: ParseErrorKind, span: Span) -> Fault {
    (kind.to_string(), span)
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
    if token.contains(['~', '/']) {
        format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
    } else {
        format!("{pointer}/{token}")
    }
}

impl Document {
    /// Every expression string of the document, parsed on first use.
    pub fn expressions(&self) -> &Arc<ExprIndex> {
        self.exprs
            .get_or_init(|| Arc::new(ExprIndex::build(&self.value)))
    }

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
        let spans = &self.spans;
        let Some(mut node) = spans.node(spans.root) else {
            return (Span::new(0, 0), false);
        };
        let mut value = &self.value;
        for token in pointer_tokens(pointer) {
            let next = match value {
                Json::Object(map) => map
                    .iter()
                    .enumerate()
                    .find(|(_, (k, _))| **k == token)
                    .and_then(|(i, (_, v))| Some((spans.kid(node, i)?, v))),
                Json::Array(items) => token
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| Some((spans.kid(node, i)?, items.get(i)?))),
                _ => None,
            };
            match next {
                Some((n, v)) => (node, value) = (n, v),
                None => return (node.span, false),
            }
        }
        (node.span, true)
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
    fn a_duplicate_key_keeps_its_first_position_and_its_last_value_and_span() {
        let doc = parse_str("d.json", r#"{"a": 1, "b": 2, "a": [3]}"#).unwrap();
        assert_eq!(doc.value, serde_json::json!({"a": [3], "b": 2}));
        assert_eq!(doc.value.as_object().unwrap().keys().next().unwrap(), "a");
        assert_eq!(doc.span("/a"), Some(Span::new(22, 25)));
        assert_eq!(doc.span("/a/0"), Some(Span::new(23, 24)));
        assert_eq!(doc.span("/b"), Some(Span::new(14, 15)));
    }

    /// The one-pass builder reports what jsonc-parser's own parser reports:
    /// the same wording at the same range.
    #[test]
    fn syntax_errors_match_jsonc_parser() {
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
        let cases = [
            "{\"a\": 1,}",
            "[1, 2,]",
            "{\"a\": 1 \"b\": 2}",
            "[1 2]",
            "{\"a\" 1}",
            "{\"a\": }",
            "{\"a\":",
            "{a: 1}",
            "{1: 1}",
            "{[: 1}",
            "[1, 2",
            "{\"a\": 1",
            "[}",
            "]",
            ",",
            ":",
            "nope",
            "{} {}",
            "'single'",
            "0x10",
            "+1",
            ".5",
            "NaN",
            "\"\\x41\"",
            "\"unterminated",
            "/* open",
            "[-]",
            "{\"a\": tru}",
        ];
        let mut differ = Vec::new();
        for text in cases {
            let ours = parse_str("x.json", text).expect_err(text);
            let Err(theirs) = jsonc_parser::parse_to_ast(text, &Default::default(), &options)
            else {
                panic!("jsonc-parser accepts {text}");
            };
            let range = theirs.range();
            let theirs = (theirs.kind().to_string(), Span::new(range.start, range.end));
            if (ours.message.clone(), ours.span) != theirs {
                differ.push(format!("{text}: ours {ours:?}, theirs {theirs:?}"));
            }
        }
        assert!(differ.is_empty(), "{differ:#?}");
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
