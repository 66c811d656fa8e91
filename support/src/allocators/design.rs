//! The core of chapter 5's designs: the [`ArenaAllocator`] trait every design implements, why a
//! request was refused ([`Refusal`]) or a free was wrong ([`Misuse`]), and the regions a heap map
//! is drawn from.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

use super::Arena;

/// Why an allocator did not hand out a block. Every refusal becomes a null pointer (`GlobalAlloc`)
/// or an `AllocError` (`Allocator`); this value says which rule refused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not enough room left in the arena (for a bump allocator: ahead of the cursor; for a free
    /// list: in any one free block).
    OutOfMemory {
        /// Requested bytes.
        size: usize,
        /// Requested alignment.
        align: usize,
    },
    /// The alignment is larger than the arena's own ([`Arena::ALIGN`]): no address inside it can be
    /// trusted to honour it.
    AlignTooLarge {
        /// Requested alignment.
        align: usize,
    },
    /// A rule written in an exercise answered with a block that breaks the contract (outside the
    /// free space, misaligned, too small); the allocator refused to use it.
    RuleBroken {
        /// What was wrong.
        reason: &'static str,
    },
    /// The request came from inside a call to the same handle (a rule written elsewhere that
    /// allocates through the allocator it serves): the handle refused it rather than lend a second
    /// `&mut` to the design (`Local`) or wait for a lock its own thread holds (`Locked`).
    Reentered,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::OutOfMemory { size, align } => write!(
                f,
                "out of memory: no free block can hold {size} bytes aligned to {align}"
            ),
            Refusal::AlignTooLarge { align } => write!(
                f,
                "alignment {align} is larger than the arena's alignment {}",
                Arena::ALIGN
            ),
            Refusal::RuleBroken { reason } => write!(f, "the rule broke the contract: {reason}"),
            Refusal::Reentered => f.write_str(
                "re-entered: a request from inside a call to the same allocator (refused, never nested)",
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// A `dealloc` the allocator detected as a contract violation (undefined behaviour for a real
/// allocator; here it is refused and counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misuse {
    /// The pointer is not inside this allocator's arena.
    Foreign,
    /// The block is already free (a double free).
    DoubleFree,
    /// The layout's size differs from the one the block was allocated with.
    WrongLayout,
}

impl fmt::Display for Misuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Misuse::Foreign => "the pointer is not inside this allocator's arena",
            Misuse::DoubleFree => "the block is already free (double free)",
            Misuse::WrongLayout => "the layout differs from the one the block was allocated with",
        })
    }
}

/// What one stretch of an arena holds, for heap maps and fragmentation figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// Bytes a live allocation asked for; `id` numbers allocations in the order they were made
    /// (`None` when the allocator alone cannot tell allocations apart).
    Data {
        /// Allocation number, if known.
        id: Option<u32>,
    },
    /// The allocator's own bookkeeping (a block header).
    Header,
    /// Handed out but not asked for (alignment padding, rounding up to a class) or freed but not
    /// reusable (a bump allocator's dead blocks): internal fragmentation.
    Slack,
    /// Free and reusable by any request that fits.
    Free,
    /// Free, but reserved for one size class (a class's free list).
    ClassFree,
}

impl RegionKind {
    /// A short name for legends and tables.
    pub fn name(self) -> &'static str {
        match self {
            RegionKind::Data { .. } => "data",
            RegionKind::Header => "header",
            RegionKind::Slack => "slack",
            RegionKind::Free => "free",
            RegionKind::ClassFree => "class free",
        }
    }
}

/// One stretch of an arena: `len` bytes from `offset` (relative to the arena's start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Offset from the arena's start.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
    /// What the bytes hold.
    pub kind: RegionKind,
}

impl Region {
    /// One past the last byte (saturating).
    pub fn end(&self) -> usize {
        self.offset.saturating_add(self.len)
    }
}

/// An arena's contents as a list of regions in address order, covering it exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeapMap {
    /// Which allocator drew it.
    pub allocator: String,
    /// The arena's length in bytes.
    pub arena_len: usize,
    /// The regions, in address order, without gaps or overlaps.
    pub regions: Vec<Region>,
}

/// Totals of a [`HeapMap`]: where the bytes are, and how fragmented the free space is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeapTotals {
    /// Bytes of live data.
    pub data: usize,
    /// Bytes of headers.
    pub header: usize,
    /// Bytes of slack (internal fragmentation).
    pub slack: usize,
    /// Bytes free for any request.
    pub free: usize,
    /// Bytes free only for their size class.
    pub class_free: usize,
    /// The largest free block (bytes).
    pub largest_free: usize,
    /// How many free blocks.
    pub free_blocks: usize,
}

impl HeapTotals {
    /// Largest free block / total free (1.0 when the free space is one block or there is none):
    /// the lower, the more the free space is cut into pieces (external fragmentation).
    pub fn largest_free_share(&self) -> f64 {
        if self.free == 0 {
            1.0
        } else {
            self.largest_free as f64 / self.free as f64
        }
    }
}

impl HeapMap {
    /// Builds a map, merging neighbouring slack (and header) regions, and checking that they cover
    /// `0..arena_len` exactly (a debug assertion: the allocators' own tests exercise it).
    pub fn new(allocator: impl Into<String>, arena_len: usize, regions: Vec<Region>) -> HeapMap {
        let mut merged: Vec<Region> = Vec::with_capacity(regions.len());
        for r in regions.into_iter().filter(|r| r.len > 0) {
            match merged.last_mut() {
                Some(last)
                    if last.kind == r.kind
                        && last.end() == r.offset
                        && matches!(r.kind, RegionKind::Slack | RegionKind::Header) =>
                {
                    last.len = last.len.saturating_add(r.len)
                }
                _ => merged.push(r),
            }
        }
        let map = HeapMap {
            allocator: allocator.into(),
            arena_len,
            regions: merged,
        };
        debug_assert!(
            map.tiles(),
            "heap map of {}: the regions do not cover 0..{} exactly, in order: {:?}",
            map.allocator,
            map.arena_len,
            map.regions
        );
        map
    }

    /// Whether the regions cover `0..arena_len` exactly, in order, without gaps or overlaps.
    pub fn tiles(&self) -> bool {
        self.regions.windows(2).all(|w| w[0].end() == w[1].offset)
            && self.regions.first().is_none_or(|r| r.offset == 0)
            && self
                .regions
                .last()
                .map_or(self.arena_len == 0, |r| r.end() == self.arena_len)
    }

    /// Where the bytes are. The sums saturate at `usize::MAX` (a map built by hand may claim more
    /// bytes than any arena holds).
    pub fn totals(&self) -> HeapTotals {
        let mut t = HeapTotals {
            data: 0,
            header: 0,
            slack: 0,
            free: 0,
            class_free: 0,
            largest_free: 0,
            free_blocks: 0,
        };
        for r in &self.regions {
            let sum = match r.kind {
                RegionKind::Data { .. } => &mut t.data,
                RegionKind::Header => &mut t.header,
                RegionKind::Slack => &mut t.slack,
                RegionKind::ClassFree => &mut t.class_free,
                RegionKind::Free => &mut t.free,
            };
            *sum = sum.saturating_add(r.len);
            if r.kind == RegionKind::Free {
                t.free_blocks += 1;
                t.largest_free = t.largest_free.max(r.len);
            }
        }
        t
    }
}

/// An allocator design over one [`Arena`]: the logic, with `&mut self` (no interior mutability).
/// [`Local`](super::Local), [`Locked`](super::Locked) and [`CheckedArena`](super::CheckedArena) give it the `&self` interfaces of the standard traits.
///
/// Callers (the handles) never pass a zero-size layout: zero-sized requests are answered with a
/// dangling aligned pointer before they reach the design, as std's `Global` does.
///
/// # Safety
/// An implementation promises that every block `alloc` or `realloc` returns lies inside
/// [`ArenaAllocator::arena`], is aligned to the layout's alignment, holds at least the layout's
/// size, and overlaps no other live block; and that a block stays valid until `dealloc`, `realloc`
/// or `reset`.
///
/// A method *may* call code written elsewhere — the rules of [`DownBy`](super::DownBy),
/// [`FreeList::with_coalesce`](super::FreeList::with_coalesce) and
/// [`SizeClasses::with_lookup`](super::SizeClasses::with_lookup) run inside the `&mut self` call —
/// and that code may try to reach the very handle that lent `&mut self` (through a `static` or a
/// `thread_local!`). The handles, not the designs, make that safe: [`Local`](super::Local) and
/// [`Locked`](super::Locked) refuse a re-entrant call ([`Refusal::Reentered`]) instead of lending
/// a second `&mut` or spinning on a lock their own thread holds.
///
/// A design whose methods run only its own code sets [`ArenaAllocator::CALLS_OUT`] to `false`, and
/// the handles then skip the re-entry check (nothing can re-enter): that promise is part of this
/// trait's safety contract.
pub unsafe trait ArenaAllocator {
    /// Whether a method of this design may run code written elsewhere (a rule passed in), which
    /// could reach back into the handle. `true` unless the implementation promises otherwise; with
    /// `false`, [`Local`](super::Local) lends `&mut self` without its re-entry flag (two stores per
    /// call fewer on the hot path).
    const CALLS_OUT: bool = true;

    /// The design's name, for tables and charts.
    fn name(&self) -> String;

    /// The arena the blocks come from.
    fn arena(&self) -> &Arena;

    /// A block for `layout` (non-zero size), or why not.
    fn alloc(&mut self, layout: Layout) -> Result<NonNull<u8>, Refusal>;

    /// Gives a block back. A bump allocator ignores it; the others detect some misuse.
    ///
    /// # Safety
    /// `ptr` must have come from this allocator's `alloc`/`realloc` with `layout`, and not have
    /// been freed since (the designs detect some violations, never all).
    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse>;

    /// Moves or resizes a block to `new` (non-zero size), keeping the first
    /// `min(old.size(), new.size())` bytes. The default allocates, copies and frees ([`move_block`]).
    ///
    /// # Safety
    /// As for [`ArenaAllocator::dealloc`]: `ptr` is a live block of this allocator with `old`.
    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<u8>, Refusal> {
        // SAFETY: the caller's contract, passed on.
        unsafe { move_block(self, ptr, old, new) }
    }

    /// Forgets every block at once: the whole arena is free again.
    ///
    /// Handles only call it through `&mut`, so no block handed out can still be in use.
    fn reset(&mut self);

    /// The arena as regions (headers, free blocks, used blocks), as far as the design knows them.
    fn regions(&self) -> Vec<Region>;
}

/// Rounds `addr` up to a multiple of `align`, or `None` on overflow. `align` must be a power of two
/// (a `Layout`'s alignment always is; this hot path does not check it again).
#[inline]
pub fn align_up(addr: usize, align: usize) -> Option<usize> {
    Some(addr.checked_add(align.wrapping_sub(1))? & !align.wrapping_sub(1))
}

/// Allocates a block for `new`, copies the first `min(old.size(), new.size())` bytes of `ptr`
/// into it, and frees `ptr`: a reallocation that moves.
///
/// # Safety
/// `ptr` must be a live block of `a` allocated with `old`.
pub unsafe fn move_block<A: ArenaAllocator + ?Sized>(
    a: &mut A,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<u8>, Refusal> {
    let fresh = a.alloc(new)?;
    // A design with a wrong rule can hand out a block that is still live: the copy below would
    // then run onto itself (undefined behaviour; a debug build aborts the process). Refuse first.
    let (from, to) = (ptr.as_ptr() as usize, fresh.as_ptr() as usize);
    if from < to.saturating_add(new.size()) && to < from.saturating_add(old.size()) {
        return Err(Refusal::RuleBroken {
            reason: "the design handed out a block that overlaps the live block being moved \
                     (a block handed out twice); nothing was copied",
        });
    }
    // SAFETY: `ptr` is live for `old.size()` bytes (the caller's contract); `fresh` is a live
    // block of at least `new.size()` bytes, and the check above shows the two do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(ptr.as_ptr(), fresh.as_ptr(), old.size().min(new.size()));
        // The block was live (the caller's contract), so the design has nothing to refuse.
        let _ = a.dealloc(ptr, old);
    }
    Ok(fresh)
}

/// Paints `spans` (sorted by offset, not overlapping) over the regions whose kind `paintable`
/// accepts; the parts of those regions left unpainted become `rest(kind)`. Used to mark live
/// allocations and class free lists on top of what a design knows.
pub fn paint(
    regions: &[Region],
    spans: &[Region],
    paintable: impl Fn(RegionKind) -> bool,
    rest: impl Fn(RegionKind) -> RegionKind,
) -> Vec<Region> {
    let mut out = Vec::with_capacity(regions.len() + 2 * spans.len());
    for r in regions {
        if !paintable(r.kind) {
            out.push(*r);
            continue;
        }
        let mut pos = r.offset;
        let first = spans.partition_point(|s| s.end() <= r.offset);
        for s in spans[first..].iter().take_while(|s| s.offset < r.end()) {
            let (from, to) = (s.offset.max(pos), s.end().min(r.end()));
            if from > pos {
                out.push(Region {
                    offset: pos,
                    len: from - pos,
                    kind: rest(r.kind),
                });
            }
            if to > from {
                out.push(Region {
                    offset: from,
                    len: to - from,
                    kind: s.kind,
                });
                pos = to;
            }
        }
        if pos < r.end() {
            out.push(Region {
                offset: pos,
                len: r.end() - pos,
                kind: rest(r.kind),
            });
        }
    }
    out
}
