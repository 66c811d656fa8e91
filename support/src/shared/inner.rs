//! The one block behind an `Rc<T>` or an `Arc<T>`: a strong count, a weak count and the value.
//!
//! std declares it as (Rust 1.95, `alloc/src/rc.rs`; `ArcInner` in `sync.rs` is the same with
//! atomic counts and the value called `data`):
//!
//! ```text
//! #[repr(C, align(2))]
//! struct RcInner<T: ?Sized> { strong: Cell<usize>, weak: Cell<usize>, value: T }
//! ```
//!
//! The struct is private, so [`InnerMirror`] copies its declaration to measure it, and the tests
//! check the copy against std's own layout rule (`rc_inner_layout_for_value_layout`: the two
//! counts, extended by the value's layout, padded) and against live `Rc`s and `Arc`s.
//!
//! [`inspect_rc`] and [`inspect_arc`] read a live pointer in place: the value's address, where the
//! block starts (the value's address minus the value's offset in the block), and the two counts
//! as they are stored in the block, next to what `strong_count` and `weak_count` report. While a
//! strong pointer lives, the weak count in the block is one more than `weak_count`: the strong
//! pointers together hold one weak reference, which keeps the block alive while the value is being
//! dropped.

use std::alloc::Layout;
use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::layout::{Field, LayoutReport, LayoutReportError};
use crate::views::display::{emit, Table};

/// A copy of std's `RcInner<T>` declaration (`#[repr(C, align(2))]`, two `usize` counts, then the
/// value), used to measure the block for any sized `T`. std's `ArcInner<T>` has the same layout:
/// its counts are `AtomicUsize`, of the same size and alignment as `usize`.
#[repr(C, align(2))]
#[derive(Debug)]
pub struct InnerMirror<T: ?Sized> {
    /// The number of `Rc`s.
    pub strong: Cell<usize>,
    /// The number of `Weak`s, plus one held by all the `Rc`s together while any lives.
    pub weak: Cell<usize>,
    /// The shared value.
    pub value: T,
}

/// Where the value sits in the block, and how big the block is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InnerLayout {
    /// `size_of_val` of the value.
    pub value_size: usize,
    /// `align_of_val` of the value.
    pub value_align: usize,
    /// Bytes from the block's start to the value (the two counts, then padding up to the value's
    /// alignment).
    pub value_offset: usize,
    /// The size of the block the allocator is asked for.
    pub block_size: usize,
    /// The block's alignment.
    pub block_align: usize,
}

impl InnerLayout {
    /// Bytes of the block that are neither counts nor value: padding before and after the value.
    pub fn padding(&self) -> usize {
        self.block_size
            .saturating_sub(2 * std::mem::size_of::<usize>())
            .saturating_sub(self.value_size)
    }
}

/// The block for a value of layout `value`, by std's rule (`rc_inner_layout_for_value_layout` in
/// `rc.rs`, `arcinner_layout_for_value_layout` in `sync.rs`): the layout of the two counts,
/// extended by the value's layout, padded to its alignment. An error when the block would not fit
/// in `isize::MAX` bytes (std would panic there).
pub fn inner_layout_for(value: Layout) -> Result<InnerLayout, String> {
    let (block, offset) = Layout::new::<InnerMirror<()>>()
        .extend(value)
        .map_err(|_| {
            format!(
                "a value of {} bytes aligned to {} does not fit in one block with its counts \
                 (at most isize::MAX bytes)",
                value.size(),
                value.align()
            )
        })?;
    let block = block.pad_to_align();
    Ok(InnerLayout {
        value_size: value.size(),
        value_align: value.align(),
        value_offset: offset,
        block_size: block.size(),
        block_align: block.align(),
    })
}

/// The block of an `Rc<T>` (or `Arc<T>`) for a sized `T`.
pub fn inner_layout<T>() -> InnerLayout {
    inner_layout_for(Layout::new::<T>()).expect("a sized type's block always fits")
}

/// A layout report (chapter 1's byte map and table) of the block of an `Rc<T>` for a sized `T`:
/// `strong`, `weak`, then `value`, with the padding between and after shown.
pub fn inner_report<T>(name: &str) -> Result<LayoutReport, LayoutReportError> {
    LayoutReport::of::<InnerMirror<T>>(
        name,
        vec![
            Field::of::<usize>("strong", std::mem::offset_of!(InnerMirror<T>, strong)),
            Field::of::<usize>("weak", std::mem::offset_of!(InnerMirror<T>, weak)),
            Field::of::<T>("value", std::mem::offset_of!(InnerMirror<T>, value)),
        ],
    )
}

/// A table of the block's layout for several values: one row per `(name, layout)`.
pub fn layouts_table(rows: &[(&str, InnerLayout)]) -> Table {
    let mut t = Table::new([
        "T",
        "value size",
        "value align",
        "value offset",
        "block size",
        "block align",
        "padding",
    ])
    .caption("The block behind Rc<T> / Arc<T>: two usize counts, then the value");
    for (name, l) in rows {
        t.row([
            name.to_string(),
            l.value_size.to_string(),
            l.value_align.to_string(),
            l.value_offset.to_string(),
            l.block_size.to_string(),
            l.block_align.to_string(),
            l.padding().to_string(),
        ]);
    }
    t
}

/// A live `Rc` or `Arc` read in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveBlock {
    /// `"Rc"` or `"Arc"`.
    pub pointer: &'static str,
    /// Bytes of the pointer itself (8 for a sized `T`, 16 for a slice, `str` or `dyn`).
    pub handle_size: usize,
    /// The value's address (`Rc::as_ptr`).
    pub value_addr: usize,
    /// Where the block starts: the value's address minus [`InnerLayout::value_offset`].
    pub block_addr: usize,
    /// The block's layout, from the value's `size_of_val` and `align_of_val`.
    pub layout: InnerLayout,
    /// The first count, read from the block's first word.
    pub strong_in_block: usize,
    /// The second count, read from the block's second word.
    pub weak_in_block: usize,
    /// What `Rc::strong_count` (`Arc::strong_count`) reports.
    pub strong_count: usize,
    /// What `Rc::weak_count` (`Arc::weak_count`) reports.
    pub weak_count: usize,
}

impl LiveBlock {
    /// True when the words read from the block agree with the counts the API reports: the same
    /// strong count, and a weak word one above `weak_count` (the weak reference the strong
    /// pointers hold together).
    pub fn counts_agree(&self) -> bool {
        self.strong_in_block == self.strong_count
            && self.weak_in_block == self.weak_count.saturating_add(1)
    }
}

/// Reads a live `Rc` in place: addresses, the block's layout, its two count words, and the counts
/// `Rc::strong_count` and `Rc::weak_count` report. Works for unsized `T` (`str`, slices, `dyn`).
pub fn inspect_rc<T: ?Sized>(rc: &Rc<T>) -> LiveBlock {
    let value = Rc::as_ptr(rc);
    // SAFETY: `value` points at the live value of `rc` (it lives as long as `rc` is borrowed).
    let layout = inner_layout_for(Layout::for_value(unsafe { &*value }))
        .expect("a live Rc's block fits in memory");
    // SAFETY: the value sits `value_offset` bytes into its block (std's layout rule, checked by the
    // tests against the allocator's view), so the block's two count words are in the same
    // allocation, and `Rc::as_ptr` keeps the provenance of the whole block. The counts are
    // `Cell<usize>` and nothing writes them during these two reads (an `Rc` is not `Send`, and
    // `rc` is borrowed here).
    let (strong, weak) = unsafe {
        let block = value.cast::<u8>().sub(layout.value_offset).cast::<usize>();
        (block.read(), block.add(1).read())
    };
    LiveBlock {
        pointer: "Rc",
        handle_size: std::mem::size_of_val(rc),
        value_addr: value.cast::<u8>() as usize,
        block_addr: (value.cast::<u8>() as usize) - layout.value_offset,
        layout,
        strong_in_block: strong,
        weak_in_block: weak,
        strong_count: Rc::strong_count(rc),
        weak_count: Rc::weak_count(rc),
    }
}

/// [`inspect_rc`] for an `Arc`: the counts are atomics, read with `Relaxed` loads (another thread
/// may change them between the reads; the tests read them while no other thread holds the `Arc`).
pub fn inspect_arc<T: ?Sized>(arc: &Arc<T>) -> LiveBlock {
    let value = Arc::as_ptr(arc);
    // SAFETY: `value` points at the live value of `arc`.
    let layout = inner_layout_for(Layout::for_value(unsafe { &*value }))
        .expect("a live Arc's block fits in memory");
    // SAFETY: as in `inspect_rc`; the counts are `AtomicUsize` (same size and alignment as
    // `usize`), read through atomic loads since other threads may update them.
    let (strong, weak) = unsafe {
        let block = value
            .cast::<u8>()
            .sub(layout.value_offset)
            .cast::<AtomicUsize>();
        (
            (*block).load(Ordering::Relaxed),
            (*block.add(1)).load(Ordering::Relaxed),
        )
    };
    LiveBlock {
        pointer: "Arc",
        handle_size: std::mem::size_of_val(arc),
        value_addr: value.cast::<u8>() as usize,
        block_addr: (value.cast::<u8>() as usize) - layout.value_offset,
        layout,
        strong_in_block: strong,
        weak_in_block: weak,
        strong_count: Arc::strong_count(arc),
        weak_count: Arc::weak_count(arc),
    }
}

/// One row per live pointer: addresses relative to the block's start, the layout, and the counts
/// from the block beside the counts from the API.
pub fn live_table(rows: &[(&str, LiveBlock)]) -> Table {
    let mut t = Table::new([
        "pointer",
        "handle (bytes)",
        "block addr % align",
        "value at block +",
        "block size / align",
        "strong: block / strong_count",
        "weak: block / weak_count",
        "agree (weak word = weak_count + 1)",
    ])
    .caption("Live pointers read in place (the two words at the block's start)");
    for (name, b) in rows {
        t.row([
            name.to_string(),
            b.handle_size.to_string(),
            (b.block_addr % b.layout.block_align).to_string(),
            b.layout.value_offset.to_string(),
            format!("{} / {}", b.layout.block_size, b.layout.block_align),
            format!("{} / {}", b.strong_in_block, b.strong_count),
            format!("{} / {}", b.weak_in_block, b.weak_count),
            b.counts_agree().to_string(),
        ]);
    }
    t
}

impl fmt::Display for LiveBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: value at {:#x}, block at {:#x} (value at +{}), block {} B aligned to {}, \
             strong {} in the block / {} from strong_count, weak {} in the block / {} from weak_count",
            self.pointer,
            self.value_addr,
            self.block_addr,
            self.layout.value_offset,
            self.layout.block_size,
            self.layout.block_align,
            self.strong_in_block,
            self.strong_count,
            self.weak_in_block,
            self.weak_count
        )
    }
}

impl LiveBlock {
    /// Shows the reading as a one-row table in an evcxr cell.
    pub fn evcxr_display(&self) {
        emit("text/html", &live_table(&[("", self.clone())]).to_html());
    }
}

/// What happened to the blocks of some `Rc`s when they were dropped ([`drop_and_watch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AfterDrop {
    /// Distinct blocks watched.
    pub blocks: usize,
    /// Their bytes.
    pub bytes: usize,
    /// Blocks still allocated after the handles were dropped: some `Rc` or `Weak` other than the
    /// watcher still points at them.
    pub blocks_left: usize,
    /// Their bytes.
    pub bytes_left: usize,
}

/// Drops `handles` and reports which of their blocks were freed, exactly and without the
/// allocator's help: before the drop, one `Weak` watches each distinct block; after it, a block
/// whose strong word is 0 and whose weak word is 1 (the watcher's own) is one the watcher alone
/// keeps, so its bytes came back when the watcher goes; any other block is still held by
/// something else (a cycle of `Rc`s, a stray `Weak`).
pub fn drop_and_watch<T>(handles: Vec<Rc<T>>) -> AfterDrop {
    let mut watched: Vec<(std::rc::Weak<T>, usize)> = Vec::with_capacity(handles.len());
    for h in &handles {
        if watched
            .iter()
            .all(|(w, _)| !std::ptr::eq(w.as_ptr(), Rc::as_ptr(h)))
        {
            watched.push((Rc::downgrade(h), inspect_rc(h).layout.block_size));
        }
    }
    drop(handles);
    let mut after = AfterDrop {
        blocks: watched.len(),
        bytes: watched.iter().map(|(_, size)| size).sum(),
        blocks_left: 0,
        bytes_left: 0,
    };
    for (w, size) in &watched {
        let value = w.as_ptr();
        let offset = inner_layout::<T>().value_offset;
        // SAFETY: `w` keeps the block allocated (its weak word is at least 1), so its two count
        // words can be read; `Weak::as_ptr` keeps the provenance of the whole block, and the
        // value sits `offset` bytes into it. Nothing else touches the counts (this thread holds
        // the only handles left, and `Rc` is not `Send`).
        let (strong, weak) = unsafe {
            let block = value.cast::<u8>().sub(offset).cast::<usize>();
            (block.read(), block.add(1).read())
        };
        if strong > 0 || weak > 1 {
            after.blocks_left += 1;
            after.bytes_left += size;
        }
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Weak;

    #[repr(align(64))]
    struct Wide(#[allow(dead_code)] u8);

    #[test]
    fn the_mirror_has_std_s_layout_for_several_values() {
        for (l, mirror) in [
            (inner_layout::<u64>(), Layout::new::<InnerMirror<u64>>()),
            (inner_layout::<()>(), Layout::new::<InnerMirror<()>>()),
            (inner_layout::<Wide>(), Layout::new::<InnerMirror<Wide>>()),
            (inner_layout::<u8>(), Layout::new::<InnerMirror<u8>>()),
        ] {
            assert_eq!(
                (l.block_size, l.block_align),
                (mirror.size(), mirror.align())
            );
        }
        let w = inner_layout::<Wide>();
        assert_eq!((w.value_offset, w.block_size, w.padding()), (64, 128, 48));
        let u = inner_layout::<()>();
        assert_eq!((u.value_offset, u.block_size, u.padding()), (16, 16, 0));
        let b = inner_layout::<u8>();
        assert_eq!((b.block_size, b.padding()), (24, 7));
        let r = inner_report::<u64>("RcInner<u64>").unwrap();
        assert_eq!((r.size, r.padding_bytes()), (24, 0));
        assert_eq!(inner_report::<Wide>("w").unwrap().padding_bytes(), 48);
        assert!(
            inner_layout_for(Layout::from_size_align(isize::MAX as usize - 8, 8).unwrap())
                .unwrap_err()
                .contains("does not fit")
        );
        let t = layouts_table(&[("u64", inner_layout::<u64>())]);
        assert_eq!(t.rows[0], ["u64", "8", "8", "16", "24", "8", "0"]);
    }

    #[test]
    fn live_rcs_are_read_in_place() {
        let a = Rc::new(7u64);
        let b = Rc::clone(&a);
        let w = Rc::downgrade(&a);
        let r = inspect_rc(&a);
        assert_eq!((r.strong_in_block, r.weak_in_block), (2, 2));
        assert_eq!((r.strong_count, r.weak_count), (2, 1));
        assert!(r.counts_agree());
        assert_eq!(r.value_addr - r.block_addr, 16);
        assert_eq!(r.block_addr % 8, 0);
        drop((b, w));
        let r = inspect_rc(&a);
        assert_eq!((r.strong_in_block, r.weak_in_block), (1, 1));

        let z = Rc::new(());
        let rz = inspect_rc(&z);
        assert_eq!((rz.layout.block_size, rz.strong_in_block), (16, 1));

        let wide = Rc::new(Wide(1));
        let rw = inspect_rc(&wide);
        assert_eq!((rw.layout.value_offset, rw.block_addr % 64), (64, 0));
        assert_eq!(rw.strong_in_block, 1);

        let d: Rc<dyn fmt::Debug> = Rc::new(5u16);
        let _d2 = Rc::clone(&d);
        let rd = inspect_rc(&d);
        assert_eq!(
            (rd.handle_size, rd.strong_in_block, rd.layout.block_size),
            (16, 2, 24)
        );

        let s: Rc<str> = Rc::from("hello");
        let rs = inspect_rc(&s);
        assert_eq!(
            (rs.handle_size, rs.layout.block_size, rs.strong_in_block),
            (16, 24, 1)
        );
        let sl: Rc<[u32]> = Rc::from(vec![1, 2, 3]);
        assert_eq!(inspect_rc(&sl).layout.block_size, 32);
        let t = live_table(&[("a", r.clone())]);
        assert_eq!(t.rows[0][7], "true");
        assert!(r.to_string().contains("strong 1 in the block"));
        let _keep: Weak<u64> = Weak::new();
    }

    #[test]
    fn dropped_blocks_are_told_from_leaked_ones() {
        use std::cell::RefCell;
        struct N {
            next: RefCell<Option<Rc<N>>>,
            back: RefCell<Weak<N>>,
        }
        let make = || {
            Rc::new(N {
                next: RefCell::new(None),
                back: RefCell::new(Weak::new()),
            })
        };
        let (a, b) = (make(), make());
        *a.next.borrow_mut() = Some(Rc::clone(&b));
        *b.back.borrow_mut() = Rc::downgrade(&a);
        let fine = drop_and_watch(vec![Rc::clone(&a), a, b]);
        assert_eq!(
            fine,
            AfterDrop {
                blocks: 2,
                bytes: 96,
                blocks_left: 0,
                bytes_left: 0
            }
        );
        let (a, b) = (make(), make());
        *a.next.borrow_mut() = Some(Rc::clone(&b));
        *b.next.borrow_mut() = Some(Rc::clone(&a));
        let leaked = drop_and_watch(vec![Rc::clone(&a), b]);
        assert_eq!(
            (leaked.blocks, leaked.blocks_left, leaked.bytes_left),
            (2, 2, 96)
        );
        // Break the cycle by hand so that Miri's leak check stays quiet.
        a.next.borrow_mut().take().unwrap().next.borrow_mut().take();
        assert_eq!(drop_and_watch(Vec::<Rc<u8>>::new()).blocks, 0);
    }

    #[test]
    fn live_arcs_are_read_in_place() {
        let a = Arc::new([1u32; 3]);
        let _b = Arc::clone(&a);
        let _w = Arc::downgrade(&a);
        let r = inspect_arc(&a);
        assert_eq!(r.pointer, "Arc");
        assert_eq!((r.strong_in_block, r.weak_in_block), (2, 2));
        assert!(r.counts_agree());
        assert_eq!((r.layout.value_offset, r.layout.block_size), (16, 32));
        let wide = Arc::new(Wide(0));
        assert_eq!(inspect_arc(&wide).block_addr % 64, 0);
        let d: Arc<dyn fmt::Debug + Send + Sync> = Arc::new(1u8);
        assert_eq!(inspect_arc(&d).strong_in_block, 1);
    }
}
