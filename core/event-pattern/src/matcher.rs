//! Leaf matchers: what one entry of a field's match array tests against one event value.
//!
//! The cost of one event is bounded by the event, not by how the pattern is written: a string
//! is case-folded at most once per evaluation however many matchers fold it ([`Folds`]),
//! `anything-but` lists are hash sets, and wildcard pieces are found with `memchr`'s SIMD
//! substring search. docs/PERFORMANCE.md has the measured worst cases.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::rc::Rc;

/// Case-folded event strings of one evaluation, so that a list of 1,000 `equals-ignore-case`
/// values folds a 240 KB string once instead of 1,000 times. Keyed by the string's address and
/// length, which are stable and unique while the evaluation borrows the event; short strings
/// are folded on the spot, cheaper than a lookup.
#[derive(Debug, Default)]
pub(crate) struct Folds {
    folded: RefCell<HashMap<(usize, usize), Rc<str>>>,
}

/// Strings shorter than this are folded directly.
const FOLD_CACHE_MIN_LEN: usize = 256;

impl Folds {
    fn lower(&self, s: &str) -> Rc<str> {
        if s.len() < FOLD_CACHE_MIN_LEN {
            return Rc::from(s.to_lowercase());
        }
        let key = (s.as_ptr() as usize, s.len());
        if let Some(hit) = self.folded.borrow().get(&key) {
            return hit.clone();
        }
        let folded: Rc<str> = Rc::from(s.to_lowercase());
        self.folded.borrow_mut().insert(key, folded.clone());
        folded
    }
}

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
    pub(crate) fn matches(&self, value: Scalar<'_>, folds: &Folds) -> bool {
        match self {
            Matcher::Exact(literal) => literal.equals(value),
            Matcher::Prefix(prefix) => {
                as_str(value).is_some_and(|s| s.starts_with(prefix.as_str()))
            }
            Matcher::Suffix(suffix) => as_str(value).is_some_and(|s| s.ends_with(suffix.as_str())),
            Matcher::PrefixIgnoreCase(prefix) => {
                as_str(value).is_some_and(|s| prefix.is_prefix_of(s, folds))
            }
            Matcher::SuffixIgnoreCase(suffix) => {
                as_str(value).is_some_and(|s| suffix.is_suffix_of(s, folds))
            }
            Matcher::EqualsIgnoreCase(expected) => {
                as_str(value).is_some_and(|s| expected.equals(s, folds))
            }
            Matcher::Wildcard(wildcard) => as_str(value).is_some_and(|s| wildcard.matches(s)),
            Matcher::AnythingBut(negated) => !negated.excludes(value, folds),
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Folded(String);

impl Folded {
    pub(crate) fn new(s: &str) -> Self {
        Folded(s.to_lowercase())
    }

    fn equals(&self, s: &str, folds: &Folds) -> bool {
        if s.is_ascii() && self.0.is_ascii() {
            return s.eq_ignore_ascii_case(&self.0);
        }
        could_fold_to(s, self.0.len()) && *folds.lower(s) == *self.0
    }

    fn is_prefix_of(&self, s: &str, folds: &Folds) -> bool {
        let n = self.0.len();
        if self.0.is_ascii() && s.as_bytes().get(..n).is_some_and(<[u8]>::is_ascii) {
            return s.as_bytes()[..n].eq_ignore_ascii_case(self.0.as_bytes());
        }
        folds.lower(s).starts_with(&self.0)
    }

    fn is_suffix_of(&self, s: &str, folds: &Folds) -> bool {
        let n = self.0.len();
        let tail = s.len().checked_sub(n).and_then(|at| s.as_bytes().get(at..));
        if self.0.is_ascii() && tail.is_some_and(<[u8]>::is_ascii) {
            return tail.is_some_and(|tail| tail.eq_ignore_ascii_case(self.0.as_bytes()));
        }
        folds.lower(s).ends_with(&self.0)
    }
}

/// Lower-casing changes a UTF-8 length by at most a factor of three either way (`K`, the
/// Kelvin sign, is three bytes and folds to one; `İ` is two and folds to three), so a string
/// whose length is outside that range of `len` cannot fold to `len` bytes, and is not folded.
fn could_fold_to(s: &str, len: usize) -> bool {
    s.len() <= len.saturating_mul(3) && len <= s.len().saturating_mul(3)
}

/// Strings an `anything-but` excludes: a hash set, and the longest, so that a value longer than
/// any of them is never hashed (or folded) at all.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Exclusions {
    values: HashSet<String>,
    longest: usize,
}

impl FromIterator<String> for Exclusions {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        let values: HashSet<String> = iter.into_iter().collect();
        let longest = values.iter().map(String::len).max().unwrap_or(0);
        Self { values, longest }
    }
}

/// What `anything-but` excludes. A value matches when it is present and not excluded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnythingBut {
    Strings(Exclusions),
    Numbers(Vec<f64>),
    Prefix(String),
    Suffix(String),
    /// Folded values: a value is excluded when its folding is one of them.
    IgnoreCase(Exclusions),
    Wildcards(Vec<Wildcard>),
}

impl AnythingBut {
    fn excludes(&self, value: Scalar<'_>, folds: &Folds) -> bool {
        match (self, value) {
            (AnythingBut::Strings(set), Scalar::Str(s)) => {
                s.len() <= set.longest && set.values.contains(s)
            }
            (AnythingBut::Numbers(list), Scalar::Number(n)) => list.contains(&n),
            (AnythingBut::Prefix(p), Scalar::Str(s)) => s.starts_with(p.as_str()),
            (AnythingBut::Suffix(p), Scalar::Str(s)) => s.ends_with(p.as_str()),
            (AnythingBut::IgnoreCase(set), Scalar::Str(s)) => {
                s.len() <= set.longest.saturating_mul(3) && set.values.contains(&*folds.lower(s))
            }
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
            match memchr::memmem::find(rest.as_bytes(), piece.as_bytes()) {
                // A UTF-8 needle found in UTF-8 text ends on a character boundary.
                Some(at) => rest = rest.get(at + piece.len()..).unwrap_or_default(),
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

#[cfg(test)]
mod tests {
    use crate::Pattern;

    fn matches(pattern: &str, event: &str) -> bool {
        Pattern::parse(pattern)
            .unwrap()
            .matches_value(&serde_json::from_str(event).unwrap())
    }

    #[test]
    fn folding_shortcuts_keep_unicode_answers() {
        // The Kelvin sign is three bytes and folds to one: the length bound must not skip it.
        let kelvin = r#"{"a": "\u212a"}"#;
        assert!(matches(r#"{"a": [{"equals-ignore-case": "k"}]}"#, kelvin));
        assert!(!matches(
            r#"{"a": [{"anything-but": {"equals-ignore-case": ["k"]}}]}"#,
            kelvin
        ));
        assert!(matches(
            r#"{"a": [{"anything-but": {"equals-ignore-case": ["x"]}}]}"#,
            kelvin
        ));
        // İ is two bytes and folds to three.
        assert!(matches(
            r#"{"a": [{"equals-ignore-case": "i̇"}]}"#,
            r#"{"a": "İ"}"#
        ));
        let long = format!(r#"{{"a": "{}"}}"#, "Å".repeat(10_000));
        assert!(matches(r#"{"a": [{"anything-but": ["x", "y"]}]}"#, &long));
        assert!(matches(
            r#"{"a": [{"anything-but": {"equals-ignore-case": ["å"]}}]}"#,
            &long
        ));
        assert!(matches(
            r#"{"a": [{"prefix": {"equals-ignore-case": "åå"}}]}"#,
            &long
        ));
        assert!(matches(
            r#"{"a": [{"suffix": {"equals-ignore-case": "ÅÅ"}}]}"#,
            &long
        ));
        assert!(!matches(r#"{"a": [{"equals-ignore-case": "å"}]}"#, &long));
    }
}
