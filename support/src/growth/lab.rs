//! Measurements made by the `growth_lab` example in a fresh child process with glibc's mmap
//! threshold pinned, so that the heap's history does not change the results (except in
//! [`grow_twice`], where the threshold's history is the lesson).
//!
//! The example and this module share the types: the example prints each [`GrowEvent`],
//! [`ReallocCost`] and [`FaultCount`] with `to_line`, and this module reads them back with
//! `from_line` (fields by key, see [`Line`]).

use std::fmt;
use std::str::FromStr;

use crate::infra::programs::{one_of, read_lines, run_example, Line};
use crate::limits::{within, MAX_CHILD_BYTES, MAX_CHILD_RUNS};
use crate::views::chart::Chart;
use crate::views::display::Table;

/// The environment every measurement runs with (glibc's dynamic mmap threshold disabled).
pub const PINNED: (&str, &str) = ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072");

/// The element types the `growth_lab` example can grow a `Vec` of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elem {
    /// `u8`: 1 byte, alignment 1.
    U8,
    /// `u64`: 8 bytes, alignment 8.
    U64,
    /// A 32-byte element with alignment 32 (std's `System` never uses `realloc` for it).
    Align32,
}

impl Elem {
    /// Every element type.
    pub const ALL: [Elem; 3] = [Elem::U8, Elem::U64, Elem::Align32];

    /// The name the example takes on its command line.
    pub fn name(self) -> &'static str {
        match self {
            Elem::U8 => "u8",
            Elem::U64 => "u64",
            Elem::Align32 => "align32",
        }
    }
}

impl fmt::Display for Elem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Elem {
    type Err = String;
    fn from_str(s: &str) -> Result<Elem, String> {
        one_of(&Elem::ALL, s)
    }
}

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
    /// Every place.
    pub const ALL: [Place; 3] = [Place::None, Place::Heap, Place::Mmap];

    /// The name the protocol uses.
    pub fn name(self) -> &'static str {
        match self {
            Place::None => "none",
            Place::Heap => "heap",
            Place::Mmap => "mmap",
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Place {
    type Err = String;
    fn from_str(s: &str) -> Result<Place, String> {
        one_of(&Place::ALL, s)
    }
}

/// How one reallocation was carried out, from what was observed (address, place, alignment) and
/// the code that decides it: std's `System::realloc` calls libc `realloc` only for alignments up
/// to `MIN_ALIGN` (`library/std/src/sys/alloc/unix.rs:52-58`), and glibc's `realloc` keeps a heap
/// chunk in place when it can, else moves it with `_int_malloc` + `memcpy` + free (glibc 2.36
/// `malloc.c:4882-4897`), and moves an mmapped chunk with `mremap` (`mremap_chunk`, 3068-3111),
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
    /// Element type.
    pub elem: Elem,
    /// Element alignment.
    pub align: usize,
    /// Capacity before (0 for the first allocation).
    pub old_cap: usize,
    /// Capacity after.
    pub new_cap: usize,
    /// Buffer bytes before.
    pub old_bytes: usize,
    /// Buffer bytes after.
    pub new_bytes: usize,
    /// True if the buffer's address changed (never for the first allocation).
    pub moved: bool,
    /// Where the old buffer was.
    pub old_place: Place,
    /// Where the new buffer is.
    pub new_place: Place,
    /// Nanoseconds the push that reallocated took.
    pub nanos: u64,
}

impl GrowEvent {
    /// The event as one line of the `growth_lab` protocol.
    pub fn to_line(&self) -> Line {
        Line::new("grow")
            .field("run", self.run)
            .field("elem", self.elem)
            .field("align", self.align)
            .field("old_cap", self.old_cap)
            .field("new_cap", self.new_cap)
            .field("old_bytes", self.old_bytes)
            .field("new_bytes", self.new_bytes)
            .field("moved", self.moved)
            .field("old_place", self.old_place)
            .field("new_place", self.new_place)
            .field("nanos", self.nanos)
    }

    /// Reads a line written by [`GrowEvent::to_line`].
    pub fn from_line(l: &Line) -> Result<GrowEvent, String> {
        Ok(GrowEvent {
            run: l.get("run")?,
            elem: l.get("elem")?,
            align: l.get("align")?,
            old_cap: l.get("old_cap")?,
            new_cap: l.get("new_cap")?,
            old_bytes: l.get("old_bytes")?,
            new_bytes: l.get("new_bytes")?,
            moved: l.get("moved")?,
            old_place: l.get("old_place")?,
            new_place: l.get("new_place")?,
            nanos: l.get("nanos")?,
        })
    }

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
                of.iter()
                    .map(|e| e.old_bytes)
                    .fold(0, usize::saturating_add)
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

impl ReallocCost {
    /// The measurement as one line of the `growth_lab` protocol.
    pub fn to_line(&self) -> Line {
        Line::new("realloc")
            .field("align", self.align)
            .field("size", self.size)
            .field("new_size", self.new_size)
            .field("moved", self.moved)
            .field("median_nanos", self.median_nanos)
    }

    /// Reads a line written by [`ReallocCost::to_line`].
    pub fn from_line(l: &Line) -> Result<ReallocCost, String> {
        Ok(ReallocCost {
            align: l.get("align")?,
            size: l.get("size")?,
            new_size: l.get("new_size")?,
            moved: l.get("moved")?,
            median_nanos: l.get("median_nanos")?,
        })
    }
}

/// Grows a real `Vec` of `elem` to `max_bytes` (1 byte to [`MAX_CHILD_BYTES`], checked before
/// the process starts) in a fresh process: every reallocation, the first allocation included.
pub fn trace(elem: Elem, max_bytes: usize) -> Result<Vec<GrowEvent>, String> {
    within("lab::trace: max_bytes", max_bytes, 1, MAX_CHILD_BYTES)?;
    let max = max_bytes.to_string();
    let out = run_example("growth_lab", &["trace", elem.name(), &max], &[PINNED]);
    if !out.success {
        return Err(format!("growth_lab trace failed: {}", out.stderr.trim()));
    }
    read_lines(&out.stdout, "grow", GrowEvent::from_line)
}

/// Times `realloc(s -> 2s)` for s = 4 KiB .. `max_bytes` with alignment `align`, in a fresh process.
///
/// Checked before the process starts: `align` a power of two up to 4096, `max_bytes` from 4096
/// to [`MAX_CHILD_BYTES`], `runs` from 1 to [`MAX_CHILD_RUNS`].
pub fn realloc_cost(
    align: usize,
    max_bytes: usize,
    runs: usize,
) -> Result<Vec<ReallocCost>, String> {
    if !align.is_power_of_two() || align > 4096 {
        return Err(format!(
            "lab::realloc_cost: alignment is {align}; give a power of two from 1 to 4096"
        ));
    }
    within(
        "lab::realloc_cost: max_bytes",
        max_bytes,
        4096,
        MAX_CHILD_BYTES,
    )?;
    within("lab::realloc_cost: runs", runs, 1, MAX_CHILD_RUNS)?;
    let (a, m, r) = (align.to_string(), max_bytes.to_string(), runs.to_string());
    let out = run_example("growth_lab", &["realloc-cost", &a, &m, &r], &[PINNED]);
    if !out.success {
        return Err(format!(
            "growth_lab realloc-cost failed: {}",
            out.stderr.trim()
        ));
    }
    read_lines(&out.stdout, "realloc", ReallocCost::from_line)
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

impl FaultCount {
    /// The measurement as one line of the `growth_lab` protocol.
    pub fn to_line(&self) -> Line {
        Line::new("faults")
            .field("align", self.align)
            .field("size", self.size)
            .field("new_size", self.new_size)
            .field("moved", self.moved)
            .field("old_place", self.old_place)
            .field("new_place", self.new_place)
            .field("minor_faults", self.minor_faults)
            .field("pages", self.pages)
    }

    /// Reads a line written by [`FaultCount::to_line`].
    pub fn from_line(l: &Line) -> Result<FaultCount, String> {
        Ok(FaultCount {
            align: l.get("align")?,
            size: l.get("size")?,
            new_size: l.get("new_size")?,
            moved: l.get("moved")?,
            old_place: l.get("old_place")?,
            new_place: l.get("new_place")?,
            minor_faults: l.get("minor_faults")?,
            pages: l.get("pages")?,
        })
    }
}

/// In a fresh process (threshold pinned), writes every page of a `size`-byte block with alignment
/// `align`, reallocates it to twice the size and counts the minor page faults of that one call:
/// a copy into a new block faults in its pages, `mremap` moves the pages and faults in none.
///
/// Checked before the process starts: `align` a power of two up to 4096, `size` from 4096 to
/// half of [`MAX_CHILD_BYTES`] (the block grows to twice its size).
pub fn page_faults(align: usize, size: usize) -> Result<FaultCount, String> {
    if !align.is_power_of_two() || align > 4096 {
        return Err(format!(
            "lab::page_faults: alignment is {align}; give a power of two from 1 to 4096"
        ));
    }
    within("lab::page_faults: size", size, 4096, MAX_CHILD_BYTES / 2)?;
    let (a, s) = (align.to_string(), size.to_string());
    let out = run_example("growth_lab", &["faults", &a, &s], &[PINNED]);
    if !out.success {
        return Err(format!("growth_lab faults failed: {}", out.stderr.trim()));
    }
    read_lines(&out.stdout, "faults", FaultCount::from_line)?
        .pop()
        .ok_or_else(|| format!("no `faults` line in: {}", out.stdout))
}

/// Grows a `Vec<u8>` to `max_bytes`, frees it, and grows it again, in one fresh process: with
/// glibc's dynamic mmap threshold (`pinned = false`), freeing the first run's mmapped buffer raises
/// the threshold (glibc 2.36 `malloc.c:3363-3374`), so the second run can stay in the heap; with
/// the threshold pinned, both runs behave alike. `max_bytes` must be 1 byte to half of
/// [`MAX_CHILD_BYTES`] (two runs; checked before the process starts).
pub fn grow_twice(pinned: bool, max_bytes: usize) -> Result<Vec<GrowEvent>, String> {
    within(
        "lab::grow_twice: max_bytes",
        max_bytes,
        1,
        MAX_CHILD_BYTES / 2,
    )?;
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
    read_lines(&out.stdout, "grow", GrowEvent::from_line)
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

/// What one trace adds up to: the growths after the first allocation, split into in place and
/// moved, the largest buffer and the slowest growth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceSummary {
    /// Element type (`None` for an empty trace).
    pub elem: Option<Elem>,
    /// Reallocations after the first allocation.
    pub growths: usize,
    /// Of those, how many moved the buffer.
    pub moved: usize,
    /// The largest buffer, in bytes.
    pub largest_bytes: usize,
    /// The slowest growth (after the first allocation), in nanoseconds.
    pub slowest_nanos: u64,
}

impl TraceSummary {
    /// Sums up one trace.
    pub fn of(run: &[GrowEvent]) -> TraceSummary {
        let growths: Vec<&GrowEvent> = run.iter().filter(|e| e.old_cap > 0).collect();
        TraceSummary {
            elem: run.first().map(|e| e.elem),
            growths: growths.len(),
            moved: growths.iter().filter(|e| e.moved).count(),
            largest_bytes: run.iter().map(|e| e.new_bytes).max().unwrap_or(0),
            slowest_nanos: growths.iter().map(|e| e.nanos).max().unwrap_or(0),
        }
    }

    /// Growths that kept the buffer's address.
    pub fn in_place(&self) -> usize {
        self.growths - self.moved
    }
}

/// One row per trace: element, growths, how many took each [`GrowPath`] after the first
/// allocation, the bytes they copied, the first buffer glibc mapped on its own, the largest buffer
/// and the slowest growth.
pub fn summary_table(runs: &[&[GrowEvent]]) -> Table {
    let mut t = Table::new([
        "element",
        "growths (after the first allocation)",
        "in place",
        "moved by realloc (memcpy)",
        "moved by mremap (no copy)",
        "moved by std's fallback (memcpy)",
        "bytes copied",
        "first mapped buffer",
        "largest buffer (MiB)",
        "slowest growth (µs)",
    ]);
    for run in runs {
        let s = TraceSummary::of(run);
        let counts = path_counts(run);
        let taken = |p: GrowPath| counts.iter().find(|c| c.0 == p).map_or(0, |c| c.1);
        let copied = counts.iter().map(|c| c.2).fold(0, usize::saturating_add);
        let first_mapped = run
            .iter()
            .find(|e| e.new_place == Place::Mmap)
            .map_or("none".to_string(), |e| format!("{} bytes", e.new_bytes));
        t.row([
            s.elem.map_or("-".to_string(), |e| e.to_string()),
            s.growths.to_string(),
            s.in_place().to_string(),
            taken(GrowPath::ReallocCopy).to_string(),
            taken(GrowPath::Mremap).to_string(),
            taken(GrowPath::FallbackCopy).to_string(),
            copied.to_string(),
            first_mapped,
            format!("{:.2}", s.largest_bytes as f64 / f64::from(1 << 20)),
            format!("{:.0}", s.slowest_nanos as f64 / 1000.0),
        ]);
    }
    t
}

/// Nanoseconds per reallocation against the new buffer size, log-log: one series per run and
/// [`GrowPath`] (the first allocation left out).
pub fn trace_chart(title: &str, runs: &[&[GrowEvent]]) -> Chart {
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

    fn grow(old_cap: usize, new_cap: usize, moved: bool, nanos: u64) -> GrowEvent {
        let place = |cap: usize| if cap == 0 { Place::None } else { Place::Heap };
        GrowEvent {
            run: 1,
            elem: Elem::U8,
            align: 1,
            old_cap,
            new_cap,
            old_bytes: old_cap,
            new_bytes: new_cap,
            moved,
            old_place: place(old_cap),
            new_place: place(new_cap),
            nanos,
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn lab_lines_round_trip_by_key() {
        let run = [
            grow(0, 8, false, 50),
            grow(8, 16, false, 100),
            grow(16, 32, true, 70),
        ];
        let text: String = run
            .iter()
            .map(|e| format!("{}\nnoise\n", e.to_line()))
            .collect();
        assert_eq!(
            read_lines(&text, "grow", GrowEvent::from_line),
            Ok(run.to_vec())
        );
        let r = ReallocCost {
            align: 32,
            size: 4096,
            new_size: 8192,
            moved: true,
            median_nanos: 4646,
        };
        assert_eq!(ReallocCost::from_line(&r.to_line()), Ok(r));
        let f = FaultCount {
            align: 8,
            size: 1 << 20,
            new_size: 2 << 20,
            moved: true,
            old_place: Place::Mmap,
            new_place: Place::Mmap,
            minor_faults: 0,
            pages: 256,
        };
        assert_eq!(FaultCount::from_line(&f.to_line()), Ok(f));
        let bad = Line::parse("grow run=1 elem=u16 old_cap=8").unwrap();
        assert!(GrowEvent::from_line(&bad).unwrap_err().contains("u16"));
        for e in Elem::ALL {
            assert_eq!(e.name().parse(), Ok(e));
        }
        let c = trace_chart("t", &[&run]);
        assert_eq!(c.series_list().len(), 2);
    }

    #[test]
    fn sizes_are_checked_before_a_process_starts() {
        let e = trace(Elem::U8, usize::MAX).unwrap_err();
        assert!(e.contains("max_bytes is 18446744073709551615"), "{e}");
        assert!(trace(Elem::U64, 0).unwrap_err().contains("max_bytes is 0"));
        assert!("String".parse::<Elem>().is_err());
        let e = realloc_cost(8, usize::MAX, 1).unwrap_err();
        assert!(e.contains("4096 ..= 134217728"), "{e}");
        assert!(realloc_cost(3, 8192, 1)
            .unwrap_err()
            .contains("power of two"));
        assert!(realloc_cost(8, 8192, 0).unwrap_err().contains("runs is 0"));
        assert!(page_faults(3, 4096).unwrap_err().contains("power of two"));
        assert!(page_faults(8, 100)
            .unwrap_err()
            .contains("4096 ..= 67108864"));
        assert!(page_faults(8, usize::MAX)
            .unwrap_err()
            .contains("size is 18446744073709551615"));
        assert!(grow_twice(true, 0).unwrap_err().contains("1 ..= 67108864"));
        assert!(grow_twice(false, usize::MAX)
            .unwrap_err()
            .contains("max_bytes is 18446744073709551615"));
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn paths_follow_address_place_and_alignment() {
        let mut t = vec![
            grow(0, 8, false, 100),
            grow(8, 16, false, 100),
            grow(16, 32, true, 70),
        ];
        let mut to_mmap = grow(131072, 262144, true, 900);
        to_mmap.new_place = Place::Mmap;
        let mut remap = grow(262144, 524288, true, 50);
        (remap.run, remap.old_place, remap.new_place) = (2, Place::Mmap, Place::Mmap);
        let mut fallback = grow(4, 8, true, 70);
        (fallback.elem, fallback.align) = (Elem::Align32, 32);
        (fallback.old_bytes, fallback.new_bytes) = (128, 256);
        t.extend([to_mmap, remap, fallback]);
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
        assert_eq!(counts[4], (GrowPath::FallbackCopy, 1, 128));
        assert_eq!(runs_summary(&t), [(1, 5, 3, 1), (2, 1, 1, 1)]);
        assert_eq!(trace_chart("t", &[&t]).series_list().len(), 4);
        for p in Place::ALL {
            assert_eq!(p.name().parse(), Ok(p));
        }
        assert!("nowhere".parse::<Place>().is_err());
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn summaries_leave_out_the_first_allocation() {
        let run = [
            grow(0, 8, false, 500),
            grow(8, 16, false, 100),
            grow(16, 32, true, 70),
        ];
        let s = TraceSummary::of(&run);
        assert_eq!((s.growths, s.moved, s.in_place()), (2, 1, 1));
        assert_eq!((s.largest_bytes, s.slowest_nanos), (32, 100));
        let empty = TraceSummary::of(&[]);
        assert_eq!(
            (empty.elem, empty.growths, empty.largest_bytes),
            (None, 0, 0)
        );
        let t = summary_table(&[&run, &[]]);
        assert_eq!(
            t.rows[0][..8],
            ["u8", "2", "1", "1", "0", "0", "16", "none"]
        );
        assert_eq!(t.rows[1][0], "-");
    }
}
