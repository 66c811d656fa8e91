//! Chapter 5's measured comparison (`make bench`): the course's own allocators against `System`
//! (glibc) and bumpalo, side by side, on one harness (`support::allocators::compare`, which the
//! notebook's quick measurements also use). Criterion reports throughput in elements per second.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use support::allocators::compare::{drive, free_list_with_holes, same_size_pairs, Contender, Test};

const N: usize = 10_000;

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(N as u64));
    g
}

fn contenders(c: &mut Criterion, name: &str, test: Test, who: &[Contender]) {
    let mut g = group(c, name);
    for &k in who {
        g.bench_function(BenchmarkId::from_parameter(k.id()), |b| {
            drive(k, test, N, |run| b.iter(run)).expect("N is within bounds");
        });
    }
    g.finish();
}

fn comparison(c: &mut Criterion) {
    use Contender::*;
    contenders(
        c,
        "ch5_small_allocs",
        Test::SmallAllocs,
        &[System, Bumpalo, BumpUp, BumpDown],
    );
    contenders(
        c,
        "ch5_pairs",
        Test::Pairs,
        &[System, SizeClasses, SizeClassesLocked, FreeList],
    );
    contenders(
        c,
        "ch5_random_actions",
        Test::RandomActions,
        &[System, Bumpalo, BumpDown, FreeList, SizeClasses],
    );
    contenders(
        c,
        "ch5_vec_push",
        Test::VecPush,
        &[System, Bumpalo, BumpDown, FreeList, SizeClasses],
    );
}

/// First fit walks the free list: the cost of a 64-byte allocate-and-free pair against the number
/// of 32-byte holes in front of the first block that fits.
fn free_list_walk(c: &mut Criterion) {
    let mut g = group(c, "ch5_free_list_walk");
    g.throughput(Throughput::Elements(1000));
    for holes in [0usize, 16, 64, 256, 1024] {
        let fl = free_list_with_holes(holes).expect("a bounded number of holes");
        g.bench_function(BenchmarkId::from_parameter(holes), |b| {
            b.iter(|| same_size_pairs(&fl, 64, 1000))
        });
    }
    g.finish();
}

criterion_group!(benches, comparison, free_list_walk);
criterion_main!(benches);
