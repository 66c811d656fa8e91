//! Measurements made by the `growth_lab` example in a fresh child process with glibc's mmap
//! threshold pinned, so that the heap's history does not change the results.
//!
//! The example and this module share the types: the example prints each [`GrowEvent`] and
//! [`ReallocCost`] with `to_line`, and this module reads them back with `from_line` (fields by
//! key, see [`Line`]).

use std::fmt;
use std::str::FromStr;

use crate::infra::programs::{one_of, read_lines, run_example, Line};
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

/// One reallocation of a real `Vec` during a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrowEvent {
    /// Element type.
    pub elem: Elem,
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
    /// Nanoseconds the push that reallocated took.
    pub nanos: u64,
}

impl GrowEvent {
    /// The event as one line of the `growth_lab` protocol.
    pub fn to_line(&self) -> Line {
        Line::new("grow")
            .field("elem", self.elem)
            .field("old_cap", self.old_cap)
            .field("new_cap", self.new_cap)
            .field("old_bytes", self.old_bytes)
            .field("new_bytes", self.new_bytes)
            .field("moved", self.moved)
            .field("nanos", self.nanos)
    }

    /// Reads a line written by [`GrowEvent::to_line`].
    pub fn from_line(l: &Line) -> Result<GrowEvent, String> {
        Ok(GrowEvent {
            elem: l.get("elem")?,
            old_cap: l.get("old_cap")?,
            new_cap: l.get("new_cap")?,
            old_bytes: l.get("old_bytes")?,
            new_bytes: l.get("new_bytes")?,
            moved: l.get("moved")?,
            nanos: l.get("nanos")?,
        })
    }
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

/// Grows a real `Vec` of `elem` to `max_bytes` in a fresh process: every reallocation, the first
/// allocation included.
pub fn trace(elem: Elem, max_bytes: usize) -> Result<Vec<GrowEvent>, String> {
    let max = max_bytes.to_string();
    let out = run_example("growth_lab", &["trace", elem.name(), &max], &[PINNED]);
    if !out.success {
        return Err(format!("growth_lab trace failed: {}", out.stderr.trim()));
    }
    read_lines(&out.stdout, "grow", GrowEvent::from_line)
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
    read_lines(&out.stdout, "realloc", ReallocCost::from_line)
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

/// One row per trace: element, growths, in place, moved, largest buffer, slowest growth.
pub fn summary_table(runs: &[&[GrowEvent]]) -> Table {
    let mut t = Table::new([
        "element",
        "growths (after the first allocation)",
        "in place",
        "moved",
        "largest buffer (MiB)",
        "slowest growth (µs)",
    ]);
    for run in runs {
        let s = TraceSummary::of(run);
        t.row([
            s.elem.map_or("-".to_string(), |e| e.to_string()),
            s.growths.to_string(),
            s.in_place().to_string(),
            s.moved.to_string(),
            format!("{:.2}", s.largest_bytes as f64 / f64::from(1 << 20)),
            format!("{:.0}", s.slowest_nanos as f64 / 1000.0),
        ]);
    }
    t
}

/// Nanoseconds per reallocation against the new buffer size, log-log, one series per run, with
/// moved and in-place reallocations as separate series.
pub fn trace_chart(title: &str, runs: &[&[GrowEvent]]) -> Chart {
    let mut c = Chart::new(title)
        .x_axis("buffer size after growth (bytes)")
        .y_axis("time of the push that grew it (ns)")
        .log_x()
        .log_y();
    for run in runs {
        let Some(first) = run.first() else { continue };
        let kept = |moved: bool| {
            run.iter()
                .filter(move |e| e.old_cap > 0 && e.moved == moved)
                .map(|e| (e.new_bytes, e.nanos.max(1)))
                .collect::<Vec<_>>()
        };
        let (moved, stayed) = (kept(true), kept(false));
        if !moved.is_empty() {
            c = c.points(format!("Vec<{}>: moved", first.elem), moved);
        }
        if !stayed.is_empty() {
            c = c.points(format!("Vec<{}>: in place", first.elem), stayed);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grow(old_cap: usize, new_cap: usize, moved: bool, nanos: u64) -> GrowEvent {
        GrowEvent {
            elem: Elem::U8,
            old_cap,
            new_cap,
            old_bytes: old_cap,
            new_bytes: new_cap,
            moved,
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
        let bad = Line::parse("grow elem=u16 old_cap=8").unwrap();
        assert!(GrowEvent::from_line(&bad).unwrap_err().contains("u16"));
        for e in Elem::ALL {
            assert_eq!(e.name().parse(), Ok(e));
        }
        let c = trace_chart("t", &[&run]);
        assert_eq!(c.series_list().len(), 2);
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
        assert_eq!(t.rows[0][..4], ["u8", "2", "1", "1"]);
        assert_eq!(t.rows[1][0], "-");
    }
}
