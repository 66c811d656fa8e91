//! The capacity history of a real `std::vec::Vec`, push by push.

use crate::collections::tracer::{trace, TraceError};
use crate::limits::{at_most, MAX_HELD_BYTES, MAX_TRACE_PUSHES};
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
    /// If `n` or the buffer is above the limits, with the message of [`CapacityTrace::try_record`].
    pub fn record<T>(label: &str, n: usize, make: impl FnMut(usize) -> T) -> Self {
        Self::try_record(label, n, make).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`CapacityTrace::record`], with `n` above [`MAX_TRACE_PUSHES`], or a buffer that could grow
    /// above [`MAX_HELD_BYTES`] (`2 × n × size_of::<T>()`), refused as an error before anything is
    /// allocated.
    pub fn try_record<T>(
        label: &str,
        n: usize,
        mut make: impl FnMut(usize) -> T,
    ) -> Result<Self, String> {
        at_most("CapacityTrace: the number of pushes n", n, MAX_TRACE_PUSHES)?;
        // The Vec's buffer may reach twice n elements before the last push.
        at_most(
            "CapacityTrace: 2 × n × size_of::<T>() (the most bytes the Vec can grow to)",
            n.saturating_mul(2).saturating_mul(std::mem::size_of::<T>()),
            MAX_HELD_BYTES,
        )?;
        let t = trace(label, n, None, Vec::new, |v: &mut Vec<T>, i| {
            v.push(make(i))
        })
        .map_err(|e: TraceError| e.to_string())?;
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
    ///
    /// The staircase keeps only the pushes where the capacity changed (and the last one), and the
    /// length line its two ends: the picture is the same, and its size grows with the number of
    /// reallocations, not of pushes.
    pub fn chart(&self) -> Chart {
        let (r, m) = self.reallocations();
        let last = self.points.len().saturating_sub(1);
        let corners = self
            .points
            .iter()
            .enumerate()
            .filter(|&(i, p)| i == 0 || i == last || p.cap != self.points[i - 1].cap)
            .map(|(_, p)| (p.len, p.cap));
        let ends = [self.points.first(), self.points.last()]
            .into_iter()
            .flatten()
            .map(|p| (p.len, p.len));
        Chart::new(format!(
            "{} ({} B elements): capacity vs length — {r} reallocations, {m} moved",
            self.label, self.elem_size
        ))
        .x_axis("length (elements)")
        .y_axis("capacity (elements)")
        .step("capacity", corners)
        .points(
            "buffer moved",
            self.points
                .iter()
                .filter(|p| p.moved)
                .map(|p| (p.len, p.cap)),
        )
        .line("length", ends)
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
        // one corner per capacity (9) plus the last push
        assert_eq!(c.series_list()[0].points.len(), 10);
        assert_eq!(c.series_list()[0].points[9], (1000.0, 1024.0));
        assert_eq!(c.series_list()[2].points, [(1.0, 1.0), (1000.0, 1000.0)]);
        let e = CapacityTrace::try_record("Vec<u8>", 1_000_000_000_000, |i| i as u8).unwrap_err();
        assert!(
            e.contains("1000000000000") && e.contains(&format!("limit of {MAX_TRACE_PUSHES}")),
            "{e}"
        );
        assert!(CapacityTrace::try_record("Vec<u8>", usize::MAX, |_| 0u8).is_err());
        assert!(CapacityTrace::record("Vec<u8>", 0, |_| 0u8)
            .points
            .is_empty());
    }
}
