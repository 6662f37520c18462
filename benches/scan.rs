//! What one epoch of measuring costs the measurer: hashing pages against the memory-bandwidth
//! limit (a plain read of the same buffer), the union and count of base-epoch sets for a
//! 16 GiB target, and a whole hash scan of a real process through process_vm_readv.
//!
//! Targets (issue 2): hashing ≥ 90 % of the plain-read throughput; union + popcount ≥ 10 GB/s
//! of bitmap.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use remus_tune::backend::process::hash::HashScanner;
use remus_tune::backend::process::pagehash::page_hash;
use remus_tune::backend::process::scanner::DirtyScanner;
use remus_tune::backend::regions::{Region, RegionSource};
use remus_tune::pageset::PageSet;
use remus_tune::windows::IntervalWindows;
use std::hint::black_box;
use xxhash_rust::xxh3::xxh3_64;

const PAGE: usize = 4096;
/// Far larger than any cache, so both loops run from memory.
const BUFFER: usize = 256 << 20;

fn buffer() -> Vec<u8> {
    (0..BUFFER).map(|i| (i * 31 % 251) as u8).collect()
}

fn plain_read(data: &[u8]) -> u64 {
    let mut sum = 0u64;
    for chunk in data.chunks_exact(8) {
        sum = sum.wrapping_add(u64::from_le_bytes(chunk.try_into().unwrap()));
    }
    sum
}

fn hash_pages(data: &[u8], hash: fn(&[u8]) -> u64) -> u64 {
    let mut acc = 0u64;
    for page in data.chunks_exact(PAGE) {
        acc ^= hash(page);
    }
    acc
}

/// Criterion reports each loop's throughput on its own; the target is their ratio, so it is
/// also taken directly, over interleaved rounds so both loops see the same machine: the
/// fastest read against the fastest hash (the least disturbed round of each).
fn print_ratio(data: &[u8], name: &str, hash: fn(&[u8]) -> u64) {
    let time = |f: &dyn Fn() -> u64| {
        let start = std::time::Instant::now();
        black_box(f());
        start.elapsed().as_secs_f64()
    };
    let (mut read_best, mut hash_best) = (f64::MAX, f64::MAX);
    for _ in 0..20 {
        read_best = read_best.min(time(&|| plain_read(data)));
        hash_best = hash_best.min(time(&|| hash_pages(data, hash)));
    }
    println!(
        "{name}: {:.0} % of the plain-read throughput (best of 20 interleaved rounds each; \
         target >= 90 %)",
        100.0 * read_best / hash_best
    );
}

/// The page hash of every page, against summing the same bytes as u64 words.
fn hash_vs_read(c: &mut Criterion) {
    let data = buffer();
    let mut group = c.benchmark_group("page_hash_vs_plain_read");
    group.throughput(Throughput::Bytes(BUFFER as u64));
    group.sample_size(10);
    group.bench_function("plain_read_u64_sum", |b| {
        b.iter(|| black_box(plain_read(&data)))
    });
    // What the scanners use: xxh3 with the AVX2 loop chosen at run time.
    group.bench_function("page_hash_per_4k_page", |b| {
        b.iter(|| black_box(hash_pages(&data, page_hash)))
    });
    // xxhash-rust as compiled for the x86-64 baseline (SSE2), for comparison.
    group.bench_function("xxhash_rust_xxh3_per_4k_page", |b| {
        b.iter(|| black_box(hash_pages(&data, xxh3_64)))
    });
    group.finish();
    print_ratio(&data, "page_hash (runtime AVX2)", page_hash);
    print_ratio(&data, "xxhash-rust xxh3 (SSE2 build)", xxh3_64);
}

/// 4 Mi pages (16 GiB of 4 KiB pages), 8 base-epoch sets of 5 % each: the 200 ms window of a
/// 25 ms epoch.
fn union_popcount(c: &mut Criterion) {
    const PAGES: u64 = 4 << 20;
    let sets: Vec<PageSet> = (0..8u64)
        .map(|s| {
            (0..PAGES)
                .filter(|p| (p * 2654435761 + s * 97) % 20 == 0)
                .collect()
        })
        .collect();
    let bitmap_bytes = sets.iter().map(PageSet::bitmap_bytes).sum::<usize>() as u64;
    let mut group = c.benchmark_group("union_popcount_16GiB");
    group.throughput(Throughput::Bytes(bitmap_bytes));
    group.bench_function("8_sets_into_one_window", |b| {
        b.iter(|| {
            let mut windows = IntervalWindows::new(&[(200, 8)]);
            let mut closed = Vec::new();
            for set in &sets {
                closed = windows.push(set);
            }
            black_box(closed)
        })
    });
    group.finish();
}

/// A whole hash scan of 64 MiB of this process's own memory, as `measure --method hash`
/// does it to a target: pagemap, process_vm_readv, xxh3, compare.
fn hash_scan_process(c: &mut Criterion) {
    let size = 64 << 20;
    let data: Vec<u8> = (0..size + PAGE).map(|i| (i % 253) as u8).collect();
    let start = (data.as_ptr() as u64).div_ceil(PAGE as u64) * PAGE as u64;
    struct Own(Region);
    impl RegionSource for Own {
        fn pid(&self) -> i32 {
            std::process::id() as i32
        }
        fn regions(&mut self) -> anyhow::Result<Vec<Region>> {
            Ok(vec![self.0])
        }
    }
    let mut source = Own(Region {
        start,
        pages: (size / PAGE) as u64,
        first_page_number: 0,
    });
    let mut scanner = HashScanner::new(std::process::id() as i32, PAGE as u64).unwrap();
    scanner.baseline(&mut source).unwrap();
    let mut group = c.benchmark_group("hash_scan_of_a_process");
    group.throughput(Throughput::Bytes(size as u64));
    group.sample_size(20);
    group.bench_with_input(BenchmarkId::new("resident", "64MiB"), &(), |b, ()| {
        b.iter(|| black_box(scanner.scan(&mut source).unwrap()))
    });
    group.finish();
    black_box(&data);
}

criterion_group!(benches, hash_vs_read, union_popcount, hash_scan_process);
criterion_main!(benches);
