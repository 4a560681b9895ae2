//! Leaf matchers: what one entry of a field's match array tests against one event value.

use std::net::IpAddr;

/// One scalar value from the event, as the matchers see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(&'a str),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    Number(f64),
    Str(String),
}

impl Literal {
    fn equals(&self, value: Scalar<'_>) -> bool {
        match (self, value) {
            (Literal::Null, Scalar::Null) => true,
            (Literal::Bool(a), Scalar::Bool(b)) => *a == b,
            // Numbers compare as numbers: 5, 5.0 and 5e0 are the same value.
            (Literal::Number(a), Scalar::Number(b)) => *a == b,
            (Literal::Str(a), Scalar::Str(b)) => a == b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    Exact(Literal),
    Prefix(String),
    PrefixIgnoreCase(Folded),
    Suffix(String),
    SuffixIgnoreCase(Folded),
    EqualsIgnoreCase(Folded),
    Wildcard(Wildcard),
    AnythingBut(AnythingBut),
    Numeric(Range),
    Exists(bool),
    Cidr(Cidr),
}

impl Matcher {
    /// Whether `value` satisfies this matcher. `Exists` is decided by the caller, which knows
    /// whether the field is present at all.
    pub(crate) fn matches(&self, value: Scalar<'_>) -> bool {
        match self {
            Matcher::Exact(literal) => literal.equals(value),
            Matcher::Prefix(prefix) => {
                as_str(value).is_some_and(|s| s.starts_with(prefix.as_str()))
            }
            Matcher::Suffix(suffix) => as_str(value).is_some_and(|s| s.ends_with(suffix.as_str())),
            Matcher::PrefixIgnoreCase(prefix) => {
                as_str(value).is_some_and(|s| prefix.is_prefix_of(s))
            }
            Matcher::SuffixIgnoreCase(suffix) => {
                as_str(value).is_some_and(|s| suffix.is_suffix_of(s))
            }
            Matcher::EqualsIgnoreCase(expected) => {
                as_str(value).is_some_and(|s| expected.equals(s))
            }
            Matcher::Wildcard(wildcard) => as_str(value).is_some_and(|s| wildcard.matches(s)),
            Matcher::AnythingBut(negated) => !negated.excludes(value),
            Matcher::Numeric(range) => match value {
                Scalar::Number(n) => range.contains(n),
                _ => false,
            },
            Matcher::Exists(_) => false,
            Matcher::Cidr(cidr) => as_str(value).is_some_and(|s| cidr.contains(s)),
        }
    }
}

fn as_str(value: Scalar<'_>) -> Option<&str> {
    match value {
        Scalar::Str(s) => Some(s),
        _ => None,
    }
}

/// A string compared case-insensitively (Unicode lower-case folding, ASCII fast path).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Folded(String);

impl Folded {
    pub(crate) fn new(s: &str) -> Self {
        Folded(s.to_lowercase())
    }

    fn equals(&self, s: &str) -> bool {
        if s.is_ascii() && self.0.is_ascii() {
            return s.eq_ignore_ascii_case(&self.0);
        }
        s.to_lowercase() == self.0
    }

    fn is_prefix_of(&self, s: &str) -> bool {
        if s.is_ascii() && self.0.is_ascii() {
            return s.len() >= self.0.len()
                && s.as_bytes()[..self.0.len()].eq_ignore_ascii_case(self.0.as_bytes());
        }
        s.to_lowercase().starts_with(&self.0)
    }

    fn is_suffix_of(&self, s: &str) -> bool {
        if s.is_ascii() && self.0.is_ascii() {
            return s.len() >= self.0.len()
                && s.as_bytes()[s.len() - self.0.len()..].eq_ignore_ascii_case(self.0.as_bytes());
        }
        s.to_lowercase().ends_with(&self.0)
    }
}

/// What `anything-but` excludes. A value matches when it is present and not excluded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnythingBut {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    Prefix(String),
    Suffix(String),
    IgnoreCase(Vec<Folded>),
    Wildcards(Vec<Wildcard>),
}

impl AnythingBut {
    fn excludes(&self, value: Scalar<'_>) -> bool {
        match (self, value) {
            (AnythingBut::Strings(list), Scalar::Str(s)) => list.iter().any(|x| x == s),
            (AnythingBut::Numbers(list), Scalar::Number(n)) => list.contains(&n),
            (AnythingBut::Prefix(p), Scalar::Str(s)) => s.starts_with(p.as_str()),
            (AnythingBut::Suffix(p), Scalar::Str(s)) => s.ends_with(p.as_str()),
            (AnythingBut::IgnoreCase(list), Scalar::Str(s)) => list.iter().any(|x| x.equals(s)),
            (AnythingBut::Wildcards(list), Scalar::Str(s)) => list.iter().any(|w| w.matches(s)),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bound {
    pub(crate) value: f64,
    pub(crate) inclusive: bool,
}

/// A numeric interval; `=` is the closed interval [x, x].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Range {
    pub(crate) lower: Option<Bound>,
    pub(crate) upper: Option<Bound>,
}

impl Range {
    fn contains(&self, n: f64) -> bool {
        let above = self.lower.is_none_or(|b| {
            if b.inclusive {
                n >= b.value
            } else {
                n > b.value
            }
        });
        let below = self.upper.is_none_or(|b| {
            if b.inclusive {
                n <= b.value
            } else {
                n < b.value
            }
        });
        above && below
    }

    /// False when no number can satisfy both bounds (e.g. `> 5, < 5`).
    pub(crate) fn can_match(&self) -> bool {
        match (self.lower, self.upper) {
            (Some(lo), Some(hi)) => {
                lo.value < hi.value || (lo.value == hi.value && lo.inclusive && hi.inclusive)
            }
            _ => true,
        }
    }
}

/// A `*` glob with EventBridge's escaping: `\*` is a literal star, `\\` a literal backslash.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wildcard {
    /// Literal pieces around the stars: `a*b*` is `["a", "b", ""]`, so a pattern with n stars
    /// has n + 1 pieces and a leading or trailing star shows as an empty first or last piece.
    pieces: Vec<String>,
}

/// Why a wildcard operand was rejected.
pub(crate) enum WildcardError {
    ConsecutiveStars,
    BadEscape,
}

impl Wildcard {
    pub(crate) fn parse(pattern: &str) -> Result<Self, WildcardError> {
        let mut pieces = Vec::new();
        let mut current = String::new();
        let mut chars = pattern.chars();
        let mut last_was_star = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(escaped @ ('*' | '\\')) => current.push(escaped),
                    _ => return Err(WildcardError::BadEscape),
                },
                '*' if last_was_star => return Err(WildcardError::ConsecutiveStars),
                '*' => pieces.push(std::mem::take(&mut current)),
                other => current.push(other),
            }
            last_was_star = c == '*';
        }
        pieces.push(current);
        Ok(Wildcard { pieces })
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        let [first, middle @ .., last] = self.pieces.as_slice() else {
            // No star at all: an exact comparison.
            return self.pieces.first().is_some_and(|p| p == s);
        };
        let Some(rest) = s.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some(mut rest) = rest.strip_suffix(last.as_str()) else {
            return false;
        };
        // With only `*` as a metacharacter, taking each middle piece at its leftmost
        // occurrence is optimal: it leaves the most room for the pieces after it.
        for piece in middle {
            match rest.find(piece.as_str()) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let (addr, len) = s.split_once('/')?;
        let network: IpAddr = addr.parse().ok()?;
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
            return None;
        }
        let prefix_len: u8 = len.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        (prefix_len <= max).then_some(Cidr {
            network,
            prefix_len,
        })
    }

    fn contains(&self, s: &str) -> bool {
        let Ok(addr) = s.parse::<IpAddr>() else {
            return false;
        };
        match (self.network, addr) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => same_prefix(
                u32::from(net).into(),
                u32::from(ip).into(),
                32,
                self.prefix_len,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(u128::from(net), u128::from(ip), 128, self.prefix_len)
            }
            _ => false,
        }
    }
}

fn same_prefix(a: u128, b: u128, width: u32, prefix_len: u8) -> bool {
    let shift = width - u32::from(prefix_len);
    // A /0 network contains everything; shifting by the full width would overflow.
    shift >= width || (a >> shift) == (b >> shift)
}
