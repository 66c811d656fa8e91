//! The capacity history of a real `std::vec::Vec`, push by push.

use crate::collections::tracer::{trace, TraceError};
use crate::views::chart::Chart;

/// One observation of a real `Vec` after a push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TracePoint {
    /// Length after the push.
    pub len: usize,
    /// Capacity after the push.
    pub cap: usize,
    /// True if this push reallocated an existing buffer (capacity changed from a non-zero value;
    /// the very first allocation is not a reallocation).
    pub grew: bool,
    /// True if it reallocated and the buffer's address changed.
    pub moved: bool,
}

/// The capacity history of a real `std::vec::Vec` over `n` pushes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapacityTrace {
    /// A label such as `Vec<u64>`.
    pub label: String,
    /// `size_of` the element.
    pub elem_size: usize,
    /// One point per push.
    pub points: Vec<TracePoint>,
}

impl CapacityTrace {
    /// Pushes `n` values made by `make(i)` into a new `Vec` and records length, capacity and
    /// whether the buffer moved after each push: chapter 6's collection-agnostic tracer
    /// ([`crate::collections::tracer::trace`]) driving a `Vec` with `push`.
    ///
    /// # Panics
    /// Above the tracer's [`MAX_STEPS`](crate::collections::tracer::MAX_STEPS) pushes; [`CapacityTrace::try_record`] returns the error.
    pub fn record<T>(label: &str, n: usize, make: impl FnMut(usize) -> T) -> Self {
        Self::try_record(label, n, make).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`CapacityTrace::record`], refusing more than [`MAX_STEPS`](crate::collections::tracer::MAX_STEPS) pushes before allocating.
    pub fn try_record<T>(
        label: &str,
        n: usize,
        mut make: impl FnMut(usize) -> T,
    ) -> Result<Self, TraceError> {
        let t = trace(label, n, None, Vec::new, |v: &mut Vec<T>, i| {
            v.push(make(i))
        })?;
        let points = t
            .samples
            .windows(2)
            .map(|w| {
                let (cap0, cap) = (w[0].capacity.unwrap_or(0), w[1].capacity.unwrap_or(0));
                let grew = cap != cap0 && cap0 > 0;
                TracePoint {
                    len: w[1].len,
                    cap,
                    grew,
                    // The first allocation replaces a dangling pointer: not a move of data.
                    moved: grew && w[0].addr != w[1].addr,
                }
            })
            .collect();
        Ok(CapacityTrace {
            label: t.label,
            elem_size: std::mem::size_of::<T>(),
            points,
        })
    }

    /// The distinct capacities in order (e.g. 4, 8, 16, …).
    pub fn capacities(&self) -> Vec<usize> {
        let mut c: Vec<usize> = self.points.iter().map(|p| p.cap).collect();
        c.dedup();
        c
    }

    /// How many pushes reallocated (after the first allocation), and how many of those moved the buffer.
    pub fn reallocations(&self) -> (usize, usize) {
        (
            self.points.iter().filter(|p| p.grew).count(),
            self.points.iter().filter(|p| p.moved).count(),
        )
    }

    /// Capacity against length as a step chart, with the pushes that moved the buffer marked.
    pub fn chart(&self) -> Chart {
        let (r, m) = self.reallocations();
        Chart::new(format!(
            "{} ({} B elements): capacity vs length — {r} reallocations, {m} moved",
            self.label, self.elem_size
        ))
        .x_axis("length (elements)")
        .y_axis("capacity (elements)")
        .step("capacity", self.points.iter().map(|p| (p.len, p.cap)))
        .points(
            "buffer moved",
            self.points
                .iter()
                .filter(|p| p.moved)
                .map(|p| (p.len, p.cap)),
        )
        .line("length", self.points.iter().map(|p| (p.len, p.len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "slow under Miri")]
    fn real_vec_trace_matches_the_model() {
        let t = CapacityTrace::record("Vec<u64>", 1000, |i| i as u64);
        assert_eq!(t.capacities(), [4, 8, 16, 32, 64, 128, 256, 512, 1024]);
        assert_eq!(t.reallocations().0, 8); // 4 -> 8 -> ... -> 1024 after the first allocation
        let t8 = CapacityTrace::record("Vec<u8>", 100, |i| i as u8);
        assert_eq!(t8.capacities()[0], 8);
        let big = CapacityTrace::record("Vec<[u8; 1025]>", 5, |_| [0u8; 1025]);
        assert_eq!(big.capacities(), [1, 2, 4, 8]);
        let c = t.chart();
        assert_eq!(c.series_list()[0].points.len(), 1000);
        assert!(CapacityTrace::try_record("Vec<u8>", usize::MAX, |_| 0u8).is_err());
        assert!(CapacityTrace::record("Vec<u8>", 0, |_| 0u8)
            .points
            .is_empty());
    }
}
