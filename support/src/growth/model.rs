//! std's capacity rule as a model: predicts `len` and `capacity` of a `Vec<T>` from the element's
//! size and alignment alone.
//!
//! The model follows `library/alloc/src/raw_vec/mod.rs` (`grow_amortized`, `grow_exact`,
//! `min_non_zero_cap`, `shrink`) and is checked against the real `Vec` by property tests
//! (`tests/growth_model.rs`).

use std::alloc::Layout;
use std::fmt;

use crate::raw_vec::min_non_zero_cap;

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
    ///
    /// # Panics
    /// If no Rust type has this size and alignment, with the message of [`VecModel::try_new`].
    pub fn new(elem_size: usize, elem_align: usize) -> Self {
        Self::try_new(elem_size, elem_align).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`VecModel::new`], refusing a size and alignment no Rust type has: the alignment must be a
    /// power of two and the size a multiple of it, at most `isize::MAX` (these are not capacity
    /// overflows, which [`VecModel::apply`] reports).
    pub fn try_new(elem_size: usize, elem_align: usize) -> Result<Self, String> {
        if !elem_align.is_power_of_two()
            || !elem_size.is_multiple_of(elem_align)
            || elem_size > isize::MAX as usize
        {
            return Err(format!(
                "no type has size {elem_size} and alignment {elem_align}: an alignment is a power of two, and a size a multiple of it (at most isize::MAX)"
            ));
        }
        Ok(VecModel {
            elem_size,
            elem_align,
            len: 0,
            cap: 0,
        })
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
        // The alignment was checked in `try_new`, so this fails only for sizes above isize::MAX.
        Layout::from_size_align(bytes, self.elem_align).map_err(|_| CapacityOverflow)?;
        self.cap = cap;
        Ok(())
    }

    fn grow_amortized(&mut self, additional: usize) -> Result<(), CapacityOverflow> {
        if self.elem_size == 0 {
            return Err(CapacityOverflow); // only reached when "overfull"
        }
        let required = self.len.checked_add(additional).ok_or(CapacityOverflow)?;
        let cap = self
            .cap
            .saturating_mul(2)
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn impossible_element_types_are_refused_not_reported_as_overflow() {
        let e = VecModel::try_new(8, 0).unwrap_err();
        assert!(e.contains("alignment 0"), "{e}");
        assert!(VecModel::try_new(6, 4).is_err());
        assert!(VecModel::try_new(usize::MAX, 1).is_err());
        let m = VecModel::try_new(8, 8).unwrap();
        assert_eq!(m.capacities(&[Op::Push]).unwrap(), [4]);
    }
}
