//! Many patterns, one pass over the event: which of them match?
//!
//! Most route tables key on an exact value (`detail.eventType: ["user.session.start"]`). Each
//! pattern that requires an exact string somewhere is indexed under those strings, so an event
//! is only tested against the patterns whose anchor value it carries, plus the patterns without
//! an anchor. Of a pattern's possible anchors, the one on the path with the most distinct
//! values across the whole set is used (`detail.eventType` rather than `actor.type: ["User"]`,
//! which nearly every event carries). That keeps matching cost close to flat as tables grow.

use std::collections::{HashMap, HashSet};

use crate::Pattern;
use crate::error::EventError;
use crate::eval::{Json, fields_match};
use crate::matcher::{Folds, Literal, Matcher, Scalar};
use crate::parse::{Fields, Node};
use crate::sparse::{self, PathTrie};

type FieldPath = Vec<Box<str>>;

/// A field a pattern requires to hold one of some exact strings.
#[derive(Debug, Clone)]
struct AnchorCandidate {
    path: FieldPath,
    values: Vec<String>,
}

#[derive(Debug, Clone)]
struct Entry<K> {
    key: K,
    pattern: Pattern,
    candidates: Vec<AnchorCandidate>,
}

/// A set of patterns, each with a key of your choosing (a route name, an index...).
#[derive(Debug, Clone)]
pub struct PatternSet<K> {
    entries: Vec<Entry<K>>,
    trie: PathTrie,
    anchors: Vec<Anchor>,
    unanchored: Vec<usize>,
}

/// Patterns that require one of a few exact strings at `path`.
#[derive(Debug, Clone)]
struct Anchor {
    path: FieldPath,
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
            set.push(key, pattern);
        }
        set.reindex();
        set
    }
}

impl<K> PatternSet<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pattern. The index is rebuilt, which costs time linear in the set's size; build
    /// large sets with `collect()` instead, which indexes once.
    pub fn insert(&mut self, key: K, pattern: Pattern) {
        self.push(key, pattern);
        self.reindex();
    }

    fn push(&mut self, key: K, pattern: Pattern) {
        self.trie.add(&pattern.root);
        let mut candidates = Vec::new();
        anchor_candidates(&pattern.root, &mut Vec::new(), &mut candidates);
        self.entries.push(Entry {
            key,
            pattern,
            candidates,
        });
    }

    fn reindex(&mut self) {
        let mut distinct: HashMap<&FieldPath, HashSet<&str>> = HashMap::new();
        for candidate in self.entries.iter().flat_map(|e| &e.candidates) {
            distinct
                .entry(&candidate.path)
                .or_default()
                .extend(candidate.values.iter().map(String::as_str));
        }
        let mut anchors: Vec<Anchor> = Vec::new();
        let mut unanchored = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            let best = entry.candidates.iter().max_by_key(|c| {
                let spread = distinct.get(&c.path).map_or(0, HashSet::len);
                (spread, std::cmp::Reverse(c.values.len()))
            });
            let Some(best) = best else {
                unanchored.push(index);
                continue;
            };
            let at = match anchors.iter().position(|a| a.path == best.path) {
                Some(at) => at,
                None => {
                    anchors.push(Anchor {
                        path: best.path.clone(),
                        by_value: HashMap::new(),
                    });
                    anchors.len() - 1
                }
            };
            for value in &best.values {
                let bucket = anchors[at]
                    .by_value
                    .entry(value.as_str().into())
                    .or_default();
                if bucket.last() != Some(&index) {
                    bucket.push(index);
                }
            }
        }
        self.anchors = anchors;
        self.unanchored = unanchored;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether some pattern reads the event's top-level `field` (in any way, `exists: false`
    /// included): a caller can leave out of the event what no pattern reads.
    pub fn reads(&self, field: &str) -> bool {
        self.trie.names(field)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &Pattern)> {
        self.entries.iter().map(|e| (&e.key, &e.pattern))
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
        let folds = Folds::default();
        candidates
            .into_iter()
            .filter_map(|i| self.entries.get(i))
            .filter(|entry| fields_match(&entry.pattern.root, Some(root), &folds))
            .map(|entry| &entry.key)
            .collect()
    }
}

/// Every field reached through plain nested objects (not `$or`) whose match values are all
/// exact strings: the event must carry one of those strings there for the pattern to match.
fn anchor_candidates(fields: &Fields, path: &mut FieldPath, out: &mut Vec<AnchorCandidate>) {
    for (key, node) in &fields.fields {
        path.push(key.clone());
        match node {
            Node::Leaf(matchers) => {
                if let Some(values) = exact_strings(matchers) {
                    out.push(AnchorCandidate {
                        path: path.clone(),
                        values,
                    });
                }
            }
            Node::Object(nested) => anchor_candidates(nested, path, out),
        }
        path.pop();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_on_the_most_selective_exact_field() {
        let set: PatternSet<usize> = (0..50)
            .map(|i| {
                let text = format!(
                    r#"{{"detail": {{"actor": {{"type": ["User"]}}, "eventType": ["type.{i}"]}}}}"#
                );
                (i, Pattern::parse(&text).unwrap())
            })
            .collect();
        assert_eq!(set.anchors.len(), 1);
        assert_eq!(
            set.anchors[0].path,
            vec![Box::from("detail"), Box::from("eventType")]
        );
        assert_eq!(set.anchors[0].by_value.len(), 50);
        assert!(set.unanchored.is_empty());
    }

    #[test]
    fn insert_reindexes_so_later_patterns_are_found() {
        let mut set = PatternSet::new();
        set.insert("a", Pattern::parse(r#"{"t": ["x"]}"#).unwrap());
        set.insert("b", Pattern::parse(r#"{"u": [{"prefix": "y"}]}"#).unwrap());
        set.insert("c", Pattern::parse(r#"{"t": ["z"], "u": ["y"]}"#).unwrap());
        assert_eq!(
            set.matching(br#"{"t": "z", "u": "y"}"#).unwrap(),
            vec![&"b", &"c"]
        );
        assert_eq!(
            set.matching(br#"{"t": "x", "u": "yy"}"#).unwrap(),
            vec![&"a", &"b"]
        );
    }
}
