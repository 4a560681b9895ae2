//! Compiles a JSON event pattern into the matcher tree, rejecting what EventBridge rejects.

use serde_json::{Map, Value};

use crate::error::{PatternError, Reason, json_kind};
use crate::matcher::{
    AnythingBut, Bound, Cidr, Folded, Literal, Matcher, Range, Wildcard, WildcardError,
};

/// Size and depth limits applied when a pattern is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest pattern accepted, in characters of its JSON text.
    pub max_chars: usize,
    /// Deepest nesting of pattern objects (each `$or` alternative counts as a level).
    pub max_depth: usize,
}

impl Limits {
    /// EventBridge's default event-pattern size quota for a rule (2,048 characters; AWS raises
    /// it to at most 4,096 on request).
    pub const EVENTBRIDGE_RULE: Limits = Limits {
        max_chars: 2048,
        max_depth: 32,
    };
    /// For filters evaluated inside the relay, which can be richer than one rule can hold.
    pub const RELAY_ROUTE: Limits = Limits {
        max_chars: 64 * 1024,
        max_depth: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::EVENTBRIDGE_RULE
    }
}

/// The fields of one pattern object: all must match, and one alternative of `$or` if present.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fields {
    pub(crate) fields: Vec<(Box<str>, Node)>,
    pub(crate) any_of: Vec<Fields>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A field's match array: any entry may match.
    Leaf(Vec<Matcher>),
    /// A nested pattern object.
    Object(Fields),
}

/// Compiles pattern text, enforcing the size limit on the text as written.
pub(crate) fn compile(text: &str, limits: Limits) -> Result<Fields, PatternError> {
    check_size(text, limits)?;
    let value: Value = crate::strict_json::from_str(text).map_err(|e| {
        let reason = match e.classify() {
            serde_json::error::Category::Data => Reason::DuplicateKey(e.to_string()),
            _ => Reason::NotJson(e.to_string()),
        };
        error("$", reason)
    })?;
    compile_parsed(&value, limits)
}

/// Compiles a pattern already parsed, enforcing the size limit on its compact JSON form.
pub(crate) fn compile_value(value: &Value, limits: Limits) -> Result<Fields, PatternError> {
    check_size(&value.to_string(), limits)?;
    compile_parsed(value, limits)
}

fn check_size(text: &str, limits: Limits) -> Result<(), PatternError> {
    let chars = text.chars().count();
    if chars > limits.max_chars {
        return Err(error(
            "$",
            Reason::TooLarge {
                len: chars,
                max: limits.max_chars,
            },
        ));
    }
    Ok(())
}

fn compile_parsed(value: &Value, limits: Limits) -> Result<Fields, PatternError> {
    let Value::Object(object) = value else {
        return Err(error("$", Reason::NotAnObject(json_kind(value))));
    };
    Compiler { limits }.fields(object, "$", 1)
}

struct Compiler {
    limits: Limits,
}

fn error(path: &str, reason: Reason) -> PatternError {
    PatternError {
        path: path.to_owned(),
        reason,
    }
}

fn child_path(parent: &str, key: &str) -> String {
    if parent == "$" {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl Compiler {
    fn fields(
        &self,
        object: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> Result<Fields, PatternError> {
        if depth > self.limits.max_depth {
            return Err(error(path, Reason::TooDeep(self.limits.max_depth)));
        }
        if object.is_empty() {
            return Err(error(path, Reason::EmptyObject));
        }
        let mut compiled = Fields {
            fields: Vec::with_capacity(object.len()),
            any_of: Vec::new(),
        };
        for (key, value) in object {
            let path = child_path(path, key);
            if key == "$or" {
                compiled.any_of = self.alternatives(value, &path, depth)?;
                continue;
            }
            let node = match value {
                Value::Object(nested) => Node::Object(self.fields(nested, &path, depth + 1)?),
                Value::Array(entries) => Node::Leaf(self.leaf(entries, &path)?),
                other => return Err(error(&path, Reason::LeafNotArray(json_kind(other)))),
            };
            compiled.fields.push((key.as_str().into(), node));
        }
        Ok(compiled)
    }

    fn alternatives(
        &self,
        value: &Value,
        path: &str,
        depth: usize,
    ) -> Result<Vec<Fields>, PatternError> {
        let Value::Array(items) = value else {
            return Err(error(path, Reason::BadOr));
        };
        if items.len() < 2 {
            return Err(error(path, Reason::BadOr));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(object) => self.fields(object, &format!("{path}[{i}]"), depth + 1),
                _ => Err(error(&format!("{path}[{i}]"), Reason::BadOr)),
            })
            .collect()
    }

    fn leaf(&self, entries: &[Value], path: &str) -> Result<Vec<Matcher>, PatternError> {
        if entries.is_empty() {
            return Err(error(path, Reason::EmptyArray));
        }
        entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let path = format!("{path}[{i}]");
                match entry {
                    Value::Null => Ok(Matcher::Exact(Literal::Null)),
                    Value::Bool(b) => Ok(Matcher::Exact(Literal::Bool(*b))),
                    Value::Number(_) => Ok(Matcher::Exact(Literal::Number(number(entry, &path)?))),
                    Value::String(s) => Ok(Matcher::Exact(Literal::Str(s.clone()))),
                    Value::Array(_) => Err(error(&path, Reason::NestedArray)),
                    Value::Object(op) => operator(op, &path),
                }
            })
            .collect()
    }
}

fn single_operator<'a>(
    op: &'a Map<String, Value>,
    path: &str,
) -> Result<(&'a str, &'a Value), PatternError> {
    let mut iter = op.iter();
    match (iter.next(), op.len()) {
        (Some((name, operand)), 1) => Ok((name.as_str(), operand)),
        _ => Err(error(path, Reason::OperatorCount(op.len()))),
    }
}

fn operator(op: &Map<String, Value>, path: &str) -> Result<Matcher, PatternError> {
    let (name, operand) = single_operator(op, path)?;
    let path = child_path(path, name);
    let path = path.as_str();
    match name {
        "prefix" => affix(
            operand,
            "prefix",
            path,
            Matcher::Prefix,
            Matcher::PrefixIgnoreCase,
        ),
        "suffix" => affix(
            operand,
            "suffix",
            path,
            Matcher::Suffix,
            Matcher::SuffixIgnoreCase,
        ),
        "equals-ignore-case" => Ok(Matcher::EqualsIgnoreCase(Folded::new(string(
            operand,
            "equals-ignore-case",
            "a string",
            path,
        )?))),
        "wildcard" => Ok(Matcher::Wildcard(wildcard(
            string(operand, "wildcard", "a string", path)?,
            path,
        )?)),
        "exists" => match operand {
            Value::Bool(b) => Ok(Matcher::Exists(*b)),
            other => Err(wrong_type("exists", "true or false", other, path)),
        },
        "cidr" => {
            let text = string(operand, "cidr", "a string such as \"10.0.0.0/24\"", path)?;
            Cidr::parse(text)
                .map(Matcher::Cidr)
                .ok_or_else(|| error(path, Reason::Cidr(text.to_owned())))
        }
        "numeric" => numeric(operand, path).map(Matcher::Numeric),
        "anything-but" => anything_but(operand, path).map(Matcher::AnythingBut),
        other => Err(error(path, Reason::UnknownOperator(other.to_owned()))),
    }
}

/// `prefix` and `suffix`: a string, or `{"equals-ignore-case": string}`.
fn affix(
    operand: &Value,
    operator: &'static str,
    path: &str,
    exact: fn(String) -> Matcher,
    ignoring_case: fn(Folded) -> Matcher,
) -> Result<Matcher, PatternError> {
    match operand {
        Value::Object(inner) => Ok(ignoring_case(Folded::new(ignore_case_operand(
            inner, operator, path,
        )?))),
        _ => string(
            operand,
            operator,
            "a string or {\"equals-ignore-case\": string}",
            path,
        )
        .map(|s| exact(s.to_owned())),
    }
}

/// The `{"equals-ignore-case": "..."}` operand that `prefix` and `suffix` accept.
fn ignore_case_operand<'a>(
    inner: &'a Map<String, Value>,
    operator: &'static str,
    path: &str,
) -> Result<&'a str, PatternError> {
    let (name, operand) = single_operator(inner, path)?;
    let path = child_path(path, name);
    if name != "equals-ignore-case" {
        return Err(error(
            &path,
            Reason::UnknownOperator(format!("{operator}.{name}")),
        ));
    }
    string(operand, "equals-ignore-case", "a string", &path)
}

fn string<'a>(
    operand: &'a Value,
    operator: &'static str,
    expected: &'static str,
    path: &str,
) -> Result<&'a str, PatternError> {
    match operand {
        Value::String(s) => Ok(s),
        other => Err(wrong_type(operator, expected, other, path)),
    }
}

fn wrong_type(
    operator: &'static str,
    expected: &'static str,
    found: &Value,
    path: &str,
) -> PatternError {
    error(
        path,
        Reason::WrongOperandType {
            operator,
            expected,
            found: json_kind(found),
        },
    )
}

fn number(value: &Value, path: &str) -> Result<f64, PatternError> {
    value
        .as_f64()
        .filter(|n| n.is_finite())
        .ok_or_else(|| error(path, Reason::Numeric("numbers must be finite")))
}

fn wildcard(text: &str, path: &str) -> Result<Wildcard, PatternError> {
    Wildcard::parse(text).map_err(|e| {
        let reason = match e {
            WildcardError::ConsecutiveStars => Reason::ConsecutiveWildcards(text.to_owned()),
            WildcardError::BadEscape => Reason::BadWildcardEscape(text.to_owned()),
        };
        error(path, reason)
    })
}

fn numeric(operand: &Value, path: &str) -> Result<Range, PatternError> {
    let Value::Array(items) = operand else {
        return Err(wrong_type(
            "numeric",
            "an array such as [\">\", 0, \"<=\", 5]",
            operand,
            path,
        ));
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err(error(
            path,
            Reason::Numeric(
                "expected one or two comparisons: [op, number] or [op, number, op, number]",
            ),
        ));
    }
    let mut range = Range::default();
    for (i, pair) in items.chunks(2).enumerate() {
        let [op, value] = pair else { continue };
        let op_path = format!("{path}[{}]", 2 * i);
        let Value::String(op) = op else {
            return Err(error(
                &op_path,
                Reason::Numeric("comparison operator must be one of =, <, <=, >, >="),
            ));
        };
        let value_path = format!("{path}[{}]", 2 * i + 1);
        if !value.is_number() {
            return Err(wrong_type(
                "numeric",
                "a number after each operator",
                value,
                &value_path,
            ));
        }
        let n = number(value, &value_path)?;
        let (slot, bound) = match op.as_str() {
            "=" if items.len() == 2 => {
                range.lower = Some(Bound {
                    value: n,
                    inclusive: true,
                });
                (
                    &mut range.upper,
                    Bound {
                        value: n,
                        inclusive: true,
                    },
                )
            }
            "=" => {
                return Err(error(
                    &op_path,
                    Reason::Numeric("`=` cannot be combined with another comparison"),
                ));
            }
            ">" => (
                &mut range.lower,
                Bound {
                    value: n,
                    inclusive: false,
                },
            ),
            ">=" => (
                &mut range.lower,
                Bound {
                    value: n,
                    inclusive: true,
                },
            ),
            "<" => (
                &mut range.upper,
                Bound {
                    value: n,
                    inclusive: false,
                },
            ),
            "<=" => (
                &mut range.upper,
                Bound {
                    value: n,
                    inclusive: true,
                },
            ),
            _ => {
                return Err(error(
                    &op_path,
                    Reason::Numeric("comparison operator must be one of =, <, <=, >, >="),
                ));
            }
        };
        if slot.is_some() {
            return Err(error(
                &op_path,
                Reason::Numeric(
                    "a range takes one lower bound (> or >=) and one upper bound (< or <=)",
                ),
            ));
        }
        *slot = Some(bound);
    }
    if !range.can_match() {
        let show = |b: Option<Bound>| b.map(|b| b.value.to_string()).unwrap_or_default();
        return Err(error(
            path,
            Reason::EmptyRange {
                lower: show(range.lower),
                upper: show(range.upper),
            },
        ));
    }
    Ok(range)
}

fn anything_but(operand: &Value, path: &str) -> Result<AnythingBut, PatternError> {
    match operand {
        Value::String(s) => Ok(AnythingBut::Strings(std::iter::once(s.clone()).collect())),
        Value::Number(_) => Ok(AnythingBut::Numbers(vec![number(operand, path)?])),
        Value::Array(items) => anything_but_list(items, path),
        Value::Object(inner) => {
            let (name, value) = single_operator(inner, path)?;
            let path = child_path(path, name);
            let path = path.as_str();
            match name {
                "prefix" => non_empty(
                    string(value, "prefix", "a string", path)?,
                    "anything-but prefix",
                    path,
                )
                .map(|s| AnythingBut::Prefix(s.to_owned())),
                "suffix" => non_empty(
                    string(value, "suffix", "a string", path)?,
                    "anything-but suffix",
                    path,
                )
                .map(|s| AnythingBut::Suffix(s.to_owned())),
                "equals-ignore-case" => strings(value, "equals-ignore-case", path).map(|list| {
                    AnythingBut::IgnoreCase(list.iter().map(|s| s.to_lowercase()).collect())
                }),
                "wildcard" => strings(value, "wildcard", path)?
                    .iter()
                    .map(|s| wildcard(s, path))
                    .collect::<Result<_, _>>()
                    .map(AnythingBut::Wildcards),
                other => Err(error(
                    path,
                    Reason::NotAllowedInAnythingBut(other.to_owned()),
                )),
            }
        }
        other => Err(wrong_type(
            "anything-but",
            "a string, a number, a list of either, or {prefix|suffix|equals-ignore-case|wildcard: ...}",
            other,
            path,
        )),
    }
}

fn non_empty<'a>(s: &'a str, what: &'static str, path: &str) -> Result<&'a str, PatternError> {
    if s.is_empty() {
        Err(error(path, Reason::EmptyOperand(what)))
    } else {
        Ok(s)
    }
}

fn anything_but_list(items: &[Value], path: &str) -> Result<AnythingBut, PatternError> {
    if items.is_empty() {
        return Err(error(path, Reason::EmptyArray));
    }
    if items.iter().all(Value::is_string) {
        return Ok(AnythingBut::Strings(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ));
    }
    if items.iter().all(Value::is_number) {
        return items
            .iter()
            .enumerate()
            .map(|(i, item)| number(item, &format!("{path}[{i}]")))
            .collect::<Result<_, _>>()
            .map(AnythingBut::Numbers);
    }
    Err(error(path, Reason::MixedAnythingBut))
}

/// A string, or a non-empty list of strings.
fn strings(value: &Value, operator: &'static str, path: &str) -> Result<Vec<String>, PatternError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if items.is_empty() => Err(error(path, Reason::EmptyArray)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                string(item, operator, "a string", &format!("{path}[{i}]")).map(str::to_owned)
            })
            .collect(),
        other => Err(wrong_type(
            operator,
            "a string or a list of strings",
            other,
            path,
        )),
    }
}
