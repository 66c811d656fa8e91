//! Vec growth: a model of std's capacity rule, a tracer for real `Vec`s, a teaching vector with a
//! pluggable growth strategy, and a simulator that counts reallocations and copied bytes.
//!
//! The model follows `library/alloc/src/raw_vec/mod.rs` (`grow_amortized`, `grow_exact`,
//! `min_non_zero_cap`, `shrink`) and is checked against the real `Vec` by property tests.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator, Global};

use crate::chart::Chart;

pub mod languages;

/// std's first non-zero capacity for elements of `elem_size` bytes (`min_non_zero_cap`):
/// 8 for 1-byte elements, 4 up to 1 KiB, 1 above.
pub const fn min_non_zero_cap(elem_size: usize) -> usize {
    if elem_size == 1 {
        8
    } else if elem_size <= 1024 {
        4
    } else {
        1
    }
}

/// An operation on a `Vec`, for the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `push(x)`.
    Push,
    /// `pop()`.
    Pop,
    /// `reserve(n)`.
    Reserve(usize),
    /// `reserve_exact(n)`.
    ReserveExact(usize),
    /// `shrink_to_fit()`.
    ShrinkToFit,
    /// `shrink_to(n)`.
    ShrinkTo(usize),
    /// `truncate(n)`.
    Truncate(usize),
    /// `clear()`.
    Clear,
}

/// Why the model refused an operation: std panics with "capacity overflow" here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityOverflow;

impl fmt::Display for CapacityOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("capacity overflow")
    }
}

impl std::error::Error for CapacityOverflow {}

/// Predicts `len` and `capacity` of a `Vec<T>` from `size_of::<T>()` and `align_of::<T>()` alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VecModel {
    elem_size: usize,
    elem_align: usize,
    len: usize,
    cap: usize,
}

impl VecModel {
    /// `Vec::new()` for elements of this size and alignment.
    pub fn new(elem_size: usize, elem_align: usize) -> Self {
        VecModel {
            elem_size,
            elem_align,
            len: 0,
            cap: 0,
        }
    }

    /// `Vec::new()` for `T`.
    pub fn of<T>() -> Self {
        VecModel::new(std::mem::size_of::<T>(), std::mem::align_of::<T>())
    }

    /// `Vec::with_capacity(n)` for `T` (exactly `n`, as the Vec docs promise).
    pub fn with_capacity<T>(n: usize) -> Result<Self, CapacityOverflow> {
        let mut m = VecModel::of::<T>();
        m.set_cap(n)?;
        Ok(m)
    }

    /// The length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the length is zero.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What `Vec::capacity()` would return (`usize::MAX` for zero-sized elements).
    pub fn capacity(&self) -> usize {
        if self.elem_size == 0 {
            usize::MAX
        } else {
            self.cap
        }
    }

    fn set_cap(&mut self, cap: usize) -> Result<(), CapacityOverflow> {
        if self.elem_size == 0 {
            return Ok(());
        }
        // layout_array: cap * size must be a valid Layout size for the alignment.
        let bytes = cap.checked_mul(self.elem_size).ok_or(CapacityOverflow)?;
        Layout::from_size_align(bytes, self.elem_align).map_err(|_| CapacityOverflow)?;
        self.cap = cap;
        Ok(())
    }

    fn grow_amortized(&mut self, additional: usize) -> Result<(), CapacityOverflow> {
        if self.elem_size == 0 {
            return Err(CapacityOverflow); // only reached when "overfull"
        }
        let required = self.len.checked_add(additional).ok_or(CapacityOverflow)?;
        let cap = (self.cap * 2)
            .max(required)
            .max(min_non_zero_cap(self.elem_size));
        self.set_cap(cap)
    }

    fn grow_exact(&mut self, additional: usize) -> Result<(), CapacityOverflow> {
        if self.elem_size == 0 {
            return Err(CapacityOverflow);
        }
        let cap = self.len.checked_add(additional).ok_or(CapacityOverflow)?;
        self.set_cap(cap)
    }

    fn needs_to_grow(&self, additional: usize) -> bool {
        additional > self.capacity().wrapping_sub(self.len)
    }

    /// Applies one operation; `Err` where std would panic with "capacity overflow".
    pub fn apply(&mut self, op: Op) -> Result<(), CapacityOverflow> {
        match op {
            Op::Push => {
                if self.len == self.capacity() {
                    self.grow_amortized(1)?;
                }
                self.len += 1;
            }
            Op::Pop => self.len = self.len.saturating_sub(1),
            Op::Reserve(n) => {
                if self.needs_to_grow(n) {
                    self.grow_amortized(n)?;
                }
            }
            Op::ReserveExact(n) => {
                if self.needs_to_grow(n) {
                    self.grow_exact(n)?;
                }
            }
            Op::ShrinkToFit => {
                if self.capacity() > self.len {
                    self.cap = self.len;
                }
            }
            Op::ShrinkTo(min) => {
                if self.capacity() > min {
                    self.cap = self.len.max(min);
                }
            }
            Op::Truncate(n) => self.len = self.len.min(n),
            Op::Clear => self.len = 0,
        }
        Ok(())
    }

    /// The capacity after each operation of `ops`, starting from this state.
    pub fn capacities(mut self, ops: &[Op]) -> Result<Vec<usize>, CapacityOverflow> {
        ops.iter()
            .map(|&op| self.apply(op).map(|()| self.capacity()))
            .collect()
    }
}

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
    /// whether the buffer moved after each push.
    pub fn record<T>(label: &str, n: usize, mut make: impl FnMut(usize) -> T) -> Self {
        let mut v: Vec<T> = Vec::new();
        let mut points = Vec::with_capacity(n);
        for i in 0..n {
            let (cap0, ptr0) = (v.capacity(), v.as_ptr() as usize);
            v.push(make(i));
            let (cap, ptr) = (v.capacity(), v.as_ptr() as usize);
            let grew = cap != cap0 && cap0 > 0;
            points.push(TracePoint {
                len: v.len(),
                cap,
                grew,
                // The first allocation replaces a dangling pointer: not a move of data.
                moved: grew && ptr != ptr0,
            });
        }
        std::hint::black_box(&v);
        CapacityTrace {
            label: label.to_string(),
            elem_size: std::mem::size_of::<T>(),
            points,
        }
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

/// A growth strategy: the capacity to grow to when `required` elements must fit in `cap`.
pub trait Growth {
    /// The new capacity; must be at least `required`.
    fn next_capacity(&self, cap: usize, required: usize, elem_size: usize) -> usize;
    /// A short name for legends.
    fn name(&self) -> String;
}

/// std's rule: `max(2 × cap, required, min_non_zero_cap)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdGrowth;

impl Growth for StdGrowth {
    fn next_capacity(&self, cap: usize, required: usize, elem_size: usize) -> usize {
        cap.saturating_mul(2)
            .max(required)
            .max(min_non_zero_cap(elem_size))
    }
    fn name(&self) -> String {
        "std (×2)".into()
    }
}

/// Multiply by a factor (e.g. 1.5), at least one more than before.
#[derive(Clone, Copy, Debug)]
pub struct Factor(pub f64);

impl Growth for Factor {
    fn next_capacity(&self, cap: usize, required: usize, _elem_size: usize) -> usize {
        let grown = (cap as f64 * self.0).ceil() as usize;
        grown.max(cap + 1).max(required)
    }
    fn name(&self) -> String {
        format!("×{}", self.0)
    }
}

/// Add a constant number of elements each time.
#[derive(Clone, Copy, Debug)]
pub struct Additive(pub usize);

impl Growth for Additive {
    fn next_capacity(&self, cap: usize, required: usize, _elem_size: usize) -> usize {
        (cap + self.0.max(1)).max(required)
    }
    fn name(&self) -> String {
        format!("+{}", self.0)
    }
}

/// Grow to exactly what is required (+1 per push).
#[derive(Clone, Copy, Debug, Default)]
pub struct Exact;

impl Growth for Exact {
    fn next_capacity(&self, _cap: usize, required: usize, _elem_size: usize) -> usize {
        required
    }
    fn name(&self) -> String {
        "exact (+1)".into()
    }
}

impl<G: Growth + ?Sized> Growth for &G {
    fn next_capacity(&self, cap: usize, required: usize, elem_size: usize) -> usize {
        (**self).next_capacity(cap, required, elem_size)
    }
    fn name(&self) -> String {
        (**self).name()
    }
}

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

/// A small growable array for teaching: like `Vec<T, A>` but the growth strategy `G` is a parameter.
///
/// Invariants (checked with `debug_assert!`): `len <= cap`; `ptr` points to an allocation of
/// `cap * size_of::<T>()` bytes from `alloc` when that is non-zero, else it is dangling; the first
/// `len` slots are initialised.
pub struct GrowVec<T, G: Growth, A: Allocator = Global> {
    /// The buffer (dangling while nothing is allocated or `T` is zero-sized).
    ptr: NonNull<T>,
    /// Slots allocated; `usize::MAX` for zero-sized `T`.
    cap: usize,
    /// Slots initialised, always `<= cap`.
    len: usize,
    growth: G,
    alloc: A,
}

impl<T, G: Growth, A: Allocator> GrowVec<T, G, A> {
    /// An empty vector that will grow by `growth` and allocate from `alloc`.
    pub fn new_in(growth: G, alloc: A) -> Self {
        GrowVec {
            ptr: NonNull::dangling(),
            cap: if std::mem::size_of::<T>() == 0 {
                usize::MAX
            } else {
                0
            },
            len: 0,
            growth,
            alloc,
        }
    }

    /// Elements stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots allocated.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// The elements as a slice.
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: the first `len` slots are initialised and `ptr` is aligned and non-null.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Appends `value`, growing by the strategy when full. Allocation failure is an error, and
    /// the vector is left unchanged.
    pub fn try_push(&mut self, value: T) -> Result<(), AllocError> {
        if self.len == self.cap {
            self.grow()?;
        }
        debug_assert!(self.len < self.cap, "len {} cap {}", self.len, self.cap);
        // SAFETY: slot `len` is inside the allocation (len < cap) and uninitialised.
        unsafe { self.ptr.as_ptr().add(self.len).write(value) };
        self.len += 1;
        Ok(())
    }

    /// Appends `value`; panics if the allocator fails.
    pub fn push(&mut self, value: T) {
        self.try_push(value).expect("allocation failed");
    }

    fn grow(&mut self) -> Result<(), AllocError> {
        let size = std::mem::size_of::<T>();
        if size == 0 {
            return Err(AllocError); // usize::MAX zero-sized elements already
        }
        let required = self.len.checked_add(1).ok_or(AllocError)?;
        let new_cap = self.growth.next_capacity(self.cap, required, size);
        debug_assert!(
            new_cap >= required,
            "strategy {} gave {new_cap} < {required}",
            self.growth.name()
        );
        let new_layout = Layout::array::<T>(new_cap).map_err(|_| AllocError)?;
        let new_ptr = if self.cap == 0 {
            self.alloc.allocate(new_layout)?
        } else {
            let old_layout = Layout::array::<T>(self.cap).map_err(|_| AllocError)?;
            // SAFETY: `ptr` is our allocation with `old_layout` (same alignment as the new one),
            // and `new_layout.size() >= old_layout.size()`.
            unsafe { self.alloc.grow(self.ptr.cast(), old_layout, new_layout)? }
        };
        self.ptr = new_ptr.cast();
        self.cap = new_cap;
        Ok(())
    }
}

impl<T, G: Growth, A: Allocator> Drop for GrowVec<T, G, A> {
    fn drop(&mut self) {
        // SAFETY: the first `len` slots are initialised and dropped exactly once here; the buffer,
        // if any, was allocated by `alloc` with the layout of `cap` elements.
        unsafe {
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr(),
                self.len,
            ));
            if std::mem::size_of::<T>() != 0 && self.cap != 0 {
                let layout = Layout::array::<T>(self.cap).expect("layout was valid when allocated");
                self.alloc.deallocate(self.ptr.cast(), layout);
            }
        }
    }
}

/// An allocator that never resizes in place: `grow` and `shrink` are the `Allocator` trait's
/// defaults (allocate new, copy, free old), so every reallocation copies the whole buffer. Used to
/// measure the copying cost of a growth strategy exactly.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysMove;

// SAFETY: allocation and deallocation are forwarded to `System`; grow/shrink use the trait's
// default implementations, which are correct for any allocator.
unsafe impl Allocator for AlwaysMove {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        allocator_api2::alloc::System.allocate(layout)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller guarantees `ptr` came from `allocate` with `layout`.
        unsafe { allocator_api2::alloc::System.deallocate(ptr, layout) }
    }
}

/// Measurements made by the `growth_lab` example in a fresh child process with glibc's mmap
/// threshold pinned, so that the heap's history does not change the results.
pub mod lab {
    use crate::chart::Chart;
    use crate::programs::run_example;

    /// The environment every measurement runs with (glibc's dynamic mmap threshold disabled).
    pub const PINNED: (&str, &str) = ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072");

    /// One reallocation of a real `Vec` during a push.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct GrowEvent {
        /// Element type (`u8`, `u64`, `align32`).
        pub elem: String,
        /// Capacity before.
        pub old_cap: usize,
        /// Capacity after.
        pub new_cap: usize,
        /// Buffer bytes before.
        pub old_bytes: usize,
        /// Buffer bytes after.
        pub new_bytes: usize,
        /// True if the buffer's address changed.
        pub moved: bool,
        /// Nanoseconds the push that reallocated took.
        pub nanos: u64,
    }

    /// The median time of `realloc(size -> new_size)` over several runs.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct ReallocCost {
        /// Alignment of the block.
        pub align: usize,
        /// Size before.
        pub size: usize,
        /// Size after.
        pub new_size: usize,
        /// True if most runs moved the block.
        pub moved: bool,
        /// Median nanoseconds.
        pub median_nanos: u64,
    }

    fn fields(line: &str, tag: &str, n: usize) -> Option<Vec<String>> {
        let f: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        (f.first().map(String::as_str) == Some(tag) && f.len() == n).then_some(f)
    }

    /// Parses `grow ...` lines.
    pub fn parse_trace(stdout: &str) -> Vec<GrowEvent> {
        stdout
            .lines()
            .filter_map(|l| fields(l, "grow", 8))
            .filter_map(|f| {
                Some(GrowEvent {
                    elem: f[1].clone(),
                    old_cap: f[2].parse().ok()?,
                    new_cap: f[3].parse().ok()?,
                    old_bytes: f[4].parse().ok()?,
                    new_bytes: f[5].parse().ok()?,
                    moved: f[6] == "moved",
                    nanos: f[7].parse().ok()?,
                })
            })
            .collect()
    }

    /// Parses `realloc ...` lines.
    pub fn parse_realloc_cost(stdout: &str) -> Vec<ReallocCost> {
        stdout
            .lines()
            .filter_map(|l| fields(l, "realloc", 6))
            .filter_map(|f| {
                Some(ReallocCost {
                    align: f[1].parse().ok()?,
                    size: f[2].parse().ok()?,
                    new_size: f[3].parse().ok()?,
                    moved: f[4] == "moved",
                    median_nanos: f[5].parse().ok()?,
                })
            })
            .collect()
    }

    /// Grows a real `Vec` of `elem` (`u8`, `u64` or `align32`) to `max_bytes` in a fresh process.
    pub fn trace(elem: &str, max_bytes: usize) -> Result<Vec<GrowEvent>, String> {
        let max = max_bytes.to_string();
        let out = run_example("growth_lab", &["trace", elem, &max], &[PINNED]);
        if !out.success {
            return Err(format!("growth_lab trace failed: {}", out.stderr.trim()));
        }
        Ok(parse_trace(&out.stdout))
    }

    /// Times `realloc(s -> 2s)` for s = 4 KiB .. `max_bytes` with alignment `align`, in a fresh process.
    pub fn realloc_cost(
        align: usize,
        max_bytes: usize,
        runs: usize,
    ) -> Result<Vec<ReallocCost>, String> {
        let (a, m, r) = (align.to_string(), max_bytes.to_string(), runs.to_string());
        let out = run_example("growth_lab", &["realloc-cost", &a, &m, &r], &[PINNED]);
        if !out.success {
            return Err(format!(
                "growth_lab realloc-cost failed: {}",
                out.stderr.trim()
            ));
        }
        Ok(parse_realloc_cost(&out.stdout))
    }

    /// Nanoseconds per reallocation against the new buffer size, log-log, one series per run, with
    /// moved and in-place reallocations as separate series.
    pub fn trace_chart(title: &str, runs: &[Vec<GrowEvent>]) -> Chart {
        let mut c = Chart::new(title)
            .x_axis("buffer size after growth (bytes)")
            .y_axis("time of the push that grew it (ns)")
            .log_x()
            .log_y();
        for run in runs {
            let Some(first) = run.first() else { continue };
            let kept = |moved: bool| {
                run.iter()
                    .filter(move |e| e.old_cap > 0 && e.moved == moved)
                    .map(|e| (e.new_bytes, e.nanos.max(1)))
                    .collect::<Vec<_>>()
            };
            let (moved, stayed) = (kept(true), kept(false));
            if !moved.is_empty() {
                c = c.points(format!("Vec<{}>: moved", first.elem), moved);
            }
            if !stayed.is_empty() {
                c = c.points(format!("Vec<{}>: in place", first.elem), stayed);
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boxes::DropCounter;
    use crate::recording::RecordingAllocator;

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn lab_output_parses() {
        let t = lab::parse_trace(
            "grow u8 8 16 8 16 in-place 100\ngrow u8 16 32 16 32 moved 70\nnoise\n",
        );
        assert_eq!(t.len(), 2);
        assert!(!t[0].moved && t[1].moved);
        assert_eq!((t[1].old_bytes, t[1].new_bytes, t[1].nanos), (16, 32, 70));
        let r = lab::parse_realloc_cost("realloc 32 4096 8192 moved 4646\n");
        assert_eq!(r[0].median_nanos, 4646);
        assert_eq!(r[0].align, 32);
        let c = lab::trace_chart("t", &[t]);
        assert_eq!(c.series_list().len(), 2);
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn model_matches_the_documented_sequences() {
        let pushes = |m: VecModel, n: usize| {
            let mut caps = m.capacities(&vec![Op::Push; n]).unwrap();
            caps.dedup();
            caps
        };
        assert_eq!(pushes(VecModel::of::<u8>(), 40), [8, 16, 32, 64]);
        assert_eq!(pushes(VecModel::of::<u64>(), 40), [4, 8, 16, 32, 64]);
        assert_eq!(pushes(VecModel::of::<[u8; 1025]>(), 5), [1, 2, 4, 8]);
        let m = VecModel::with_capacity::<u8>(5).unwrap();
        assert_eq!(*m.capacities(&[Op::Push; 6]).unwrap().last().unwrap(), 10);
        let mut three = VecModel::with_capacity::<i32>(3).unwrap();
        for _ in 0..3 {
            three.apply(Op::Push).unwrap();
        }
        assert_eq!(three.capacities(&[Op::Reserve(1)]).unwrap(), [6]);
        assert_eq!(three.capacities(&[Op::ReserveExact(1)]).unwrap(), [4]);
        assert_eq!(three.capacities(&[Op::Reserve(10)]).unwrap(), [13]);
        let zst = VecModel::of::<()>();
        assert_eq!(zst.capacity(), usize::MAX);
        assert_eq!(
            VecModel::of::<u8>().capacities(&[Op::Reserve(usize::MAX)]),
            Err(CapacityOverflow)
        );
    }

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
                assert_eq!(v.as_slice().iter().sum::<u64>(), (0..n as u64).sum());
            }
            let sim = simulate(&g, 8, n);
            let s = rec.stats();
            assert_eq!(s.allocs + s.grows, sim.reallocations, "{}", g.name());
            assert_eq!(s.bytes_moved as u128, sim.bytes_copied, "{}", g.name());
            assert!(s.balanced());
        }
    }

    #[test]
    fn grow_vec_drops_each_element_once_and_handles_zsts() {
        let drops = DropCounter::new();
        {
            let mut v = GrowVec::new_in(StdGrowth, Global);
            for _ in 0..10 {
                v.push(drops.token());
            }
            assert_eq!(v.capacity(), 16);
        }
        assert_eq!(drops.count(), 10);
        let rec = RecordingAllocator::new();
        {
            let mut z = GrowVec::new_in(Exact, &rec);
            for _ in 0..100 {
                z.push(());
            }
            assert_eq!((z.len(), z.capacity()), (100, usize::MAX));
        }
        assert!(rec.events().is_empty());
    }

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
    }
}
