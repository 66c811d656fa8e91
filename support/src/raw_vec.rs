//! The rules of std's `RawVec` (`library/alloc/src/raw_vec/mod.rs`) that more than one collection
//! follows: `Vec` (chapter 4's [`crate::growth`]) and `VecDeque` (chapter 6's
//! [`crate::collections::deque`]) both keep their buffer in a `RawVec`, so both models import the
//! rule from here, one layer below them, as std's collections import it from `raw_vec`.

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

#[cfg(test)]
mod tests {
    use super::min_non_zero_cap;

    #[test]
    fn the_three_branches_and_both_sides_of_the_limit() {
        assert_eq!(min_non_zero_cap(1), 8);
        assert_eq!(min_non_zero_cap(2), 4);
        assert_eq!(min_non_zero_cap(1024), 4);
        assert_eq!(min_non_zero_cap(1025), 1);
    }
}
