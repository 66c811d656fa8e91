//! What the system allocator (glibc `malloc` on Linux) really hands out, measured.
//!
//! These functions allocate through `std::alloc::System`, look at the block with glibc's
//! `malloc_usable_size`, and free it again. They need Linux with glibc; elsewhere (and under Miri)
//! they return an error that says so.

use std::alloc::{GlobalAlloc, Layout, System};

use crate::infra::limits::{at_most, MAX_HELD_BYTES, MAX_SAMPLES};

/// The `MIN_ALIGN` that std's Unix `System` allocator trusts `malloc` to provide on this target
/// (`library/std/src/sys/alloc/mod.rs`): 16 on x86_64 and aarch64, 8 on most 32-bit targets.
pub const MIN_ALIGN: usize = if cfg!(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "loongarch64",
    target_arch = "mips64",
    target_arch = "s390x",
    target_arch = "sparc64",
    target_arch = "riscv64",
    target_arch = "wasm64",
)) {
    16
} else {
    8
};

/// Which libc function std's Unix `System::alloc` calls for `layout`, following
/// `library/std/src/sys/alloc/unix.rs` (the `libc_calls` example observes the real calls).
pub fn predicted_libc_alloc(layout: Layout) -> &'static str {
    if layout.size() == 0 {
        "none (zero-size requests never reach libc through Global/Allocator)"
    } else if layout.align() <= MIN_ALIGN && layout.align() <= layout.size() {
        "malloc"
    } else {
        "posix_memalign"
    }
}

fn glibc_only() -> Result<(), String> {
    if cfg!(all(target_os = "linux", target_env = "gnu", not(miri))) {
        Ok(())
    } else {
        Err("this measurement needs Linux with glibc (and does not run under Miri)".into())
    }
}

/// `malloc_usable_size` of a block from `System` for a request of `size` bytes with alignment `align`.
pub fn usable_size(size: usize, align: usize) -> Result<usize, String> {
    glibc_only()?;
    if size == 0 {
        return Err(
            "a GlobalAlloc request of size 0 is undefined behaviour; ask for at least 1 byte"
                .into(),
        );
    }
    let layout =
        Layout::from_size_align(size, align).map_err(|e| format!("{size}:{align}: {e}"))?;
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { System.alloc(layout) };
    if p.is_null() {
        return Err(format!("the allocation of {size} bytes failed"));
    }
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    // SAFETY: `p` is a live block from glibc's allocator (System uses malloc/posix_memalign).
    let usable = unsafe { libc::malloc_usable_size(p.cast()) };
    #[cfg(not(all(target_os = "linux", target_env = "gnu", not(miri))))]
    let usable = size;
    // SAFETY: `p` was allocated above with `layout`.
    unsafe { System.dealloc(p, layout) };
    Ok(usable)
}

/// `(requested, usable)` for each requested size (alignment 1); at most [`MAX_SAMPLES`] sizes
/// (an endless range such as `1..` is refused once it passes the limit).
pub fn usable_size_staircase(
    sizes: impl IntoIterator<Item = usize>,
) -> Result<Vec<(usize, usize)>, String> {
    let mut out = Vec::new();
    for (i, s) in sizes.into_iter().enumerate() {
        at_most(
            "usable_size_staircase: the number of sizes",
            i + 1,
            MAX_SAMPLES,
        )?;
        out.push((s, usable_size(s, 1)?));
    }
    Ok(out)
}

/// For `samples` live blocks of `size` bytes with alignment `align`, the number of trailing zero
/// bits of each address (an address aligned to 2^k has at least k). Blocks are held until all are
/// measured, so they are distinct.
///
/// `samples` is at most [`MAX_SAMPLES`], and `size × samples` at most [`MAX_HELD_BYTES`]; both
/// are checked before anything is allocated. A request the allocator refuses is an error.
pub fn address_trailing_zeros(
    size: usize,
    align: usize,
    samples: usize,
) -> Result<Vec<u32>, String> {
    if size == 0 {
        return Err("size must be at least 1".into());
    }
    let layout =
        Layout::from_size_align(size, align).map_err(|e| format!("{size}:{align}: {e}"))?;
    at_most("address_trailing_zeros: samples", samples, MAX_SAMPLES)?;
    at_most(
        "address_trailing_zeros: size × samples (bytes held at once)",
        size.saturating_mul(samples),
        MAX_HELD_BYTES,
    )?;
    let mut blocks = Vec::with_capacity(samples);
    let mut failed = false;
    for _ in 0..samples {
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            failed = true;
            break;
        }
        blocks.push(p);
    }
    let zeros = blocks
        .iter()
        .map(|p| (*p as usize).trailing_zeros())
        .collect();
    let got = blocks.len();
    for p in blocks {
        // SAFETY: each `p` was allocated above with `layout` and is freed once.
        unsafe { System.dealloc(p, layout) };
    }
    if failed {
        return Err(format!(
            "the allocator refused block {} of {samples} ({size} bytes, alignment {align})",
            got + 1
        ));
    }
    Ok(zeros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prediction_follows_unix_rs() {
        let l = |s, a| Layout::from_size_align(s, a).unwrap();
        assert_eq!(predicted_libc_alloc(l(8, 8)), "malloc");
        assert_eq!(predicted_libc_alloc(l(8, 16)), "posix_memalign");
        assert_eq!(predicted_libc_alloc(l(64, 32)), "posix_memalign");
        assert!(predicted_libc_alloc(l(0, 8)).starts_with("none"));
    }

    #[test]
    fn addresses_honour_the_requested_alignment() {
        for align in [1usize, 8, 16, 64, 4096] {
            let z = address_trailing_zeros(24, align, 16).unwrap();
            assert_eq!(z.len(), 16);
            assert!(z.iter().all(|&t| 1usize << t >= align), "{align}: {z:?}");
        }
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    fn usable_sizes_follow_glibc_chunks() {
        // glibc 2.36 x86_64: usable = max(24, round_up(size + 8, 16) - 8) below the mmap threshold.
        for (req, want) in [
            (1, 24),
            (24, 24),
            (25, 40),
            (41, 56),
            (100, 104),
            (1000, 1000),
        ] {
            assert_eq!(usable_size(req, 1).unwrap(), want, "request {req}");
        }
        let s = usable_size_staircase([1, 2, 3]).unwrap();
        assert_eq!(s, [(1, 24), (2, 24), (3, 24)]);
        assert!(usable_size(0, 1).is_err());
        assert!(usable_size(8, 3).is_err());
        let e = usable_size_staircase(1..).unwrap_err();
        assert!(e.contains("limit of 10000"), "{e}");
    }

    #[test]
    fn huge_sample_counts_and_sizes_are_refused_before_allocating() {
        let e = address_trailing_zeros(8, 8, 1_000_000_000_000).unwrap_err();
        assert!(e.contains("samples is 1000000000000"), "{e}");
        let e = address_trailing_zeros(1 << 40, 8, 1).unwrap_err();
        assert!(e.contains("bytes held at once"), "{e}");
        assert_eq!(address_trailing_zeros(8, 8, 0).unwrap(), Vec::<u32>::new());
    }
}
