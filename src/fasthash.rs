//! A hash map for the hot loops that count numbers (the summary's exact quantiles, the
//! model's window cells): a multiply-rotate hash keyed per process from std's random state.
//! SipHash was a fifth of `show`'s and `model`'s time on a day-long trace; the random key
//! keeps a crafted trace from choosing colliding values, and both maps are size-capped.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// A `HashMap` with the fast keyed hash.
pub type FastMap<K, V> = HashMap<K, V, KeyedHash>;

#[derive(Clone)]
pub struct KeyedHash(u64);

impl Default for KeyedHash {
    fn default() -> Self {
        thread_local!(static KEY: u64 = std::collections::hash_map::RandomState::new().hash_one(0u64));
        Self(KEY.with(|k| *k))
    }
}

impl BuildHasher for KeyedHash {
    type Hasher = NumberHasher;
    fn build_hasher(&self) -> NumberHasher {
        NumberHasher(self.0)
    }
}

pub struct NumberHasher(u64);

impl Hasher for NumberHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }
    fn write_i32(&mut self, value: i32) {
        self.write_u64(u64::from(value as u32));
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0 ^ value)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(26);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_any_map() {
        let mut map: FastMap<(i32, i32, i32), u64> = FastMap::default();
        for i in 0..10_000 {
            *map.entry((i % 100, -(i % 7), 3)).or_insert(0) += 1;
        }
        assert_eq!(map.len(), 700);
        assert_eq!(map.values().sum::<u64>(), 10_000);
    }
}
