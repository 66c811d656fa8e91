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
    let (mut cap, mut reallocs, mut copied, mut overhead) = (0usize, 0usize, 0u128, 0f64);
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
            copied += (len * elem_size) as u128;
            cap = new;
            reallocs += 1;
        }
        let l = len + 1;
        if l >= 64 {
            overhead = overhead.max((cap - l) as f64 / l as f64);
        }
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
}
