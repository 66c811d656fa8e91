//! What a clone and a drop cost: `Rc` (plain increments) against `Arc` (atomic read-modify-write
//! instructions), on one thread and with one `Arc` shared by several threads at once.
//!
//! Timings are for notebooks and benchmarks, never for pass/fail tests (machines are noisy); the
//! tests check bounds, shapes and that the work really ran.

use std::hint::black_box;
use std::rc::Rc;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::infra::timing::{try_measure, Timing};
use crate::limits::{at_most, within};
use crate::views::chart::Chart;
use crate::views::display::{emit, Table};

/// Most clone + drop pairs in one timed run.
pub const MAX_PAIRS_PER_RUN: usize = 10_000_000;
/// Most pairs over all runs of one measurement (about a second for `Arc` on one core).
pub const MAX_TOTAL_PAIRS: usize = 200_000_000;
/// Most threads one contention measurement starts.
pub const MAX_THREADS: usize = 16;

/// Clones `rc` and drops the clone, `pairs` times (the clone goes through `black_box`, so the
/// count really goes up and down).
pub fn rc_clone_drop(rc: &Rc<u64>, pairs: usize) {
    for _ in 0..pairs {
        let c = Rc::clone(rc);
        black_box(&c);
        drop(c);
    }
}

/// [`rc_clone_drop`] for an `Arc`.
pub fn arc_clone_drop<T>(arc: &Arc<T>, pairs: usize) {
    for _ in 0..pairs {
        let c = Arc::clone(arc);
        black_box(&c);
        drop(c);
    }
}

/// One thread's measurement of `Rc` and `Arc` clone + drop.
#[derive(Clone, Debug, PartialEq)]
pub struct CloneDropCost {
    /// `Rc`: one sample per run, per pair.
    pub rc: Timing,
    /// `Arc`: one sample per run, per pair.
    pub arc: Timing,
}

impl CloneDropCost {
    /// Median nanoseconds per `Arc` pair over median nanoseconds per `Rc` pair.
    pub fn ratio(&self) -> f64 {
        self.arc.median_ns_per_unit() / self.rc.median_ns_per_unit().max(1e-3)
    }

    /// Both medians and the ratio as a table.
    pub fn table(&self) -> Table {
        let mut t = Table::new([
            "pointer",
            "median ns per clone + drop",
            "p10 .. p90 (× median)",
        ])
        .caption(format!(
            "{} pairs per run, {} runs, one thread",
            self.rc.units,
            self.rc.samples.len()
        ));
        for tm in [&self.rc, &self.arc] {
            let (lo, hi) = tm.spread();
            t.row([
                tm.label.clone(),
                format!("{:.2}", tm.median_ns_per_unit()),
                format!("{lo:.2} .. {hi:.2}"),
            ]);
        }
        t.row([
            "Arc / Rc".to_string(),
            format!("{:.1}×", self.ratio()),
            String::new(),
        ]);
        t
    }

    /// Shows the table in an evcxr cell.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.table().to_html());
    }
}

fn check_pairs(what: &str, pairs: usize, runs: usize) -> Result<(), String> {
    within(
        &format!("{what}: pairs per run"),
        pairs,
        1,
        MAX_PAIRS_PER_RUN,
    )?;
    within(
        &format!("{what}: runs"),
        runs,
        1,
        crate::limits::MAX_TIMING_RUNS,
    )?;
    at_most(
        &format!("{what}: pairs × runs"),
        pairs.saturating_mul(runs),
        MAX_TOTAL_PAIRS,
    )
}

/// Times `pairs` clone + drop pairs of an `Rc<u64>` and of an `Arc<u64>`, `runs` times each, on
/// the calling thread. Refuses `pairs` outside `1..=`[`MAX_PAIRS_PER_RUN`], `runs` outside
/// `1..=MAX_TIMING_RUNS`, and more than [`MAX_TOTAL_PAIRS`] pairs in all, before timing anything.
pub fn clone_drop_cost(pairs: usize, runs: usize) -> Result<CloneDropCost, String> {
    check_pairs("clone_drop_cost", pairs, runs)?;
    let rc = Rc::new(7u64);
    let arc = Arc::new(7u64);
    let rc_t = try_measure("Rc<u64>", runs, || rc_clone_drop(&rc, pairs))?.per(pairs);
    let arc_t = try_measure("Arc<u64>", runs, || arc_clone_drop(&arc, pairs))?.per(pairs);
    debug_assert!(
        Rc::strong_count(&rc) == 1 && Arc::strong_count(&arc) == 1,
        "every clone was dropped: Rc {}, Arc {}",
        Rc::strong_count(&rc),
        Arc::strong_count(&arc)
    );
    Ok(CloneDropCost {
        rc: rc_t,
        arc: arc_t,
    })
}

/// The CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`): time the thread waited
/// for a core does not count, so threads that outnumber the cores still measure their own work.
#[cfg(all(unix, not(miri)))]
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if r != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Without a per-thread CPU clock (Miri, non-Unix): wall time since the first call.
#[cfg(any(not(unix), miri))]
pub fn thread_cpu_time() -> Duration {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// One thread count of a contention measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContentionPoint {
    /// Threads cloning and dropping at once.
    pub threads: usize,
    /// CPU nanoseconds per clone + drop when every thread uses one shared `Arc` (the median over
    /// runs of the mean over threads).
    pub shared_ns: f64,
    /// The same when each thread has its own `Arc` (nothing shared: the baseline).
    pub own_ns: f64,
    /// Wall-clock nanoseconds per pair over all threads of the shared runs (total pairs / wall
    /// time of the run: the throughput, limited by the cores).
    pub shared_wall_ns: f64,
}

/// A contention measurement: one point per thread count.
#[derive(Clone, Debug, PartialEq)]
pub struct Contention {
    /// Pairs each thread makes per run.
    pub pairs_per_thread: usize,
    /// Runs per point.
    pub runs: usize,
    /// The cores the machine reports (`available_parallelism`).
    pub cores: usize,
    /// The points, in the order asked.
    pub points: Vec<ContentionPoint>,
}

/// A value aligned to 128 bytes: its `ArcInner` (the two counts, then the value) starts a
/// 128-byte-aligned block of 128 bytes, so two threads' own `Arc`s never share a cache line (nor
/// the pair of lines the adjacent-line prefetcher fetches together). Unpadded, two `ArcInner<u64>`
/// blocks of 24 bytes allocated one after the other sit 32 bytes apart, on one 64-byte line:
/// the "own" baseline would share a line after all.
#[repr(align(128))]
struct Padded(#[allow(dead_code)] u64);

/// Mean CPU ns per pair over the threads, and the run's wall time.
fn one_run(threads: usize, pairs: usize, shared: bool) -> (f64, Duration) {
    let one = Arc::new(Padded(7));
    let barrier = Barrier::new(threads + 1);
    let per_thread: Vec<Arc<Padded>> = (0..threads)
        .map(|_| {
            if shared {
                Arc::clone(&one)
            } else {
                Arc::new(Padded(7))
            }
        })
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = per_thread
            .iter()
            .map(|arc| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let t0 = thread_cpu_time();
                    arc_clone_drop(arc, pairs);
                    (thread_cpu_time() - t0).as_nanos() as f64 / pairs as f64
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let ns: Vec<f64> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or(f64::NAN))
            .collect();
        let wall = start.elapsed();
        (ns.iter().sum::<f64>() / ns.len() as f64, wall)
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// For each thread count in `threads`, starts that many threads at once, each cloning and dropping
/// `pairs_per_thread` times: first all on one shared `Arc`, then each on its own. Each thread
/// measures its own CPU time ([`thread_cpu_time`]); a point is the median over `runs` runs.
///
/// Refuses (before starting any thread) an empty list, a thread count outside
/// `1..=`[`MAX_THREADS`], more than 16 counts, `pairs_per_thread` outside
/// `1..=`[`MAX_PAIRS_PER_RUN`], `runs` outside `1..=20`, and more than [`MAX_TOTAL_PAIRS`] pairs
/// in all.
pub fn arc_contention(
    threads: &[usize],
    pairs_per_thread: usize,
    runs: usize,
) -> Result<Contention, String> {
    within("arc_contention: thread counts given", threads.len(), 1, 16)?;
    for &t in threads {
        within("arc_contention: threads", t, 1, MAX_THREADS)?;
    }
    within(
        "arc_contention: pairs per thread",
        pairs_per_thread,
        1,
        MAX_PAIRS_PER_RUN,
    )?;
    within("arc_contention: runs", runs, 1, 20)?;
    let total = threads
        .iter()
        .fold(0usize, |acc, &t| acc.saturating_add(t))
        .saturating_mul(pairs_per_thread)
        .saturating_mul(runs)
        .saturating_mul(2);
    at_most(
        "arc_contention: pairs in all (Σ threads × pairs × runs × 2)",
        total,
        MAX_TOTAL_PAIRS,
    )?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut points = Vec::with_capacity(threads.len());
    for &t in threads {
        let mut shared = Vec::with_capacity(runs);
        let mut own = Vec::with_capacity(runs);
        let mut wall = Vec::with_capacity(runs);
        for _ in 0..runs {
            let (ns, w) = one_run(t, pairs_per_thread, true);
            shared.push(ns);
            wall.push(w.as_nanos() as f64 / (t * pairs_per_thread) as f64);
            own.push(one_run(t, pairs_per_thread, false).0);
        }
        points.push(ContentionPoint {
            threads: t,
            shared_ns: median(shared),
            own_ns: median(own),
            shared_wall_ns: median(wall),
        });
    }
    Ok(Contention {
        pairs_per_thread,
        runs,
        cores,
        points,
    })
}

impl Contention {
    /// CPU ns per pair against threads: one shared `Arc`, and one `Arc` per thread.
    pub fn chart(&self) -> Chart {
        let pts = |f: fn(&ContentionPoint) -> f64| -> Vec<(usize, f64)> {
            self.points.iter().map(|p| (p.threads, f(p))).collect()
        };
        Chart::new(format!(
            "Arc clone + drop: CPU time per pair against threads ({} cores here)",
            self.cores
        ))
        .x_axis("threads cloning and dropping at once")
        .y_axis("CPU ns per clone + drop (each thread's clock)")
        .line("one shared Arc", pts(|p| p.shared_ns))
        .line("one Arc per thread", pts(|p| p.own_ns))
    }

    /// The points as a table.
    pub fn table(&self) -> Table {
        let mut t = Table::new([
            "threads",
            "shared Arc: CPU ns / pair",
            "own Arc: CPU ns / pair",
            "shared / own",
            "shared: wall ns / pair, all threads",
        ])
        .caption(format!(
            "{} pairs per thread, median of {} runs, {} cores",
            self.pairs_per_thread, self.runs, self.cores
        ));
        for p in &self.points {
            t.row([
                p.threads.to_string(),
                format!("{:.1}", p.shared_ns),
                format!("{:.1}", p.own_ns),
                format!("{:.1}×", p.shared_ns / p.own_ns.max(1e-3)),
                format!("{:.1}", p.shared_wall_ns),
            ]);
        }
        t
    }

    /// The point with the most threads.
    pub fn largest(&self) -> Option<&ContentionPoint> {
        self.points.iter().max_by_key(|p| p.threads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_are_dropped_and_bounds_refused() {
        let rc = Rc::new(1u64);
        rc_clone_drop(&rc, 10);
        assert_eq!(Rc::strong_count(&rc), 1);
        let arc = Arc::new(1u64);
        arc_clone_drop(&arc, 10);
        assert_eq!(Arc::strong_count(&arc), 1);
        assert!(clone_drop_cost(0, 1).unwrap_err().contains("pairs per run"));
        assert!(clone_drop_cost(usize::MAX, 1)
            .unwrap_err()
            .contains("limit"));
        assert!(clone_drop_cost(10_000_000, 100)
            .unwrap_err()
            .contains("pairs × runs"));
        assert!(clone_drop_cost(10, 0).unwrap_err().contains("runs"));
        assert!(arc_contention(&[], 10, 1).is_err());
        assert!(arc_contention(&[0], 10, 1).is_err());
        assert!(arc_contention(&[usize::MAX], 10, 1).is_err());
        assert!(arc_contention(&[1], 0, 1).is_err());
        assert!(arc_contention(&[16; 16], 10_000_000, 20)
            .unwrap_err()
            .contains("in all"));
    }

    #[test]
    #[cfg_attr(miri, ignore = "timing: nothing raw, too slow under Miri")]
    fn small_measurements_have_the_right_shape() {
        let c = clone_drop_cost(1000, 3).unwrap();
        assert_eq!((c.rc.units, c.arc.samples.len()), (1000, 3));
        assert!(c.ratio().is_finite() && c.ratio() > 0.0);
        assert_eq!(c.table().rows.len(), 3);
        let k = arc_contention(&[1, 2], 1000, 1).unwrap();
        assert_eq!(k.points.len(), 2);
        assert!(k
            .points
            .iter()
            .all(|p| p.shared_ns.is_finite() && p.own_ns >= 0.0));
        assert_eq!(k.largest().unwrap().threads, 2);
        assert_eq!(k.chart().series_list().len(), 2);
        assert_eq!(k.table().rows.len(), 2);
        assert!(thread_cpu_time() > Duration::ZERO);
    }
}
