//! A synthetic day-long trace, written with the crate's own `TraceWriter`: 25 ms epochs for
//! 24 hours (3.456 M epochs), a diurnal dirty rate with a batch job at 02:00, disk writes,
//! and window unions that respect the union bounds the reader checks. Shared by the
//! end-to-end bench and the tests that need a long trace.

#![allow(dead_code)]

use remus_tune::trace::{round_us, End, EndReason, Epoch, TraceHeader, TraceWriter, WindowCount};
use std::path::Path;

pub const BASE_MS: u64 = 25;
pub const INTERVALS_MS: [u64; 5] = [25, 50, 100, 200, 400];

/// Writes `hours` hours of 25 ms epochs to `path` (`.zst` compresses).
pub fn write_day_trace(path: &Path, hours: f64) {
    let mut header = TraceHeader::synthetic("day-vm", BASE_MS, &INTERVALS_MS, 4 << 30);
    header.target.kind = "qemu-guest".into();
    header.backend = "qemu".into();
    header.start_time = "2026-11-26T00:00:00Z".into();
    let mut writer = TraceWriter::create(path, &header, true).expect("create the trace");
    let epochs = (hours * 3600.0 * 1000.0 / BASE_MS as f64).round() as u64;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut open: Vec<(u64, u64)> = vec![(0, 0); INTERVALS_MS.len()];
    let mut end_s = 0.0f64;
    for n in 0..epochs {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let hour = n as f64 * BASE_MS as f64 / 3.6e6;
        let diurnal = 1.0 + 0.6 * (std::f64::consts::TAU * (hour - 8.0) / 24.0).sin();
        let batch = if (2.0..3.0).contains(&(hour % 24.0)) {
            4.0
        } else {
            1.0
        };
        let dirty = (900.0 * diurnal * batch) as u64 + x % 400;
        let start_s = end_s;
        end_s = round_us((n + 1) as f64 * BASE_MS as f64 / 1e3 + (x % 300) as f64 * 1e-6);
        let mut windows = Vec::new();
        for (slot, &ms) in INTERVALS_MS.iter().enumerate() {
            let span = ms / BASE_MS;
            open[slot].0 = open[slot].0.max(dirty);
            open[slot].1 += dirty;
            if (n + 1) % span == 0 {
                let (max, sum) = open[slot];
                // A hot set rewritten every epoch plus some new pages: between max and sum.
                windows.push(WindowCount {
                    interval_ms: ms,
                    dirty_pages: max + (sum - max) * 2 / 5,
                });
                open[slot] = (0, 0);
            }
        }
        writer
            .append(&Epoch {
                n,
                start_s,
                end_s,
                dirty_pages: dirty,
                write_bytes: if x.is_multiple_of(3) {
                    0
                } else {
                    (x % 64) * 4096
                },
                syscw: x % 5,
                cpu_s: round_us(0.02 + (x % 1000) as f64 * 1e-6),
                scan_ms: (100 + x % 300) as f64 / 1e3,
                windows,
                flushes: None,
                cpu_classes: None,
                dom0: None,
            })
            .expect("append");
    }
    writer
        .finish(&End {
            reason: EndReason::Completed,
            message: "measured the whole duration".into(),
            epochs,
            duration_s: end_s,
            late_epochs: 0,
            cross_check: None,
            working_set_pages: None,
            observer_effect: None,
        })
        .expect("finish the trace");
}
