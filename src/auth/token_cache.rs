//! The verified-token cache: access tokens whose signature, header and
//! `iss`/`aud` already passed [`super::tokens::Tokens::verify_shared`], keyed by
//! SHA-256 of the whole token, so an SPA's repeated calls with the same
//! token cost a hash and a lookup instead of a signature check.
//!
//! It holds only what never changes for a given token (its claims). It
//! never decides whether a token is *still* acceptable: `exp`/`nbf` are
//! checked against `now` by the caller on every hit, and revocation is
//! checked by the HTTP layer on every request. Bounded: a fixed number of
//! entries per shard, the oldest evicted first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// Independent shards, each behind its own lock, so workers rarely meet.
const SHARDS: usize = 16;

/// SHA-256 of a whole token; equality compares all 32 bytes.
pub(crate) type TokenHash = [u8; 32];

pub fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

fn shard_index(key: &TokenHash) -> usize {
    usize::from(key[0]) % SHARDS
}

/// A bounded map from token hash to verified claims (`T`) and their `exp`.
pub(crate) struct TokenCache<T> {
    shards: Vec<Mutex<Shard<T>>>,
    per_shard: usize,
}

struct Shard<T> {
    entries: HashMap<TokenHash, (Arc<T>, i64)>,
    /// Insertion order, for evicting the oldest.
    order: VecDeque<TokenHash>,
}

impl<T> Default for Shard<T> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<T> TokenCache<T> {
    /// A cache of at most `capacity` entries (rounded up to a multiple of
    /// the shard count; 0 disables caching).
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    fn shard(&self, key: &TokenHash) -> std::sync::MutexGuard<'_, Shard<T>> {
        // a poisoned shard only means a panic elsewhere; the map is intact
        let shard = &self.shards[shard_index(key)];
        shard.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, key: &TokenHash) -> Option<Arc<T>> {
        self.shard(key)
            .entries
            .get(key)
            .map(|(claims, _)| claims.clone())
    }

    /// Remembers verified `claims` that expire at `exp`; when the shard is
    /// full, first drops the entries already past their `exp` at
    /// `now_secs`, then the oldest.
    pub fn insert(&self, key: TokenHash, claims: Arc<T>, exp: i64, now_secs: i64) {
        if self.per_shard == 0 {
            return;
        }
        let mut guard = self.shard(&key);
        let shard = &mut *guard;
        if shard.entries.contains_key(&key) {
            return;
        }
        if shard.entries.len() >= self.per_shard {
            let entries = &mut shard.entries;
            entries.retain(|_, (_, exp)| *exp >= now_secs);
            shard.order.retain(|k| entries.contains_key(k));
        }
        while shard.entries.len() >= self.per_shard {
            match shard.order.pop_front() {
                Some(oldest) => {
                    shard.entries.remove(&oldest);
                }
                None => break,
            }
        }
        shard.entries.insert(key, (claims, exp));
        shard.order.push_back(key);
    }

    /// How many tokens are cached now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).entries.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Claims stand-in: the cache only stores and hands back the value.
    fn claims() -> Arc<String> {
        Arc::new("claims".to_owned())
    }

    #[test]
    fn the_cache_stays_bounded_and_evicts_the_oldest_first() {
        let cache = TokenCache::new(64);
        for i in 0..10_000 {
            cache.insert(hash(&format!("token-{i}")), claims(), 100, 0);
            assert!(cache.len() <= 64, "at {i}: {}", cache.len());
        }
        assert!(cache.get(&hash("token-9999")).is_some());
        assert!(cache.get(&hash("token-0")).is_none());
    }

    #[test]
    fn expired_entries_go_before_live_ones() {
        let cache = TokenCache::new(SHARDS);
        // one entry per shard: find two tokens in the same shard
        let same: Vec<String> = (0..)
            .map(|i| format!("t{i}"))
            .filter(|t| shard_index(&hash(t)) == 0)
            .take(2)
            .collect();
        cache.insert(hash(&same[0]), claims(), 10, 0);
        cache.insert(hash(&same[1]), claims(), 10, 20);
        assert!(cache.get(&hash(&same[0])).is_none());
        assert!(cache.get(&hash(&same[1])).is_some());
    }

    #[test]
    fn a_zero_capacity_caches_nothing() {
        let cache = TokenCache::new(0);
        cache.insert(hash("t"), claims(), 10, 0);
        assert_eq!(cache.len(), 0);
    }
}
