//! Growth rules of other languages' dynamic arrays, each a [`Growth`] strategy so that chapter 4's
//! `simulate` and `GrowVec` run them unchanged. Every formula was read in the source named in
//! [`sources`] (repository, commit, path, function); what a rule does *after* the formula (Go and
//! folly round the byte size up to their allocator's size classes) is not modelled, and says so.
//!
//! The `Growth` trait is asked for a new capacity when a push finds the buffer full, so `cap` is
//! also the current length (`size()` in C++, `Py_SIZE` in CPython).

use super::strategy::{Growth, StdGrowth};
use crate::limits::MAX_CHART_POINTS;
use crate::views::display::Table;

/// GCC's libstdc++ `std::vector`: `_M_check_len(n)` returns `size() + max(size(), n)` — doubling,
/// starting at 1.
#[derive(Clone, Copy, Debug, Default)]
pub struct Libstdcxx;

impl Growth for Libstdcxx {
    fn next_capacity(&self, cap: usize, required: usize, _elem_size: usize) -> usize {
        let n = required.saturating_sub(cap);
        cap.saturating_add(cap.max(n)).max(required)
    }
    fn name(&self) -> String {
        "C++ libstdc++ (×2)".into()
    }
}

/// Microsoft's STL `std::vector`: `_Calculate_growth(newsize)` returns `old + old / 2`, or
/// `newsize` if that is more.
#[derive(Clone, Copy, Debug, Default)]
pub struct Msvc;

impl Growth for Msvc {
    fn next_capacity(&self, cap: usize, required: usize, _elem_size: usize) -> usize {
        cap.saturating_add(cap / 2).max(required)
    }
    fn name(&self) -> String {
        "C++ MSVC (×1.5)".into()
    }
}

/// Go's `append`: `nextslicecap(newLen, oldCap)` doubles below 256 elements, then adds
/// `(cap + 3 × 256) / 4` until it fits — a smooth slide from ×2 towards ×1.25. (Go then rounds
/// the byte size up to a malloc size class, `roundupsize`; not modelled here.)
#[derive(Clone, Copy, Debug, Default)]
pub struct GoSlice;

impl Growth for GoSlice {
    fn next_capacity(&self, cap: usize, required: usize, _elem_size: usize) -> usize {
        let double = cap.saturating_add(cap);
        if required > double {
            return required;
        }
        const THRESHOLD: usize = 256;
        if cap < THRESHOLD {
            return double;
        }
        let mut new = cap;
        while new < required {
            new = new.saturating_add(new.saturating_add(3 * THRESHOLD) >> 2);
        }
        new
    }
    fn name(&self) -> String {
        "Go slices (×2 → ×1.25)".into()
    }
}

/// CPython's `list`: `list_resize(newsize)` allocates `(newsize + newsize / 8 + 6) & !3`, or
/// `(newsize + 3) & !3` when the request jumps past that.
#[derive(Clone, Copy, Debug, Default)]
pub struct CPythonList;

impl Growth for CPythonList {
    fn next_capacity(&self, cap: usize, required: usize, _elem_size: usize) -> usize {
        let r = required;
        let mut new = r.saturating_add(r >> 3).saturating_add(6) & !3;
        if r - cap.min(r) > new.saturating_sub(r) {
            new = r.saturating_add(3) & !3;
        }
        new.max(required)
    }
    fn name(&self) -> String {
        "CPython list (×1.125 + 6)".into()
    }
}

/// folly's `fbvector`: `computePushBackCapacity()` starts at 64 bytes' worth, doubles below
/// 4096 bytes and above 128 KiB, and grows by 1.5 in between (`jemallocMinInPlaceExpandable` =
/// 4096). (fbvector then asks `goodMallocSize` for jemalloc's size class; not modelled here.)
#[derive(Clone, Copy, Debug, Default)]
pub struct Folly;

impl Growth for Folly {
    fn next_capacity(&self, cap: usize, required: usize, elem_size: usize) -> usize {
        let size = elem_size.max(1);
        let new = if cap == 0 {
            (64 / size).max(1)
        } else if cap < 4096 / size {
            cap.saturating_mul(2)
        } else if size > 4096 / 2 && cap == 1 {
            2
        } else if cap > 4096 * 32 / size {
            cap.saturating_mul(2)
        } else {
            cap.saturating_mul(3).saturating_add(1) / 2
        };
        new.max(required)
    }
    fn name(&self) -> String {
        "folly fbvector (×1.5 mid-size)".into()
    }
}

/// Rust's own rule, for the same tables (`raw_vec/mod.rs` `grow_amortized`).
pub fn rust() -> StdGrowth {
    StdGrowth
}

/// Every rule of this module, with Rust's first.
pub fn all() -> Vec<Box<dyn Growth>> {
    vec![
        Box::new(StdGrowth),
        Box::new(Libstdcxx),
        Box::new(Msvc),
        Box::new(GoSlice),
        Box::new(CPythonList),
        Box::new(Folly),
    ]
}

/// Where a rule was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleSource {
    /// The rule's name (as the strategy's `name()`).
    pub rule: &'static str,
    /// GitHub repository.
    pub repo: &'static str,
    /// Commit of the copy read.
    pub commit: &'static str,
    /// File.
    pub path: &'static str,
    /// Function (or section).
    pub function: &'static str,
    /// The formula as written there.
    pub formula: &'static str,
}

/// The sources read for each rule (through the course's source-search tool; quoted formulas are
/// the lines of those files).
pub fn sources() -> Vec<RuleSource> {
    vec![
        RuleSource {
            rule: "Rust std (×2)",
            repo: "rust-lang/rust (installed rust-src)",
            commit: "1.95.0",
            path: "library/alloc/src/raw_vec/mod.rs",
            function: "grow_amortized",
            formula: "cap = max(self.cap * 2, required_cap); cap = max(min_non_zero_cap(size), cap)",
        },
        RuleSource {
            rule: "C++ libstdc++ (×2)",
            repo: "gcc-mirror/gcc",
            commit: "00c6d9190f2235a1e6254884155657700513c0e0",
            path: "libstdc++-v3/include/bits/stl_vector.h",
            function: "vector::_M_check_len",
            formula: "const size_type __len = size() + std::max(size(), __n);",
        },
        RuleSource {
            rule: "C++ MSVC (×1.5)",
            repo: "microsoft/STL",
            commit: "0002ffc8d4b121949e558e4cd47b6146e52d3a9c",
            path: "stl/inc/vector",
            function: "vector::_Calculate_growth",
            formula: "const size_type _Geometric = _Oldcapacity + _Oldcapacity / 2; if (_Geometric < _Newsize) return _Newsize;",
        },
        RuleSource {
            rule: "Go slices (×2 → ×1.25)",
            repo: "golang/go",
            commit: "00a0fc3fd7d34bb72145779e2c36e3beaebd7d64",
            path: "src/runtime/slice.go",
            function: "nextslicecap (then roundupsize in growslice)",
            formula: "if oldCap < 256 { return doublecap }; for { newcap += (newcap + 3*threshold) >> 2; if uint(newcap) >= uint(newLen) { break } }",
        },
        RuleSource {
            rule: "CPython list (×1.125 + 6)",
            repo: "python/cpython",
            commit: "003264fb1ed023375eca1ff44a204f563d938bfd",
            path: "Objects/listobject.c",
            function: "list_resize",
            formula: "new_allocated = ((size_t)newsize + (newsize >> 3) + 6) & ~(size_t)3;",
        },
        RuleSource {
            rule: "folly fbvector (×1.5 mid-size)",
            repo: "facebook/folly",
            commit: "0099dc83c5ef26e674b8a063854d786ae97f39d0",
            path: "folly/FBVector.h (argument: folly/docs/FBVector.md)",
            function: "computePushBackCapacity (then goodMallocSize)",
            formula: "empty() ? max(64 / sizeof(T), 1) : capacity() < 4096 / sizeof(T) ? capacity() * 2 : ... capacity() > 4096 * 32 / sizeof(T) ? capacity() * 2 : (capacity() * 3 + 1) / 2",
        },
    ]
}

/// [`sources`] as a table.
pub fn sources_table() -> Table {
    let mut t = Table::new(["rule", "repository @ commit", "file", "function", "formula"])
        .caption("Where each growth rule was read");
    for s in sources() {
        t.row([
            s.rule.to_string(),
            format!("{} @ {}", s.repo, &s.commit[..s.commit.len().min(12)]),
            s.path.to_string(),
            s.function.to_string(),
            s.formula.to_string(),
        ]);
    }
    t
}

/// The capacities a strategy takes over `pushes` pushes of `elem_size`-byte elements, from empty.
///
/// One loop iteration per growth, so a geometric rule costs a few dozen even for huge counts.
/// Refused before the loop if `pushes` elements would not fit in a `Vec` (more than `isize::MAX`
/// bytes); refused during it, before the sequence grows any further, once it would hold more than
/// [`MAX_CHART_POINTS`] capacities (a rule that adds a constant, asked for many pushes), or if
/// the strategy returns too small a capacity.
pub fn capacity_sequence<G: Growth + ?Sized>(
    growth: &G,
    elem_size: usize,
    pushes: usize,
) -> Result<Vec<usize>, String> {
    if pushes.saturating_mul(elem_size.max(1)) > isize::MAX as usize {
        return Err(format!(
            "{pushes} pushes of {elem_size}-byte elements asked: more than isize::MAX bytes, which no Vec can hold"
        ));
    }
    let mut caps = Vec::new();
    let mut cap = 0usize;
    while cap < pushes {
        if caps.len() == MAX_CHART_POINTS {
            return Err(format!(
                "{} needs more than {MAX_CHART_POINTS} growths for {pushes} pushes (capacity {cap} after {MAX_CHART_POINTS}): ask for fewer pushes",
                growth.name()
            ));
        }
        let new = growth.next_capacity(cap, cap + 1, elem_size);
        if new <= cap {
            return Err(format!(
                "{} returned {new} when {} elements must fit",
                growth.name(),
                cap + 1
            ));
        }
        caps.push(new);
        cap = new;
    }
    Ok(caps)
}

/// folly's argument, checked on a sequence of block sizes: when block `k` is allocated, the
/// blocks before the previous one (`0..k-1`, freed and adjacent, if the allocator placed each
/// block right after the last) add up to `freed[k]` bytes. Returns `(new block, freed before)` for
/// each growth `k >= 1`.
pub fn freed_before_each_growth(block_bytes: &[usize]) -> Vec<(usize, usize)> {
    let mut freed = 0usize;
    let mut out = Vec::new();
    for k in 1..block_bytes.len() {
        if k >= 2 {
            freed = freed.saturating_add(block_bytes[k - 2]);
        }
        out.push((block_bytes[k], freed));
    }
    out
}

/// The first growth (counting the first reallocation as 1) whose new block fits in the space freed
/// before it, in the sense of [`freed_before_each_growth`]; `None` if none does.
pub fn first_reuse(block_bytes: &[usize]) -> Option<usize> {
    freed_before_each_growth(block_bytes)
        .iter()
        .position(|(new, freed)| freed >= new)
        .map(|i| i + 1)
}

/// Byte sizes of the blocks a strategy allocates for `pushes` pushes of `elem_size` bytes.
pub fn block_bytes<G: Growth + ?Sized>(
    growth: &G,
    elem_size: usize,
    pushes: usize,
) -> Result<Vec<usize>, String> {
    Ok(capacity_sequence(growth, elem_size, pushes)?
        .into_iter()
        .map(|c| c.saturating_mul(elem_size))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::growth::simulate::simulate;
    use crate::growth::strategy::Factor;

    fn first(g: &dyn Growth, size: usize, n: usize) -> Vec<usize> {
        capacity_sequence(g, size, 100_000_000).unwrap()[..n].to_vec()
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn sequences_match_the_sources() {
        assert_eq!(first(&Libstdcxx, 8, 6), [1, 2, 4, 8, 16, 32]);
        assert_eq!(first(&Msvc, 8, 10), [1, 2, 3, 4, 6, 9, 13, 19, 28, 42]);
        // CPython's comment: "The growth pattern is:  0, 4, 8, 16, 24, 32, 40, 52, 64, 76, ..."
        assert_eq!(
            first(&CPythonList, 8, 9),
            [4, 8, 16, 24, 32, 40, 52, 64, 76]
        );
        let go = first(&GoSlice, 8, 12);
        assert_eq!(go[..10], [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
        assert_eq!(go[10], 512 + (512 + 768) / 4);
        // fbvector<u64>: 64 bytes first, ×2 to 512 elements (4096 bytes), ×1.5 up to 16384, ×2 after
        let f = capacity_sequence(&Folly, 8, 100_000).unwrap();
        assert_eq!(f[..7], [8, 16, 32, 64, 128, 256, 512]);
        assert_eq!(f[7], 768);
        assert!(f.windows(2).any(|w| w[0] > 16384 && w[1] == 2 * w[0]));
        assert_eq!(first(&rust(), 8, 3), [4, 8, 16]);
        assert_eq!(all().len(), sources().len());
        assert_eq!(sources_table().rows.len(), 6);
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn every_rule_survives_hostile_inputs() {
        for g in all() {
            for size in [0, 1, 8, 4096, usize::MAX] {
                for cap in [0, 1, 1000, usize::MAX / 2, usize::MAX - 1] {
                    let req = cap.saturating_add(1);
                    let new = g.next_capacity(cap, req, size);
                    assert!(new >= req, "{} cap {cap} size {size}: {new}", g.name());
                }
            }
            let cost = simulate(&*g, 8, 100_000);
            assert!(cost.final_capacity >= 100_000);
            assert!(capacity_sequence(&*g, 8, usize::MAX).is_err());
            assert!(capacity_sequence(&*g, 8, 0).unwrap().is_empty());
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "a million growths: too slow under Miri")]
    fn constant_growth_is_refused_at_the_sequence_bound() {
        use crate::growth::strategy::{Additive, Exact};
        for g in [&Additive(1) as &dyn Growth, &Exact] {
            let e = capacity_sequence(g, 8, 100_000_000).unwrap_err();
            assert!(e.contains("more than 1000000 growths"), "{e}");
            assert!(block_bytes(g, 8, 100_000_000).is_err());
            // Exactly at the bound is still answered.
            assert_eq!(
                capacity_sequence(g, 8, MAX_CHART_POINTS).unwrap().len(),
                MAX_CHART_POINTS
            );
        }
        assert_eq!(capacity_sequence(&Additive(1), 8, 3).unwrap(), [1, 2, 3]);
        let e = capacity_sequence(&Additive(1), 8, usize::MAX / 4).unwrap_err();
        assert!(e.contains("isize::MAX bytes"), "{e}");
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn folly_reuse_argument() {
        // Exact ×2: every new block is bigger than everything freed before it.
        let doubling: Vec<usize> = (0..40).map(|k| 1usize << k).collect();
        assert_eq!(first_reuse(&doubling), None);
        // Exact ×1.5 (FBVector.md: "1.5 ... allows memory reuse after 4 reallocations").
        let f15: Vec<usize> = (0..20).map(|k| (1e6 * 1.5f64.powi(k)) as usize).collect();
        assert_eq!(first_reuse(&f15), Some(5));
        let with_rounding = block_bytes(&Factor(1.5), 8, 1_000_000).unwrap();
        assert!(first_reuse(&with_rounding).is_some());
        assert_eq!(first_reuse(&[]), None);
        assert_eq!(freed_before_each_growth(&[1, 2, 3]), [(2, 0), (3, 1)]);
    }
}
