//! Parses a JSON string value into a literal or an expression.
//!
//! `"[concat('a', 'b')]"` is an expression; `"[[x]"` is the literal `[x]`; any
//! other string is a literal. Nesting is limited so hostile input (100,000
//! nested calls) is a finding, never a stack overflow.

use super::ast::{Call, Expr, ExprSpan};
use super::lexer::{tokenize, Tok, Token};

/// Deepest nesting of calls, property accesses and indexes accepted.
pub const MAX_DEPTH: usize = 256;

/// What a JSON string is in a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Not an expression; the literal text (with a leading `[[` unescaped to `[`).
    Literal(String),
    /// An expression.
    Expr(Expr),
}

/// A syntax error, with the byte range in the string it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// Where, within the string.
    pub span: ExprSpan,
}

/// True when `s` is written as an expression (`[...]`, not `[[...`).
pub fn is_expression(s: &str) -> bool {
    s.starts_with('[') && !s.starts_with("[[") && s.ends_with(']')
}

/// Classifies and parses a JSON string value.
pub fn parse_string(s: &str) -> Result<Parsed, ParseError> {
    if let Some(rest) = s.strip_prefix("[[") {
        if s.ends_with(']') {
            return Ok(Parsed::Literal(format!("[{rest}")));
        }
    }
    if !is_expression(s) {
        return Ok(Parsed::Literal(s.to_string()));
    }
    parse_expression(s).map(Parsed::Expr)
}

/// Parses the expression inside `[` ... `]` of `s` (which includes the brackets).
pub fn parse_expression(s: &str) -> Result<Expr, ParseError> {
    let inner_end = s.len().saturating_sub(1);
    let tokens = tokenize(s, 1, inner_end).map_err(|e| ParseError {
        message: e.message,
        span: ExprSpan {
            start: e.at,
            end: e.at + 1,
        },
    })?;
    let mut p = Parser {
        tokens: &tokens,
        pos: 0,
        src: s,
        end: inner_end,
    };
    if p.tokens.is_empty() {
        return Err(p.err("empty expression", 0, s.len()));
    }
    let expr = p.expr(0)?;
    if let Some(t) = p.peek() {
        return Err(p.err("unexpected text after the expression", t.start, t.end));
    }
    Ok(expr)
}

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    src: &'t str,
    end: usize,
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.pos)
    }

    fn err(&self, message: &str, start: usize, end: usize) -> ParseError {
        ParseError {
            message: message.to_string(),
            span: ExprSpan { start, end },
        }
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<&'t Token, ParseError> {
        match self.peek() {
            Some(t) if &t.tok == want => {
                self.pos += 1;
                Ok(t)
            }
            Some(t) => Err(self.err(&format!("expected {what}"), t.start, t.end)),
            None => Err(self.err(
                &format!("expected {what} before the end"),
                self.end,
                self.end,
            )),
        }
    }

    fn text(&self, t: &Token) -> &'t str {
        self.src.get(t.start..t.end).unwrap_or_default()
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, ParseError> {
        if depth > MAX_DEPTH {
            let at = self.peek().map_or(self.end, |t| t.start);
            return Err(self.err(
                &format!("expression nested deeper than {MAX_DEPTH} levels"),
                at,
                at,
            ));
        }
        let mut e = self.primary(depth)?;
        let mut postfix = 0usize;
        loop {
            match self.peek().map(|t| &t.tok) {
                Some(Tok::Dot) | Some(Tok::Question) => {
                    // `.?name` (safe access) is treated as `.name`.
                    if self.peek().map(|t| &t.tok) == Some(&Tok::Question) {
                        self.pos += 1;
                    }
                    self.expect(&Tok::Dot, "'.'")?;
                    let name = self.expect(&Tok::Ident, "a property name after '.'")?;
                    let span = ExprSpan {
                        start: e.span().start,
                        end: name.end,
                    };
                    e = Expr::Prop(Box::new(e), self.text(name).to_string(), span);
                }
                Some(Tok::LBrack) => {
                    self.pos += 1;
                    let index = self.expr(depth + postfix + 1)?;
                    let close = self.expect(&Tok::RBrack, "']'")?;
                    let span = ExprSpan {
                        start: e.span().start,
                        end: close.end,
                    };
                    e = Expr::Index(Box::new(e), Box::new(index), span);
                }
                _ => return Ok(e),
            }
            postfix += 1;
            if depth + postfix > MAX_DEPTH {
                let span = e.span();
                return Err(self.err(
                    &format!("expression nested deeper than {MAX_DEPTH} levels"),
                    span.start,
                    span.end,
                ));
            }
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let Some(t) = self.peek() else {
            return Err(self.err("expected a value before the end", self.end, self.end));
        };
        self.pos += 1;
        let span = ExprSpan {
            start: t.start,
            end: t.end,
        };
        match &t.tok {
            Tok::Str(escaped) => {
                let body = self.src.get(t.start + 1..t.end - 1).unwrap_or_default();
                let text = if *escaped {
                    body.replace("''", "'")
                } else {
                    body.to_string()
                };
                Ok(Expr::Str(text, span))
            }
            Tok::Int(i) => Ok(Expr::Int(*i, span)),
            Tok::Float(f) => Ok(Expr::Float(*f, span)),
            Tok::Ident => {
                let mut namespace = None;
                let mut name_tok = t;
                // `ns.fn(` is a user-defined function call.
                if self.peek().map(|t| &t.tok) == Some(&Tok::Dot)
                    && self.tokens.get(self.pos + 1).map(|t| &t.tok) == Some(&Tok::Ident)
                    && self.tokens.get(self.pos + 2).map(|t| &t.tok) == Some(&Tok::LParen)
                {
                    namespace = Some(self.text(t).to_string());
                    name_tok = self.tokens.get(self.pos + 1).unwrap_or(t);
                    self.pos += 2;
                }
                let name = self.text(name_tok).to_string();
                let Some(Tok::LParen) = self.peek().map(|t| &t.tok) else {
                    return Err(self.err(
                        &format!("'{name}' must be called as a function: '{name}(...)'"),
                        t.start,
                        name_tok.end,
                    ));
                };
                self.pos += 1;
                let mut args = Vec::new();
                if self.peek().map(|t| &t.tok) == Some(&Tok::RParen) {
                    self.pos += 1;
                } else {
                    loop {
                        args.push(self.expr(depth + 1)?);
                        match self.peek() {
                            Some(Token {
                                tok: Tok::Comma, ..
                            }) => self.pos += 1,
                            Some(Token {
                                tok: Tok::RParen, ..
                            }) => {
                                self.pos += 1;
                                break;
                            }
                            Some(t) => {
                                return Err(self.err(
                                    &format!("expected ',' or ')' in the arguments of '{name}'"),
                                    t.start,
                                    t.end,
                                ))
                            }
                            None => {
                                return Err(self.err(
                                    &format!("'{name}(' is never closed"),
                                    name_tok.start,
                                    self.end,
                                ))
                            }
                        }
                    }
                }
                let end = self.tokens.get(self.pos - 1).map_or(self.end, |t| t.end);
                Ok(Expr::Call(Call {
                    lname: match super::builtin_name(&name) {
                        Some(b) if namespace.is_none() => std::borrow::Cow::Borrowed(b),
                        _ => std::borrow::Cow::Owned(name.to_ascii_lowercase()),
                    },
                    namespace,
                    name,
                    args,
                    span: ExprSpan {
                        start: t.start,
                        end,
                    },
                    name_span: ExprSpan {
                        start: name_tok.start,
                        end: name_tok.end,
                    },
                }))
            }
            _ => Err(self.err(&format!("unexpected '{}'", self.text(t)), t.start, t.end)),
        }
    }
}
