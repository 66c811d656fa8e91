//! What the system allocator (glibc `malloc` on Linux) really hands out, measured.
//!
//! These functions allocate through `std::alloc::System`, look at the block with glibc's
//! `malloc_usable_size`, and free it again. They need Linux with glibc; elsewhere (and under Miri)
//! they return an error that says so.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt;
use std::str::FromStr;

use crate::infra::programs::{one_of, read_lines, run_example, Line};
use crate::views::display::Table;

use crate::limits::{
    at_most, within, MAX_CHILD_BYTES, MAX_CHILD_REQUESTS, MAX_HELD_BYTES, MAX_SAMPLES,
};

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
    let observed = libc_calls(&refs)?;
    if observed.len() != requests.len() {
        return Err(format!(
            "libc_calls answered {} of {} requests",
            observed.len(),
            requests.len()
        ));
    }
    let firsts: Vec<(usize, Option<LibcFn>)> = observed
        .iter()
        .enumerate()
        .map(|(k, o)| (1usize << k, o.first()))
        .collect();
    let largest = firsts
        .iter()
        .take_while(|(_, f)| *f == Some(LibcFn::Malloc))
        .last()
        .map(|(a, _)| *a)
        .ok_or("even 1:1 did not reach malloc")?;
    let name = |f: Option<LibcFn>| f.map_or("none".to_string(), |f| f.to_string());
    let firsts: Vec<(usize, String)> = firsts.into_iter().map(|(a, f)| (a, name(f))).collect();
    if firsts
        .iter()
        .skip_while(|(a, _)| *a <= largest)
        .any(|(_, f)| f != LibcFn::PosixMemalign.name())
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

/// The libc allocation functions std's Unix `System` allocator calls, and that the `libc_calls`
/// example interposes to observe them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LibcFn {
    /// `malloc(size)`.
    Malloc,
    /// `calloc(n, size)`.
    Calloc,
    /// `realloc(ptr, size)`.
    Realloc,
    /// `posix_memalign(&out, align, size)`.
    PosixMemalign,
    /// `free(ptr)`.
    Free,
}

impl LibcFn {
    /// Every function, in a fixed order (an index into it fits in an atomic counter).
    pub const ALL: [LibcFn; 5] = [
        LibcFn::Malloc,
        LibcFn::Calloc,
        LibcFn::Realloc,
        LibcFn::PosixMemalign,
        LibcFn::Free,
    ];

    /// The C name.
    pub fn name(self) -> &'static str {
        match self {
            LibcFn::Malloc => "malloc",
            LibcFn::Calloc => "calloc",
            LibcFn::Realloc => "realloc",
            LibcFn::PosixMemalign => "posix_memalign",
            LibcFn::Free => "free",
        }
    }

    /// The position in [`LibcFn::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The function at `index` in [`LibcFn::ALL`].
    pub fn from_index(index: usize) -> Option<LibcFn> {
        LibcFn::ALL.get(index).copied()
    }
}

impl fmt::Display for LibcFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LibcFn {
    type Err = String;
    fn from_str(s: &str) -> Result<LibcFn, String> {
        one_of(&LibcFn::ALL, s)
    }
}

/// One libc call: the function, and for `posix_memalign` the alignment it was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LibcCall {
    /// Which function.
    pub func: LibcFn,
    /// The alignment argument of `posix_memalign`; `None` for the others.
    pub align: Option<usize>,
}

impl fmt::Display for LibcCall {
    /// `malloc`, or `posix_memalign(16)` with the alignment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.align {
            Some(a) => write!(f, "{}({a})", self.func),
            None => write!(f, "{}", self.func),
        }
    }
}

impl FromStr for LibcCall {
    type Err = String;
    fn from_str(s: &str) -> Result<LibcCall, String> {
        match s.trim().strip_suffix(')').and_then(|r| r.split_once('(')) {
            Some((name, align)) => Ok(LibcCall {
                func: name.parse()?,
                align: Some(
                    align
                        .parse()
                        .map_err(|e| format!("`{s}`: alignment: {e}"))?,
                ),
            }),
            None => Ok(LibcCall {
                func: s.parse()?,
                align: None,
            }),
        }
    }
}

/// A request to std's `System` allocator: `SIZE:ALIGN` allocates, `SIZE:ALIGN:NEW_SIZE` allocates
/// and then reallocates to `NEW_SIZE` (only that `realloc` is observed), `zeroed:SIZE:ALIGN` asks
/// for zeroed memory, and `vec0:N` makes a `vec![0u8; N]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibcRequest {
    /// `System.alloc(layout)` (or, for size 0, `Allocator::allocate`, which never calls libc).
    Alloc(Layout),
    /// `System.realloc(block of layout, layout, new_size)`.
    Realloc(Layout, usize),
    /// `System.alloc_zeroed(layout)` (size not zero).
    Zeroed(Layout),
    /// `vec![0u8; n]` through the global allocator (`n` not zero).
    VecZeroed(usize),
}

impl LibcRequest {
    /// The first libc function std's Unix `System` calls for this request, following
    /// `library/std/src/sys/alloc/unix.rs` (`alloc` lines 13-28, `alloc_zeroed` lines 33-44,
    /// `realloc` lines 53-56, which falls back to `realloc_fallback` in `sys/alloc/mod.rs`: allocate
    /// anew, copy, free). `vec![0u8; n]` asks for zeroed memory with alignment 1
    /// (`alloc/src/vec/spec_from_elem.rs`, `IsZero`). `None` when no libc function is called (a
    /// zero-size request).
    pub fn predicted(&self) -> Option<LibcFn> {
        match *self {
            LibcRequest::Alloc(layout) => predicted_libc_alloc(layout),
            LibcRequest::Zeroed(layout) => predicted_libc_zeroed(layout),
            LibcRequest::VecZeroed(n) => Layout::from_size_align(n, 1)
                .ok()
                .and_then(predicted_libc_zeroed),
            LibcRequest::Realloc(layout, new_size) => {
                if layout.align() <= MIN_ALIGN && layout.align() <= new_size {
                    Some(LibcFn::Realloc)
                } else {
                    Layout::from_size_align(new_size, layout.align())
                        .ok()
                        .and_then(predicted_libc_alloc)
                }
            }
        }
    }
}

impl fmt::Display for LibcRequest {
    /// `SIZE:ALIGN` or `SIZE:ALIGN:NEW_SIZE`, as the `libc_calls` example takes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LibcRequest::Alloc(l) => write!(f, "{}:{}", l.size(), l.align()),
            LibcRequest::Realloc(l, n) => write!(f, "{}:{}:{n}", l.size(), l.align()),
            LibcRequest::Zeroed(l) => write!(f, "zeroed:{}:{}", l.size(), l.align()),
            LibcRequest::VecZeroed(n) => write!(f, "vec0:{n}"),
        }
    }
}

impl FromStr for LibcRequest {
    type Err = String;
    fn from_str(arg: &str) -> Result<LibcRequest, String> {
        if let Some(n) = arg.trim().strip_prefix("vec0:") {
            return match n.parse::<usize>() {
                Ok(n) if n > 0 && n <= isize::MAX as usize => Ok(LibcRequest::VecZeroed(n)),
                _ => Err(format!("`{arg}`: expected vec0:N with N a non-zero length")),
            };
        }
        if let Some(rest) = arg.trim().strip_prefix("zeroed:") {
            return match rest.parse::<LibcRequest>() {
                Ok(LibcRequest::Alloc(l)) if l.size() > 0 => Ok(LibcRequest::Zeroed(l)),
                _ => Err(format!(
                    "`{arg}`: expected zeroed:SIZE:ALIGN with a non-zero SIZE"
                )),
            };
        }
        let shape = || {
            format!(
                "`{arg}`: expected SIZE:ALIGN, SIZE:ALIGN:NEW_SIZE, zeroed:SIZE:ALIGN or vec0:N"
            )
        };
        let nums = arg
            .trim()
            .split(':')
            .map(str::parse)
            .collect::<Result<Vec<usize>, _>>()
            .map_err(|_| shape())?;
        let layout = |s, a| {
            Layout::from_size_align(s, a)
                .map_err(|e| format!("`{arg}`: {e} (alignment must be a power of two)"))
        };
        match nums[..] {
            [s, a] => Ok(LibcRequest::Alloc(layout(s, a)?)),
            [s, a, n] if s > 0 && n > 0 => {
                layout(n, a)?;
                Ok(LibcRequest::Realloc(layout(s, a)?, n))
            }
            [_, _, _] => Err(format!(
                "`{arg}`: realloc sizes must be non-zero (GlobalAlloc forbids size 0)"
            )),
            _ => Err(shape()),
        }
    }
}

/// Which libc function std's Unix `System::alloc` calls for `layout`, following
/// `library/std/src/sys/alloc/unix.rs` lines 13-28 (the `libc_calls` example observes the real
/// calls). `None` for a zero-size request: `Global` and `Allocator for System` answer it with a
/// dangling pointer and never reach libc.
pub fn predicted_libc_alloc(layout: Layout) -> Option<LibcFn> {
    predicted_first(layout, LibcFn::Malloc)
}

/// Which libc function std's Unix `System::alloc_zeroed` calls first for `layout`
/// (`library/std/src/sys/alloc/unix.rs` lines 33-44): `calloc(size, 1)` under the same condition
/// as `malloc`, else `posix_memalign` through `alloc`, then zeroing by hand. `None` for size 0.
pub fn predicted_libc_zeroed(layout: Layout) -> Option<LibcFn> {
    predicted_first(layout, LibcFn::Calloc)
}

/// The rule `alloc` and `alloc_zeroed` share: `plain` when `align <= MIN_ALIGN && align <= size`,
/// else `posix_memalign`; no call for size 0.
fn predicted_first(layout: Layout, plain: LibcFn) -> Option<LibcFn> {
    if layout.size() == 0 {
        None
    } else if layout.align() <= MIN_ALIGN && layout.align() <= layout.size() {
        Some(plain)
    } else {
        Some(LibcFn::PosixMemalign)
    }
}

/// The libc calls one request made, as the `libc_calls` example observed them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LibcObservation {
    /// The request.
    pub request: LibcRequest,
    /// The calls, in order (empty when libc was not called).
    pub calls: Vec<LibcCall>,
}

impl LibcObservation {
    /// The first function called, if any.
    pub fn first(&self) -> Option<LibcFn> {
        self.calls.first().map(|c| c.func)
    }

    /// The observation as one line of the `libc_calls` protocol.
    pub fn to_line(&self) -> Line {
        let calls: Vec<String> = self.calls.iter().map(LibcCall::to_string).collect();
        Line::new("observed")
            .field("request", self.request)
            .field("calls", calls.join(","))
    }

    /// Reads a line written by [`LibcObservation::to_line`].
    pub fn from_line(line: &Line) -> Result<LibcObservation, String> {
        let calls: String = line.get("calls")?;
        Ok(LibcObservation {
            request: line.get("request")?,
            calls: calls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::parse)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// Runs the `libc_calls` example for `requests` (`SIZE:ALIGN` or `SIZE:ALIGN:NEW_SIZE`; empty for
/// its default list) and reads what it observed.
///
/// Checked here before the process starts, so a bad request is an error that names it: at most
/// [`MAX_CHILD_REQUESTS`] requests, each well formed, with every size (and new size) at most
/// [`MAX_CHILD_BYTES`].
pub fn libc_calls(requests: &[&str]) -> Result<Vec<LibcObservation>, String> {
    at_most(
        "libc_calls: the number of requests",
        requests.len(),
        MAX_CHILD_REQUESTS,
    )?;
    for r in requests {
        // Numbers first, so that a huge size is refused by its limit, not as a bad layout.
        for n in r
            .split(':')
            .filter_map(|part| part.trim().parse::<u128>().ok())
        {
            at_most(
                &format!("libc_calls: a number in request {r:?}"),
                n,
                MAX_CHILD_BYTES as u128,
            )?;
        }
        r.parse::<LibcRequest>()?;
    }
    let out = run_example("libc_calls", requests, &[]);
    if !out.success {
        return Err(format!("libc_calls failed: {}", out.stderr.trim()));
    }
    read_lines(&out.stdout, "observed", LibcObservation::from_line)
}

/// Observations against the model of `unix.rs`: the request, the calls seen, the first function
/// [`LibcRequest::predicted`] names, and whether the two agree.
pub fn libc_table(observations: &[LibcObservation]) -> Table {
    let name = |f: Option<LibcFn>| f.map_or("none".to_string(), |f| f.to_string());
    let agree = observations
        .iter()
        .filter(|o| o.first() == o.request.predicted())
        .count();
    let mut t = Table::new([
        "request (SIZE:ALIGN[:NEW_SIZE])",
        "libc calls observed",
        "unix.rs predicts first",
        "agree",
    ])
    .caption(format!(
        "{agree} of {} requests call what unix.rs predicts",
        observations.len()
    ));
    for o in observations {
        let calls: Vec<String> = o.calls.iter().map(LibcCall::to_string).collect();
        t.row([
            o.request.to_string(),
            if calls.is_empty() {
                "none".into()
            } else {
                calls.join(", ")
            },
            name(o.request.predicted()),
            if o.first() == o.request.predicted() {
                "yes".into()
            } else {
                "NO".to_string()
            },
        ]);
    }
    t
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
/// `size` must be 1 byte .. [`MAX_HELD_BYTES`] (checked before anything is allocated).
pub fn block_facts(size: usize) -> Result<BlockFacts, String> {
    glibc_only()?;
    within("block_facts: size", size, 1, MAX_HELD_BYTES)?;
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

/// For each alignment in `aligns`, `samples` live blocks of `size` bytes: the fewest trailing zero
/// bits among their addresses, and the alignment that guarantees (see [`address_trailing_zeros`]).
pub fn alignment_table(size: usize, aligns: &[usize], samples: usize) -> Result<Table, String> {
    let mut t = Table::new([
        "requested align".to_string(),
        "size".to_string(),
        format!("min trailing zeros of {samples} addresses"),
        "so aligned to at least".to_string(),
    ]);
    for &align in aligns {
        let zeros = address_trailing_zeros(size, align, samples)?;
        let min = zeros
            .iter()
            .min()
            .ok_or_else(|| format!("no block of {size} bytes could be allocated"))?;
        t.row([
            align.to_string(),
            size.to_string(),
            min.to_string(),
            (1u128 << min).to_string(),
        ]);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prediction_follows_unix_rs() {
        let p = |r: &str| r.parse::<LibcRequest>().unwrap().predicted();
        assert_eq!(p("8:8"), Some(LibcFn::Malloc));
        assert_eq!(p("8:16"), Some(LibcFn::PosixMemalign)); // align > size
        assert_eq!(p("64:32"), Some(LibcFn::PosixMemalign)); // align > MIN_ALIGN
        assert_eq!(p("0:8"), None);
        assert_eq!(p("16:8:4096"), Some(LibcFn::Realloc));
        assert_eq!(p("8:16:8"), Some(LibcFn::PosixMemalign)); // align > new size: fallback
        assert_eq!(p("64:32:4096"), Some(LibcFn::PosixMemalign));
        assert_eq!(p("zeroed:4096:8"), Some(LibcFn::Calloc));
        assert_eq!(p("zeroed:64:32"), Some(LibcFn::PosixMemalign)); // then zeroed by hand
        assert_eq!(p("zeroed:4:8"), Some(LibcFn::PosixMemalign)); // align > size
        assert_eq!(p("vec0:4096"), Some(LibcFn::Calloc));
        for r in ["zeroed:4096:8", "vec0:1"] {
            assert_eq!(r.parse::<LibcRequest>().unwrap().to_string(), r);
        }
        for bad in [
            "zeroed:0:8",
            "zeroed:8:3",
            "zeroed:8:8:16",
            "vec0:0",
            "vec0:x",
            "vec0:",
        ] {
            assert!(bad.parse::<LibcRequest>().is_err(), "{bad}");
        }
    }

    #[test]
    fn libc_requests_are_bounded_before_a_process_starts() {
        let e = libc_calls(&["8:8"; MAX_CHILD_REQUESTS + 1]).unwrap_err();
        assert!(
            e.contains("number of requests is 65") && e.contains("limit of 64"),
            "{e}"
        );
        let e = libc_calls(&["18446744073709551615:8"]).unwrap_err();
        assert!(e.contains("limit of 134217728"), "{e}");
        let e = libc_calls(&["8:8:134217729"]).unwrap_err();
        assert!(e.contains("\"8:8:134217729\""), "{e}");
        assert!(libc_calls(&["8:3"]).unwrap_err().contains("`8:3`"));
    }

    #[test]
    fn libc_values_round_trip_through_text() {
        for f in LibcFn::ALL {
            assert_eq!(f.to_string().parse::<LibcFn>(), Ok(f));
            assert_eq!(LibcFn::from_index(f.index()), Some(f));
        }
        assert_eq!(LibcFn::from_index(5), None);
        assert!("mallocx".parse::<LibcFn>().is_err());
        for r in ["8:16", "16:8:4096", "0:8"] {
            assert_eq!(r.parse::<LibcRequest>().unwrap().to_string(), r);
        }
        for bad in [
            "8",
            "8:3",
            "x:8",
            "0:8:16",
            "8:8:0",
            "1:2:3:4",
            "8:8:18446744073709551615",
        ] {
            assert!(bad.parse::<LibcRequest>().is_err(), "{bad}");
        }
        let o = LibcObservation {
            request: "64:32:4096".parse().unwrap(),
            calls: vec![
                "posix_memalign(32)".parse().unwrap(),
                "free".parse().unwrap(),
            ],
        };
        assert_eq!(o.calls[0].align, Some(32));
        assert_eq!(LibcObservation::from_line(&o.to_line()), Ok(o.clone()));
        let none = LibcObservation {
            request: "0:8".parse().unwrap(),
            calls: vec![],
        };
        assert_eq!(
            LibcObservation::from_line(&none.to_line()),
            Ok(none.clone())
        );
        let t = libc_table(&[o, none]);
        assert_eq!(
            t.caption.as_deref(),
            Some("2 of 2 requests call what unix.rs predicts")
        );
        assert_eq!(t.rows[1][1..], ["none", "none", "yes"]);
    }

    #[test]
    fn alignment_table_reports_the_weakest_address() {
        let t = alignment_table(24, &[1, 64], 8).unwrap();
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.headers[2], "min trailing zeros of 8 addresses");
        let at_least: usize = t.rows[1][3].parse().unwrap();
        assert!(at_least >= 64, "{t}");
        assert!(alignment_table(0, &[8], 8).is_err());
        assert!(alignment_table(24, &[8], 0).is_err());
        assert!(alignment_table(24, &[3], 8).is_err());
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
    fn huge_sample_counts_and_sizes_are_refused_before_allocating() {
        let e = address_trailing_zeros(8, 8, 1_000_000_000_000).unwrap_err();
        assert!(e.contains("samples is 1000000000000"), "{e}");
        let e = address_trailing_zeros(1 << 40, 8, 1).unwrap_err();
        assert!(e.contains("bytes held at once"), "{e}");
        assert_eq!(address_trailing_zeros(8, 8, 0).unwrap(), Vec::<u32>::new());
    }
}
