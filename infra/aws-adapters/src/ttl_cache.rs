//! A small map whose entries go stale after a TTL but stay readable, so a failed refresh can
//! fall back to the last good value. (Cache crates such as moka evict stale entries, which is
//! the opposite of what a fallback needs; this is a dozen lines.)

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value if it was stored less than a TTL ago.
    pub fn fresh(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(stored, _)| stored.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }

    /// The value however old it is.
    pub fn any(&self, key: &K) -> Option<V> {
        self.entries
            .lock()
            .ok()?
            .get(key)
            .map(|(_, value)| value.clone())
    }

    pub fn put(&self, key: K, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key, (Instant::now(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_until_the_ttl_then_only_any() {
        let cache = TtlCache::new(Duration::from_millis(30));
        cache.put("k", 1);
        assert_eq!(cache.fresh(&"k"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!((cache.fresh(&"k"), cache.any(&"k")), (None, Some(1)));
        assert_eq!(cache.any(&"other"), None);
    }
}
