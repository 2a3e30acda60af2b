//! Tokens of the template expression language, with byte offsets into the
//! expression text (the JSON string's content, brackets included).

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name: function, namespace or property (`concat`, `sys`, `id`).
    Ident,
    /// A single-quoted string literal (`true` when it holds a `''` escape);
    /// the text is the token's range without its quotes.
    Str(bool),
    /// An integer literal (ARM integers are 64-bit; `-1` included).
    Int(i64),
    /// A literal with a fraction (accepted as ARM accepts it in `json()` arguments).
    Float(f64),
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `[`.
    LBrack,
    /// `]`.
    RBrack,
    /// `,`.
    Comma,
    /// `.`.
    Dot,
    /// `?` (Bicep's safe access compiles to `tryGet`, but `.?` appears in hand-written input).
    Question,
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A lexing error: message and byte offset.
#[derive(Debug, Clone, PartialEq)]
pub struct LexError {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub at: usize,
}

/// Splits `src[start..end]` into tokens; offsets are relative to `src`.
pub fn tokenize(src: &str, start: usize, end: usize) -> Result<Vec<Token>, LexError> {
    let bytes = src.as_bytes();
    let end = end.min(bytes.len());
    // Roughly one token per four bytes of expression text.
    let mut out = Vec::with_capacity((end.saturating_sub(start)) / 4 + 1);
    let mut i = start;
    while i < end {
        let c = bytes.get(i).copied().unwrap_or(b' ');
        let single = match c {
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBrack),
            b']' => Some(Tok::RBrack),
            b',' => Some(Tok::Comma),
            b'.' if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => Some(Tok::Dot),
            b'?' => Some(Tok::Question),
            _ => None,
        };
        if let Some(tok) = single {
            out.push(Token {
                tok,
                start: i,
                end: i + 1,
            });
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'\'' {
            let open = i;
            i += 1;
            let mut escaped = false;
            loop {
                match bytes.get(i) {
                    Some(b'\'') if i < end => {
                        if bytes.get(i + 1) == Some(&b'\'') && i + 1 < end {
                            escaped = true;
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(_) if i < end => i += 1,
                    _ => {
                        return Err(LexError {
                            message: "unterminated string literal".into(),
                            at: open,
                        })
                    }
                }
            }
            out.push(Token {
                tok: Tok::Str(escaped),
                start: open,
                end: i,
            });
            continue;
        }
        if c.is_ascii_digit() || c == b'-' || c == b'.' {
            let s = i;
            i += 1;
            while i < end
                && bytes
                    .get(i)
                    .is_some_and(|b| b.is_ascii_digit() || *b == b'.')
            {
                i += 1;
            }
            let text = src.get(s..i).unwrap_or_default();
            let tok = if text.contains('.') {
                text.parse::<f64>().ok().map(Tok::Float)
            } else {
                text.parse::<i64>().ok().map(Tok::Int)
            };
            let Some(tok) = tok else {
                return Err(LexError {
                    message: format!("'{text}' is not a number"),
                    at: s,
                });
            };
            out.push(Token {
                tok,
                start: s,
                end: i,
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let s = i;
            while i < end
                && bytes
                    .get(i)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'$')
            {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident,
                start: s,
                end: i,
            });
            continue;
        }
        let ch = src.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
        return Err(LexError {
            message: format!("unexpected character '{ch}'"),
            at: i,
        });
    }
    Ok(out)
}
