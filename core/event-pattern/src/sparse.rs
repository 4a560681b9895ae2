//! Sparse event parsing: reads raw JSON bytes once and keeps only the fields some pattern names.
//!
//! Everything else is skipped by the parser without being allocated, which is what makes
//! matching cheaper than building a full `serde_json::Value` of the event.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::EventError;
use crate::eval::Json;
use crate::matcher::Scalar;
use crate::parse::{Fields, Node};
use crate::strict_json::DuplicateKey;

/// The set of field paths that a pattern (or a set of patterns) reads.
#[derive(Debug, Default, Clone)]
pub(crate) struct PathTrie {
    /// Sorted by key for binary search.
    children: Vec<(Box<str>, PathTrie)>,
}

impl PathTrie {
    pub(crate) fn add(&mut self, fields: &Fields) {
        for (key, node) in &fields.fields {
            let child = self.child_mut(key);
            if let Node::Object(nested) = node {
                child.add(nested);
            }
        }
        for alternative in &fields.any_of {
            self.add(alternative);
        }
    }

    fn child_mut(&mut self, key: &str) -> &mut PathTrie {
        let at = match self.children.binary_search_by(|(k, _)| (**k).cmp(key)) {
            Ok(at) => at,
            Err(at) => {
                self.children.insert(at, (key.into(), PathTrie::default()));
                at
            }
        };
        &mut self.children[at].1
    }

    pub(crate) fn names(&self, key: &str) -> bool {
        self.child(key).is_some()
    }

    fn child(&self, key: &str) -> Option<&PathTrie> {
        self.children
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|at| &self.children[at].1)
    }
}

/// An event reduced to the fields a trie names; strings borrow from the input where possible.
#[derive(Debug, PartialEq)]
pub(crate) enum Sparse<'de> {
    Null,
    Bool(bool),
    Number(f64),
    Str(Cow<'de, str>),
    Array(Vec<Sparse<'de>>),
    Object(Vec<(Cow<'de, str>, Sparse<'de>)>),
}

impl<'a, 'de: 'a> Json<'a> for &'a Sparse<'de> {
    fn scalar(self) -> Option<Scalar<'a>> {
        match self {
            Sparse::Null => Some(Scalar::Null),
            Sparse::Bool(b) => Some(Scalar::Bool(*b)),
            Sparse::Number(n) => Some(Scalar::Number(*n)),
            Sparse::Str(s) => Some(Scalar::Str(s)),
            Sparse::Array(_) | Sparse::Object(_) => None,
        }
    }

    fn elements(self) -> Option<impl Iterator<Item = Self>> {
        match self {
            Sparse::Array(items) => Some(items.iter()),
            _ => None,
        }
    }

    fn get(self, key: &str) -> Option<Self> {
        match self {
            Sparse::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Parses `bytes` keeping only what `trie` names. The root must be a JSON object.
pub(crate) fn parse<'de>(bytes: &'de [u8], trie: &PathTrie) -> Result<Sparse<'de>, EventError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let root = SparseSeed { trie }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    match root {
        Sparse::Object(_) => Ok(root),
        Sparse::Null => Err(EventError::NotAnObject("null")),
        Sparse::Bool(_) => Err(EventError::NotAnObject("a boolean")),
        Sparse::Number(_) => Err(EventError::NotAnObject("a number")),
        Sparse::Str(_) => Err(EventError::NotAnObject("a string")),
        Sparse::Array(_) => Err(EventError::NotAnObject("an array")),
    }
}

struct SparseSeed<'t> {
    trie: &'t PathTrie,
}

impl<'de> DeserializeSeed<'de> for SparseSeed<'_> {
    type Value = Sparse<'de>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SparseSeed<'_> {
    type Value = Sparse<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Sparse::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Sparse::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Sparse::Number(v as f64))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Sparse::Number(v as f64))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Sparse::Number(v))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Sparse::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Sparse::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(SparseSeed { trie: self.trie })? {
            items.push(item);
        }
        Ok(Sparse::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match self.trie.child(&key) {
                Some(_) if fields.iter().any(|(seen, _)| *seen == key) => {
                    return Err(de::Error::custom(DuplicateKey(key.into_owned())));
                }
                Some(trie) => fields.push((key, map.next_value_seed(SparseSeed { trie })?)),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Sparse::Object(fields))
    }
}

/// Object keys, borrowed from the input when they contain no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}
