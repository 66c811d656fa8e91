//! Growth strategies, and `GrowVec`: a teaching vector whose growth strategy is a parameter.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator, Global};

use crate::raw_vec::min_non_zero_cap;

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

/// Multiply by a factor (e.g. 1.5), at least one more than before (so a factor that is NaN or at
/// most 1 grows by one element).
#[derive(Clone, Copy, Debug)]
pub struct Factor(pub f64);

impl Growth for Factor {
    fn next_capacity(&self, cap: usize, required: usize, _elem_size: usize) -> usize {
        let grown = (cap as f64 * self.0).ceil() as usize;
        grown.max(cap.saturating_add(1)).max(required)
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
        cap.saturating_add(self.0.max(1)).max(required)
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

/// A broken strategy for tests: it never grows, so the first push cannot fit.
#[cfg(test)]
pub(crate) struct NeverGrows;

#[cfg(test)]
impl Growth for NeverGrows {
    fn next_capacity(&self, cap: usize, _required: usize, _elem_size: usize) -> usize {
        cap
    }
    fn name(&self) -> String {
        "broken".into()
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

    /// Appends `value`, growing by the strategy when full. Allocation failure (or a strategy that
    /// returns too small a capacity) is an error, and the vector is left unchanged.
    pub fn try_push(&mut self, value: T) -> Result<(), AllocError> {
        self.make_room().map_err(|_| AllocError)?;
        self.write_next(value);
        Ok(())
    }

    /// Appends `value`.
    ///
    /// # Panics
    /// If the allocator fails, or the strategy returns a capacity below the length + 1; the
    /// message says which.
    pub fn push(&mut self, value: T) {
        if let Err(e) = self.make_room() {
            panic!("GrowVec::push: {e}");
        }
        self.write_next(value);
    }

    fn write_next(&mut self, value: T) {
        debug_assert!(self.len < self.cap, "len {} cap {}", self.len, self.cap);
        // SAFETY: `make_room` succeeded, so slot `len` is inside the allocation (len < cap) and
        // uninitialised.
        unsafe { self.ptr.as_ptr().add(self.len).write(value) };
        self.len += 1;
    }

    /// Grows when full so that `len < cap` afterwards.
    fn make_room(&mut self) -> Result<(), String> {
        if self.len < self.cap {
            return Ok(());
        }
        let size = std::mem::size_of::<T>();
        if size == 0 {
            return Err(format!(
                "{} zero-sized elements already, the most a vector can count",
                self.len
            ));
        }
        let required = self
            .len
            .checked_add(1)
            .ok_or("length overflow".to_string())?;
        let new_cap = self.growth.next_capacity(self.cap, required, size);
        // A hard check, not a debug_assert: writing past a too-small buffer would be undefined
        // behaviour, and strategies are written by learners.
        if new_cap < required {
            return Err(format!(
                "strategy {} returned capacity {new_cap} when {required} elements must fit",
                self.growth.name()
            ));
        }
        let new_layout = Layout::array::<T>(new_cap).map_err(|_| {
            format!("capacity overflow: {new_cap} elements of {size} bytes exceed isize::MAX bytes")
        })?;
        let failed = || format!("the allocator refused {} bytes", new_layout.size());
        let new_ptr = if self.cap == 0 {
            self.alloc.allocate(new_layout).map_err(|_| failed())?
        } else {
            let old_layout = Layout::array::<T>(self.cap).map_err(|_| failed())?;
            // SAFETY: `ptr` is our allocation with `old_layout` (same alignment as the new one),
            // and `new_layout.size() >= old_layout.size()` because new_cap >= len + 1 > cap.
            unsafe { self.alloc.grow(self.ptr.cast(), old_layout, new_layout) }
                .map_err(|_| failed())?
        };
        self.ptr = new_ptr.cast();
        self.cap = new_cap;
        Ok(())
    }
}

impl<T: fmt::Debug, G: Growth, A: Allocator> fmt::Debug for GrowVec<T, G, A> {
    /// The strategy's name, length, capacity and the elements.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrowVec")
            .field("growth", &self.growth.name())
            .field("len", &self.len)
            .field("capacity", &self.cap)
            .field("elements", &self.as_slice())
            .finish()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocators::RecordingAllocator;
    use crate::boxes::DropCounter;

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
        let mut v = GrowVec::new_in(Factor(1.5), Global);
        for i in 0..100u64 {
            v.push(i);
        }
        assert_eq!(v.as_slice(), (0..100).collect::<Vec<u64>>());
        assert!(format!("{v:?}").starts_with("GrowVec { growth: \"×1.5\", len: 100"));
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

    #[derive(Debug)]
    struct TooSmall;
    impl Growth for TooSmall {
        fn next_capacity(&self, cap: usize, _required: usize, _elem_size: usize) -> usize {
            cap
        }
        fn name(&self) -> String {
            "too small".into()
        }
    }

    #[test]
    fn a_strategy_that_returns_too_little_is_refused_not_trusted() {
        let mut v = GrowVec::new_in(TooSmall, Global);
        assert_eq!(v.try_push(1u32), Err(AllocError));
        assert_eq!((v.len(), v.capacity()), (0, 0));
        let e =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| v.push(1u32))).unwrap_err();
        let msg = e.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains("returned capacity 0 when 1 elements must fit"),
            "{msg}"
        );
    }
}
