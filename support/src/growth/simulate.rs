//! What a growth strategy costs over `n` pushes, computed without allocating.

use super::strategy::{GrowVec, Growth};
use crate::allocators::always_move::AlwaysMove;
use crate::allocators::recording::{RecordingAllocator, Stats};
use crate::views::chart::Chart;
use crate::views::display::Table;

/// What `n` pushes cost under a strategy, if every reallocation copies the whole buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GrowthCost {
    /// Pushes made.
    pub pushes: usize,
    /// Reallocations (including the first allocation).
    pub reallocations: usize,
    /// Bytes copied: the old buffer's size at each reallocation after the first.
    pub bytes_copied: u128,
    /// Final capacity.
    pub final_capacity: usize,
    /// The largest `(cap - len) / len` seen after length 64 (unused fraction of the buffer).
    pub max_overhead: f64,
}

/// Simulates `n` pushes of `elem_size`-byte elements under `growth` (no memory is allocated).
///
/// # Panics
/// If the strategy returns a capacity below what is required; see [`try_simulate`].
pub fn simulate<G: Growth + ?Sized>(growth: &G, elem_size: usize, n: usize) -> GrowthCost {
    try_simulate(growth, elem_size, n).unwrap_or_else(|e| panic!("{e}"))
}

/// [`simulate`], with a strategy that returns too small a capacity reported as an error.
pub fn try_simulate<G: Growth + ?Sized>(
    growth: &G,
    elem_size: usize,
    n: usize,
) -> Result<GrowthCost, String> {
    let mut overhead = 0f64;
    let (reallocations, bytes_copied, final_capacity) = walk(growth, elem_size, n, |len, cap| {
        if len >= 64 {
            overhead = overhead.max((cap - len) as f64 / len as f64);
        }
    })?;
    Ok(GrowthCost {
        pushes: n,
        reallocations,
        bytes_copied,
        final_capacity,
        max_overhead: overhead,
    })
}

/// The most pushes the simulator makes (about a third of a second): more is an error, not a hang.
pub const MAX_SIMULATED_PUSHES: usize = 100_000_000;

/// Pushes `n` elements under `growth` without allocating, calling `after_push(len, cap)` after
/// each push; returns (reallocations, bytes copied, final capacity).
fn walk<G: Growth + ?Sized>(
    growth: &G,
    elem_size: usize,
    n: usize,
    mut after_push: impl FnMut(usize, usize),
) -> Result<(usize, u128, usize), String> {
    if n > MAX_SIMULATED_PUSHES {
        return Err(format!(
            "{n} pushes: the simulator makes at most {MAX_SIMULATED_PUSHES}"
        ));
    }
    let (mut cap, mut reallocs, mut copied) = (0usize, 0usize, 0u128);
    for len in 0..n {
        if len == cap {
            let new = growth.next_capacity(cap, len + 1, elem_size);
            if new <= len {
                return Err(format!(
                    "strategy {} returned capacity {new} when {} elements must fit (capacity was {cap})",
                    growth.name(),
                    len + 1
                ));
            }
            copied += len as u128 * elem_size as u128;
            cap = new;
            reallocs += 1;
        }
        after_push(len + 1, cap);
    }
    Ok((reallocs, copied, cap))
}

/// The unused fraction of the buffer, `(cap - len) / len`, right after the push that makes the
/// length `len`, for each length in `lens` (sorted ascending, as [`log_spaced`] gives them).
pub fn unused_capacity<G: Growth + ?Sized>(
    growth: &G,
    elem_size: usize,
    lens: &[usize],
) -> Result<Vec<(usize, f64)>, String> {
    let mut wanted = lens.iter().copied().filter(|&l| l > 0).peekable();
    let mut out = Vec::with_capacity(lens.len());
    let last = lens.iter().copied().max().unwrap_or(0);
    walk(growth, elem_size, last, |len, cap| {
        while wanted.next_if_eq(&len).is_some() {
            out.push((len, (cap - len) as f64 / len as f64));
        }
    })?;
    Ok(out)
}

/// The most points [`log_spaced`] returns.
pub const MAX_POINTS: usize = 100_000;

/// About `points` whole numbers from `lo` to `hi`, evenly spaced on a log scale, without repeats
/// (empty when `lo` is 0, `lo > hi` or `points` is 0; at most [`MAX_POINTS`]).
pub fn log_spaced(lo: usize, hi: usize, points: usize) -> Vec<usize> {
    if lo == 0 || lo > hi || points == 0 {
        return Vec::new();
    }
    let points = points.min(MAX_POINTS).min(hi - lo + 1).max(2);
    let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
    let steps = points.saturating_sub(1).max(1) as f64;
    let mut v: Vec<usize> = (0..points)
        .map(|i| match i {
            0 => lo,
            _ if i + 1 == points => hi,
            _ => ((a + (b - a) * i as f64 / steps).exp().round() as usize).clamp(lo, hi),
        })
        .collect();
    v.dedup();
    v
}

/// What a chart of strategy costs shows on its y axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Reallocations, the first allocation included.
    Reallocations,
    /// Bytes copied by all reallocations.
    BytesCopied,
}

/// One line per strategy: the metric against the number of pushes `ns` of `elem_size`-byte
/// elements, log-log (zero values, which a log axis cannot show, are left out).
pub fn cost_chart(
    title: &str,
    strategies: &[&dyn Growth],
    elem_size: usize,
    ns: &[usize],
    metric: Metric,
) -> Result<Chart, String> {
    let y_label = match metric {
        Metric::Reallocations => "reallocations",
        Metric::BytesCopied => "total bytes copied",
    };
    let mut chart = Chart::new(title)
        .log_x()
        .log_y()
        .x_axis("pushes n")
        .y_axis(y_label);
    for s in strategies {
        let mut pts = Vec::with_capacity(ns.len());
        for &n in ns {
            let c = try_simulate(*s, elem_size, n)?;
            let y = match metric {
                Metric::Reallocations => c.reallocations as f64,
                Metric::BytesCopied => c.bytes_copied as f64,
            };
            if y > 0.0 {
                pts.push((n, y));
            }
        }
        chart = chart.line(s.name(), pts);
    }
    Ok(chart)
}

/// The largest `n` [`measure_copies`] accepts (8 MiB of `u64`s at the end).
pub const MAX_MEASURED_PUSHES: usize = 1 << 20;

/// Pushes `n` `u64`s into a [`GrowVec`] growing by `growth`, on an allocator that never resizes in
/// place ([`AlwaysMove`]) behind a recorder, and returns what the recorder counted: every
/// reallocation copies the whole buffer, so this measures what [`simulate`] models.
pub fn measure_copies<G: Growth + ?Sized>(growth: &G, n: usize) -> Result<Stats, String> {
    if n > MAX_MEASURED_PUSHES {
        return Err(format!(
            "{n} pushes: at most {MAX_MEASURED_PUSHES} are measured (the model has no limit)"
        ));
    }
    let rec = RecordingAllocator::new_in(AlwaysMove);
    {
        let mut v = GrowVec::new_in(growth, &rec);
        for i in 0..n as u64 {
            v.try_push(i)
                .map_err(|_| format!("allocation failed at push {i}"))?;
        }
    }
    Ok(rec.stats())
}

/// For each strategy, `n` pushes of `u64` measured ([`measure_copies`]) against the model
/// ([`try_simulate`]): reallocations and bytes copied side by side, and whether they agree.
pub fn model_check_table(strategies: &[&dyn Growth], n: usize) -> Result<Table, String> {
    let mut t = Table::new([
        "strategy",
        "pushes",
        "reallocations (measured)",
        "reallocations (model)",
        "bytes moved (measured)",
        "bytes copied (model)",
        "agree",
    ]);
    for s in strategies {
        let measured = measure_copies(*s, n)?;
        let model = try_simulate(*s, 8, n)?;
        let reallocs = measured.allocs + measured.grows;
        let agree =
            reallocs == model.reallocations && measured.bytes_moved as u128 == model.bytes_copied;
        t.row([
            s.name(),
            n.to_string(),
            reallocs.to_string(),
            model.reallocations.to_string(),
            measured.bytes_moved.to_string(),
            model.bytes_copied.to_string(),
            if agree { "yes" } else { "NO" }.to_string(),
        ]);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::growth::strategy::{Additive, Exact, Factor, NeverGrows, StdGrowth};

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn strategies_and_costs() {
        let std = simulate(&StdGrowth, 8, 100_000);
        assert_eq!(std.final_capacity, 131_072);
        assert_eq!(std.reallocations, 16); // 4, 8, …, 131072
        assert_eq!(std.bytes_copied, 8 * (131_072 - 4) as u128);
        let exact = simulate(&Exact, 8, 100_000);
        assert_eq!(exact.reallocations, 100_000);
        assert_eq!(exact.bytes_copied, 8 * (99_999u128 * 100_000 / 2));
        assert!(exact.max_overhead == 0.0);
        let plus = simulate(&Additive(100), 8, 1000);
        assert_eq!(plus.reallocations, 10);
        let f = simulate(&Factor(1.5), 8, 100_000);
        assert!(f.reallocations > std.reallocations && f.max_overhead <= 0.5 + 1e-9);
    }

    #[test]
    fn grow_vec_copies_exactly_what_the_simulation_predicts() {
        let strategies: [&dyn Growth; 4] = [&StdGrowth, &Factor(1.5), &Additive(16), &Exact];
        let n = if cfg!(miri) { 60 } else { 2000 };
        for g in strategies {
            let s = measure_copies(g, n).unwrap();
            let sim = simulate(g, 8, n);
            assert_eq!(s.allocs + s.grows, sim.reallocations, "{}", g.name());
            assert_eq!(s.bytes_moved as u128, sim.bytes_copied, "{}", g.name());
            assert!(s.balanced());
        }
        let t = model_check_table(&strategies, n).unwrap();
        assert!(t.rows.iter().all(|r| r[6] == "yes"), "{t}");
        assert!(measure_copies(&StdGrowth, MAX_MEASURED_PUSHES + 1).is_err());
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn unused_capacity_follows_the_strategy() {
        let lens = [1, 4, 5, 8, 9, 1000];
        let std = unused_capacity(&StdGrowth, 8, &lens).unwrap();
        // std: capacity 4 up to 4 elements, 8 up to 8, 16 up to 16, 1024 at 1000.
        assert_eq!(
            std,
            [
                (1, 3.0),
                (4, 0.0),
                (5, 0.6),
                (8, 0.0),
                (9, 7.0 / 9.0),
                (1000, 0.024)
            ]
        );
        let exact = unused_capacity(&Exact, 8, &lens).unwrap();
        assert!(exact.iter().all(|&(_, u)| u == 0.0));
        assert_eq!(unused_capacity(&StdGrowth, 8, &[]).unwrap(), []);
        assert_eq!(unused_capacity(&StdGrowth, 8, &[0, 2]).unwrap(), [(2, 1.0)]);
        assert!(unused_capacity(&NeverGrows, 8, &[3])
            .unwrap_err()
            .contains("returned capacity 0"));
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn log_spacing_and_cost_charts() {
        assert_eq!(log_spaced(10, 1000, 3), [10, 100, 1000]);
        assert_eq!(log_spaced(1, 4, 10), [1, 2, 3, 4]);
        assert_eq!(log_spaced(5, 5, 3), [5]);
        assert!(log_spaced(0, 10, 3).is_empty() && log_spaced(10, 1, 3).is_empty());
        assert!(log_spaced(1, 10, 0).is_empty());
        let many = log_spaced(1, usize::MAX, usize::MAX);
        assert!(many.len() > MAX_POINTS / 2 && many.len() <= MAX_POINTS);
        assert_eq!(many.last(), Some(&usize::MAX));
        assert_eq!(log_spaced(7, 7, 1), [7]);
        assert!(try_simulate(&StdGrowth, 8, usize::MAX)
            .unwrap_err()
            .contains("at most"));
        assert!(unused_capacity(&StdGrowth, 8, &[usize::MAX]).is_err());
        let strategies: [&dyn Growth; 2] = [&StdGrowth, &Exact];
        let c = cost_chart("t", &strategies, 8, &[1, 10, 100], Metric::BytesCopied).unwrap();
        // One push copies nothing, so n = 1 is left out of the log axis.
        assert_eq!(c.series_list()[0].points, [(10.0, 96.0), (100.0, 992.0)]);
        let r = cost_chart("t", &strategies, 8, &[1, 10], Metric::Reallocations).unwrap();
        assert_eq!(r.series_list()[1].points, [(1.0, 1.0), (10.0, 10.0)]);
        assert!(cost_chart("t", &[&NeverGrows], 8, &[3], Metric::Reallocations).is_err());
    }
}
