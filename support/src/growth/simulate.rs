//! What a growth strategy costs over `n` pushes, computed without allocating.

use super::strategy::Growth;

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

/// Most reallocations one simulation computes: the loop runs once per reallocation, not per push,
/// so std's ×2 rule reaches `n = 10^12` in about 40 steps, while a strategy that grows by one element
/// (`Exact`, `Additive(1)`) stops with an error beyond ten million pushes.
pub const MAX_REALLOCATIONS: usize = 10_000_000;

/// Simulates `n` pushes of `elem_size`-byte elements under `growth` (no memory is allocated).
///
/// # Panics
/// With the message of [`try_simulate`]'s error: a strategy that returns a capacity below what is
/// required, a buffer above `isize::MAX` bytes, or more than [`MAX_REALLOCATIONS`] reallocations.
/// Use [`try_simulate`] to get these as an `Err`.
pub fn simulate<G: Growth + ?Sized>(growth: &G, elem_size: usize, n: usize) -> GrowthCost {
    try_simulate(growth, elem_size, n).unwrap_or_else(|e| panic!("{e}"))
}

/// [`simulate`], with every refusal as an error that names the input and the limit; never panics
/// (unless the strategy itself does).
///
/// The cost is a sum over reallocations: the `k`-th reallocation happens when the length reaches
/// the old capacity, copies `old capacity × elem_size` bytes, and the lengths it serves (up to the
/// new capacity) are checked for unused room. Zero-sized elements never allocate (a real `Vec`'s
/// capacity is `usize::MAX` for them), so their cost is zero.
pub fn try_simulate<G: Growth + ?Sized>(
    growth: &G,
    elem_size: usize,
    n: usize,
) -> Result<GrowthCost, String> {
    if elem_size == 0 {
        return Ok(GrowthCost {
            pushes: n,
            reallocations: 0,
            bytes_copied: 0,
            final_capacity: usize::MAX,
            max_overhead: 0.0,
        });
    }
    let (mut cap, mut reallocs, mut copied, mut overhead) = (0usize, 0usize, 0u128, 0f64);
    // Invariant: pushes 1..=cap have been served; the next reallocation happens at length `cap`.
    while cap < n {
        if reallocs == MAX_REALLOCATIONS {
            return Err(format!(
                "strategy {} needs more than {MAX_REALLOCATIONS} reallocations for n = {n} pushes (it reached capacity {cap}); \
                 the limit keeps a simulation under a second: choose a smaller n or a strategy that grows by a factor",
                growth.name()
            ));
        }
        let required = cap + 1; // cap < n <= usize::MAX
        let new = growth.next_capacity(cap, required, elem_size);
        if new < required {
            return Err(format!(
                "strategy {} returned capacity {new} when {required} elements must fit (capacity was {cap})",
                growth.name()
            ));
        }
        if new
            .checked_mul(elem_size)
            .is_none_or(|bytes| bytes > isize::MAX as usize)
        {
            return Err(format!(
                "capacity overflow: strategy {} asked for {new} elements of {elem_size} bytes, more than isize::MAX bytes (the largest allocation a Vec can make)",
                growth.name()
            ));
        }
        copied += cap as u128 * elem_size as u128;
        reallocs += 1;
        // The lengths this buffer serves are cap+1 ..= min(new, n); the unused fraction
        // (new - l) / l is largest at the smallest of them that is at least 64.
        let first = required.max(64);
        if first <= new.min(n) {
            overhead = overhead.max((new - first) as f64 / first as f64);
        }
        cap = new;
    }
    Ok(GrowthCost {
        pushes: n,
        reallocations: reallocs,
        bytes_copied: copied,
        final_capacity: cap,
        max_overhead: overhead,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocators::always_move::AlwaysMove;
    use crate::allocators::RecordingAllocator;
    use crate::growth::strategy::{Additive, Exact, Factor, GrowVec, StdGrowth};

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
        for g in strategies {
            let rec = RecordingAllocator::new_in(AlwaysMove);
            let n = if cfg!(miri) { 60 } else { 2000 };
            {
                let mut v = GrowVec::new_in(g, &rec);
                for i in 0..n as u64 {
                    v.push(i);
                }
                assert_eq!(v.as_slice().iter().sum::<u64>(), (0..n as u64).sum::<u64>());
            }
            let sim = simulate(&g, 8, n);
            let s = rec.stats();
            assert_eq!(s.allocs + s.grows, sim.reallocations, "{}", g.name());
            assert_eq!(s.bytes_moved as u128, sim.bytes_copied, "{}", g.name());
            assert!(s.balanced());
        }
    }

    /// The per-push loop the simulation replaced, kept as the reference it must agree with.
    fn per_push(growth: &dyn Growth, elem_size: usize, n: usize) -> (usize, u128, usize, f64) {
        let (mut cap, mut reallocs, mut copied, mut overhead) = (0usize, 0usize, 0u128, 0f64);
        for len in 0..n {
            if len == cap {
                cap = growth.next_capacity(cap, len + 1, elem_size);
                copied += (len * elem_size) as u128;
                reallocs += 1;
            }
            let l = len + 1;
            if l >= 64 {
                overhead = overhead.max((cap - l) as f64 / l as f64);
            }
        }
        (reallocs, copied, cap, overhead)
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn summing_over_reallocations_equals_the_per_push_loop() {
        let strategies: [&dyn Growth; 5] =
            [&StdGrowth, &Factor(1.5), &Factor(1.1), &Additive(7), &Exact];
        for g in strategies {
            for elem in [1usize, 8, 24, 2000] {
                for n in [0usize, 1, 3, 63, 64, 65, 100, 1000, 4097] {
                    let s = try_simulate(g, elem, n).unwrap();
                    let (r, c, cap, o) = per_push(g, elem, n);
                    assert_eq!(
                        (s.reallocations, s.bytes_copied, s.final_capacity),
                        (r, c, cap),
                        "{} elem {elem} n {n}",
                        g.name()
                    );
                    assert!((s.max_overhead - o).abs() < 1e-12, "{} n {n}", g.name());
                }
            }
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "ten million loop steps: too slow under Miri")]
    fn huge_counts_are_fast_and_bad_inputs_are_errors() {
        let s = try_simulate(&StdGrowth, 8, 1_000_000_000_000).unwrap();
        assert_eq!(s.final_capacity, 1usize << 40);
        assert_eq!(s.reallocations, 39); // 4, 8, ..., 2^40
        let e = try_simulate(&StdGrowth, usize::MAX, 10).unwrap_err();
        assert!(
            e.contains("capacity overflow") && e.contains("isize::MAX"),
            "{e}"
        );
        let e = try_simulate(&Exact, 8, 1_000_000_000_000).unwrap_err();
        assert!(e.contains("10000000 reallocations"), "{e}");
        let z = try_simulate(&StdGrowth, 0, usize::MAX).unwrap();
        assert_eq!((z.reallocations, z.bytes_copied), (0, 0));
    }
}
