//! One epoch as one line of text, both ways, for every schema version read.
//!
//! Schema 2 writes `- {"n":7,"e":0.200143,"d":812,"w":4096,"c":1,"u":0.0123,"s":0.41,"W":[1510]}`:
//! `n` epoch number, `b` start (only when it is not the previous epoch's end), `e` end
//! (seconds since `start_time`), `d` dirty pages, `w` bytes written, `c` write calls, `u` CPU
//! seconds, `s` scan milliseconds, `W` the dirty counts of the intervals longer than the base
//! epoch that close with this epoch (ascending; which ones close is fixed by `n`), `f` disk
//! flushes, `k` CPU by thread class `[vcpu, iothread, emulator]`, `z` Dom-0 CPU
//! `[dom0]` or `[dom0, save helper]`. The base epoch's own window is its `d`, so it is not
//! repeated. Schema 1 wrote the `Epoch` struct itself, with every window named.
//!
//! A day at 25 ms is 3.46 M lines: the short keys take a line from ~213 to ~85 bytes, and
//! zstd (`writer`) the day from ~290 MB to well under 100 MB.

use super::{CpuClasses, Dom0Cpu, Epoch, TraceHeader, WindowCount};
use serde::{Deserialize, Serialize};

/// A schema-2 epoch line's JSON object.
#[derive(Serialize, Deserialize)]
struct Line {
    n: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    b: Option<f64>,
    e: f64,
    d: u64,
    w: u64,
    c: u64,
    u: f64,
    s: f64,
    #[serde(rename = "W", default, skip_serializing_if = "Vec::is_empty")]
    windows: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    f: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<[f64; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    z: Option<Vec<f64>>,
}

/// Which intervals close at which epoch: the window of k base epochs closes at epoch n when
/// `(n + 1) % k == 0` (windows are consecutive from epoch 0, as `windows` builds them).
#[derive(Clone, Debug)]
pub struct Schedule {
    spans: Vec<(u64, u64)>,
}

impl Schedule {
    pub fn new(header: &TraceHeader) -> Self {
        Self {
            spans: header.interval_spans(),
        }
    }

    /// The (interval, span) pairs whose window closes at epoch `n`, shortest first.
    pub fn closing(&self, n: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.spans
            .iter()
            .copied()
            .filter(move |&(_, span)| (n + 1).is_multiple_of(span))
    }
}

/// Turns epochs into schema-2 lines; remembers the previous end, which the next start implies.
pub struct Encoder {
    schedule: Schedule,
    previous_end: f64,
}

impl Encoder {
    pub fn new(header: &TraceHeader) -> Self {
        Self {
            schedule: Schedule::new(header),
            previous_end: 0.0,
        }
    }

    /// The line for `epoch`, newline included; an error when its windows are not the ones
    /// that close at its number (the reader would refuse the file).
    pub fn encode(&mut self, epoch: &Epoch) -> Result<String, String> {
        let mut windows = Vec::new();
        for (interval_ms, span) in self.schedule.closing(epoch.n) {
            let found = epoch
                .windows
                .iter()
                .find(|w| w.interval_ms == interval_ms)
                .map(|w| w.dirty_pages);
            match (span, found) {
                (1, None) => {}
                (1, Some(count)) if count == epoch.dirty_pages => {}
                (_, Some(count)) if span > 1 => windows.push(count),
                _ => {
                    return Err(format!(
                        "epoch {}: the {interval_ms} ms window closes here but its count is \
                         missing or differs from the epoch's",
                        epoch.n
                    ))
                }
            }
        }
        let expected = self.schedule.closing(epoch.n).count();
        if epoch.windows.len() > expected {
            return Err(format!(
                "epoch {}: {} windows given, only {expected} close here",
                epoch.n,
                epoch.windows.len()
            ));
        }
        let line = Line {
            n: epoch.n,
            b: (epoch.start_s != self.previous_end).then_some(epoch.start_s),
            e: epoch.end_s,
            d: epoch.dirty_pages,
            w: epoch.write_bytes,
            c: epoch.syscw,
            u: epoch.cpu_s,
            s: epoch.scan_ms,
            windows,
            f: epoch.flushes,
            k: epoch
                .cpu_classes
                .map(|c| [c.vcpu_s, c.iothread_s, c.emulator_s]),
            z: epoch.dom0.map(|d| match d.save_helper_s {
                Some(helper) => vec![d.cpu_s, helper],
                None => vec![d.cpu_s],
            }),
        };
        self.previous_end = epoch.end_s;
        let json = serde_json::to_string(&line).map_err(|err| err.to_string())?;
        Ok(format!("- {json}\n"))
    }
}

/// Turns one epoch line (without its newline) back into an `Epoch`.
pub struct Decoder {
    version: u32,
    schedule: Schedule,
    previous_end: f64,
    next_n: u64,
}

impl Decoder {
    pub fn new(header: &TraceHeader) -> Self {
        Self {
            version: header.schema_version,
            schedule: Schedule::new(header),
            previous_end: 0.0,
            next_n: 0,
        }
    }

    /// Turns one line's bytes into an epoch; a line that is not UTF-8 is an error.
    pub fn decode(&mut self, line: &[u8]) -> Result<Epoch, String> {
        let json = line
            .strip_prefix(b"- ")
            .ok_or("an epoch line starts with \"- \"")?;
        // The writer's exact shape is ASCII, checked byte by byte: no UTF-8 pass first.
        let fast = if self.version == 1 {
            None
        } else {
            super::fastline::parse(json)
        };
        let epoch = match fast {
            Some(line) => self.epoch_v2(
                &line,
                line.windows(),
                line.z.map(|(cpu_s, save_helper_s)| Dom0Cpu {
                    cpu_s,
                    save_helper_s,
                }),
            )?,
            None => {
                let json = std::str::from_utf8(json).map_err(|_| "the line is not UTF-8 text")?;
                self.decode_careful(json)?
            }
        };
        self.previous_end = epoch.end_s;
        self.next_n += 1;
        Ok(epoch)
    }

    /// Any valid line, in the writer's shape or not, with an error that names what is wrong.
    fn decode_careful(&self, json: &str) -> Result<Epoch, String> {
        let epoch = if self.version == 1 {
            serde_json::from_str::<Epoch>(json).map_err(|err| err.to_string())?
        } else {
            self.decode_v2(json)?
        };
        Ok(epoch)
    }

    /// A schema-2 line not in the writer's exact shape (spaces, another key order, an odd
    /// value), through serde_json.
    fn decode_v2(&self, json: &str) -> Result<Epoch, String> {
        let line: Line = serde_json::from_str(json).map_err(|err| err.to_string())?;
        let dom0 = match line.z.as_deref() {
            None => None,
            Some(&[cpu_s]) => Some(Dom0Cpu {
                cpu_s,
                save_helper_s: None,
            }),
            Some(&[cpu_s, helper]) => Some(Dom0Cpu {
                cpu_s,
                save_helper_s: Some(helper),
            }),
            Some(other) => {
                return Err(format!(
                    "`z` (Dom-0 CPU) holds {} numbers, expected 1 or 2",
                    other.len()
                ))
            }
        };
        let fields = super::fastline::FastLine {
            n: line.n,
            b: line.b,
            e: line.e,
            d: line.d,
            w: line.w,
            c: line.c,
            u: line.u,
            s: line.s,
            f: line.f,
            k: line.k,
            ..Default::default()
        };
        self.epoch_v2(&fields, &line.windows, dom0)
    }

    /// The epoch of a parsed line; `windows` are its `W`.
    fn epoch_v2(
        &self,
        line: &super::fastline::FastLine,
        line_windows: &[u64],
        dom0: Option<Dom0Cpu>,
    ) -> Result<Epoch, String> {
        // Which windows close depends on the number: check it before reading `W` by it.
        super::validate::check_number(line.n, self.next_n)?;
        let longer = self
            .schedule
            .closing(line.n)
            .filter(|&(_, span)| span > 1)
            .count();
        if line_windows.len() != longer {
            return Err(format!(
                "`W` holds {} window count(s), but {longer} interval(s) longer than the base \
                 epoch close at epoch {}",
                line_windows.len(),
                line.n
            ));
        }
        let mut counts = line_windows.iter();
        let windows = self
            .schedule
            .closing(line.n)
            .map(|(interval_ms, span)| WindowCount {
                interval_ms,
                dirty_pages: if span == 1 {
                    line.d
                } else {
                    counts.next().copied().unwrap_or_default()
                },
            })
            .collect();
        Ok(Epoch {
            n: line.n,
            start_s: line.b.unwrap_or(self.previous_end),
            end_s: line.e,
            dirty_pages: line.d,
            write_bytes: line.w,
            syscw: line.c,
            cpu_s: line.u,
            scan_ms: line.s,
            windows,
            flushes: line.f,
            cpu_classes: line.k.map(|[vcpu_s, iothread_s, emulator_s]| CpuClasses {
                vcpu_s,
                iothread_s,
                emulator_s,
            }),
            dom0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast parser and serde_json read every line the writer writes to the same epoch
    /// (times rounded to the microsecond, as `measure` rounds them). With 17 significant
    /// digits serde_json (without its float_roundtrip feature) can be one unit in the last
    /// place off; the fast path then reads the exact value written, as `str::parse` does.
    #[test]
    fn fast_and_careful_paths_read_the_same_epochs() {
        let header = TraceHeader::synthetic("demo", 25, &[25, 50, 100], 1 << 30);
        let mut encoder = Encoder::new(&header);
        let mut fast = Decoder::new(&header);
        let mut careful = Decoder::new(&header);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut end_s = 0.0;
        for n in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let start_s = if x.is_multiple_of(7) {
                crate::trace::round_us(end_s + 0.001)
            } else {
                end_s
            };
            end_s = crate::trace::round_us(start_s + 0.025 + (x % 997) as f64 * 1e-6);
            let dirty = x % 5000;
            let epoch = Epoch {
                n,
                start_s,
                end_s,
                dirty_pages: dirty,
                write_bytes: x % 1_000_000,
                syscw: x % 13,
                cpu_s: crate::trace::round_us((x % 100_000) as f64 * 1e-7),
                scan_ms: (x % 10_000) as f64 / 1e3,
                windows: Schedule::new(&header)
                    .closing(n)
                    .map(|(interval_ms, span)| WindowCount {
                        interval_ms,
                        dirty_pages: if span == 1 { dirty } else { dirty + x % 300 },
                    })
                    .collect(),
                flushes: x.is_multiple_of(3).then_some(x % 50),
                cpu_classes: x.is_multiple_of(5).then_some(CpuClasses {
                    vcpu_s: 0.0123,
                    iothread_s: crate::trace::round_us((x % 1000) as f64 * 1e-6),
                    emulator_s: 1e-6,
                }),
                dom0: x.is_multiple_of(4).then_some(Dom0Cpu {
                    cpu_s: crate::trace::round_us((x % 777) as f64 * 1e-5),
                    save_helper_s: x.is_multiple_of(8).then_some(0.5),
                }),
            };
            let line = encoder.encode(&epoch).unwrap();
            let bytes = line.trim_end().as_bytes();
            let json = std::str::from_utf8(&bytes[2..]).unwrap();
            assert!(
                crate::trace::fastline::parse(&bytes[2..]).is_some(),
                "{line}"
            );
            let a = fast.decode(bytes).unwrap();
            let b = careful.decode_careful(json).unwrap();
            careful.previous_end = b.end_s;
            careful.next_n += 1;
            assert_eq!(a, b, "{line}");
            assert_eq!(a, epoch, "{line}");
        }
    }
}
