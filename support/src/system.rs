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
/// and then reallocates to `NEW_SIZE` (only that `realloc` is observed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibcRequest {
    /// `System.alloc(layout)` (or, for size 0, `Allocator::allocate`, which never calls libc).
    Alloc(Layout),
    /// `System.realloc(block of layout, layout, new_size)`.
    Realloc(Layout, usize),
}

impl LibcRequest {
    /// The first libc function std's Unix `System` calls for this request, following
    /// `library/std/src/sys/alloc/unix.rs` (`alloc` lines 13-28, `realloc` lines 53-56, which falls
    /// back to `realloc_fallback` in `sys/alloc/mod.rs`: allocate anew, copy, free). `None` when
    /// no libc function is called (a zero-size request).
    pub fn predicted(&self) -> Option<LibcFn> {
        match *self {
            LibcRequest::Alloc(layout) => predicted_libc_alloc(layout),
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
        }
    }
}

impl FromStr for LibcRequest {
    type Err = String;
    fn from_str(arg: &str) -> Result<LibcRequest, String> {
        let shape = || format!("`{arg}`: expected SIZE:ALIGN or SIZE:ALIGN:NEW_SIZE");
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
    if layout.size() == 0 {
        None
    } else if layout.align() <= MIN_ALIGN && layout.align() <= layout.size() {
        Some(LibcFn::Malloc)
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
/// its default list) and reads what it observed. Requests are checked here first, so a bad one is
/// an error that names it.
pub fn libc_calls(requests: &[&str]) -> Result<Vec<LibcObservation>, String> {
    for r in requests {
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
    }
}
