//! Chapter 9's scenarios ("below malloc"), run by every `bench-*` binary when its arguments hold
//! `scenario=NAME`: each prints [`Line`]s that `support::below` reads back.
//!
//! | scenario | arguments | prints |
//! |---|---|---|
//! | `ops` | `ops=OP,OP,...` ([`Op`]) | `step i= op=` before each operation, `after i= rss_kib= ...` after it |
//! | `touch` | `bytes= every= samples= thp=0/1` | `reserve ...`, then `sample touched= rss_kib= minflt= huge_kib=` |
//! | `zeroed` | `bytes=` | one `zeroed mode= rss_kib= minflt= ns=` per way of getting zeroed memory |
//! | `server` | `ticks= requests= keep_per_mille=` | `tick t= live_bytes= rss_kib=` after each tick, and one after freeing all |
//! | `threads` | `threads= blocks= size=` | `threads n= rss_kib= vsz_kib= arenas=` while every thread holds what it kept |
//!
//! The `step` line is written before an operation and the `after` line after it, each by one
//! `write` to stdout, so a system-call trace of the program (strace) shows which calls each
//! operation made between them.

use std::collections::HashMap;
use std::sync::{Arc, Barrier};

use support::infra::programs::Line;
use support::reexports::libc;

/// Most operations in one `ops` list.
pub const MAX_OPS: usize = 64;
/// Most bytes one scenario may ask for in all (the support crate checks this too).
pub const MAX_BYTES: usize = 2 << 30;
/// Most blocks of one `many` operation.
pub const MAX_BLOCKS: usize = 1 << 20;
/// Most threads of the `threads` scenario.
pub const MAX_THREADS: usize = 64;
/// The page size assumed by the touch loop when `sysconf` cannot say.
const FALLBACK_PAGE: usize = 4096;

/// A `kB` field of `/proc/self/status` (or `/proc/self/smaps_rollup` for `file`), 0 if absent.
pub fn proc_kib(file: &str, field: &str) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(field)?
                    .strip_prefix(':')?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

/// Resident memory now (`VmRSS`), KiB.
pub fn rss_kib() -> u64 {
    proc_kib("/proc/self/status", "VmRSS")
}

/// Virtual size now (`VmSize`), KiB.
pub fn vsz_kib() -> u64 {
    proc_kib("/proc/self/status", "VmSize")
}

/// Minor page faults of this process so far (`getrusage(RUSAGE_SELF).ru_minflt`).
pub fn minor_faults() -> u64 {
    // SAFETY: rusage is plain old data; all zeroes is a valid value.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid rusage to write into.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0;
    }
    u64::try_from(u.ru_minflt).unwrap_or(0)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p)
        .ok()
        .filter(|&p| p > 0)
        .unwrap_or(FALLBACK_PAGE)
}

/// One operation of the `ops` scenario, written `box:NAME:BYTES`, `vec:NAME:BYTES`,
/// `many:NAME:COUNT:BYTES`, `free:NAME` or `trim`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// One block of `bytes`, every byte written (`vec![1u8; bytes].into_boxed_slice()`).
    Box(String, usize),
    /// A `Vec<u8>` grown by pushing 64 KiB at a time until it holds `bytes`.
    Vec(String, usize),
    /// `count` blocks of `bytes` each, allocated in order, every byte written.
    Many(String, usize, usize),
    /// Drops what the named operation made (a `many` drops its blocks in the order they were made).
    Free(String),
    /// Keeps every `k`-th block of the named `many` (the first, the `k+1`-th, ...) and drops the rest.
    Thin(String, usize),
    /// `malloc_trim(0)`.
    Trim,
}

impl Op {
    /// Reads one operation; the error names it.
    pub fn parse(text: &str) -> Result<Op, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let num = |s: &str| -> Result<usize, String> {
            s.parse()
                .map_err(|_| format!("`{s}` in `{text}` is not a count of bytes or blocks"))
        };
        let name = |s: &str| -> Result<String, String> {
            if s.is_empty() || s.len() > 32 || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "`{s}` in `{text}`: a name is 1-32 letters or digits"
                ));
            }
            Ok(s.to_string())
        };
        let op = match parts.as_slice() {
            ["box", n, b] => Op::Box(name(n)?, num(b)?),
            ["vec", n, b] => Op::Vec(name(n)?, num(b)?),
            ["many", n, c, b] => Op::Many(name(n)?, num(c)?, num(b)?),
            ["free", n] => Op::Free(name(n)?),
            ["thin", n, k] => Op::Thin(name(n)?, num(k)?),
            ["trim"] => Op::Trim,
            _ => {
                return Err(format!(
                    "`{text}` is not an operation: box:NAME:BYTES, vec:NAME:BYTES, many:NAME:COUNT:BYTES, free:NAME, thin:NAME:K, trim"
                ))
            }
        };
        match &op {
            Op::Box(_, b) | Op::Vec(_, b) if *b == 0 || *b > MAX_BYTES => {
                Err(format!("`{text}`: bytes must be 1..={MAX_BYTES}"))
            }
            Op::Many(_, c, b)
                if *c == 0
                    || *b == 0
                    || *c > MAX_BLOCKS
                    || c.checked_mul(*b).is_none_or(|t| t > MAX_BYTES) =>
            {
                Err(format!(
                    "`{text}`: 1..={MAX_BLOCKS} blocks of at least 1 byte, at most {MAX_BYTES} bytes in all"
                ))
            }
            Op::Thin(_, 0) => Err(format!("`{text}`: keep every k-th block, k >= 1")),
            _ => Ok(op),
        }
    }

    /// The bytes the operation allocates (0 for `free`, `thin` and `trim`).
    pub fn bytes(&self) -> usize {
        match self {
            Op::Box(_, b) | Op::Vec(_, b) => *b,
            Op::Many(_, c, b) => c.saturating_mul(*b),
            _ => 0,
        }
    }
}

/// Reads `ops=` into operations: at most [`MAX_OPS`], at most [`MAX_BYTES`] in all, every `free`
/// or `thin` naming an earlier operation.
pub fn parse_ops(list: &str) -> Result<Vec<Op>, String> {
    let ops: Vec<Op> = list
        .split(',')
        .filter(|s| !s.is_empty())
        .take(MAX_OPS + 1)
        .map(Op::parse)
        .collect::<Result<_, _>>()?;
    if ops.is_empty() || ops.len() > MAX_OPS {
        return Err(format!("1..={MAX_OPS} operations, separated by commas"));
    }
    let total = ops.iter().fold(0usize, |t, o| t.saturating_add(o.bytes()));
    if total > MAX_BYTES {
        return Err(format!(
            "the operations allocate {total} bytes in all; at most {MAX_BYTES}"
        ));
    }
    Ok(ops)
}

// Each value is held only so that dropping it frees it.
#[allow(dead_code)]
enum Held {
    One(Box<[u8]>),
    Grown(Vec<u8>),
    Blocks(Vec<Box<[u8]>>),
}

/// The `ops` scenario: each operation between a `step` line and an `after` line.
///
/// Nothing the scenario itself needs is allocated between the operations: its lines are written
/// into one `String` and `/proc/self/status` is read into another, both sized before the first
/// operation, and the table of what is held has its room from the start. Otherwise a small block of
/// the program's own bookkeeping, made after an operation's blocks, would sit above them in the
/// heap (and glibc's per-thread cache keeps such blocks in use after they are freed), and the heap's
/// top could not be given back: the figures would show the scenario, not the operations.
pub fn run_ops(ops: &[Op]) -> Result<(), String> {
    use std::fmt::Write as _;
    use std::io::Read as _;
    let mut held: HashMap<&str, Held> = HashMap::with_capacity(ops.len());
    let mut text = String::with_capacity(16 << 10);
    let mut status = String::with_capacity(64 << 10);
    let kib = |field: &str, status: &mut String| -> u64 {
        status.clear();
        if let Ok(mut f) = std::fs::File::open("/proc/self/status") {
            let _ = f.read_to_string(status);
        }
        status
            .lines()
            .find_map(|l| {
                l.strip_prefix(field)?
                    .strip_prefix(':')?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    };
    for (i, op) in ops.iter().enumerate() {
        text.clear();
        let _ = write!(text, "step i={i} op=");
        let _ = match op {
            Op::Box(n, b) => write!(text, "box:{n}:{b}"),
            Op::Vec(n, b) => write!(text, "vec:{n}:{b}"),
            Op::Many(n, c, b) => write!(text, "many:{n}:{c}:{b}"),
            Op::Free(n) => write!(text, "free:{n}"),
            Op::Thin(n, k) => write!(text, "thin:{n}:{k}"),
            Op::Trim => write!(text, "trim"),
        };
        println!("{text}");
        match op {
            Op::Box(n, b) => {
                held.insert(n, Held::One(vec![1u8; *b].into_boxed_slice()));
            }
            Op::Vec(n, b) => {
                let chunk = [1u8; 64 << 10];
                let mut v = Vec::new();
                while v.len() < *b {
                    let take = chunk.len().min(*b - v.len());
                    v.extend_from_slice(&chunk[..take]);
                }
                held.insert(n, Held::Grown(v));
            }
            Op::Many(n, c, b) => {
                let mut blocks = Vec::with_capacity(*c);
                for _ in 0..*c {
                    blocks.push(vec![1u8; *b].into_boxed_slice());
                }
                held.insert(n, Held::Blocks(blocks));
            }
            Op::Free(n) => {
                if held.remove(n.as_str()).is_none() {
                    return Err(format!("free:{n}: nothing named {n} is held"));
                }
            }
            Op::Thin(n, k) => match held.get_mut(n.as_str()) {
                Some(Held::Blocks(blocks)) => {
                    let mut i = 0;
                    blocks.retain(|_| {
                        i += 1;
                        (i - 1) % k == 0
                    });
                    blocks.shrink_to_fit();
                }
                _ => return Err(format!("thin:{n}: no blocks named {n} are held")),
            },
            Op::Trim => {
                // SAFETY: malloc_trim has no preconditions.
                unsafe { libc::malloc_trim(0) };
            }
        }
        // SAFETY: mallinfo2 has no preconditions; it reads glibc's arenas under their locks.
        let m = unsafe { libc::mallinfo2() };
        let (rss, vsz) = (kib("VmRSS", &mut status), kib("VmSize", &mut status));
        text.clear();
        let _ = write!(
            text,
            "after i={i} rss_kib={rss} vsz_kib={vsz} heap_kib={} free_kib={} top_kib={} mmapped_kib={}",
            m.arena / 1024,
            m.fordblks / 1024,
            m.keepcost / 1024,
            m.hblkhd / 1024
        );
        println!("{text}");
    }
    drop(held);
    // Calls after this line (the exit's) belong to no operation.
    println!("done");
    Ok(())
}

/// The `touch` scenario: reserve `bytes` (one `Vec::with_capacity`), then write one byte into
/// every `every`-th page, with `samples` readings of resident memory and minor faults on the way.
/// With `thp`, the reservation is first marked `madvise(MADV_HUGEPAGE)`.
pub fn touch(bytes: usize, every: usize, samples: usize, thp: bool) -> Result<(), String> {
    let page = page_size();
    if bytes < page || bytes > MAX_BYTES || every == 0 || samples == 0 || samples > 10_000 {
        return Err(format!(
            "touch: bytes {page}..={MAX_BYTES}, every >= 1, samples 1..=10000"
        ));
    }
    let (rss0, vsz0) = (rss_kib(), vsz_kib());
    let mut v: Vec<u8> = Vec::with_capacity(bytes);
    let base = v.as_mut_ptr();
    let advised = if thp {
        let huge = 2usize << 20;
        let start = (base as usize).next_multiple_of(huge);
        let end = (base as usize + bytes) / huge * huge;
        // SAFETY: [start, end) lies inside the reservation this process owns; MADV_HUGEPAGE only
        // changes how the kernel backs it.
        end > start
            && unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE)
            } == 0
    } else {
        false
    };
    println!(
        "{}",
        Line::new("reserve")
            .field("bytes", bytes)
            .field("page", page)
            .field("rss_before_kib", rss0)
            .field("vsz_before_kib", vsz0)
            .field("rss_after_kib", rss_kib())
            .field("vsz_after_kib", vsz_kib())
            .field("advised_huge", u8::from(advised))
    );
    let pages = bytes / page;
    let to_touch = pages.div_ceil(every);
    let sample_every = to_touch.div_ceil(samples).max(1);
    let faults0 = minor_faults();
    let mut touched = 0usize;
    let sample = |touched: usize| {
        println!(
            "{}",
            Line::new("sample")
                .field("touched", touched)
                .field("rss_kib", rss_kib())
                .field("minflt", minor_faults() - faults0)
                .field(
                    "huge_kib",
                    proc_kib("/proc/self/smaps_rollup", "AnonHugePages")
                )
        );
    };
    sample(0);
    for p in (0..pages).step_by(every) {
        // SAFETY: p * page < bytes, inside the capacity of `v`; a byte of spare capacity may be
        // written through the pointer (the Vec's length stays 0).
        unsafe { base.add(p * page).write_volatile(1) };
        touched += 1;
        if touched.is_multiple_of(sample_every) || touched == to_touch {
            sample(touched);
        }
    }
    drop(v);
    Ok(())
}

/// The `zeroed` scenario: `bytes` of zeroed memory got four ways, each measured on its own (the
/// block is freed before the next): `calloc` alone, `calloc` then reading one byte per page,
/// `calloc` then writing one byte per page, and `malloc` then writing zeros over all of it.
pub fn zeroed(bytes: usize) -> Result<(), String> {
    let page = page_size();
    if bytes < page || bytes > MAX_BYTES {
        return Err(format!("zeroed: bytes {page}..={MAX_BYTES}"));
    }
    let layout = std::alloc::Layout::from_size_align(bytes, 16).map_err(|e| e.to_string())?;
    for mode in ["calloc", "calloc+read", "calloc+write", "malloc+memset"] {
        let (rss0, f0, t0) = (rss_kib(), minor_faults(), std::time::Instant::now());
        let zeroed = mode.starts_with("calloc");
        // SAFETY: `layout` has a non-zero size.
        let p = unsafe {
            if zeroed {
                std::alloc::alloc_zeroed(layout)
            } else {
                std::alloc::alloc(layout)
            }
        };
        if p.is_null() {
            return Err(format!("zeroed: {bytes} bytes could not be allocated"));
        }
        let mut sum = 0u64;
        match mode {
            "calloc+read" => {
                for off in (0..bytes).step_by(page) {
                    // SAFETY: off < bytes, inside the block; calloc's bytes are initialised.
                    sum += u64::from(unsafe { p.add(off).read_volatile() });
                }
            }
            "calloc+write" => {
                for off in (0..bytes).step_by(page) {
                    // SAFETY: off < bytes, inside the block.
                    unsafe { p.add(off).write_volatile(0) };
                }
            }
            "malloc+memset" => {
                // SAFETY: the block holds `bytes` writable bytes.
                unsafe { p.write_bytes(0, bytes) };
            }
            _ => {}
        }
        let ns = t0.elapsed().as_nanos();
        println!(
            "{}",
            Line::new("zeroed")
                .field("mode", mode)
                .field("rss_kib", rss_kib().saturating_sub(rss0))
                .field("minflt", minor_faults() - f0)
                .field("ns", ns)
                .field("sum", sum)
        );
        // SAFETY: `p` came from alloc/alloc_zeroed with this layout.
        unsafe { std::alloc::dealloc(p, layout) };
    }
    Ok(())
}

/// The `server` scenario: `ticks` rounds of `requests` blocks of 16 B to 8 KiB (a fixed
/// pseudo-random sequence); after each round all but `keep_per_mille` ‰ of them are freed and the
/// rest live on. A `tick` line after each round: the bytes still live, and resident memory.
pub fn server(ticks: usize, requests: usize, keep_per_mille: usize) -> Result<(), String> {
    if ticks == 0
        || ticks > 10_000
        || requests == 0
        || requests > 1_000_000
        || keep_per_mille > 1000
    {
        return Err(
            "server: ticks 1..=10000, requests 1..=1000000, keep_per_mille 0..=1000".into(),
        );
    }
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut kept: Vec<Box<[u8]>> = Vec::new();
    let mut live = 0usize;
    for t in 0..ticks {
        let mut round = Vec::with_capacity(requests);
        for _ in 0..requests {
            let size = 16 + (next() % 8176) as usize;
            round.push(vec![7u8; size].into_boxed_slice());
        }
        for b in round {
            if next() % 1000 < keep_per_mille as u64 && live.saturating_add(b.len()) <= MAX_BYTES {
                live += b.len();
                kept.push(b);
            }
        }
        println!(
            "{}",
            Line::new("tick")
                .field("t", t)
                .field("live_bytes", live)
                .field("rss_kib", rss_kib())
        );
    }
    drop(kept);
    println!(
        "{}",
        Line::new("tick")
            .field("t", ticks)
            .field("live_bytes", 0)
            .field("rss_kib", rss_kib())
    );
    Ok(())
}

/// glibc's own count of its arenas: the `<heap nr=` elements of `malloc_info(0, ...)`; `None` when
/// it could not be read (another allocator than glibc's answers for a glibc that is idle).
pub fn glibc_arenas() -> Option<usize> {
    let mut buf: *mut libc::c_char = std::ptr::null_mut();
    let mut len: libc::size_t = 0;
    // SAFETY: open_memstream writes the buffer's address and length into the two locals.
    let f = unsafe { libc::open_memstream(&mut buf, &mut len) };
    if f.is_null() {
        return None;
    }
    // SAFETY: `f` is an open stream.
    let ok = unsafe { libc::malloc_info(0, f) } == 0;
    // SAFETY: closing the stream makes `buf`/`len` final; `f` is not used afterwards.
    unsafe { libc::fclose(f) };
    if buf.is_null() {
        return None;
    }
    // SAFETY: after fclose, `buf` holds `len` bytes written by the stream.
    let text = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) };
    let count = String::from_utf8_lossy(text).matches("<heap nr=").count();
    // SAFETY: the stream's buffer is malloc'ed by libc and ours to free.
    unsafe { libc::free(buf.cast()) };
    ok.then_some(count)
}

/// The `threads` scenario: `threads` threads each allocate `blocks` blocks of `size` bytes, free
/// all but every 100th, and wait; while they wait, one `threads` line: resident and virtual size,
/// and glibc's arena count (0 under another allocator).
pub fn threads(n: usize, blocks: usize, size: usize) -> Result<(), String> {
    if n == 0
        || n > MAX_THREADS
        || blocks == 0
        || size == 0
        || blocks.saturating_mul(size).saturating_mul(n) > MAX_BYTES
    {
        return Err(format!(
            "threads: 1..={MAX_THREADS} threads, blocks and size >= 1, at most {MAX_BYTES} bytes in all"
        ));
    }
    let held = Arc::new(Barrier::new(n + 1));
    let done = Arc::new(Barrier::new(n + 1));
    let workers: Vec<_> = (0..n)
        .map(|_| {
            let (held, done) = (Arc::clone(&held), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut all: Vec<Box<[u8]>> = (0..blocks)
                    .map(|_| vec![3u8; size].into_boxed_slice())
                    .collect();
                let mut i = 0;
                all.retain(|_| {
                    i += 1;
                    (i - 1) % 100 == 0
                });
                held.wait();
                done.wait();
                all.len()
            })
        })
        .collect();
    held.wait();
    println!(
        "{}",
        Line::new("threads")
            .field("n", n)
            .field("rss_kib", rss_kib())
            .field("vsz_kib", vsz_kib())
            .field("arenas", glibc_arenas().unwrap_or(0))
    );
    done.wait();
    for w in workers {
        w.join()
            .map_err(|_| "a worker thread panicked".to_string())?;
    }
    Ok(())
}

/// Runs the scenario named by `scenario=` in `args`.
pub fn below_main(args: &[String]) -> Result<(), String> {
    use crate::arg;
    match arg(args, "scenario", String::new())?.as_str() {
        "ops" => run_ops(&parse_ops(&arg(args, "ops", String::new())?)?),
        "touch" => touch(
            arg(args, "bytes", 1usize << 30)?,
            arg(args, "every", 16usize)?,
            arg(args, "samples", 64usize)?,
            arg(args, "thp", 0u8)? == 1,
        ),
        "zeroed" => zeroed(arg(args, "bytes", 256usize << 20)?),
        "server" => server(
            arg(args, "ticks", 60usize)?,
            arg(args, "requests", 4000usize)?,
            arg(args, "keep_per_mille", 10usize)?,
        ),
        "threads" => threads(
            arg(args, "threads", 1usize)?,
            arg(args, "blocks", 10_000usize)?,
            arg(args, "size", 1024usize)?,
        ),
        other => Err(format!(
            "`scenario={other}` is not one of ops, touch, zeroed, server, threads"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_read_and_bounded() {
        assert_eq!(Op::parse("box:a:10"), Ok(Op::Box("a".into(), 10)));
        assert_eq!(Op::parse("many:b:3:4"), Ok(Op::Many("b".into(), 3, 4)));
        assert_eq!(Op::parse("trim"), Ok(Op::Trim));
        for bad in [
            "box:a:0",
            "box:a:-1",
            "box::1",
            "box:../x:1",
            "many:a:0:1",
            "thin:a:0",
            "nope",
            "many:a:1048577:1",
        ] {
            assert!(Op::parse(bad).is_err(), "{bad}");
        }
        assert!(parse_ops("").is_err());
        assert!(parse_ops(&vec!["trim"; MAX_OPS + 1].join(",")).is_err());
        assert!(parse_ops("box:a:2147483648,box:b:2").is_err());
        assert_eq!(parse_ops("box:a:1,free:a").map(|o| o.len()), Ok(2));
    }

    #[test]
    fn procfs_and_rusage_are_read() {
        assert!(rss_kib() > 0 && vsz_kib() >= rss_kib());
        assert_eq!(proc_kib("/proc/self/status", "NoSuchField"), 0);
        assert_eq!(proc_kib("/no/such/file", "VmRSS"), 0);
        let f = minor_faults();
        let v = vec![1u8; 8 << 20];
        assert!(minor_faults() > f, "8 MiB written make page faults");
        drop(v);
        assert!(glibc_arenas().is_some_and(|n| n >= 1));
    }
}
