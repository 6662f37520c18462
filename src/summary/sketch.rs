//! Quantiles over a stream in bounded memory: exact counts per distinct value while there are
//! at most `cap` distinct values, then a log-bucketed histogram (the DDSketch layout) with a
//! relative error of at most `RELATIVE_ERROR` on every quantile.
//!
//! Dirty counts are integers and repeat a lot: a day of 25 ms epochs (3.46 M values) of a VM
//! dirtying up to 50 000 pages has at most 50 000 distinct values, so its percentiles stay
//! exact, nearest-rank, the same as sorting all values. Only a stream with more distinct
//! values than the cap falls back to buckets, and says so (`exact()`).

use crate::fasthash::FastMap;
use std::collections::BTreeMap;

type Counts = FastMap<u64, u64>;

/// Relative error of a quantile once bucketed: every value in a bucket is within this
/// fraction of the bucket's representative.
pub const RELATIVE_ERROR: f64 = 0.005;
/// Distinct values kept exactly by default (~2.5 MB at most per sketch).
pub const DEFAULT_CAP: usize = 65_536;
/// Whole values below this are counted in an array indexed by the value, not hashed: most
/// dirty counts, pushed millions of times a day. At most 32 KiB per sketch, grown as values
/// come, so an hour's sketch of small counts stays small.
const DENSE_LIMIT: usize = 4096;

/// γ = (1 + α) / (1 − α): bucket i holds (γ^(i−1), γ^i].
fn gamma() -> f64 {
    (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)
}

/// Non-negative values only (the trace validator guarantees them); a negative or NaN value
/// is counted as 0.
#[derive(Clone, Debug)]
pub struct Quantiles {
    cap: usize,
    count: u64,
    sum: f64,
    max: f64,
    /// Exact counts keyed by the value's bits (order-preserving for non-negative floats);
    /// a hash map, as pushes outnumber quantile queries by millions to one.
    exact: Option<Counts>,
    /// Counts of whole values below `DENSE_LIMIT`, by value, while exact: part of `exact`.
    dense: Vec<u64>,
    /// Distinct values in `exact` and `dense` together.
    distinct: usize,
    zeros: u64,
    buckets: BTreeMap<i32, u64>,
}

impl Default for Quantiles {
    fn default() -> Self {
        Self::with_cap(DEFAULT_CAP)
    }
}

impl Quantiles {
    pub fn with_cap(cap: usize) -> Self {
        Self {
            cap,
            count: 0,
            sum: 0.0,
            max: 0.0,
            exact: Some(Counts::default()),
            dense: Vec::new(),
            distinct: 0,
            zeros: 0,
            buckets: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, value: f64) {
        let value = if value.is_finite() && value > 0.0 {
            value
        } else {
            0.0
        };
        self.push_n(value, 1);
    }

    fn bucket(&mut self, value: f64, n: u64) {
        if value <= 0.0 {
            self.zeros += n;
        } else {
            let index = value.ln() / gamma().ln();
            *self.buckets.entry(index.ceil() as i32).or_insert(0) += n;
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    pub fn max(&self) -> f64 {
        self.max
    }

    /// True while every quantile is exact.
    pub fn exact(&self) -> bool {
        self.exact.is_some()
    }

    /// The `q` quantile by nearest rank (0 for no values): exact, or within
    /// `RELATIVE_ERROR` of it once bucketed.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        if let Some(exact) = &self.exact {
            let mut sorted: Vec<(u64, u64)> = exact
                .iter()
                .map(|(&b, &n)| (b, n))
                .chain(self.dense_counts())
                .collect();
            sorted.sort_unstable();
            let mut seen = 0;
            for (bits, n) in sorted {
                seen += n;
                if seen >= rank {
                    return f64::from_bits(bits);
                }
            }
            return self.max;
        }
        if rank <= self.zeros {
            return 0.0;
        }
        let mut seen = self.zeros;
        let g = gamma();
        for (&index, &n) in &self.buckets {
            seen += n;
            if seen >= rank {
                // The point of the bucket equidistant (relatively) from both edges.
                return (2.0 * g.powi(index) / (g + 1.0)).min(self.max);
            }
        }
        self.max
    }

    /// The dense counts as (value bits, count), like `exact`'s entries.
    fn dense_counts(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.dense
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(value, &n)| ((value as f64).to_bits(), n))
    }

    fn push_n(&mut self, value: f64, n: u64) {
        self.count += n;
        self.sum += value * n as f64;
        self.max = self.max.max(value);
        let Some(exact) = &mut self.exact else {
            self.bucket(value, n);
            return;
        };
        let whole = value as usize;
        let slot = if whole < DENSE_LIMIT && whole as f64 == value {
            if whole >= self.dense.len() {
                let len = (whole + 1).next_power_of_two().clamp(64, DENSE_LIMIT);
                self.dense.resize(len, 0);
            }
            &mut self.dense[whole]
        } else {
            exact.entry(value.to_bits()).or_insert(0)
        };
        if *slot == 0 {
            self.distinct += 1;
        }
        *slot += n;
        if self.distinct > self.cap {
            let exact = self.exact.take().unwrap_or_default();
            let dense: Vec<(u64, u64)> = self.dense_counts().collect();
            self.dense = Vec::new();
            for (bits, k) in exact.into_iter().chain(dense) {
                self.bucket(f64::from_bits(bits), k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nearest_rank(values: &[f64], q: f64) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
    }

    #[test]
    fn exact_below_the_cap() {
        let mut q = Quantiles::default();
        for v in 1..=100 {
            q.push(f64::from(v));
        }
        assert!(q.exact());
        assert_eq!(
            (q.quantile(0.5), q.quantile(0.95), q.max()),
            (50.0, 95.0, 100.0)
        );
        assert_eq!(q.mean(), 50.5);
        assert_eq!(Quantiles::default().quantile(0.95), 0.0);
    }

    #[test]
    fn small_whole_values_large_ones_and_fractions_rank_together() {
        let mut q = Quantiles::with_cap(8_000);
        let mut values = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match i % 3 {
                0 => (x % 5000) as f64,
                1 => (x % 3000) as f64 + 0.5,
                _ => 4000.0 + (x % 2000) as f64,
            };
            values.push(v);
            q.push(v);
        }
        assert!(
            !q.exact(),
            "9 000 distinct values, dense and hashed together, over a cap of 8 000"
        );
        let mut exact = Quantiles::default();
        for &v in &values {
            exact.push(v);
        }
        assert!(exact.exact());
        for p in [0.01, 0.5, 0.95, 1.0] {
            let truth = nearest_rank(&values, p);
            assert_eq!(exact.quantile(p), truth, "p{p}");
            assert!((q.quantile(p) - truth).abs() <= RELATIVE_ERROR * truth + 1e-12);
        }
    }

    #[test]
    fn bucketed_within_the_stated_error() {
        let mut q = Quantiles::with_cap(1000);
        let mut values = Vec::new();
        let mut x = 0x9e3779b97f4a7c15u64;
        for i in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = if i % 10 == 0 {
                0.0
            } else {
                (x % 1_000_000) as f64 / 7.0
            };
            values.push(v);
            q.push(v);
        }
        assert!(!q.exact());
        for p in [0.05, 0.5, 0.9, 0.95, 0.99, 1.0] {
            let truth = nearest_rank(&values, p);
            let got = q.quantile(p);
            assert!(
                (got - truth).abs() <= RELATIVE_ERROR * truth + 1e-12,
                "p{p}: {got} vs {truth}"
            );
        }
    }
}
