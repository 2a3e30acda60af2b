//! Strings that are partly symbolic: literal text and *symbols*, values that are
//! unknown before deployment but the same everywhere in one deployment scope (the
//! subscription ID, a parameter without a value, `guid()` of such values).
//!
//! A [`Text`] keeps its structure through the string functions that only move
//! characters around (`concat`, `format`, `resourceId`, `toLower`, ...), so that
//! comparisons decide whenever the answer does not depend on what the symbols
//! stand for: `/subscriptions/{s}/providers/X` equals itself, differs from
//! `/subscriptions/{s}/providers/Y`, and ends with the role GUID it was built with.
//! Where the answer does depend on them, comparisons say so (`None`) and nothing
//! is guessed.

use std::fmt::Write as _;
use std::sync::Arc;

/// What is known about the characters of a symbol's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A GUID: 36 characters, hex digits and `-` as `8-4-4-4-12` (subscription,
    /// tenant and object IDs, `guid()`).
    Guid,
    /// `uniqueString()`: 13 characters, lower-case letters and digits.
    Unique,
    /// A name ARM validates to contain no `/` (resource group, region, deployment name).
    Name,
    /// Any string, possibly empty.
    Any,
}

impl Shape {
    /// The fixed length of every value of this shape, in characters.
    fn len(self) -> Option<usize> {
        match self {
            Shape::Guid => Some(36),
            Shape::Unique => Some(13),
            Shape::Name | Shape::Any => None,
        }
    }

    /// Whether a value of this shape may contain `c`.
    fn may_contain(self, c: char) -> bool {
        match self {
            Shape::Guid => c.is_ascii_hexdigit() || c == '-',
            Shape::Unique => c.is_ascii_lowercase() || c.is_ascii_digit(),
            Shape::Name => c != '/',
            Shape::Any => true,
        }
    }

    /// Whether `s` could be a value of this shape (`case`-mapped).
    fn admits(self, s: &str, case: Case) -> bool {
        let cased = |c: char| match case {
            Case::Lower => !c.is_uppercase(),
            Case::Upper => !c.is_lowercase(),
            Case::AsIs => true,
        };
        if !s.chars().all(cased) {
            return false;
        }
        match self {
            Shape::Guid => {
                s.len() == 36
                    && s.char_indices().all(|(i, c)| match i {
                        8 | 13 | 18 | 23 => c == '-',
                        _ => c.is_ascii_hexdigit(),
                    })
            }
            Shape::Unique => {
                s.len() == 13
                    && s.chars().all(|c| {
                        c.is_ascii_alphanumeric()
                            && (case == Case::Upper || !c.is_ascii_uppercase())
                    })
            }
            Shape::Name => !s.is_empty() && !s.contains('/'),
            Shape::Any => true,
        }
    }
}

/// One symbolic value: its identity, how it is shown, and what its characters can be.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Atom {
    /// Equal keys are the same value (within one expansion).
    pub key: String,
    /// How messages and `expand` show it: `subscription().subscriptionId`.
    pub display: String,
    /// What its characters can be.
    pub shape: Shape,
    /// Why it is not known: `not known without --subscription-id`.
    pub why: String,
    /// Values it is known not to be (compared ignoring case).
    pub excludes: Vec<String>,
}

/// A case mapping applied to a symbol (`toLower`, `toUpper`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Case {
    /// As the symbol is.
    AsIs,
    /// `toLower()` of it.
    Lower,
    /// `toUpper()` of it.
    Upper,
}

/// A symbol as it appears in a text, with the case mapping applied to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sym {
    /// The value it stands for.
    pub atom: Arc<Atom>,
    /// `toLower`/`toUpper` applied.
    pub case: Case,
}

/// A piece of a [`Text`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Part {
    /// Known characters.
    Lit(String),
    /// A symbol.
    Sym(Sym),
}

/// A string of literal parts and symbols, normalised: no empty literal, no two
/// literals in a row. A text without any symbol is a plain string instead (see
/// [`TextBuilder::finish`]), so a `Text` always holds at least one symbol.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Text(Arc<[Part]>);

/// Either a plain string or a text: what string comparisons take.
#[derive(Debug, Clone, Copy)]
pub enum Str<'a> {
    /// Known characters.
    Lit(&'a str),
    /// Partly symbolic.
    Text(&'a Text),
}

impl Atom {
    /// A new symbol.
    pub fn new(
        key: impl Into<String>,
        display: impl Into<String>,
        shape: Shape,
        why: impl Into<String>,
    ) -> Arc<Atom> {
        Atom::excluding(key, display, shape, why, Vec::new())
    }

    /// A new symbol known to differ from each of `excludes`.
    pub fn excluding(
        key: impl Into<String>,
        display: impl Into<String>,
        shape: Shape,
        why: impl Into<String>,
        excludes: Vec<String>,
    ) -> Arc<Atom> {
        Arc::new(Atom {
            key: key.into(),
            display: display.into(),
            shape,
            why: why.into(),
            excludes,
        })
    }
}

impl Text {
    /// The text that is just `atom`.
    pub fn symbol(atom: Arc<Atom>) -> Text {
        Text(Arc::from(vec![Part::Sym(Sym {
            atom,
            case: Case::AsIs,
        })]))
    }

    /// Its parts.
    pub fn parts(&self) -> &[Part] {
        &self.0
    }

    /// The symbols in it.
    pub fn symbols(&self) -> impl Iterator<Item = &Sym> {
        self.0.iter().filter_map(|p| match p {
            Part::Sym(s) => Some(s),
            Part::Lit(_) => None,
        })
    }

    /// Shown for people: literal text with each symbol in braces, e.g.
    /// `/subscriptions/{subscription().subscriptionId}/providers/...`; braces in
    /// the literal text are doubled (as `format()` writes them), so the form is
    /// unambiguous.
    pub fn display(&self) -> String {
        let mut out = String::new();
        for p in self.parts() {
            match p {
                Part::Lit(s) => {
                    for c in s.chars() {
                        match c {
                            '{' => out.push_str("{{"),
                            '}' => out.push_str("}}"),
                            c => out.push(c),
                        }
                    }
                }
                Part::Sym(s) => {
                    let _ = match s.case {
                        Case::AsIs => write!(out, "{{{}}}", s.atom.display),
                        Case::Lower => write!(out, "{{toLower({})}}", s.atom.display),
                        Case::Upper => write!(out, "{{toUpper({})}}", s.atom.display),
                    };
                }
            }
        }
        out
    }

    /// Why its value is not known, for messages: `depends on
    /// subscription().subscriptionId (not known without --subscription-id)`.
    pub fn reason(&self) -> String {
        let mut seen: Vec<&Atom> = Vec::new();
        for s in self.symbols() {
            if !seen.iter().any(|a| a.key == s.atom.key) {
                seen.push(&s.atom);
            }
        }
        let list: Vec<String> = seen
            .iter()
            .map(|a| format!("{} ({})", a.display, a.why))
            .collect();
        format!("depends on {}", list.join(", "))
    }

    /// A canonical, injective encoding of the structure (for keys of derived
    /// symbols such as `guid()` of texts).
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        for p in self.parts() {
            match p {
                Part::Lit(s) => {
                    let _ = write!(out, "L{}:{s}", s.len());
                }
                Part::Sym(s) => {
                    let _ = write!(out, "S{}:{}{:?}", s.atom.key.len(), s.atom.key, s.case);
                }
            }
        }
        out
    }

    /// `toLower()` (`upper` false) or `toUpper()`.
    pub fn with_case(&self, upper: bool) -> Text {
        let case = if upper { Case::Upper } else { Case::Lower };
        Text(
            self.parts()
                .iter()
                .map(|p| match p {
                    Part::Lit(s) if upper => Part::Lit(s.to_uppercase()),
                    Part::Lit(s) => Part::Lit(s.to_lowercase()),
                    Part::Sym(s) => Part::Sym(Sym {
                        atom: s.atom.clone(),
                        case,
                    }),
                })
                .collect(),
        )
    }

    /// The length in characters, when every symbol has a fixed length.
    pub fn len(&self) -> Option<usize> {
        self.parts().iter().try_fold(0usize, |n, p| match p {
            Part::Lit(s) => Some(n + s.chars().count()),
            Part::Sym(s) => s.atom.shape.len().map(|l| n + l),
        })
    }

    /// Whether the text is empty, when that is known.
    pub fn is_empty(&self) -> Option<bool> {
        let known_nonempty = self.parts().iter().any(|p| match p {
            Part::Lit(_) => true,
            Part::Sym(s) => s.atom.shape != Shape::Any,
        });
        if known_nonempty {
            Some(false)
        } else {
            None
        }
    }

    /// Splits at any of `seps` when no symbol can contain a separator's characters
    /// (the pieces are then exact); `None` otherwise.
    pub fn split(&self, seps: &[String]) -> Option<Vec<crate::value::Value>> {
        let seps: Vec<&str> = seps
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        let safe = self.symbols().all(|s| {
            seps.iter().all(|sep| {
                sep.chars()
                    .all(|c| !s.atom.shape.may_contain(c) || !may_case(s.case, c))
            })
        });
        if !safe || seps.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        let mut cur = TextBuilder::default();
        for p in self.parts() {
            match p {
                Part::Sym(s) => cur.push_sym(s.clone()),
                Part::Lit(text) => {
                    let mut rest = text.as_str();
                    'scan: while !rest.is_empty() {
                        for sep in &seps {
                            if let Some(after) = rest.strip_prefix(sep) {
                                out.push(std::mem::take(&mut cur).finish());
                                rest = after;
                                continue 'scan;
                            }
                        }
                        let mut chars = rest.chars();
                        if let Some(c) = chars.next() {
                            cur.push_char(c);
                        }
                        rest = chars.as_str();
                    }
                }
            }
        }
        out.push(cur.finish());
        Some(out)
    }

    /// Splits into `/`-separated segments of a resource ID or name, reading each
    /// symbol as (part of) one segment. This is exact for every ID ARM accepts: a
    /// `/` inside a name changes the number of type and name segments, and ARM
    /// rejects such an ID, so no deployable value of a symbol used there holds one.
    pub fn name_segments(&self) -> Vec<Str2> {
        let mut out = Vec::new();
        let mut cur = TextBuilder::default();
        for p in self.parts() {
            match p {
                Part::Sym(s) => cur.push_sym(s.clone()),
                Part::Lit(text) => {
                    let mut pieces = text.split('/');
                    if let Some(first) = pieces.next() {
                        cur.push_str(first);
                    }
                    for piece in pieces {
                        out.push(Str2::from(std::mem::take(&mut cur).finish()));
                        cur.push_str(piece);
                    }
                }
            }
        }
        out.push(Str2::from(cur.finish()));
        out
    }
}

fn may_case(case: Case, c: char) -> bool {
    match case {
        Case::AsIs => true,
        Case::Lower => !c.is_uppercase(),
        Case::Upper => !c.is_lowercase(),
    }
}

/// An owned plain string or text: a segment, a name or an ID in the model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Str2 {
    /// Known characters.
    Lit(String),
    /// Partly symbolic.
    Text(Text),
}

impl From<crate::value::Value> for Str2 {
    /// A string or text value; anything else (never produced by the builder) as its JSON.
    fn from(v: crate::value::Value) -> Self {
        match v {
            crate::value::Value::String(s) => Str2::Lit(s),
            crate::value::Value::Text(t) => Str2::Text(t),
            other => Str2::Lit(other.to_json().to_string()),
        }
    }
}

impl From<&str> for Str2 {
    fn from(s: &str) -> Self {
        Str2::Lit(s.to_string())
    }
}

impl std::fmt::Display for Str2 {
    /// As [`Str2::display`]: symbols in braces.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

impl Str2 {
    /// Why its value is not fully known (`None` for a literal).
    pub fn reason(&self) -> Option<String> {
        match self {
            Str2::Lit(_) => None,
            Str2::Text(t) => Some(t.reason()),
        }
    }

    /// Borrowed.
    pub fn as_str2(&self) -> Str<'_> {
        match self {
            Str2::Lit(s) => Str::Lit(s),
            Str2::Text(t) => Str::Text(t),
        }
    }
    /// The literal, when fully known.
    pub fn as_lit(&self) -> Option<&str> {
        match self {
            Str2::Lit(s) => Some(s),
            Str2::Text(_) => None,
        }
    }
    /// Shown for people (symbols in braces).
    pub fn display(&self) -> String {
        self.as_str2().display()
    }
    /// As a value.
    pub fn to_value(&self) -> crate::value::Value {
        match self {
            Str2::Lit(s) => crate::value::Value::String(s.clone()),
            Str2::Text(t) => crate::value::Value::Text(t.clone()),
        }
    }
}

impl<'a> Str<'a> {
    fn parts(self) -> PartsIter<'a> {
        match self {
            Str::Lit(s) => PartsIter::Lit(Some(s)),
            Str::Text(t) => PartsIter::Text(t.parts().iter()),
        }
    }

    /// Shown for people (symbols in braces, literal braces doubled only in texts).
    pub fn display(self) -> String {
        match self {
            Str::Lit(s) => s.to_string(),
            Str::Text(t) => t.display(),
        }
    }

    /// Compares two strings: `Some(answer)` when it is the same for every value the
    /// symbols could take, `None` when it depends on them. `ci`: ignoring case.
    pub fn equals(self, other: Str<'_>, ci: bool) -> Option<bool> {
        if let (Str::Lit(a), Str::Lit(b)) = (self, other) {
            return Some(if ci {
                a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
            } else {
                a == b
            });
        }
        let a: Vec<PartRef<'_>> = self.parts().collect();
        let b: Vec<PartRef<'_>> = other.parts().collect();
        if same_structure(&a, &b, ci) {
            return Some(true);
        }
        if literal_ends_differ(&a, &b, ci) {
            return Some(false);
        }
        if let (Some(x), Some(y)) = (self.len(), other.len()) {
            if x != y {
                return Some(false);
            }
        }
        if let (Some(x), Some(y)) = (self.segments(), other.segments()) {
            if x.len() != y.len() {
                return Some(false);
            }
            // Segments are compared one by one only when each side has more than
            // one: otherwise this is the whole comparison again.
            if x.len() > 1 {
                let mut all = true;
                for (p, q) in x.iter().zip(&y) {
                    match p.as_str2().equals(q.as_str2(), ci) {
                        Some(false) => return Some(false),
                        Some(true) => {}
                        None => all = false,
                    }
                }
                if all {
                    return Some(true);
                }
            }
        }
        // A lone symbol against a literal its shape cannot produce.
        match (a.as_slice(), b.as_slice()) {
            ([PartRef::Sym(s)], [PartRef::Lit(l)]) | ([PartRef::Lit(l)], [PartRef::Sym(s)]) => {
                let case = if ci { Case::AsIs } else { s.case };
                let admits = s.atom.shape.admits(l, case)
                    || (ci && s.atom.shape.admits(&l.to_lowercase(), case));
                let excluded = s
                    .atom
                    .excludes
                    .iter()
                    .any(|x| x.to_lowercase() == l.to_lowercase());
                if !admits || excluded {
                    return Some(false);
                }
            }
            _ => {}
        }
        None
    }

    /// Whether the string starts (or, with `end`, ends) with literal `affix`,
    /// ignoring case as `startsWith`/`endsWith` do; `None` when it depends on symbols.
    pub fn has_affix(self, affix: &str, end: bool) -> Option<bool> {
        let known: String = match self {
            Str::Lit(s) => return Some(affix_of(s, affix, end)),
            Str::Text(t) => {
                let parts = t.parts();
                let edge = if end { parts.last() } else { parts.first() };
                match edge {
                    Some(Part::Lit(s)) => s.clone(),
                    _ => String::new(),
                }
            }
        };
        let (k, a) = (known.to_lowercase(), affix.to_lowercase());
        if k.chars().count() >= a.chars().count() {
            return Some(affix_of(&k, &a, end));
        }
        // The known end is shorter than the affix: it must at least agree with it.
        let agrees = if end {
            a.ends_with(&k)
        } else {
            a.starts_with(&k)
        };
        if agrees {
            None
        } else {
            Some(false)
        }
    }

    /// Whether it contains literal `needle` (case-sensitive, as `contains` is):
    /// true when a literal part does; `None` otherwise.
    pub fn contains(self, needle: &str) -> Option<bool> {
        match self {
            Str::Lit(s) => Some(s.contains(needle)),
            Str::Text(t) => {
                let found = t
                    .parts()
                    .iter()
                    .any(|p| matches!(p, Part::Lit(s) if s.contains(needle)));
                if found {
                    Some(true)
                } else {
                    None
                }
            }
        }
    }

    fn len(self) -> Option<usize> {
        match self {
            Str::Lit(s) => Some(s.chars().count()),
            Str::Text(t) => t.len(),
        }
    }

    /// `/`-segments when no symbol can hold a `/` (their values are then exact).
    fn segments(self) -> Option<Vec<Str2>> {
        match self {
            Str::Lit(s) => Some(s.split('/').map(|x| Str2::Lit(x.to_string())).collect()),
            Str::Text(t) => t
                .symbols()
                .all(|s| !s.atom.shape.may_contain('/'))
                .then(|| t.name_segments()),
        }
    }
}

fn affix_of(s: &str, affix: &str, end: bool) -> bool {
    let (s, a) = (s.to_lowercase(), affix.to_lowercase());
    if end {
        s.ends_with(&a)
    } else {
        s.starts_with(&a)
    }
}

#[derive(Clone, Copy)]
enum PartRef<'a> {
    Lit(&'a str),
    Sym(&'a Sym),
}

enum PartsIter<'a> {
    Lit(Option<&'a str>),
    Text(std::slice::Iter<'a, Part>),
}

impl<'a> Iterator for PartsIter<'a> {
    type Item = PartRef<'a>;
    fn next(&mut self) -> Option<PartRef<'a>> {
        match self {
            PartsIter::Lit(s) => s.take().filter(|s| !s.is_empty()).map(PartRef::Lit),
            PartsIter::Text(it) => it.next().map(|p| match p {
                Part::Lit(s) => PartRef::Lit(s),
                Part::Sym(s) => PartRef::Sym(s),
            }),
        }
    }
}

fn lit_eq(a: &str, b: &str, ci: bool) -> bool {
    if ci {
        a.to_lowercase() == b.to_lowercase()
    } else {
        a == b
    }
}

fn same_structure(a: &[PartRef<'_>], b: &[PartRef<'_>], ci: bool) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|pair| match pair {
            (PartRef::Lit(x), PartRef::Lit(y)) => lit_eq(x, y, ci),
            (PartRef::Sym(x), PartRef::Sym(y)) => {
                x.atom.key == y.atom.key && (x.case == y.case || ci)
            }
            _ => false,
        })
}

/// True when the known characters at the start or the end of the two strings
/// already differ (up to the shorter known run).
fn literal_ends_differ(a: &[PartRef<'_>], b: &[PartRef<'_>], ci: bool) -> bool {
    let fold = |s: &str| if ci { s.to_lowercase() } else { s.to_string() };
    let lead = |p: &[PartRef<'_>]| match p.first() {
        Some(PartRef::Lit(s)) => fold(s),
        _ => String::new(),
    };
    let trail = |p: &[PartRef<'_>]| match p.last() {
        Some(PartRef::Lit(s)) => fold(s),
        _ => String::new(),
    };
    let (la, lb) = (lead(a), lead(b));
    if la.chars().zip(lb.chars()).any(|(x, y)| x != y) {
        return true;
    }
    let (ta, tb) = (trail(a), trail(b));
    ta.chars().rev().zip(tb.chars().rev()).any(|(x, y)| x != y)
}

/// Builds a string or text from pieces; [`TextBuilder::finish`] gives a plain
/// string when no symbol was added.
#[derive(Debug, Default)]
pub struct TextBuilder {
    parts: Vec<Part>,
    lit: String,
    len: usize,
}

impl TextBuilder {
    /// Appends known characters.
    pub fn push_str(&mut self, s: &str) {
        self.lit.push_str(s);
        self.len += s.len();
    }

    /// Appends one character.
    pub fn push_char(&mut self, c: char) {
        self.lit.push(c);
        self.len += c.len_utf8();
    }

    /// Appends a symbol.
    pub fn push_sym(&mut self, s: Sym) {
        if !self.lit.is_empty() {
            self.parts.push(Part::Lit(std::mem::take(&mut self.lit)));
        }
        self.len += s.atom.display.len() + 2;
        self.parts.push(Part::Sym(s));
    }

    /// Appends a string or text.
    pub fn push(&mut self, s: Str<'_>) {
        match s {
            Str::Lit(l) => self.push_str(l),
            Str::Text(t) => {
                for p in t.parts() {
                    match p {
                        Part::Lit(l) => self.push_str(l),
                        Part::Sym(s) => self.push_sym(s.clone()),
                    }
                }
            }
        }
    }

    /// Bytes appended so far (symbols count as their display), for size limits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The string, or the text when a symbol was appended.
    pub fn finish(mut self) -> crate::value::Value {
        if self.parts.is_empty() {
            return crate::value::Value::String(self.lit);
        }
        if !self.lit.is_empty() {
            self.parts.push(Part::Lit(std::mem::take(&mut self.lit)));
        }
        crate::value::Value::Text(Text(Arc::from(self.parts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn atom(name: &str, shape: Shape) -> Sym {
        Sym {
            atom: Atom::new(name, name, shape, "test"),
            case: Case::AsIs,
        }
    }

    fn text(pieces: &[Result<&str, &Sym>]) -> Value {
        let mut b = TextBuilder::default();
        for p in pieces {
            match p {
                Ok(s) => b.push_str(s),
                Err(s) => b.push_sym((*s).clone()),
            }
        }
        b.finish()
    }

    fn s(v: &Value) -> Str<'_> {
        match v {
            Value::String(s) => Str::Lit(s),
            Value::Text(t) => Str::Text(t),
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn builder_normalises_and_gives_plain_strings_without_symbols() {
        assert_eq!(text(&[Ok("a"), Ok("b")]), Value::String("ab".into()));
        let sub = atom("sub", Shape::Guid);
        let Value::Text(t) = text(&[Ok("/s/"), Ok(""), Err(&sub), Ok("/x"), Ok("y")]) else {
            panic!()
        };
        assert_eq!(t.parts().len(), 3);
        assert_eq!(t.display(), "/s/{sub}/xy");
    }

    #[test]
    fn equality_decides_what_does_not_depend_on_the_symbols() {
        let sub = atom("subscription().subscriptionId", Shape::Guid);
        let other = atom("subscription().subscriptionId@nested", Shape::Guid);
        let p = atom("parameters('k')", Shape::Any);
        let id = |sym: &Sym, tail: &str| {
            text(&[
                Ok("/subscriptions/"),
                Err(sym),
                Ok("/providers/Microsoft.Authorization/roleDefinitions/"),
                Ok(tail),
            ])
        };
        let a = id(&sub, "e147");
        // Same structure: equal, also ignoring case.
        assert_eq!(s(&a).equals(s(&id(&sub, "e147")), false), Some(true));
        assert_eq!(s(&a).equals(s(&id(&sub, "E147")), true), Some(true));
        assert_eq!(s(&a).equals(s(&id(&sub, "E147")), false), Some(false));
        // A different known tail: different, whatever the subscription is.
        assert_eq!(s(&a).equals(s(&id(&sub, "14b4")), false), Some(false));
        // Another scope's subscription: never claimed equal.
        assert_eq!(s(&a).equals(s(&id(&other, "e147")), false), None);
        // A literal of the right shape could be it; one of the wrong shape cannot.
        let lone = text(&[Err(&sub)]);
        assert_eq!(
            s(&lone).equals(Str::Lit("00000000-0000-0000-0000-000000000000"), false),
            None
        );
        assert_eq!(s(&lone).equals(Str::Lit("not-a-guid"), false), Some(false));
        // A parameter could be anything.
        let param = text(&[Err(&p)]);
        assert_eq!(s(&param).equals(Str::Lit("x"), false), None);
        assert_eq!(s(&param).equals(s(&text(&[Err(&p)])), false), Some(true));
        // Known prefixes that differ.
        let x = text(&[Ok("kv-"), Err(&p)]);
        assert_eq!(s(&x).equals(Str::Lit("vault"), false), Some(false));
        assert_eq!(s(&x).equals(Str::Lit("kv-1"), false), None);
    }

    #[test]
    fn case_mapping_keeps_identity_only_ignoring_case() {
        let p = atom("parameters('n')", Shape::Any);
        let Value::Text(t) = text(&[Ok("kv-"), Err(&p)]) else {
            panic!()
        };
        let lower = Value::Text(t.with_case(false));
        let plain = Value::Text(t.clone());
        assert_eq!(s(&lower).equals(s(&plain), true), Some(true));
        // Equal exactly when the parameter's value has no upper-case letter.
        assert_eq!(s(&lower).equals(s(&plain), false), None);
        let Value::Text(upper_lit) = text(&[Ok("Kv-"), Err(&p)]) else {
            panic!()
        };
        assert_eq!(s(&lower).equals(Str::Text(&upper_lit), false), Some(false));
        let Value::Text(l) = &lower else { panic!() };
        assert_eq!(l.display(), "kv-{toLower(parameters('n'))}");
    }

    #[test]
    fn split_and_segments() {
        let sub = atom("sub", Shape::Guid);
        let p = atom("p", Shape::Any);
        let Value::Text(id) = text(&[Ok("/subscriptions/"), Err(&sub), Ok("/x/y")]) else {
            panic!()
        };
        let parts = id.split(&["/".to_string()]).unwrap();
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[4], Value::String("y".into()));
        assert!(matches!(parts[2], Value::Text(_)));
        let Value::Text(any) = text(&[Ok("a/"), Err(&p)]) else {
            panic!()
        };
        assert_eq!(any.split(&["/".to_string()]), None);
        // As resource-ID segments, a parameter is (part of) one segment.
        let segs = any.name_segments();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0], Str2::Lit("a".into()));
    }

    #[test]
    fn affixes_lengths_and_emptiness() {
        let g = atom("guid(x)", Shape::Guid);
        let p = atom("parameters('k')", Shape::Any);
        let key = text(&[Err(&p), Ok("-TiDB")]);
        assert_eq!(s(&key).has_affix("tidb", true), Some(true));
        assert_eq!(s(&key).has_affix("x", true), Some(false));
        assert_eq!(s(&key).has_affix("key-tidb", true), None);
        assert_eq!(s(&key).has_affix("xkey-tidb", true), None);
        assert_eq!(s(&key).has_affix("x-tidbb", true), Some(false));
        let Value::Text(t) = text(&[Err(&g), Ok("ab")]) else {
            panic!()
        };
        assert_eq!(t.len(), Some(38));
        assert_eq!(t.is_empty(), Some(false));
        let Value::Text(t) = text(&[Err(&p)]) else {
            panic!()
        };
        assert_eq!(t.is_empty(), None);
        assert_eq!(t.len(), None);
    }
}
