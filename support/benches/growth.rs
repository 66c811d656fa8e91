//! Chapter 4's benchmarks (`make bench`): push growth per strategy, with and without
//! preallocation, and the cost of one reallocation against its size. The chapter plots the
//! estimates criterion saves under target/criterion when they exist.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use support::growth::{Additive, Exact, Factor, GrowVec, Growth, StdGrowth};
use support::reexports::allocator_api2::alloc::Global;

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
                b.iter_batched(
                    || {
                        // SAFETY: non-zero size; filled within bounds.
                        unsafe {
                            let p = System.alloc(layout);
                            assert!(!p.is_null());
                            p.write_bytes(1, size);
                            p
                        }
                    },
                    |p| {
                        // SAFETY: `p` is a live block of `layout`; the result is freed with the
                        // layout of its new size.
                        unsafe {
                            let q = System.realloc(p, layout, size * 2);
                            assert!(!q.is_null());
                            black_box(q.read());
                            System.dealloc(q, Layout::from_size_align(size * 2, align).unwrap());
                        }
                    },
                    BatchSize::PerIteration,
                )
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
    targets = push_strategy, preallocation, realloc_cost
}
criterion_main!(benches);
