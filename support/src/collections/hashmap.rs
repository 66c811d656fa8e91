//! The hash table inside std's `HashMap`: hashbrown 0.16.1 (the version in std 1.95's
//! `library/Cargo.lock`). This module restates the rules of hashbrown's `src/raw/mod.rs` —
//! `capacity_to_buckets`, `bucket_mask_to_capacity`, `TableLayout::calculate_layout_for`,
//! `reserve_rehash_inner` — as plain functions, and the tests check them against the real
//! `hashbrown::HashMap` (every allocator call, through the recorder) and std's `HashMap`
//! (`capacity()`, and every call in the `collections_trace` example).

use std::fmt;
use std::path::PathBuf;

use crate::infra::std_source::{excerpt_in, SourceError, SourceView};

use crate::views::display::{callout, escape, Html};
use crate::views::palette::{self, Tone};

/// hashbrown's `Group::WIDTH`: the control bytes one probe reads at once. 16 with SSE2 on x86 and
/// x86_64, 8 with NEON on little-endian aarch64, else the generic `usize` word (8 on 64-bit);
/// Miri always gets the generic one (`src/control/group/mod.rs`).
pub const GROUP_WIDTH: usize = if cfg!(all(
    target_feature = "sse2",
    any(target_arch = "x86", target_arch = "x86_64"),
    not(miri)
)) {
    16
} else if cfg!(all(
    target_arch = "aarch64",
    target_feature = "neon",
    target_endian = "little",
    not(miri)
)) {
    8
} else {
    std::mem::size_of::<usize>()
};

/// The hashbrown version std 1.95 builds on (`library/Cargo.lock`), pinned in the support crate.
pub const HASHBROWN_VERSION: &str = "0.16.1";

/// hashbrown's source in the cargo registry (`$CARGO_HOME/registry/src/*/hashbrown-0.16.1`,
/// `CARGO_HOME` defaulting to `~/.cargo`), where cargo unpacked it to build the support crate.
pub fn hashbrown_source_dir() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let name = format!("hashbrown-{HASHBROWN_VERSION}");
    std::fs::read_dir(home.join("registry/src"))
        .ok()?
        .filter_map(Result::ok)
        .map(|index| index.path().join(&name))
        .find(|p| p.join("src/raw/mod.rs").is_file())
}

/// An item of hashbrown's source (e.g. `("src/raw/mod.rs", "fn capacity_to_buckets")`), shown
/// like a std excerpt, or a clear message if the registry copy is not found.
pub fn show_hashbrown(path: &str, item: &str) -> SourceView {
    let label = format!("hashbrown-{HASHBROWN_VERSION}");
    SourceView(match hashbrown_source_dir() {
        Some(root) => excerpt_in(&root, &label, path, item),
        None => Err(SourceError::FileNotFound {
            path: PathBuf::from(format!("$CARGO_HOME/registry/src/*/{label}/{path}")),
        }),
    })
}

/// Why a table size could not be computed (hashbrown reports these as capacity overflow).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashError(pub String);

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hash table: {}", self.0)
    }
}

impl std::error::Error for HashError {}

/// Buckets hashbrown allocates for `cap` entries of `entry_size` bytes (`capacity_to_buckets`):
/// tables for under 15 entries (`cap < 15`) get 4, 8 or 16 buckets (with a larger minimum for 1- to
/// 3-byte entries), so at least one bucket stays empty; from 15 entries on, `cap * 8 / 7` buckets
/// rounded up to a power of two (load factor 7/8). 0 entries need no table (0 buckets).
pub fn capacity_to_buckets(cap: usize, entry_size: usize) -> Result<usize, HashError> {
    if cap == 0 {
        return Ok(0);
    }
    if cap < 15 {
        let min_cap = match (GROUP_WIDTH, entry_size) {
            (16, 0..=1) => 14,
            (16, 2..=3) => 7,
            (8, 0..=1) => 7,
            _ => 3,
        };
        let cap = cap.max(min_cap);
        return Ok(if cap < 4 {
            4
        } else if cap < 8 {
            8
        } else {
            16
        });
    }
    let adjusted = cap
        .checked_mul(8)
        .ok_or_else(|| HashError(format!("capacity overflow: {cap} entries × 8 / 7")))?
        / 7;
    adjusted
        .checked_next_power_of_two()
        .ok_or_else(|| HashError(format!("capacity overflow: {adjusted} buckets")))
}

/// Entries a table of `buckets` buckets holds before it must grow (`bucket_mask_to_capacity`):
/// `buckets - 1` for tables of up to 8 buckets, 7/8 of the buckets from 16 buckets on (14 of 16).
pub fn capacity_of_buckets(buckets: usize) -> usize {
    let mask = buckets.saturating_sub(1);
    if mask < 8 {
        mask
    } else {
        ((mask + 1) / 8) * 7
    }
}

/// What one table allocation holds (`TableLayout::calculate_layout_for`): the entries first,
/// padding up to the control bytes' alignment, then one control byte per bucket plus
/// [`GROUP_WIDTH`] more, so that a probe reading a whole group never runs off the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableLayout {
    /// Bytes per entry (`size_of::<(K, V)>()`).
    pub entry_size: usize,
    /// Buckets (a power of two).
    pub buckets: usize,
    /// Entries it holds before growing.
    pub capacity: usize,
    /// `buckets × entry_size`: the entry slots.
    pub data_bytes: usize,
    /// Padding between the slots and the control bytes.
    pub padding: usize,
    /// `buckets + GROUP_WIDTH` control bytes.
    pub ctrl_bytes: usize,
    /// The whole allocation.
    pub total_bytes: usize,
    /// Its alignment: `max(align_of entry, GROUP_WIDTH)`.
    pub align: usize,
}

/// The layout of a table of `buckets` buckets (a power of two) for entries of `entry_size` bytes
/// and alignment `entry_align`.
pub fn table_layout(
    buckets: usize,
    entry_size: usize,
    entry_align: usize,
) -> Result<TableLayout, HashError> {
    if !buckets.is_power_of_two() {
        return Err(HashError(format!(
            "{buckets} buckets: a table has a power of two"
        )));
    }
    if !entry_align.is_power_of_two() || !entry_size.is_multiple_of(entry_align) {
        return Err(HashError(format!(
            "entry size {entry_size} and alignment {entry_align} are not a Rust type's layout"
        )));
    }
    let align = entry_align.max(GROUP_WIDTH);
    let overflow = || HashError(format!("capacity overflow: {buckets} buckets"));
    let data = entry_size.checked_mul(buckets).ok_or_else(overflow)?;
    let ctrl_offset = data.checked_add(align - 1).ok_or_else(overflow)? & !(align - 1);
    let ctrl = buckets.checked_add(GROUP_WIDTH).ok_or_else(overflow)?;
    let total = ctrl_offset.checked_add(ctrl).ok_or_else(overflow)?;
    if total > isize::MAX as usize - (align - 1) {
        return Err(overflow());
    }
    Ok(TableLayout {
        entry_size,
        buckets,
        capacity: capacity_of_buckets(buckets),
        data_bytes: data,
        padding: ctrl_offset - data,
        ctrl_bytes: ctrl,
        total_bytes: total,
        align,
    })
}

/// The table `with_capacity(cap)` allocates (`None` for 0: no allocation).
pub fn table_for_capacity(
    cap: usize,
    entry_size: usize,
    entry_align: usize,
) -> Result<Option<TableLayout>, HashError> {
    match capacity_to_buckets(cap, entry_size)? {
        0 => Ok(None),
        b => table_layout(b, entry_size, entry_align).map(Some),
    }
}

/// One growth of a table filled by inserts of new keys, one at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashGrowth {
    /// Entries in the table when the insert that grew it arrived (the new table is allocated,
    /// the old entries re-inserted, then the old table freed).
    pub len_before: usize,
    /// The new table.
    pub table: TableLayout,
}

/// The tables a map grown from empty by `inserts` inserts of distinct keys allocates, in order
/// (`insert` → `reserve(1)` → `reserve_rehash_inner` → `resize_inner(max(items + 1,
/// capacity + 1))` when no room is left). The loop runs once per growth (at most about 60).
pub fn growth_sequence(
    inserts: usize,
    entry_size: usize,
    entry_align: usize,
) -> Result<Vec<HashGrowth>, HashError> {
    let mut out = Vec::new();
    let mut capacity = 0usize;
    while capacity < inserts {
        let want = capacity
            .checked_add(1)
            .ok_or_else(|| HashError("capacity overflow".into()))?;
        let buckets = capacity_to_buckets(want, entry_size)?;
        let table = table_layout(buckets, entry_size, entry_align)?;
        out.push(HashGrowth {
            len_before: capacity,
            table,
        });
        capacity = table.capacity;
    }
    Ok(out)
}

/// A map's allocation as a proportional bar: entry slots (used and free), padding, control bytes
/// and the trailing group, each labelled with its bytes (amounts, in the order of the layout; the
/// used slots themselves are spread over the table by hash).
///
/// A `len` above what the table holds (its capacity, 7/8 of the buckets from 16 on), or a layout
/// whose parts do not add up (one built by hand), is drawn as a message that says so.
pub fn table_picture(title: &str, t: &TableLayout, len: usize) -> Html {
    let width = 760.0;
    let total = t.total_bytes.max(1) as f64;
    let cap = capacity_of_buckets(t.buckets);
    if len > cap {
        return callout(
            Tone::Warning,
            &format!(
                "{title}: {len} entries do not fit a table of {} buckets, which holds {cap}",
                t.buckets
            ),
        );
    }
    let Some(used) = len.checked_mul(t.entry_size).filter(|&u| u <= t.data_bytes) else {
        return callout(
            Tone::Warning,
            &format!(
                "{title}: {len} entries of {} B do not fit the layout's {} data bytes (a layout built by hand?)",
                t.entry_size, t.data_bytes
            ),
        );
    };
    let parts = [
        (
            "entries in use",
            used,
            palette::BLUE,
            format!("{len} × {} B", t.entry_size),
        ),
        (
            "free slots",
            t.data_bytes - used,
            palette::BLUE.lighten(0.6),
            format!("{} × {} B", t.buckets - len, t.entry_size),
        ),
        (
            "padding",
            t.padding,
            palette::BLACK.lighten(0.87),
            format!("{} B", t.padding),
        ),
        (
            "control bytes",
            t.buckets,
            palette::ORANGE,
            format!("{} × 1 B", t.buckets),
        ),
        (
            "trailing group",
            GROUP_WIDTH,
            palette::VERMILLION,
            format!("{GROUP_WIDTH} B"),
        ),
    ];
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"190\" font-family=\"sans-serif\" font-size=\"12\"><text x=\"8\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{}</text>",
        width + 20.0,
        escape(title)
    );
    // Every part gets at least 6 px so that small ones stay visible; the rest is proportional.
    let min_px = 6.0;
    let shown: Vec<_> = parts.iter().filter(|p| p.1 > 0).collect();
    let spare = width - min_px * shown.len() as f64;
    let mut x = 10.0;
    for (i, (name, bytes, colour, detail)) in shown.iter().enumerate() {
        let w = min_px + spare * (*bytes as f64 / total);
        svg += &format!(
            "<rect x=\"{x:.1}\" y=\"40\" width=\"{w:.1}\" height=\"50\" fill=\"{colour}\" stroke=\"white\"/>"
        );
        let ly = 110 + 16 * i;
        svg += &format!(
            "<rect x=\"10\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"28\" y=\"{}\">{}: {} B ({detail})</text>",
            ly - 10,
            ly,
            name,
            bytes
        );
        x += w;
    }
    svg += &format!(
        "<text x=\"10\" y=\"36\">one allocation of {} B, align {}: {} buckets, capacity {}, {} in use (widths show amounts; used slots are scattered by hash)</text></svg>",
        t.total_bytes, t.align, t.buckets, t.capacity, len
    );
    Html(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocators::recording::{EventKind, RecordingAllocator};
    use crate::collections::tracer::trace;

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn rules_match_the_source_comments() {
        // hashbrown's own table in capacity_to_buckets (16-byte groups, 1-byte entries):
        // capacity 14 -> 16 buckets; then 7/8 load.
        if GROUP_WIDTH == 16 {
            assert_eq!(capacity_to_buckets(1, 1), Ok(16));
            assert_eq!(capacity_to_buckets(1, 2), Ok(8));
        }
        assert_eq!(capacity_to_buckets(1, 16), Ok(4));
        assert_eq!(capacity_to_buckets(4, 16), Ok(8));
        assert_eq!(capacity_to_buckets(14, 16), Ok(16));
        assert_eq!(capacity_to_buckets(15, 16), Ok(32)); // 15 * 8 / 7 = 17
        assert_eq!(capacity_to_buckets(28, 16), Ok(32));
        assert_eq!(capacity_to_buckets(1000, 16), Ok(2048)); // 1142 -> 2048
        assert_eq!(capacity_to_buckets(0, 16), Ok(0));
        assert!(capacity_to_buckets(usize::MAX, 16).is_err());
        assert!(table_for_capacity(usize::MAX / 8, 16, 8).is_err());
        assert_eq!(
            [2, 4, 8, 16, 32, 1024].map(capacity_of_buckets),
            [1, 3, 7, 14, 28, 896]
        );
        let t = table_layout(1024, 16, 8).unwrap();
        assert_eq!(t.total_bytes, 16 * 1024 + 1024 + GROUP_WIDTH);
        assert_eq!(t.padding, 0);
        let odd = table_layout(4, 12, 4).unwrap(); // 48 data bytes, control bytes aligned
        assert_eq!(
            odd.data_bytes + odd.padding,
            48_usize.next_multiple_of(GROUP_WIDTH)
        );
        assert!(table_layout(3, 16, 8).is_err());
        assert!(table_layout(0, 16, 8).is_err());
        assert!(table_layout(1 << 62, 16, 8).is_err());
        assert!(table_layout(4, 16, 3).is_err());
        let seq = growth_sequence(1000, 16, 8).unwrap();
        let caps: Vec<usize> = seq.iter().map(|g| g.table.capacity).collect();
        assert_eq!(caps, [3, 7, 14, 28, 56, 112, 224, 448, 896, 1792]);
        assert_eq!(seq[3].len_before, 14);
        assert!(growth_sequence(0, 16, 8).unwrap().is_empty());
        let huge = growth_sequence(usize::MAX, 16, 8);
        assert!(
            huge.is_err(),
            "ends in a capacity overflow, never loops forever"
        );
        // Every hashbrown excerpt chapter 6 shows is found in the registry copy cargo built.
        for (path, item, needle) in [
            ("src/raw/mod.rs", "fn capacity_to_buckets", "adjusted_cap"),
            ("src/raw/mod.rs", "fn bucket_mask_to_capacity", "/ 8) * 7"),
            ("src/raw/mod.rs", "fn calculate_layout_for", "Group::WIDTH"),
            (
                "src/raw/mod.rs",
                "unsafe fn reserve_rehash_inner",
                "full_capacity + 1",
            ),
            (
                "src/control/tag.rs",
                "pub(crate) const fn full",
                "top 7 bits",
            ),
        ] {
            let view = show_hashbrown(path, item);
            let e = view.excerpt().unwrap_or_else(|| panic!("{item}: {view}"));
            assert!(e.text().contains(needle), "{item}");
            assert!(e.path.starts_with("hashbrown-0.16.1/"));
        }
        assert!(show_hashbrown("src/raw/mod.rs", "fn no_such_fn")
            .excerpt()
            .is_none());
        let pic = table_picture("t", &t, 700).0;
        assert!(pic.contains("700 × 16 B") && pic.contains("control bytes"));
    }

    #[test]
    fn hashbrown_allocates_exactly_the_modelled_tables() {
        let rec = RecordingAllocator::new();
        let n = if cfg!(miri) { 60 } else { 2000 };
        let t = trace(
            "hashbrown HashMap<u64, u64>",
            n,
            Some(&rec),
            || hashbrown::HashMap::<u64, u64, _, _>::new_in(&rec),
            |m, i| {
                m.insert(i as u64, i as u64);
            },
        )
        .unwrap();
        let model = growth_sequence(n, 16, 8).unwrap();
        assert_eq!(
            t.capacities(),
            model.iter().map(|g| g.table.capacity).collect::<Vec<_>>()
        );
        // Each growth: allocate the new table, then free the old one (never `grow`/realloc).
        let ev = rec.events();
        let allocs: Vec<usize> = ev
            .iter()
            .filter(|e| e.kind == EventKind::Alloc)
            .map(|e| e.size)
            .collect();
        let want: Vec<usize> = model.iter().map(|g| g.table.total_bytes).collect();
        assert_eq!(allocs, want);
        assert!(ev
            .iter()
            .all(|e| matches!(e.kind, EventKind::Alloc | EventKind::Dealloc)));
        assert!(ev.iter().all(|e| e.align == GROUP_WIDTH.max(8)));
        // The regrowth happens on the insert that finds no room: at len = old capacity.
        let grew_at: Vec<usize> = t.regrowth_lengths();
        let model_at: Vec<usize> = model[1..].iter().map(|g| g.len_before + 1).collect();
        assert_eq!(grew_at, model_at);
        assert!(rec.stats().balanced());
    }

    #[test]
    fn with_capacity_allocates_once() {
        let rec = RecordingAllocator::new();
        let n = if cfg!(miri) { 20 } else { 800 };
        {
            let mut m = hashbrown::HashMap::with_capacity_in(n, &rec);
            for i in 0..n as u64 {
                m.insert(i, i);
            }
            let t = table_for_capacity(n, 16, 8).unwrap().unwrap();
            assert_eq!(m.capacity(), t.capacity);
            assert_eq!(rec.stats().allocs, 1);
            assert_eq!(rec.events()[0].size, t.total_bytes);
            assert_eq!(m.allocation_size(), t.total_bytes);
        }
        assert!(rec.stats().balanced());
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn std_hashmap_has_the_same_capacities() {
        let n = 5000;
        let t = trace(
            "std HashMap<u64, u64>",
            n,
            None,
            std::collections::HashMap::<u64, u64>::new,
            |m, i| {
                m.insert(i as u64, i as u64);
            },
        )
        .unwrap();
        let model: Vec<usize> = growth_sequence(n, 16, 8)
            .unwrap()
            .iter()
            .map(|g| g.table.capacity)
            .collect();
        assert_eq!(t.capacities(), model);
        for cap in [1, 3, 7, 15, 100, 800, 1000] {
            let m = std::collections::HashMap::<u64, u64>::with_capacity(cap);
            assert_eq!(
                m.capacity(),
                table_for_capacity(cap, 16, 8).unwrap().unwrap().capacity,
                "{cap}"
            );
        }
        let bytes = std::collections::HashMap::<u8, u8>::with_capacity(1).capacity();
        assert_eq!(
            bytes,
            capacity_of_buckets(capacity_to_buckets(1, 2).unwrap())
        );
    }
}
