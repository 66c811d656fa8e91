//! Measurements made by the `growth_lab` example in a fresh child process with glibc's mmap
//! threshold pinned, so that the heap's history does not change the results.

use crate::infra::programs::run_example;
use crate::views::chart::Chart;

/// The environment every measurement runs with (glibc's dynamic mmap threshold disabled).
pub const PINNED: (&str, &str) = ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072");

/// Where glibc keeps a buffer: in its heap (`brk`), in a block of its own (`mmap`), or nowhere
/// (no buffer yet). Read in the child process from glibc's statistics (`mallinfo2().hblkhd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// No buffer (capacity 0).
    None,
    /// A chunk of glibc's heap.
    Heap,
    /// A block mapped on its own with `mmap`.
    Mmap,
}

impl Place {
    fn parse(s: &str) -> Option<Place> {
        match s {
            "none" => Some(Place::None),
            "heap" => Some(Place::Heap),
            "mmap" => Some(Place::Mmap),
            _ => None,
        }
    }
}

/// How one reallocation was carried out, from what was observed (address, place, alignment) and
/// the code that decides it: std's `System::realloc` calls libc `realloc` only for alignments up
/// to `MIN_ALIGN` (`library/std/src/sys/alloc/unix.rs:52-58`), and glibc's `realloc` keeps a heap
/// chunk in place when it can, else moves it with `_int_malloc` + `memcpy` + free (glibc 2.36
/// `malloc.c:4882-4897`), and moves an mmapped chunk with `mremap` (`mremap_chunk`, 3068-3107),
/// which moves pages, not bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrowPath {
    /// The first allocation (no old buffer).
    First,
    /// The address did not change: nothing was copied.
    InPlace,
    /// Moved by glibc's `realloc` out of a heap chunk: a new chunk (or the first mmap), `memcpy`
    /// of the old bytes, free.
    ReallocCopy,
    /// Moved by glibc's `realloc` from one mmapped block to another with `mremap`: no byte copied.
    Mremap,
    /// Alignment above `MIN_ALIGN`: std's `realloc_fallback` allocated a new block, copied and freed.
    FallbackCopy,
}

impl GrowPath {
    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            GrowPath::First => "first allocation",
            GrowPath::InPlace => "in place",
            GrowPath::ReallocCopy => "moved by realloc: memcpy",
            GrowPath::Mremap => "moved by mremap: no copy",
            GrowPath::FallbackCopy => "moved by std's fallback: memcpy",
        }
    }

    /// Whether this path copies the old bytes.
    pub fn copies(self) -> bool {
        matches!(self, GrowPath::ReallocCopy | GrowPath::FallbackCopy)
    }

    /// Every path, in table order.
    pub const ALL: [GrowPath; 5] = [
        GrowPath::First,
        GrowPath::InPlace,
        GrowPath::ReallocCopy,
        GrowPath::Mremap,
        GrowPath::FallbackCopy,
    ];
}

/// One reallocation of a real `Vec` during a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrowEvent {
    /// Which run in the process (1, or 2 for the second growth in [`grow_twice`]).
    pub run: usize,
    /// Element type (`u8`, `u64`, `align32`).
    pub elem: String,
    /// Element alignment.
    pub align: usize,
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
    /// Where the old buffer was.
    pub old_place: Place,
    /// Where the new buffer is.
    pub new_place: Place,
    /// Nanoseconds the push that reallocated took.
    pub nanos: u64,
}

impl GrowEvent {
    /// How this reallocation was carried out (see [`GrowPath`]).
    pub fn path(&self) -> GrowPath {
        if self.old_cap == 0 {
            GrowPath::First
        } else if !self.moved {
            GrowPath::InPlace
        } else if self.align > crate::system::MIN_ALIGN {
            GrowPath::FallbackCopy
        } else if self.old_place == Place::Mmap && self.new_place == Place::Mmap {
            GrowPath::Mremap
        } else {
            GrowPath::ReallocCopy
        }
    }
}

/// For each [`GrowPath`], how many reallocations of `run` took it, and the bytes they copied
/// (the old buffer's size for a copying path, 0 otherwise).
pub fn path_counts(run: &[GrowEvent]) -> Vec<(GrowPath, usize, usize)> {
    GrowPath::ALL
        .iter()
        .map(|&p| {
            let of: Vec<&GrowEvent> = run.iter().filter(|e| e.path() == p).collect();
            let copied = if p.copies() {
                of.iter().map(|e| e.old_bytes).sum()
            } else {
                0
            };
            (p, of.len(), copied)
        })
        .collect()
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
        .filter_map(|l| fields(l, "grow", 12))
        .filter_map(|f| {
            Some(GrowEvent {
                run: f[1].parse().ok()?,
                elem: f[2].clone(),
                align: f[3].parse().ok()?,
                old_cap: f[4].parse().ok()?,
                new_cap: f[5].parse().ok()?,
                old_bytes: f[6].parse().ok()?,
                new_bytes: f[7].parse().ok()?,
                moved: f[8] == "moved",
                old_place: Place::parse(&f[9])?,
                new_place: Place::parse(&f[10])?,
                nanos: f[11].parse().ok()?,
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

/// One `realloc(size -> 2 size)` of a block with every page written, and the minor page faults
/// the call caused (counted by `getrusage` in the child process).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultCount {
    /// Alignment of the block.
    pub align: usize,
    /// Size before.
    pub size: usize,
    /// Size after.
    pub new_size: usize,
    /// True if the address changed.
    pub moved: bool,
    /// Where the block was before.
    pub old_place: Place,
    /// Where it is after.
    pub new_place: Place,
    /// Minor page faults during the `realloc` call.
    pub minor_faults: i64,
    /// Pages of the old block (all written before the call).
    pub pages: usize,
}

/// Parses `faults ...` lines.
pub fn parse_faults(stdout: &str) -> Vec<FaultCount> {
    stdout
        .lines()
        .filter_map(|l| fields(l, "faults", 9))
        .filter_map(|f| {
            Some(FaultCount {
                align: f[1].parse().ok()?,
                size: f[2].parse().ok()?,
                new_size: f[3].parse().ok()?,
                moved: f[4] == "moved",
                old_place: Place::parse(&f[5])?,
                new_place: Place::parse(&f[6])?,
                minor_faults: f[7].parse().ok()?,
                pages: f[8].parse().ok()?,
            })
        })
        .collect()
}

/// In a fresh process (threshold pinned), writes every page of a `size`-byte block with alignment
/// `align`, reallocates it to twice the size and counts the minor page faults of that one call:
/// a copy into a new block faults in its pages, `mremap` moves the pages and faults in none.
/// `size` must be 4096 .. 1 GiB and `align` a power of two.
pub fn page_faults(align: usize, size: usize) -> Result<FaultCount, String> {
    if !align.is_power_of_two() || align > 4096 {
        return Err(format!(
            "alignment {align}: choose a power of two up to 4096"
        ));
    }
    if !(4096..=1 << 30).contains(&size) {
        return Err(format!("size {size}: choose 4096 bytes .. 1 GiB"));
    }
    let (a, s) = (align.to_string(), size.to_string());
    let out = run_example("growth_lab", &["faults", &a, &s], &[PINNED]);
    if !out.success {
        return Err(format!("growth_lab faults failed: {}", out.stderr.trim()));
    }
    parse_faults(&out.stdout)
        .pop()
        .ok_or_else(|| format!("no `faults` line in: {}", out.stdout))
}

/// Grows a `Vec<u8>` to `max_bytes`, frees it, and grows it again, in one fresh process: with
/// glibc's dynamic mmap threshold (`pinned = false`), freeing the first run's mmapped buffer raises
/// the threshold (glibc 2.36 `malloc.c:3363-3374`), so the second run can stay in the heap; with
/// the threshold pinned, both runs behave alike. `max_bytes` must be 1 .. 64 MiB.
pub fn grow_twice(pinned: bool, max_bytes: usize) -> Result<Vec<GrowEvent>, String> {
    if !(1..=64 << 20).contains(&max_bytes) {
        return Err(format!("max_bytes {max_bytes}: choose 1 byte .. 64 MiB"));
    }
    // An empty GLIBC_TUNABLES sets nothing: the threshold stays dynamic.
    let env = if pinned {
        PINNED
    } else {
        ("GLIBC_TUNABLES", "")
    };
    let m = max_bytes.to_string();
    let out = run_example("growth_lab", &["twice", &m], &[env]);
    if !out.success {
        return Err(format!("growth_lab twice failed: {}", out.stderr.trim()));
    }
    Ok(parse_trace(&out.stdout))
}

/// Per run of [`grow_twice`]: `(run, allocations and reallocations, moved, into an mmapped buffer)`.
pub fn runs_summary(events: &[GrowEvent]) -> Vec<(usize, usize, usize, usize)> {
    let mut runs: Vec<usize> = events.iter().map(|e| e.run).collect();
    runs.sort_unstable();
    runs.dedup();
    runs.iter()
        .map(|&r| {
            let of = events.iter().filter(|e| e.run == r);
            let (n, moved, mapped) = of.fold((0, 0, 0), |(n, m, p), e| {
                (
                    n + 1,
                    m + usize::from(e.moved),
                    p + usize::from(e.new_place == Place::Mmap),
                )
            });
            (r, n, moved, mapped)
        })
        .collect()
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
        for path in GrowPath::ALL.into_iter().filter(|p| *p != GrowPath::First) {
            let pts: Vec<(usize, u64)> = run
                .iter()
                .filter(|e| e.path() == path)
                .map(|e| (e.new_bytes, e.nanos.max(1)))
                .collect();
            if !pts.is_empty() {
                c = c.points(format!("Vec<{}>: {}", first.elem, path.label()), pts);
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn lab_output_parses() {
        let t = parse_trace(
            "grow 1 u8 1 0 8 0 8 in-place none heap 100\n\
             grow 1 u8 1 8 16 8 16 in-place heap heap 100\n\
             grow 1 u8 1 16 32 16 32 moved heap heap 70\n\
             grow 1 u8 1 131072 262144 131072 262144 moved heap mmap 900\n\
             grow 2 u8 1 262144 524288 262144 524288 moved mmap mmap 50\n\
             grow 1 align32 32 4 8 128 256 moved heap heap 70\nnoise\ngrow 1 u8 1 8 16 8 16 moved heap nowhere 1\n",
        );
        assert_eq!(t.len(), 6, "the line with an unknown place is skipped");
        assert!(!t[1].moved && t[2].moved);
        assert_eq!((t[2].old_bytes, t[2].new_bytes, t[2].nanos), (16, 32, 70));
        let paths: Vec<GrowPath> = t.iter().map(GrowEvent::path).collect();
        assert_eq!(
            paths,
            [
                GrowPath::First,
                GrowPath::InPlace,
                GrowPath::ReallocCopy,
                GrowPath::ReallocCopy,
                GrowPath::Mremap,
                GrowPath::FallbackCopy
            ]
        );
        let counts = path_counts(&t);
        assert_eq!(counts[2], (GrowPath::ReallocCopy, 2, 16 + 131072));
        assert_eq!(counts[3], (GrowPath::Mremap, 1, 0));
        assert_eq!(runs_summary(&t), [(1, 5, 3, 1), (2, 1, 1, 1)]);
        let r = parse_realloc_cost("realloc 32 4096 8192 moved 4646\n");
        assert_eq!(r[0].median_nanos, 4646);
        assert_eq!(r[0].align, 32);
        let f = parse_faults("faults 8 1048576 2097152 moved mmap mmap 0 256\n");
        assert_eq!(
            (f[0].minor_faults, f[0].pages, f[0].old_place),
            (0, 256, Place::Mmap)
        );
        let c = trace_chart("t", &[t]);
        assert_eq!(c.series_list().len(), 4);
    }

    #[test]
    fn bad_arguments_are_refused_before_any_process_starts() {
        assert!(page_faults(3, 4096).unwrap_err().contains("power of two"));
        assert!(page_faults(8, 100).unwrap_err().contains("4096"));
        assert!(page_faults(8, usize::MAX).unwrap_err().contains("GiB"));
        assert!(grow_twice(true, 0).unwrap_err().contains("64 MiB"));
        assert!(grow_twice(false, usize::MAX)
            .unwrap_err()
            .contains("64 MiB"));
    }
}
