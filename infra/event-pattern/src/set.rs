//! Many patterns, one pass over the event: which of them match?
//!
//! Most route tables key on an exact value (`detail.eventType: ["user.session.start"]`). Each
//! pattern that has such a field is indexed under its values, so an event is only tested
//! against the patterns whose anchor value it carries, plus the patterns without an anchor.
//! That keeps matching cost close to flat as the table grows.

use std::collections::HashMap;

use crate::Pattern;
use crate::error::EventError;
use crate::eval::{Json, fields_match};
use crate::matcher::{Literal, Matcher, Scalar};
use crate::parse::{Fields, Node};
use crate::sparse::{self, PathTrie};

/// A set of patterns, each with a key of your choosing (a route name, an index...).
#[derive(Debug, Clone)]
pub struct PatternSet<K> {
    entries: Vec<(K, Pattern)>,
    trie: PathTrie,
    anchors: Vec<Anchor>,
    unanchored: Vec<usize>,
}

/// Patterns that require one of a few exact strings at `path`.
#[derive(Debug, Clone)]
struct Anchor {
    path: Vec<Box<str>>,
    by_value: HashMap<Box<str>, Vec<usize>>,
}

impl<K> Default for PatternSet<K> {
    fn default() -> Self {
        PatternSet {
            entries: Vec::new(),
            trie: PathTrie::default(),
            anchors: Vec::new(),
            unanchored: Vec::new(),
        }
    }
}

impl<K> FromIterator<(K, Pattern)> for PatternSet<K> {
    fn from_iter<I: IntoIterator<Item = (K, Pattern)>>(iter: I) -> Self {
        let mut set = PatternSet::default();
        for (key, pattern) in iter {
            set.insert(key, pattern);
        }
        set
    }
}

impl<K> PatternSet<K> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, key: K, pattern: Pattern) {
        let index = self.entries.len();
        self.trie.add(&pattern.root);
        match find_anchor(&pattern.root, &mut Vec::new()) {
            Some((path, values)) => {
                let at = match self.anchors.iter().position(|a| a.path == path) {
                    Some(at) => at,
                    None => {
                        self.anchors.push(Anchor {
                            path,
                            by_value: HashMap::new(),
                        });
                        self.anchors.len() - 1
                    }
                };
                for value in values {
                    let bucket = self.anchors[at].by_value.entry(value.into()).or_default();
                    if bucket.last() != Some(&index) {
                        bucket.push(index);
                    }
                }
            }
            None => self.unanchored.push(index),
        }
        self.entries.push((key, pattern));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &Pattern)> {
        self.entries.iter().map(|(k, p)| (k, p))
    }

    /// The keys of the patterns that match the event, in insertion order. The event is read once
    /// from raw JSON, keeping only the fields some pattern names.
    pub fn matching(&self, event: &[u8]) -> Result<Vec<&K>, EventError> {
        let root = sparse::parse(event, &self.trie)?;
        Ok(self.matching_in(&root))
    }

    /// Like [`PatternSet::matching`], for an event already parsed into a `serde_json::Value`.
    /// An event that is not a JSON object matches nothing.
    pub fn matching_value(&self, event: &serde_json::Value) -> Vec<&K> {
        if event.is_object() {
            self.matching_in(event)
        } else {
            Vec::new()
        }
    }

    fn matching_in<'a, J: Json<'a>>(&self, root: J) -> Vec<&K> {
        let mut candidates = self.unanchored.clone();
        for anchor in &self.anchors {
            strings_at(root, &anchor.path, &mut |s| {
                if let Some(indices) = anchor.by_value.get(s) {
                    candidates.extend_from_slice(indices);
                }
            });
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .filter_map(|i| self.entries.get(i))
            .filter(|(_, pattern)| fields_match(&pattern.root, Some(root)))
            .map(|(key, _)| key)
            .collect()
    }
}

/// A path through plain nested objects (not `$or`) to a field whose every match value is an
/// exact string: the event must carry one of those strings there for the pattern to match.
fn find_anchor(fields: &Fields, path: &mut Vec<Box<str>>) -> Option<(Vec<Box<str>>, Vec<String>)> {
    for (key, node) in &fields.fields {
        path.push(key.clone());
        let found = match node {
            Node::Leaf(matchers) => exact_strings(matchers).map(|values| (path.clone(), values)),
            Node::Object(nested) => find_anchor(nested, path),
        };
        path.pop();
        if found.is_some() {
            return found;
        }
    }
    None
}

fn exact_strings(matchers: &[Matcher]) -> Option<Vec<String>> {
    matchers
        .iter()
        .map(|m| match m {
            Matcher::Exact(Literal::Str(s)) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// Calls `f` with every string found at `path`, looking through arrays at every step.
fn strings_at<'a, J: Json<'a>>(value: J, path: &[Box<str>], f: &mut impl FnMut(&str)) {
    if let Some(items) = value.elements() {
        for item in items {
            strings_at(item, path, f);
        }
        return;
    }
    match path.split_first() {
        Some((key, rest)) => {
            if let Some(child) = value.get(key) {
                strings_at(child, rest, f);
            }
        }
        None => {
            if let Some(Scalar::Str(s)) = value.scalar() {
                f(s);
            }
        }
    }
}
