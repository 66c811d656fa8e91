//! The course's benchmarks (`make bench`): the recording allocator's overhead (chapter 2); push
//! growth per strategy, with and without preallocation, and the cost of one reallocation against
//! its size (chapter 4). The chapters show the estimates criterion saves under target/criterion.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use support::allocators::RecordingAllocator;
use support::growth::strategy::{Additive, Exact, Factor, GrowVec, Growth, StdGrowth};
use support::reexports::allocator_api2::alloc::{Global, System as ApiSystem};
use support::reexports::allocator_api2::boxed::Box as ABox;
use support::reexports::allocator_api2::vec::Vec as AVec;

/// A million `u64` pushes through `allocator_api2`'s `Vec`, and a hundred thousand small boxes,
/// with the system allocator directly and through a `RecordingAllocator` over it.
fn recording_overhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("recording_overhead");
    let n = 1_000_000u64;
    g.bench_function("vec_push_1e6/plain", |b| {
        b.iter(|| {
            let mut v = AVec::new_in(ApiSystem);
            for i in 0..n {
                v.push(black_box(i));
            }
            black_box(v.len())
        })
    });
    g.bench_function("vec_push_1e6/recorded", |b| {
        b.iter(|| {
            let rec = RecordingAllocator::new();
            {
                let mut v = AVec::new_in(&rec);
                for i in 0..n {
                    v.push(black_box(i));
                }
                black_box(v.len());
            }
            black_box(rec.stats().grows)
        })
    });
    g.bench_function("boxes_1e5/plain", |b| {
        b.iter(|| {
            for i in 0..100_000u64 {
                black_box(ABox::new_in(i, ApiSystem));
            }
        })
    });
    g.bench_function("boxes_1e5/recorded", |b| {
        b.iter(|| {
            let rec = RecordingAllocator::new();
            for i in 0..100_000u64 {
                black_box(ABox::new_in(i, &rec));
            }
            black_box(rec.stats().allocs)
        })
    });
    g.finish();
}

fn push_strategy(c: &mut Criterion) {
    let mut g = c.benchmark_group("push_strategy");
    let n = 10_000u64;
    let strategies: [(&str, &dyn Growth); 4] = [
        ("std_x2", &StdGrowth),
        ("x1_5", &Factor(1.5)),
        ("plus_64", &Additive(64)),
        ("exact", &Exact),
    ];
    for (name, s) in strategies {
        g.bench_function(BenchmarkId::new(name, n), |b| {
            b.iter(|| {
                let mut v = GrowVec::new_in(s, Global);
                for i in 0..n {
                    v.push(black_box(i));
                }
                black_box(v.len())
            })
        });
    }
    g.finish();
}

fn preallocation(c: &mut Criterion) {
    let mut g = c.benchmark_group("prealloc");
    let n = 100_000u64;
    g.bench_function("vec_new", |b| {
        b.iter(|| {
            let mut v = Vec::new();
            for i in 0..n {
                v.push(black_box(i));
            }
            black_box(v)
        })
    });
    g.bench_function("with_capacity", |b| {
        b.iter(|| {
            let mut v = Vec::with_capacity(n as usize);
            for i in 0..n {
                v.push(black_box(i));
            }
            black_box(v)
        })
    });
    g.bench_function("reserve_exact", |b| {
        b.iter(|| {
            let mut v = Vec::new();
            v.reserve_exact(n as usize);
            for i in 0..n {
                v.push(black_box(i));
            }
            black_box(v)
        })
    });
    g.finish();
}

/// Pins glibc's mmap threshold at its default (128 KiB), which also turns off its dynamic
/// adjustment: otherwise the first frees of big blocks raise the threshold and later blocks of the
/// same size come from the heap instead of mmap, changing what is measured.
fn pin_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's tuning parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn realloc_cost(c: &mut Criterion) {
    pin_mmap_threshold();
    let mut g = c.benchmark_group("realloc_cost");
    for align in [8usize, 32] {
        for size in [4096usize, 65_536, 1 << 20, 16 << 20] {
            let layout = Layout::from_size_align(size, align).unwrap();
            g.bench_function(BenchmarkId::new(format!("align{align}"), size), |b| {
                // Only the realloc is timed: allocating, touching and freeing happen outside the
                // clock (freeing a big mapped block costs as much as moving it).
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        // SAFETY: non-zero size; the block is filled within bounds, reallocated
                        // with its own layout, and freed with the layout of its new size.
                        unsafe {
                            let p = System.alloc(layout);
                            assert!(!p.is_null());
                            p.write_bytes(1, size);
                            let t = Instant::now();
                            let q = System.realloc(p, layout, size * 2);
                            total += t.elapsed();
                            assert!(!q.is_null());
                            black_box(q.read());
                            System.dealloc(q, Layout::from_size_align(size * 2, align).unwrap());
                        }
                    }
                    total
                })
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = recording_overhead, push_strategy, preallocation, realloc_cost
}
criterion_main!(benches);
