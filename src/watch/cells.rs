//! One interval's closed windows in bounded memory: log-scale cells over a window's dirty
//! pages and its write rate (disk write bytes per second), each cell keeping the sums of its
//! members' dirty pages, writes and length, and their count.
//!
//! Why cells and not the summary's quantile sketch: the model computes each window's pause
//! and checkpoint size from its dirty pages *and* its writes scaled by its length
//! (model/predict.rs `distributions`), so it needs their joint distribution, which one
//! sketch per dimension would lose. Length enters only through the write rate and the mean,
//! so it is summed, not keyed. A cell's members share their float exponent and top
//! `FINEST_BITS` mantissa bits in both keys: they differ by less than 1/128 (0.8 %). Counts
//! and means (from the sums) are exact; every quantile the model takes is within
//! `relative_error()` of the exact one: 0.8 % unless the cells outgrew their cap, in which
//! case they were coarsened one mantissa bit at a time (1.6 %, 3.1 %, ... — DDSketch's
//! collapse), so memory has a fixed ceiling whatever the data. A steady workload needs a
//! few dozen cells; below 128 pages every count is its own cell.

use crate::fasthash::FastMap;
use crate::model::{IntervalSeries, Window};

/// Mantissa bits a cell keeps of each key at first (1/128 = 0.8 %).
pub const FINEST_BITS: u32 = 7;

type CellKey = (i32, i32);

/// Windows folded into at most `cap` cells: cell → (sum of its members, count).
#[derive(Clone, Debug)]
pub struct Cells {
    cells: FastMap<CellKey, (Window, u64)>,
    cap: usize,
    /// Mantissa bits kept: `FINEST_BITS` less the coarsenings.
    bits: u32,
}

/// A log-scale bucket from the float's own bits: exponent and top `bits` mantissa bits,
/// monotone in the value for positive finite numbers; zero (no writes) is a cell of its own.
fn cell_index(value: f64, bits: u32) -> i32 {
    if value > 0.0 && value.is_finite() {
        (value.to_bits() >> (52 - bits)) as i32
    } else {
        i32::MIN
    }
}

fn key(window: &Window, bits: u32) -> CellKey {
    let rate = if window.length_s > 0.0 {
        window.write_bytes / window.length_s
    } else {
        window.write_bytes
    };
    (cell_index(window.dirty_pages, bits), cell_index(rate, bits))
}

impl Cells {
    /// Cells that coarsen rather than pass `cap` (at least 16).
    pub fn with_cap(cap: usize) -> Self {
        Self {
            cells: FastMap::default(),
            cap: cap.max(16),
            bits: FINEST_BITS,
        }
    }

    pub fn push(&mut self, window: Window) {
        self.add(&window, 1);
        while self.cells.len() > self.cap && self.bits > 0 {
            self.coarsen();
        }
    }

    fn add(&mut self, sum: &Window, n: u64) {
        // A cell's mean has the same keys as its members: re-keying a sum by its mean puts
        // it where its members would go.
        let k = n as f64;
        let mean = Window {
            dirty_pages: sum.dirty_pages / k,
            write_bytes: sum.write_bytes / k,
            length_s: sum.length_s / k,
        };
        let cell = self.cells.entry(key(&mean, self.bits)).or_insert(EMPTY);
        cell.0.dirty_pages += sum.dirty_pages;
        cell.0.write_bytes += sum.write_bytes;
        cell.0.length_s += sum.length_s;
        cell.1 += n;
    }

    /// One mantissa bit less: neighbouring cells merge, the error doubles.
    fn coarsen(&mut self) {
        self.bits -= 1;
        for (sum, n) in std::mem::take(&mut self.cells).into_values() {
            self.add(&sum, n);
        }
    }

    /// Every cell of `others`, each at its own resolution (merged where it matches).
    pub fn merged<'a>(others: impl Iterator<Item = &'a Cells>) -> Vec<(u32, Window, u64)> {
        let mut all: FastMap<(u32, CellKey), (Window, u64)> = FastMap::default();
        for other in others {
            for (key, (sum, n)) in &other.cells {
                let cell = all.entry((other.bits, *key)).or_insert(EMPTY);
                cell.0.dirty_pages += sum.dirty_pages;
                cell.0.write_bytes += sum.write_bytes;
                cell.0.length_s += sum.length_s;
                cell.1 += n;
            }
        }
        all.into_iter()
            .map(|((bits, _), (sum, n))| (bits, sum, n))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Cells held: the memory, not the windows behind them.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Bound of the relative error of any quantile taken over these cells.
    pub fn relative_error(&self) -> f64 {
        relative_error(self.bits)
    }
}

/// The relative width of a cell keeping `bits` mantissa bits.
pub fn relative_error(bits: u32) -> f64 {
    1.0 / (1u64 << bits) as f64
}

/// The series the model reads from merged cells (`Cells::merged`): each cell's mean,
/// weighted by its count.
pub fn into_series(interval_ms: u64, cells: Vec<(u32, Window, u64)>) -> IntervalSeries {
    let (windows, weights) = cells
        .into_iter()
        .map(|(_, sum, n)| {
            let k = n as f64;
            let mean = Window {
                dirty_pages: sum.dirty_pages / k,
                write_bytes: sum.write_bytes / k,
                length_s: sum.length_s / k,
            };
            (mean, n)
        })
        .unzip();
    IntervalSeries {
        interval_ms,
        windows,
        weights,
    }
}

const EMPTY: (Window, u64) = (
    Window {
        dirty_pages: 0.0,
        write_bytes: 0.0,
        length_s: 0.0,
    },
    0,
);

#[cfg(test)]
mod tests {
    use super::*;

    fn window(dirty: f64, write: f64) -> Window {
        Window {
            dirty_pages: dirty,
            write_bytes: write,
            length_s: 0.1,
        }
    }

    #[test]
    fn alike_windows_share_a_cell_and_sums_stay_exact() {
        let mut cells = Cells::with_cap(1000);
        cells.push(window(1000.0, 0.0));
        cells.push(window(1001.0, 0.0)); // the same 1/128 of the octave
        cells.push(window(1100.0, 0.0));
        cells.push(window(1000.0, 4096.0));
        assert_eq!(cells.len(), 3);
        let merged = Cells::merged([&cells].into_iter());
        let total: f64 = merged.iter().map(|c| c.1.dirty_pages).sum();
        assert_eq!(total, 4101.0);
        assert_eq!(cells.relative_error(), 1.0 / 128.0);
    }

    #[test]
    fn past_the_cap_cells_coarsen_and_say_so() {
        let mut cells = Cells::with_cap(64);
        for i in 0..100_000u64 {
            cells.push(window(1000.0 + (i % 9000) as f64, (i % 77) as f64 * 4096.0));
        }
        assert!(cells.len() <= 64);
        assert!(cells.relative_error() > 1.0 / 128.0);
        let merged = Cells::merged([&cells].into_iter());
        assert_eq!(merged.iter().map(|c| c.2).sum::<u64>(), 100_000);
    }
}
