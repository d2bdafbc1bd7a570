//! The bounded map behind [`Client::prepare_cached`](crate::Client::prepare_cached):
//! statements by their SQL text and parameter types, the least recently used one evicted
//! when a new one would pass the capacity.
//!
//! Generic over the value so its rules are tested without a server
//! (`tokio_postgres::Statement` has no public constructor). It does no I/O and never
//! drops a value itself: whatever leaves the map is handed back, for the caller to drop
//! once its lock is released (dropping a statement sends its `Close` to the server).

use std::collections::HashMap;

use tokio_postgres::types::Type;

/// One cached value, with the parameter types it was prepared for and when it was last
/// used (a tick of the cache's own clock).
struct Entry<V> {
    types: Box<[Type]>,
    value: V,
    used: u64,
}

/// Values by SQL text, then parameter types: a lookup borrows the caller's `&str` and
/// `&[Type]`, so a hit allocates nothing. Nearly every text has one entry (no explicit
/// types); the inner list is searched in order.
pub(crate) struct StatementCache<V> {
    capacity: usize,
    entries: HashMap<Box<str>, Vec<Entry<V>>>,
    len: usize,
    clock: u64,
}

impl<V: Clone> StatementCache<V> {
    /// An empty cache keeping at most `capacity` values (`0`: keeps none).
    pub(crate) fn new(capacity: usize) -> Self {
        StatementCache {
            capacity,
            entries: HashMap::new(),
            len: 0,
            clock: 0,
        }
    }

    /// The most values it keeps.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many values it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The value for `sql` and `types`, marked as the most recently used.
    pub(crate) fn get(&mut self, sql: &str, types: &[Type]) -> Option<V> {
        let entry = self
            .entries
            .get_mut(sql)?
            .iter_mut()
            .find(|entry| *entry.types == *types)?;
        self.clock += 1;
        entry.used = self.clock;
        Some(entry.value.clone())
    }

    /// Keeps `value` for `sql` and `types`. Returns the value to use and what left the
    /// cache, for the caller to drop: with one already there (two callers prepared the
    /// same statement at once) the one kept is used and `value` is handed back; when full,
    /// the least recently used value; with a capacity of 0, `value` itself (nothing is
    /// kept, the caller uses it and drops it when done).
    pub(crate) fn insert(&mut self, sql: &str, types: &[Type], value: V) -> (V, Option<V>) {
        if self.capacity == 0 {
            return (value.clone(), Some(value));
        }
        if let Some(kept) = self.get(sql, types) {
            return (kept, Some(value));
        }
        let evicted = if self.len >= self.capacity {
            self.evict_oldest()
        } else {
            None
        };
        self.clock += 1;
        self.entries.entry(sql.into()).or_default().push(Entry {
            types: types.into(),
            value: value.clone(),
            used: self.clock,
        });
        self.len += 1;
        (value, evicted)
    }

    /// Takes out the least recently used value. A scan of every entry: it runs only on a
    /// miss of a full cache, which has a round trip to the server to pay anyway.
    fn evict_oldest(&mut self) -> Option<V> {
        let (sql, index) = self
            .entries
            .iter()
            .flat_map(|(sql, list)| {
                list.iter()
                    .enumerate()
                    .map(move |(index, entry)| (entry.used, sql, index))
            })
            .min_by_key(|(used, _, _)| *used)
            .map(|(_, sql, index)| (sql.clone(), index))?;
        let list = self.entries.get_mut(&sql)?;
        let entry = list.swap_remove(index);
        if list.is_empty() {
            self.entries.remove(&sql);
        }
        self.len -= 1;
        Some(entry.value)
    }

    /// Empties the cache, handing back every value it held.
    pub(crate) fn clear(&mut self) -> Vec<V> {
        self.len = 0;
        self.entries
            .drain()
            .flat_map(|(_, list)| list.into_iter().map(|entry| entry.value))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::StatementCache;
    use tokio_postgres::types::Type;

    #[test]
    fn a_hit_returns_what_was_kept() {
        let mut cache = StatementCache::new(2);
        assert_eq!(cache.get("SELECT 1", &[]), None);
        assert_eq!(cache.insert("SELECT 1", &[], 1), (1, None));
        assert_eq!(cache.get("SELECT 1", &[]), Some(1));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_least_recently_used_is_evicted_when_full() {
        let mut cache = StatementCache::new(2);
        cache.insert("a", &[], 1);
        cache.insert("b", &[], 2);
        // `a` used after `b`: `b` is now the oldest.
        assert_eq!(cache.get("a", &[]), Some(1));
        assert_eq!(cache.insert("c", &[], 3), (3, Some(2)));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("b", &[]), None);
        assert_eq!(cache.get("a", &[]), Some(1));
        assert_eq!(cache.get("c", &[]), Some(3));
        assert_eq!(cache.insert("d", &[], 4), (4, Some(1)));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let mut cache = StatementCache::new(0);
        assert_eq!(cache.insert("a", &[], 1), (1, Some(1)));
        assert_eq!(cache.get("a", &[]), None);
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.capacity(), 0);
    }

    #[test]
    fn parameter_types_are_part_of_the_key() {
        let mut cache = StatementCache::new(3);
        cache.insert("SELECT $1", &[], 1);
        cache.insert("SELECT $1", &[Type::INT8], 2);
        cache.insert("SELECT $1", &[Type::TEXT], 3);
        assert_eq!(cache.get("SELECT $1", &[]), Some(1));
        assert_eq!(cache.get("SELECT $1", &[Type::INT8]), Some(2));
        assert_eq!(cache.get("SELECT $1", &[Type::TEXT]), Some(3));
        assert_eq!(cache.get("SELECT $1", &[Type::INT4]), None);
        assert_eq!(cache.len(), 3);
        // The oldest of one text's variants goes, the text's other variants stay.
        assert_eq!(cache.insert("SELECT 2", &[], 4), (4, Some(1)));
        assert_eq!(cache.get("SELECT $1", &[Type::TEXT]), Some(3));
    }

    #[test]
    fn a_second_insert_of_one_key_keeps_the_first() {
        let mut cache = StatementCache::new(2);
        cache.insert("a", &[], 1);
        assert_eq!(cache.insert("a", &[], 9), (1, Some(9)));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn clear_hands_back_everything() {
        let mut cache = StatementCache::new(4);
        cache.insert("a", &[], 1);
        cache.insert("b", &[], 2);
        let mut cleared = cache.clear();
        cleared.sort_unstable();
        assert_eq!(cleared, vec![1, 2]);
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.get("a", &[]), None);
        cache.insert("a", &[], 3);
        assert_eq!(cache.get("a", &[]), Some(3));
    }
}
