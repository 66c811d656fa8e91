//! Chapter 7's measured comparison (`make bench`): one clone + drop of an `Rc<u64>` against one of
//! an `Arc<u64>` on one thread (the loops of `support::shared::cost`, which the notebook's cell
//! times too), and one tree built, summed and dropped four ways (`support::shared::structures`).
//! Criterion reports throughput in elements per second.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use support::shared::cost::{arc_clone_drop, rc_clone_drop};
use support::shared::structures::{build_sum_drop, Way};

const PAIRS: usize = 10_000;
const NODES: usize = 10_000;

fn clone_drop(c: &mut Criterion) {
    let mut g = c.benchmark_group("ch7_clone_drop");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(PAIRS as u64));
    let rc = Rc::new(7u64);
    g.bench_function(BenchmarkId::from_parameter("rc"), |b| {
        b.iter(|| rc_clone_drop(&rc, PAIRS))
    });
    let arc = Arc::new(7u64);
    g.bench_function(BenchmarkId::from_parameter("arc"), |b| {
        b.iter(|| arc_clone_drop(&arc, PAIRS))
    });
    g.finish();
}

fn tree(c: &mut Criterion) {
    let mut g = c.benchmark_group("ch7_tree");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(NODES as u64));
    for way in Way::ALL {
        g.bench_function(BenchmarkId::from_parameter(way.name()), |b| {
            b.iter(|| build_sum_drop(way, NODES).expect("NODES is within bounds"))
        });
    }
    g.finish();
}

criterion_group!(benches, clone_drop, tree);
criterion_main!(benches);
