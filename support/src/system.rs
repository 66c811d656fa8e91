//! What the system allocator (glibc `malloc` on Linux) really hands out, measured.
//!
//! These functions allocate through `std::alloc::System`, look at the block with glibc's
//! `malloc_usable_size`, and free it again. They need Linux with glibc; elsewhere (and under Miri)
//! they return an error that says so.

use std::alloc::{GlobalAlloc, Layout, System};

/// std's `MIN_ALIGN` table, copied from `library/std/src/sys/alloc/mod.rs` (1.95: lines 9-47):
/// `(target_arch, target_os list, MIN_ALIGN)`; an empty OS list means "any OS". The first row
/// that matches wins, as in std's `if cfg!(...) else if ...` chain. A test compares this table with
/// the installed source, and chapter 2 compares [`MIN_ALIGN`] with [`observed_min_align`].
pub const MIN_ALIGN_TABLE: &[(&str, &[&str], usize)] = &[
    ("riscv32", &["espidf", "zkvm"], 4),
    ("xtensa", &["espidf"], 4),
    ("x86", &[], 8),
    ("arm", &[], 8),
    ("m68k", &[], 8),
    ("csky", &[], 8),
    ("loongarch32", &[], 8),
    ("mips", &[], 8),
    ("mips32r6", &[], 8),
    ("powerpc", &[], 8),
    ("powerpc64", &[], 8),
    ("sparc", &[], 8),
    ("wasm32", &[], 8),
    ("hexagon", &[], 8),
    ("riscv32", &[], 8),
    ("xtensa", &[], 8),
    ("x86_64", &[], 16),
    ("aarch64", &[], 16),
    ("arm64ec", &[], 16),
    ("loongarch64", &[], 16),
    ("mips64", &[], 16),
    ("mips64r6", &[], 16),
    ("s390x", &[], 16),
    ("sparc64", &[], 16),
    ("riscv64", &[], 16),
    ("wasm64", &[], 16),
];

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `MIN_ALIGN` for a target according to [`MIN_ALIGN_TABLE`], or `None` for a target std does
/// not list (std refuses to build there).
pub const fn min_align_for(arch: &str, os: &str) -> Option<usize> {
    let mut i = 0;
    while i < MIN_ALIGN_TABLE.len() {
        let (a, oses, value) = MIN_ALIGN_TABLE[i];
        if str_eq(a, arch) {
            if oses.is_empty() {
                return Some(value);
            }
            let mut j = 0;
            while j < oses.len() {
                if str_eq(oses[j], os) {
                    return Some(value);
                }
                j += 1;
            }
        }
        i += 1;
    }
    None
}

/// The `MIN_ALIGN` that std's Unix `System` allocator trusts `malloc` to provide on this target,
/// from [`MIN_ALIGN_TABLE`] (0 on a target the table does not list).
pub const MIN_ALIGN: usize = match min_align_for(std::env::consts::ARCH, std::env::consts::OS) {
    Some(a) => a,
    None => 0,
};

/// `MIN_ALIGN` as observed on this machine: the `libc_calls` program asks `System` for blocks of
/// `a` bytes with alignment `a` (a = 1, 2, 4, … 256); std calls `malloc` exactly when
/// `a <= MIN_ALIGN` (`unix.rs`: `align <= MIN_ALIGN && align <= size`) and `posix_memalign` above,
/// so the largest `a` that reached `malloc` is `MIN_ALIGN`. Returns the observed calls too.
pub fn observed_min_align() -> Result<(usize, Vec<(usize, String)>), String> {
    let requests: Vec<String> = (0..=8).map(|k| format!("{0}:{0}", 1usize << k)).collect();
    let refs: Vec<&str> = requests.iter().map(String::as_str).collect();
    let observed = crate::infra::programs::libc_calls(&refs)?;
    if observed.len() != requests.len() {
        return Err(format!(
            "libc_calls answered {} of {} requests",
            observed.len(),
            requests.len()
        ));
    }
    let firsts: Vec<(usize, String)> = observed
        .iter()
        .enumerate()
        .map(|(k, o)| {
            let first = o.calls.first().map(String::as_str).unwrap_or("none");
            (
                1usize << k,
                first.split('(').next().unwrap_or(first).to_string(),
            )
        })
        .collect();
    let largest = firsts
        .iter()
        .take_while(|(_, f)| f == "malloc")
        .last()
        .map(|(a, _)| *a)
        .ok_or("even 1:1 did not reach malloc")?;
    if firsts
        .iter()
        .skip_while(|(a, _)| *a <= largest)
        .any(|(_, f)| f != "posix_memalign")
    {
        return Err(format!("unexpected calls above {largest}: {firsts:?}"));
    }
    Ok((largest, firsts))
}

/// glibc's chunk size for a heap request of `request` bytes on a 64-bit target (glibc 2.36
/// `malloc.c`: `request2size`, lines 1326-1329: `max(MINSIZE, (request + SIZE_SZ + 15) & !15)`
/// with `SIZE_SZ` = 8 and `MINSIZE` = 32, lines 1308-1313). The usable part is the chunk minus the
/// 8-byte size field (`memsize`, lines 1459-1462). Requests at or above the mmap threshold are
/// mapped instead (page-rounded): this model is for heap chunks. `None` if the sum overflows.
pub fn glibc_chunk_size(request: usize) -> Option<usize> {
    let rounded = request.checked_add(8 + 15)? & !15;
    Some(rounded.max(32))
}

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

/// Where glibc put a block: its usable size and whether it was mapped on its own with `mmap`
/// (observed: glibc's count of bytes in mmapped blocks, `mallinfo2().hblkhd`, grew by at least
/// the request when the block was made) or carved from its heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockFacts {
    /// The request, in bytes.
    pub request: usize,
    /// `malloc_usable_size` of the block.
    pub usable: usize,
    /// True if the block was mapped on its own (above glibc's mmap threshold).
    pub mmapped: bool,
}

/// [`BlockFacts`] of a `System` block of `size` bytes (alignment 1), made and freed at once.
/// `size` must be 1 byte .. 1 GiB.
pub fn block_facts(size: usize) -> Result<BlockFacts, String> {
    glibc_only()?;
    if !(1..=1 << 30).contains(&size) {
        return Err(format!("size {size}: choose 1 byte .. 1 GiB"));
    }
    let layout = Layout::from_size_align(size, 1).map_err(|e| e.to_string())?;
    let mapped_before = mmapped_bytes();
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { System.alloc(layout) };
    if p.is_null() {
        return Err(format!("the allocation of {size} bytes failed"));
    }
    let mapped_after = mmapped_bytes();
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    // SAFETY: `p` is a live block from glibc's allocator (System uses malloc/posix_memalign).
    let usable = unsafe { libc::malloc_usable_size(p.cast()) };
    #[cfg(not(all(target_os = "linux", target_env = "gnu", not(miri))))]
    let usable = size;
    // SAFETY: `p` was allocated above with `layout`.
    unsafe { System.dealloc(p, layout) };
    Ok(BlockFacts {
        request: size,
        usable,
        mmapped: mapped_after.saturating_sub(mapped_before) >= size,
    })
}

/// Bytes glibc holds in mmapped blocks (0 where it cannot be asked).
fn mmapped_bytes() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    {
        // SAFETY: mallinfo2 only reads glibc's allocator statistics.
        unsafe { libc::mallinfo2() }.hblkhd
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", not(miri))))]
    {
        0
    }
}

/// `(requested, usable)` for each requested size (alignment 1).
pub fn usable_size_staircase(
    sizes: impl IntoIterator<Item = usize>,
) -> Result<Vec<(usize, usize)>, String> {
    sizes
        .into_iter()
        .map(|s| usable_size(s, 1).map(|u| (s, u)))
        .collect()
}

/// For `samples` live blocks of `size` bytes with alignment `align`, the number of trailing zero
/// bits of each address (an address aligned to 2^k has at least k). Blocks are held until all are
/// measured, so they are distinct.
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
    let mut blocks = Vec::with_capacity(samples);
    for _ in 0..samples {
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            break;
        }
        blocks.push(p);
    }
    let zeros = blocks
        .iter()
        .map(|p| (*p as usize).trailing_zeros())
        .collect();
    for p in blocks {
        // SAFETY: each `p` was allocated above with `layout` and is freed once.
        unsafe { System.dealloc(p, layout) };
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
    fn the_table_gives_this_targets_value_and_the_first_match_wins() {
        assert_eq!(min_align_for("x86_64", "linux"), Some(16));
        assert_eq!(min_align_for("riscv32", "espidf"), Some(4));
        assert_eq!(min_align_for("riscv32", "linux"), Some(8));
        assert_eq!(min_align_for("powerpc64", "linux"), Some(8));
        assert_eq!(min_align_for("nope", "linux"), None);
        assert_eq!(
            Some(MIN_ALIGN),
            min_align_for(std::env::consts::ARCH, std::env::consts::OS)
        );
    }

    #[test]
    fn chunk_model_follows_request2size() {
        for (req, chunk) in [
            (0, 32),
            (1, 32),
            (24, 32),
            (25, 48),
            (40, 48),
            (41, 64),
            (100, 112),
            (1000, 1008),
        ] {
            assert_eq!(glibc_chunk_size(req), Some(chunk), "request {req}");
        }
        assert_eq!(glibc_chunk_size(usize::MAX), None);
        assert_eq!(glibc_chunk_size(usize::MAX - 22), None);
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
        // The usable size of a heap chunk is the modelled chunk size minus its 8-byte header.
        for req in [1usize, 8, 24, 25, 100, 1000, 4000, 100_000] {
            assert_eq!(
                usable_size(req, 1).unwrap(),
                glibc_chunk_size(req).unwrap() - 8,
                "request {req}"
            );
        }
        let s = usable_size_staircase([1, 2, 3]).unwrap();
        assert_eq!(s, [(1, 24), (2, 24), (3, 24)]);
        assert!(usable_size(0, 1).is_err());
        assert!(usable_size(8, 3).is_err());
    }
}
