//! A growth tracer for any collection: drive it with a closure, and after every step it records
//! the length, the capacity (where the collection has one), the buffer's address (where it has
//! one), the allocator calls made so far and the bytes live (where an allocator is watched), and
//! how long the step took.
//!
//! ```
//! use support::collections::tracer::{trace, Metric};
//! use support::allocators::recording::RecordingAllocator;
//! use support::collections::hashbrown::HashMap;
//!
//! let rec = RecordingAllocator::new();
//! let t = trace("HashMap<u64, u64>", 100, Some(&rec), || HashMap::new_in(&rec), |m, i| {
//!     m.insert(i as u64, i as u64);
//! })
//! .unwrap();
//! assert_eq!(t.capacities(), [3, 7, 14, 28, 56, 112]);
//! let _chart = t.chart(Metric::Capacity);
//! ```
//!
//! Chapter 4's `CapacityTrace` of a `Vec` is this tracer with a `push` step. The same tracer runs
//! inside the `collections_trace` example, where the watched allocator is the program's
//! `#[global_allocator]`, so std's own `HashMap`, `BTreeMap`, `VecDeque` and `String` are measured
//! call by call; [`GrowthTrace::to_lines`] and [`GrowthTrace::parse_lines`] carry the samples
//! from the child process to the notebook.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::Instant;

use crate::allocators::recording::RecordingAllocator;
use crate::infra::programs::{catch_panic, Line};
use crate::views::chart::Chart;

/// The most steps one trace records (each step keeps one [`Sample`] of about 120 bytes): the
/// course's one bound on traces, [`crate::limits::MAX_TRACE_PUSHES`].
pub const MAX_STEPS: usize = crate::limits::MAX_TRACE_PUSHES;

/// What the tracer can read from a collection after each step.
pub trait Traceable {
    /// Entries stored.
    fn len(&self) -> usize;
    /// Entries that fit before the next allocation, if the collection reports it.
    fn capacity(&self) -> Option<usize> {
        None
    }
    /// The address of the buffer, if the collection has exactly one and shows it.
    fn buffer_addr(&self) -> Option<usize> {
        None
    }
    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Traceable for Vec<T> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn capacity(&self) -> Option<usize> {
        Some(Vec::capacity(self))
    }
    fn buffer_addr(&self) -> Option<usize> {
        Some(self.as_ptr() as usize)
    }
}

impl<T, A: allocator_api2::alloc::Allocator> Traceable for allocator_api2::vec::Vec<T, A> {
    fn len(&self) -> usize {
        allocator_api2::vec::Vec::len(self)
    }
    fn capacity(&self) -> Option<usize> {
        Some(allocator_api2::vec::Vec::capacity(self))
    }
    fn buffer_addr(&self) -> Option<usize> {
        Some(self.as_ptr() as usize)
    }
}

impl Traceable for String {
    fn len(&self) -> usize {
        String::len(self)
    }
    fn capacity(&self) -> Option<usize> {
        Some(String::capacity(self))
    }
    fn buffer_addr(&self) -> Option<usize> {
        Some(self.as_ptr() as usize)
    }
}

impl<T> Traceable for VecDeque<T> {
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
    fn capacity(&self) -> Option<usize> {
        Some(VecDeque::capacity(self))
    }
}

impl<K, V, S> Traceable for HashMap<K, V, S> {
    fn len(&self) -> usize {
        HashMap::len(self)
    }
    fn capacity(&self) -> Option<usize> {
        Some(HashMap::capacity(self))
    }
}

impl<T, S> Traceable for HashSet<T, S> {
    fn len(&self) -> usize {
        HashSet::len(self)
    }
    fn capacity(&self) -> Option<usize> {
        Some(HashSet::capacity(self))
    }
}

impl<K, V, S, A: allocator_api2::alloc::Allocator> Traceable for hashbrown::HashMap<K, V, S, A> {
    fn len(&self) -> usize {
        hashbrown::HashMap::len(self)
    }
    fn capacity(&self) -> Option<usize> {
        Some(hashbrown::HashMap::capacity(self))
    }
}

impl<K, V> Traceable for BTreeMap<K, V> {
    fn len(&self) -> usize {
        BTreeMap::len(self)
    }
}

impl<T> Traceable for BTreeSet<T> {
    fn len(&self) -> usize {
        BTreeSet::len(self)
    }
}

/// Counters of a watched allocator at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocSnapshot {
    /// Allocator calls so far: new blocks, frees, grows and shrinks (refusals included).
    pub calls: usize,
    /// New blocks so far.
    pub allocs: usize,
    /// Bytes in live blocks.
    pub live_bytes: usize,
}

/// An allocator whose counters the tracer can read.
pub trait AllocCounter {
    /// The counters now.
    fn snapshot(&self) -> AllocSnapshot;
}

impl<A> AllocCounter for RecordingAllocator<A> {
    fn snapshot(&self) -> AllocSnapshot {
        let s = self.stats();
        AllocSnapshot {
            calls: s.allocs + s.deallocs + s.grows + s.shrinks + s.failures,
            allocs: s.allocs,
            live_bytes: s.live_bytes,
        }
    }
}

/// The state after one step (step 0: just after the collection was made).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// 0 after construction, `i + 1` after the step with index `i`.
    pub step: usize,
    /// Entries after the step.
    pub len: usize,
    /// Capacity after the step, if the collection reports one.
    pub capacity: Option<usize>,
    /// The buffer's address after the step, if the collection shows one.
    pub addr: Option<usize>,
    /// Allocator calls since the tracer started (construction included), if an allocator is watched.
    pub calls: Option<usize>,
    /// New blocks since the tracer started, if an allocator is watched.
    pub allocs: Option<usize>,
    /// Bytes live in blocks made since the tracer started, if an allocator is watched.
    pub live_bytes: Option<usize>,
    /// Nanoseconds the step took (construction, for step 0), with the tracer's own reads outside.
    pub nanos: u64,
}

/// Why a trace was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError(pub String);

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trace refused: {}", self.0)
    }
}

impl std::error::Error for TraceError {}

/// One capacity change (or allocator activity) seen between two samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// The step that made it.
    pub step: usize,
    /// Length after the step.
    pub len: usize,
    /// Capacity before and after (if reported).
    pub capacity: (Option<usize>, Option<usize>),
    /// Allocator calls the step made (if watched).
    pub calls: Option<usize>,
    /// True if the buffer's address changed (if shown).
    pub moved: Option<bool>,
}

/// What to plot against the length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `capacity()` (a step chart).
    Capacity,
    /// Bytes in live blocks (needs a watched allocator).
    LiveBytes,
    /// Live bytes divided by the length.
    BytesPerEntry,
    /// Allocator calls so far.
    AllocatorCalls,
    /// New blocks so far.
    Allocations,
}

impl Metric {
    fn label(self) -> &'static str {
        match self {
            Metric::Capacity => "capacity (entries)",
            Metric::LiveBytes => "bytes live on the heap",
            Metric::BytesPerEntry => "heap bytes per entry",
            Metric::AllocatorCalls => "allocator calls so far",
            Metric::Allocations => "allocations so far",
        }
    }

    fn value(self, s: &Sample) -> Option<f64> {
        match self {
            Metric::Capacity => s.capacity.map(|c| c as f64),
            Metric::LiveBytes => s.live_bytes.map(|b| b as f64),
            Metric::BytesPerEntry => s
                .live_bytes
                .filter(|_| s.len > 0)
                .map(|b| b as f64 / s.len as f64),
            Metric::AllocatorCalls => s.calls.map(|c| c as f64),
            Metric::Allocations => s.allocs.map(|c| c as f64),
        }
    }

    fn stepped(self) -> bool {
        !matches!(self, Metric::BytesPerEntry)
    }
}

/// The samples of one traced collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrowthTrace {
    /// A label such as `HashMap<u64, u64>`.
    pub label: String,
    /// One sample per step, step 0 first.
    pub samples: Vec<Sample>,
}

/// Most points one series of [`GrowthTrace::step_time_chart`] draws from the steps (the capacity
/// changes are added to them): a chart of 100 000 steps drawn point by point weighs about 11 MB.
pub const STEP_CHART_BUCKETS: usize = 1000;

/// Cuts `points` into at most [`STEP_CHART_BUCKETS`] runs of consecutive points and keeps the
/// slowest (largest y) of each; also returns the run length (1: every point is kept).
fn slowest_per_run(points: &[(usize, u64)]) -> (Vec<(usize, u64)>, usize) {
    let per = points.len().div_ceil(STEP_CHART_BUCKETS).max(1);
    let kept = points
        .chunks(per)
        .filter_map(|run| run.iter().copied().max_by_key(|p| p.1))
        .collect();
    (kept, per)
}

/// Which part of a trace is running: code written elsewhere, or the tracer's reads of it.
#[derive(Clone, Copy)]
enum Phase {
    Make,
    Step,
    Read,
    Drop,
}

/// Makes a collection with `make`, runs `step(&mut c, i)` for `i` in `0..steps`, and samples after
/// construction and after every step. With `counter`, the allocator calls and live bytes are
/// counted from just before `make` runs (the tracer's own buffer is allocated before that).
///
/// Refuses more than [`MAX_STEPS`] steps before allocating anything. A panic inside `make`, `step`
/// or the collection's [`Traceable`] methods (code written elsewhere) ends the trace with an error
/// that says which one panicked, at which step, and its message.
pub fn trace<C: Traceable>(
    label: &str,
    steps: usize,
    counter: Option<&dyn AllocCounter>,
    make: impl FnOnce() -> C,
    mut step: impl FnMut(&mut C, usize),
) -> Result<GrowthTrace, TraceError> {
    if steps > MAX_STEPS {
        return Err(TraceError(format!(
            "{steps} steps asked, at most {MAX_STEPS} are recorded (one sample per step)"
        )));
    }
    let mut samples = Vec::with_capacity(steps + 1);
    let label = label.to_string();
    let base = counter.map(|c| c.snapshot());
    let read = |c: &C, step: usize, nanos: u64| {
        let now = counter.map(|c| c.snapshot());
        let delta = now.zip(base).map(|(n, b)| {
            (
                // saturating: a `step` that clears the watched allocator zeroes its counters.
                n.calls.saturating_sub(b.calls),
                n.allocs.saturating_sub(b.allocs),
                n.live_bytes.saturating_sub(b.live_bytes),
            )
        });
        Sample {
            step,
            len: c.len(),
            capacity: c.capacity(),
            addr: c.buffer_addr(),
            calls: delta.map(|d| d.0),
            allocs: delta.map(|d| d.1),
            live_bytes: delta.map(|d| d.2),
            nanos,
        }
    };
    // Where the code written elsewhere is, for the message if it panics: which closure, which step.
    let mut at = (Phase::Make, 0);
    // One catch around the whole run (it allocates nothing, so a watched global allocator sees
    // only the collection's calls).
    let ran = catch_panic(|| {
        let t0 = Instant::now();
        let mut c = make();
        let made = t0.elapsed().as_nanos() as u64;
        at.0 = Phase::Read;
        samples.push(read(&c, 0, made));
        for i in 0..steps {
            at = (Phase::Step, i);
            let t = Instant::now();
            step(&mut c, i);
            let nanos = t.elapsed().as_nanos() as u64;
            at.0 = Phase::Read;
            samples.push(read(&c, i + 1, nanos));
        }
        std::hint::black_box(&c);
        at.0 = Phase::Drop;
        drop(c);
    });
    if let Err(msg) = ran {
        let (phase, i) = at;
        let wherein = match phase {
            Phase::Make => "the make closure panicked".to_string(),
            Phase::Step => format!("the step closure panicked at step {} (index {i})", i + 1),
            Phase::Read => format!(
                "reading {label} (len, capacity or buffer_addr) after step {} panicked",
                samples.len()
            ),
            Phase::Drop => format!("dropping {label} panicked"),
        };
        return Err(TraceError(format!("{wherein}: {msg}")));
    }
    // A capacity below the length is no capacity (a `Traceable` written elsewhere may report one):
    // refused, so that no chart draws it as if it were true.
    if let Some(bad) = samples
        .iter()
        .find(|s| s.capacity.is_some_and(|c| c < s.len))
    {
        return Err(TraceError(format!(
            "at step {} {label} reports capacity {} below its length {}: capacity() counts the entries \
             that fit before the next allocation, so it is never less than len()",
            bad.step,
            bad.capacity.unwrap_or(0),
            bad.len
        )));
    }
    Ok(GrowthTrace { label, samples })
}

impl GrowthTrace {
    /// The distinct non-zero capacities, in the order they appeared.
    pub fn capacities(&self) -> Vec<usize> {
        let mut c: Vec<usize> = self
            .samples
            .iter()
            .filter_map(|s| s.capacity)
            .filter(|&c| c > 0)
            .collect();
        c.dedup();
        c
    }

    /// The steps that changed the capacity or called the allocator.
    pub fn changes(&self) -> Vec<Change> {
        self.samples
            .windows(2)
            .filter_map(|w| {
                let (a, b) = (&w[0], &w[1]);
                let calls = b.calls.zip(a.calls).map(|(x, y)| x.saturating_sub(y));
                let cap_changed = a.capacity != b.capacity;
                if !cap_changed && calls.unwrap_or(0) == 0 {
                    return None;
                }
                let moved = a
                    .addr
                    .zip(b.addr)
                    .map(|(x, y)| x != y && a.capacity.unwrap_or(0) > 0);
                Some(Change {
                    step: b.step,
                    len: b.len,
                    capacity: (a.capacity, b.capacity),
                    calls,
                    moved,
                })
            })
            .collect()
    }

    /// The lengths at which the capacity grew from a non-zero value (reallocations, not the
    /// first allocation).
    pub fn regrowth_lengths(&self) -> Vec<usize> {
        self.changes()
            .iter()
            .filter(|c| matches!(c.capacity, (Some(a), Some(b)) if a > 0 && b > a))
            .map(|c| c.len)
            .collect()
    }

    /// The last sample (the state after the last step). A trace made by [`trace`] always holds
    /// sample 0; one built by hand with no samples answers a sample of nothing (step 0, length 0,
    /// every measurement unknown).
    pub fn last(&self) -> &Sample {
        static NOTHING: Sample = Sample {
            step: 0,
            len: 0,
            capacity: None,
            addr: None,
            calls: None,
            allocs: None,
            live_bytes: None,
            nanos: 0,
        };
        self.samples.last().unwrap_or(&NOTHING)
    }

    /// Live bytes per entry after the last step, if an allocator was watched and the length is not 0.
    pub fn bytes_per_entry(&self) -> Option<f64> {
        Metric::BytesPerEntry.value(self.last())
    }

    /// Live bytes per entry in the first sample with length `len`, if an allocator was watched and
    /// the trace reached that length (`None` for `len` 0).
    pub fn bytes_per_entry_at(&self, len: usize) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.len == len)
            .and_then(|s| Metric::BytesPerEntry.value(s))
    }

    /// The sample whose step took longest (steps 1.., not construction), and the median step time.
    pub fn slowest_and_median(&self) -> Option<(Sample, u64)> {
        let steps = &self.samples[1.min(self.samples.len())..];
        let slowest = *steps.iter().max_by_key(|s| s.nanos)?;
        let mut t: Vec<u64> = steps.iter().map(|s| s.nanos).collect();
        t.sort_unstable();
        Some((slowest, t[t.len() / 2]))
    }

    /// The `k` slowest steps (construction excluded), slowest first.
    pub fn slowest_steps(&self, k: usize) -> Vec<Sample> {
        let mut steps: Vec<Sample> = self.samples[1.min(self.samples.len())..].to_vec();
        steps.sort_by_key(|s| std::cmp::Reverse(s.nanos));
        steps.truncate(k);
        steps
    }

    fn points(&self, metric: Metric) -> Vec<(usize, f64)> {
        self.samples
            .iter()
            .filter_map(|s| metric.value(s).map(|v| (s.len, v)))
            .collect()
    }

    /// `metric` against the length, as one titled chart (capacity charts also draw the length).
    ///
    /// The length is the diagonal `y = x`: every point of it lies on that line and the path through
    /// them is continuous, so it is drawn from its two ends (the smallest and largest length), the
    /// same picture as one point per sample, and a trace at [`MAX_STEPS`] stays within the chart's
    /// point limit.
    pub fn chart(&self, metric: Metric) -> Chart {
        let mut c = compare(
            format!("{}: {} vs length", self.label, metric.label()),
            &[self],
            metric,
        );
        let lens = self.samples.iter().map(|s| s.len);
        if let (Metric::Capacity, Some(lo), Some(hi)) = (metric, lens.clone().min(), lens.max()) {
            c = c.line("length", [(lo, lo), (hi, hi)]);
        }
        c
    }

    /// Nanoseconds per step against the step's index (log y): the steps that reallocated stand out.
    ///
    /// At most [`STEP_CHART_BUCKETS`] points per series: a longer trace is cut into that many
    /// runs of consecutive steps and only the slowest step of each run is drawn (the series label
    /// says so), together with every step that changed the capacity or called the allocator.
    pub fn step_time_chart(&self, title: &str) -> Chart {
        let all: Vec<(usize, u64)> = self.samples[1.min(self.samples.len())..]
            .iter()
            .map(|s| (s.step, s.nanos.max(1)))
            .collect();
        let steps = all.len();
        let grew: Vec<(usize, u64)> = self
            .changes()
            .iter()
            .filter_map(|c| self.samples.get(c.step).map(|s| (s.step, s.nanos.max(1))))
            .collect();
        let grew_count = grew.len();
        let (mut shown, per) = slowest_per_run(&all);
        let (grew, grew_per) = slowest_per_run(&grew);
        let label = if per == 1 {
            format!("{}: every step", self.label)
        } else {
            shown.extend_from_slice(&grew);
            shown.sort_unstable();
            shown.dedup();
            format!(
                "{}: slowest step of every {per} (of {steps} steps) and the capacity changes",
                self.label
            )
        };
        let mut chart = Chart::new(title)
            .x_axis("step index (insert number)")
            .y_axis("time of that step (ns)")
            .log_y()
            .points(label, shown);
        if !grew.is_empty() {
            let name = if grew_per == 1 {
                format!("steps that changed capacity ({grew_count})")
            } else {
                format!(
                    "steps that changed capacity ({grew_count}; slowest of every {grew_per} drawn)"
                )
            };
            chart = chart.points(name, grew);
        }
        chart
    }

    /// The trace as lines of the examples' protocol ([`Line`]): `trace label=...`, then one
    /// `sample` line per sample (see [`Sample::to_line`]), for carrying it out of a child process.
    /// White space in the label becomes `_`.
    pub fn to_lines(&self) -> String {
        let mut s = format!("{}\n", Line::new("trace").field("label", &self.label));
        for x in &self.samples {
            s += &format!("{}\n", x.to_line());
        }
        s
    }

    /// Reads every trace in `text` written by [`GrowthTrace::to_lines`]; lines of other tags are
    /// passed over, and a `sample` line that does not read is an error.
    pub fn parse_lines(text: &str) -> Result<Vec<GrowthTrace>, String> {
        let mut out: Vec<GrowthTrace> = Vec::new();
        for line in text.lines().filter_map(Line::parse) {
            match line.tag.as_str() {
                "trace" => out.push(GrowthTrace {
                    label: line.get("label")?,
                    samples: Vec::new(),
                }),
                "sample" => out
                    .last_mut()
                    .ok_or_else(|| format!("`{line}` before any `trace` line"))?
                    .samples
                    .push(Sample::from_line(&line)?),
                _ => {}
            }
        }
        Ok(out)
    }
}

impl Sample {
    /// `sample step=.. len=.. nanos=..` plus `capacity`, `addr`, `calls`, `allocs` and
    /// `live_bytes` for the fields that are known (an unknown field is left out).
    pub fn to_line(&self) -> Line {
        let mut l = Line::new("sample")
            .field("step", self.step)
            .field("len", self.len)
            .field("nanos", self.nanos);
        for (key, v) in [
            ("capacity", self.capacity),
            ("addr", self.addr),
            ("calls", self.calls),
            ("allocs", self.allocs),
            ("live_bytes", self.live_bytes),
        ] {
            if let Some(v) = v {
                l = l.field(key, v);
            }
        }
        l
    }

    /// Reads a line written by [`Sample::to_line`].
    pub fn from_line(l: &Line) -> Result<Sample, String> {
        let opt = |key: &str| -> Result<Option<usize>, String> {
            if l.fields.iter().any(|(k, _)| k == key) {
                l.get(key).map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(Sample {
            step: l.get("step")?,
            len: l.get("len")?,
            capacity: opt("capacity")?,
            addr: opt("addr")?,
            calls: opt("calls")?,
            allocs: opt("allocs")?,
            live_bytes: opt("live_bytes")?,
            nanos: l.get("nanos")?,
        })
    }
}

/// Combines repeated traces of the same steps into one whose step times are the fastest of the
/// runs, step by step: a run interrupted by other work on the machine at some step does not count,
/// while a cost every run pays at that step (a rehash) stays. The other fields are the first run's.
pub fn fastest_of(runs: &[GrowthTrace]) -> Result<GrowthTrace, TraceError> {
    let first = runs
        .first()
        .ok_or_else(|| TraceError("no runs to combine".into()))?;
    if let Some(r) = runs.iter().find(|r| r.samples.len() != first.samples.len()) {
        return Err(TraceError(format!(
            "runs differ in length: {} has {} samples, {} has {}",
            first.label,
            first.samples.len(),
            r.label,
            r.samples.len()
        )));
    }
    let mut out = first.clone();
    for (i, s) in out.samples.iter_mut().enumerate() {
        s.nanos = runs
            .iter()
            .map(|r| r.samples[i].nanos)
            .min()
            .unwrap_or(s.nanos);
    }
    out.label = format!("{} (fastest of {} runs per step)", first.label, runs.len());
    Ok(out)
}

/// Several traces on one chart: `metric` against the length, one series per trace (traces that do
/// not have the metric, such as the capacity of a `BTreeMap`, are left out and named in the title).
pub fn compare(title: impl Into<String>, traces: &[&GrowthTrace], metric: Metric) -> Chart {
    let mut title = title.into();
    let (with, missing): (Vec<&&GrowthTrace>, Vec<&&GrowthTrace>) =
        traces.iter().partition(|t| !t.points(metric).is_empty());
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|t| t.label.as_str()).collect();
        title += &format!(" (no {} for {})", metric.label(), names.join(", "));
    }
    let mut chart = Chart::new(title)
        .x_axis("length (entries)")
        .y_axis(metric.label());
    for t in with {
        let pts = t.points(metric);
        chart = if metric.stepped() {
            chart.step(t.label.clone(), pts)
        } else {
            chart.line(t.label.clone(), pts)
        };
    }
    chart
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocator_api2::vec::Vec as AVec;

    #[test]
    fn a_vec_through_the_recorder_shows_every_call() {
        let rec = RecordingAllocator::new();
        let n = if cfg!(miri) { 20 } else { 100 };
        let t = trace(
            "Vec<u64>",
            n,
            Some(&rec),
            || AVec::new_in(&rec),
            |v, i| v.push(i as u64),
        )
        .unwrap();
        assert_eq!(t.samples.len(), n + 1);
        assert_eq!(t.samples[0].capacity, Some(0));
        assert_eq!(t.capacities()[..3], [4, 8, 16]);
        // one allocation then one grow per doubling: 4 -> 8 -> 16 -> 32 (n = 20) / ... -> 128
        let grows = t.capacities().len() - 1;
        assert_eq!(t.last().calls, Some(1 + grows));
        assert_eq!(t.last().allocs, Some(1));
        let cap = t.last().capacity.unwrap();
        assert_eq!(t.last().live_bytes, Some(cap * 8));
        assert_eq!(t.bytes_per_entry_at(4), Some(8.0));
        assert_eq!(t.bytes_per_entry_at(0), None);
        assert_eq!(t.bytes_per_entry_at(usize::MAX), None);
        assert_eq!(t.regrowth_lengths()[..2], [5, 9]);
        let ch = t.changes();
        assert_eq!(ch[0].step, 1);
        assert_eq!(ch[0].calls, Some(1));
        assert_eq!(
            ch[0].moved,
            Some(false),
            "the first allocation is not a move"
        );
        // the vector was dropped inside `trace`: everything was given back
        assert!(rec.stats().balanced());
    }

    #[test]
    fn steps_are_bounded_before_anything_is_allocated() {
        let mut made = false;
        let e = trace(
            "x",
            usize::MAX,
            None,
            || {
                made = true;
                Vec::<u8>::new()
            },
            |v, _| v.push(1),
        )
        .unwrap_err();
        assert!(e.to_string().contains("at most"), "{e}");
        assert!(!made);
        let zero = trace("x", 0, None, Vec::<u8>::new, |v, _| v.push(1)).unwrap();
        assert_eq!(zero.samples.len(), 1);
        assert!(zero.capacities().is_empty());
        assert!(zero.bytes_per_entry().is_none());
        assert!(zero.slowest_and_median().is_none());
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn collections_without_capacity_or_allocator_still_trace() {
        let t = trace("BTreeMap<u64, u64>", 30, None, BTreeMap::new, |m, i| {
            m.insert(i as u64, 0u64);
        })
        .unwrap();
        assert_eq!(t.last().len, 30);
        assert!(t.capacities().is_empty() && t.changes().is_empty());
        let c = compare("t", &[&t], Metric::Capacity);
        assert!(c.series_list().is_empty());
        let text = t.to_lines();
        let back = GrowthTrace::parse_lines(&format!("noise\n{text}other x=1\n")).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].samples, t.samples);
        assert_eq!(back[0].label, "BTreeMap<u64,_u64>");
        assert!(GrowthTrace::parse_lines(&format!("{text}sample step=1")).is_err());
        assert!(GrowthTrace::parse_lines("sample step=1 len=1 nanos=1").is_err());
        let full = trace(
            "v",
            2,
            Some(&RecordingAllocator::new()),
            Vec::new,
            |v, _| v.push(1u8),
        )
        .unwrap();
        let again = GrowthTrace::parse_lines(&full.to_lines()).unwrap();
        assert_eq!(again[0].samples, full.samples);
        let (slowest, median) = t.slowest_and_median().unwrap();
        assert!(slowest.nanos >= median);
        let top = t.slowest_steps(3);
        assert_eq!(top.len(), 3);
        assert_eq!(top[0].nanos, slowest.nanos);
        assert!(top.windows(2).all(|w| w[0].nanos >= w[1].nanos));
        assert_eq!(t.slowest_steps(usize::MAX).len(), 30);
        let mut slow = t.clone();
        slow.samples[5].nanos = u64::MAX;
        let best = fastest_of(&[slow, t.clone()]).unwrap();
        assert_eq!(best.samples[5].nanos, t.samples[5].nanos);
        assert!(best.label.contains("fastest of 2"));
        assert!(fastest_of(&[]).is_err());
        let short = trace("x", 3, None, BTreeMap::<u64, u64>::new, |_, _| {}).unwrap();
        assert!(fastest_of(&[t.clone(), short])
            .unwrap_err()
            .0
            .contains("differ"));
        let s = trace("String", 40, None, String::new, |s, _| s.push('é')).unwrap();
        assert_eq!(s.capacities(), [8, 16, 32, 64, 128]);
        assert_eq!(s.chart(Metric::Capacity).series_list().len(), 2);
        assert_eq!(s.step_time_chart("t").series_list().len(), 2);
        assert!(s.step_time_chart("t").series_list()[0]
            .name
            .contains("every step"));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "pure computation over 100 000 samples, no raw memory: too slow under Miri"
    )]
    fn step_time_chart_draws_a_bounded_number_of_points() {
        let n = 100_000;
        // Capacity doubles at powers of two; step 77_777 is the slowest of all.
        let samples = (0..=n)
            .map(|step| Sample {
                step,
                len: step,
                capacity: Some(step.max(1).next_power_of_two()),
                addr: None,
                calls: None,
                allocs: None,
                live_bytes: None,
                nanos: if step == 77_777 {
                    1_000_000
                } else {
                    (step % 97) as u64 + 10
                },
            })
            .collect();
        let t = GrowthTrace {
            label: "synthetic".into(),
            samples,
        };
        let chart = t.step_time_chart("t");
        let series = chart.series_list();
        assert_eq!(series.len(), 2);
        let growths = t.changes().len();
        assert_eq!(series[1].points.len(), growths);
        assert!(
            series[0].points.len() <= STEP_CHART_BUCKETS + growths,
            "{}",
            series[0].points.len()
        );
        assert!(
            series[0].points.len() >= STEP_CHART_BUCKETS,
            "{}",
            series[0].points.len()
        );
        assert!(
            series[0]
                .name
                .contains("slowest step of every 100 (of 100000 steps)"),
            "{}",
            series[0].name
        );
        assert!(
            series[0].points.contains(&(77_777.0, 1_000_000.0)),
            "the slowest step is drawn"
        );
        for c in t.changes() {
            assert!(
                series[0].points.iter().any(|p| p.0 == c.step as f64),
                "growth step {} drawn",
                c.step
            );
        }
        // Steps that all change the capacity: that series is cut too.
        let mut every = t.clone();
        for (i, s) in every.samples.iter_mut().enumerate() {
            s.capacity = Some(i + 1);
        }
        let chart = every.step_time_chart("t");
        let series = chart.series_list();
        assert!(
            series[1].points.len() <= STEP_CHART_BUCKETS,
            "{}",
            series[1].points.len()
        );
        assert!(
            series[1].name.contains("slowest of every 100 drawn"),
            "{}",
            series[1].name
        );
        assert!(series[0].points.len() <= 2 * STEP_CHART_BUCKETS);
    }

    #[test]
    #[cfg_attr(miri, ignore = "panics caught with the hook swapped: checked natively")]
    fn code_written_elsewhere_that_panics_is_an_error_naming_it() {
        let e = trace("v", 10, None, Vec::<u8>::new, |v, i| {
            assert!(i != 6, "seven is too many");
            v.push(1)
        })
        .unwrap_err();
        assert!(
            e.0.contains("the step closure panicked at step 7 (index 6): seven is too many"),
            "{e}"
        );
        let e = trace("v", 1, None, || -> Vec<u8> { panic!("no") }, |_, _| {}).unwrap_err();
        assert!(e.0.contains("the make closure panicked: no"), "{e}");
        struct Liar;
        impl Traceable for Liar {
            fn len(&self) -> usize {
                panic!("len")
            }
        }
        let e = trace("Liar", 1, None, || Liar, |_, _| {}).unwrap_err();
        assert!(e.0.contains("reading Liar"), "{e}");
        let empty = GrowthTrace {
            label: "by hand".into(),
            samples: vec![],
        };
        assert_eq!((empty.last().len, empty.bytes_per_entry()), (0, None));
        // The capacity chart draws the length from its two ends: within the point limit at MAX_STEPS.
        let t = trace("v", 3, None, Vec::<u8>::new, |v, _| v.push(1)).unwrap();
        let c = t.chart(Metric::Capacity);
        assert_eq!(c.series_list()[1].points, [(0.0, 0.0), (3.0, 3.0)]);
    }

    #[test]
    fn a_step_that_clears_the_watched_recorder_does_not_panic() {
        let rec = RecordingAllocator::new();
        let t = trace(
            "Vec<u64>, recorder cleared at step 10",
            20,
            Some(&rec),
            || AVec::new_in(&rec),
            |v, i| {
                v.push(i as u64);
                if i == 10 {
                    rec.clear();
                }
            },
        )
        .unwrap();
        assert_eq!(t.samples.len(), 21);
        // After the clear the counters restart below the tracer's base: the deltas stay at 0.
        assert_eq!(t.samples[11].calls, Some(0));
        assert_eq!(t.samples[11].allocs, Some(0));
        assert!(t.changes().iter().all(|c| c.step <= 20));
    }
}
