//! The one reader of a function's environment (template.yaml sets it; a local run exports it).
//! Every function reads its variables through [`Environment`], so the rules are the same
//! everywhere: values are trimmed, a blank value is the same as an unset one, and an error names
//! the variable, the value and what was expected.

use std::fmt::Display;
use std::ops::RangeInclusive;

/// Variables by name: the process environment, or a map in tests.
pub struct Environment<F> {
    var: F,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set; template.yaml sets it, or export it for a local run")]
    Missing(&'static str),
    #[error("{name} is `{value}`: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: String,
    },
    #[error("{name}: {reason}")]
    Unusable { name: &'static str, reason: String },
}

impl Environment<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Self {
            var: |name| std::env::var(name).ok(),
        }
    }
}

impl<F: Fn(&str) -> Option<String>> Environment<F> {
    pub fn new(var: F) -> Self {
        Self { var }
    }

    /// The trimmed value; `None` when unset or blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.var)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    /// An optional value read by `parse`, whose error says what is wrong with it.
    pub fn parsed<T, E: Display>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, ConfigError> {
        self.optional(name)
            .map(|value| {
                parse(&value).map_err(|error| ConfigError::Unusable {
                    name,
                    reason: error.to_string(),
                })
            })
            .transpose()
    }

    /// An optional value checked by `parse`, whose error says what was expected; the error
    /// repeats the value.
    fn checked<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, &'static str>,
    ) -> Result<Option<T>, ConfigError> {
        self.optional(name)
            .map(|value| {
                parse(&value).map_err(|expected| ConfigError::Invalid {
                    name,
                    expected: expected.to_owned(),
                    value,
                })
            })
            .transpose()
    }

    /// A whole number within `range`, `default` when unset.
    pub fn number(
        &self,
        name: &'static str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let value = self
            .checked(name, |value| {
                value.parse::<u64>().map_err(|_| "expected a whole number")
            })?
            .unwrap_or(default);
        if range.contains(&value) {
            return Ok(value);
        }
        Err(ConfigError::Invalid {
            name,
            value: value.to_string(),
            expected: format!(
                "expected a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        })
    }

    /// `true`/`1` or `false`/`0`, `default` when unset.
    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        Ok(self
            .checked(name, |value| match value {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err("expected true or false"),
            })?
            .unwrap_or(default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> Environment<impl Fn(&str) -> Option<String>> {
        let pairs = pairs.to_vec();
        Environment::new(move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn blank_is_unset_and_values_are_trimmed() {
        let env = env(&[("A", "  "), ("B", " x "), ("N", " 7 ")]);
        assert_eq!(env.optional("A"), None);
        assert_eq!(env.required("A"), Err(ConfigError::Missing("A")));
        assert_eq!(env.optional("B").as_deref(), Some("x"));
        assert_eq!(env.number("N", 1, 1..=10), Ok(7));
        assert_eq!(env.number("A", 3, 1..=10), Ok(3));
    }

    #[test]
    fn errors_name_the_variable_the_value_and_what_was_expected() {
        let env = env(&[("N", "soon"), ("BIG", "11"), ("F", "yes")]);
        assert_eq!(
            env.number("N", 1, 1..=10).unwrap_err().to_string(),
            "N is `soon`: expected a whole number"
        );
        assert_eq!(
            env.number("BIG", 1, 1..=10).unwrap_err().to_string(),
            "BIG is `11`: expected a whole number from 1 to 10"
        );
        assert_eq!(
            env.flag("F", false).unwrap_err().to_string(),
            "F is `yes`: expected true or false"
        );
        assert_eq!(
            env.required("X").unwrap_err().to_string(),
            "X is not set; template.yaml sets it, or export it for a local run"
        );
    }
}
