//! A free-list allocator: first fit over an address-ordered linked list of free blocks, stored
//! inside the free memory itself; a header before every used block; splitting on allocation and
//! coalescing of free neighbours on free.
//!
//! Memory is cut into blocks of multiples of 16 bytes that tile the arena:
//!
//! ```text
//! used block:  [ header: block size, requested size (16 B) | data ... | slack ]
//! free block:  [ node: block size, offset of the next free block (16 B) | ... ]
//! ```
//!
//! The data of a used block starts right after its header; a block whose data needs a larger
//! alignment starts later, and the gap in front is split off as a free block of its own.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

use super::{align_up, move_block, Arena, ArenaAllocator, Misuse, Refusal, Region, RegionKind};

/// Bytes of a used block's header, and of a free block's node; also the granularity of blocks.
pub const HEADER: usize = 16;
/// A remainder smaller than this stays inside the used block (it could never hold a header and a
/// byte of data) instead of being split off.
pub const MIN_SPLIT: usize = 2 * HEADER;
/// "No next free block".
const NIL: usize = usize::MAX;

/// A stretch of the arena: `len` bytes from offset `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Offset from the arena's start.
    pub start: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Span {
    /// One past the last byte (saturating: a span from a rule written elsewhere may be nonsense).
    pub fn end(&self) -> usize {
        self.start.saturating_add(self.len)
    }
}

/// The coalescing rule: given the free block just before the freed one (if any), the freed block,
/// and the free block just after it (if any) — neighbours in address order, not necessarily
/// touching — the span of the free block to record.
pub type Coalesce = fn(Option<Span>, Span, Option<Span>) -> Span;

/// Merges the freed block with each free neighbour it touches: what a free list should do.
pub fn coalesce_neighbours(left: Option<Span>, freed: Span, right: Option<Span>) -> Span {
    let start = match left {
        Some(l) if l.end() == freed.start => l.start,
        _ => freed.start,
    };
    let end = match right {
        Some(r) if r.start == freed.end() => r.end(),
        _ => freed.end(),
    };
    Span {
        start,
        len: end - start,
    }
}

/// Never merges: each freed block stays a free block of its own (to show what coalescing buys).
pub fn keep_apart(_left: Option<Span>, freed: Span, _right: Option<Span>) -> Span {
    freed
}

/// A first-fit free-list allocator over an [`Arena`].
pub struct FreeList {
    arena: Arena,
    /// Offset of the first free block, or `NIL`. Free blocks are linked in increasing address
    /// order, never touch each other when `coalesce` merges, and each is at least `HEADER` bytes.
    head: usize,
    /// The coalescing rule (checked before use: a wrong answer is counted and not applied).
    coalesce: Coalesce,
    /// True for a rule written elsewhere ([`FreeList::with_coalesce`]): its panics are caught and
    /// counted as wrong answers (the course's own rules run without the catch).
    learner_rule: bool,
    /// How many times the coalescing rule answered with a span it may not merge.
    rule_errors: usize,
    /// How many free blocks the last `alloc` walked past (for the cost curve).
    last_walk: usize,
    /// The name, which says which coalescing rule is used.
    name: &'static str,
}

impl FreeList {
    /// A free list over `arena`, which starts as one free block; coalesces neighbours on free.
    pub fn new(arena: Arena) -> FreeList {
        FreeList::make(arena, coalesce_neighbours, false, "free list")
    }

    /// A free list that never coalesces ([`keep_apart`]): to show what coalescing buys.
    pub fn without_coalescing(arena: Arena) -> FreeList {
        FreeList::make(arena, keep_apart, false, "free list (no coalescing)")
    }

    /// A free list with a coalescing rule written elsewhere (an exercise). A wrong answer of the
    /// rule, and a panic inside it, is counted ([`FreeList::rule_errors`]) and the freed block is
    /// kept apart instead (the free still succeeds; the panic does not reach the caller).
    pub fn with_coalesce(arena: Arena, coalesce: Coalesce) -> FreeList {
        FreeList::make(arena, coalesce, true, "free list (your coalescing)")
    }

    fn make(arena: Arena, coalesce: Coalesce, learner_rule: bool, name: &'static str) -> FreeList {
        let mut f = FreeList {
            arena,
            head: NIL,
            coalesce,
            learner_rule,
            rule_errors: 0,
            last_walk: 0,
            name,
        };
        f.reset();
        f
    }

    /// The free blocks, in address order (walks the list; allocates nothing).
    pub fn free_iter(&self) -> impl Iterator<Item = Span> + '_ {
        let mut cur = self.head;
        std::iter::from_fn(move || {
            (cur != NIL).then(|| {
                let (len, next) = self.read(cur);
                let span = Span { start: cur, len };
                cur = next;
                span
            })
        })
    }

    /// The free blocks, in address order.
    pub fn free_blocks(&self) -> Vec<Span> {
        self.free_iter().collect()
    }

    /// How many times the coalescing rule gave an answer that was refused, or panicked.
    pub fn rule_errors(&self) -> usize {
        self.rule_errors
    }

    /// How many free blocks the most recent allocation walked past before it found one that fits.
    pub fn last_walk(&self) -> usize {
        self.last_walk
    }

    /// Reads the two words at `off` (a header, or a free node).
    #[inline]
    fn read(&self, off: usize) -> (usize, usize) {
        debug_assert!(
            off.is_multiple_of(HEADER) && off + HEADER <= self.arena.len(),
            "node at {off} outside the arena of {} bytes",
            self.arena.len()
        );
        // SAFETY: `off` is a multiple of 16 inside the arena (whose start is 4096-aligned), so two
        // aligned words fit; every such position was written by `write` before it is read.
        let [a, b] = unsafe { self.arena.at(off).cast::<[usize; 2]>().read() };
        (a, b)
    }

    /// Writes two words at `off`.
    #[inline]
    fn write(&mut self, off: usize, words: (usize, usize)) {
        debug_assert!(
            off.is_multiple_of(HEADER) && off + HEADER <= self.arena.len(),
            "node at {off} outside the arena of {} bytes",
            self.arena.len()
        );
        // SAFETY: as in `read`; the bytes belong to a block this allocator controls (a free block,
        // or the header of a block it is handing out or taking back).
        unsafe {
            self.arena
                .at(off)
                .cast::<[usize; 2]>()
                .write([words.0, words.1])
        }
    }

    /// Points the link before a free block (the head, or `prev`'s next) at `to`.
    #[inline]
    fn link(&mut self, prev: usize, to: usize) {
        if prev == NIL {
            self.head = to;
        } else {
            let (len, _) = self.read(prev);
            self.write(prev, (len, to));
        }
    }

    /// The free blocks just before and just after `start`: `(prev, next)` offsets or `NIL`.
    fn neighbours(&self, start: usize) -> (usize, usize) {
        let (mut prev, mut cur) = (NIL, self.head);
        while cur != NIL && cur < start {
            prev = cur;
            cur = self.read(cur).1;
        }
        (prev, cur)
    }

    /// Adds `freed` to the free list, merging with neighbours as the rule says (if it may).
    fn release(&mut self, freed: Span) -> Result<(), Misuse> {
        let (prev, next) = self.neighbours(freed.start);
        let left = (prev != NIL).then(|| Span {
            start: prev,
            len: self.read(prev).0,
        });
        let right = (next != NIL).then(|| Span {
            start: next,
            len: self.read(next).0,
        });
        if left.is_some_and(|l| l.end() > freed.start)
            || right.is_some_and(|r| r.start < freed.end())
        {
            return Err(Misuse::DoubleFree);
        }
        let merged = if self.learner_rule {
            // Nothing has been written yet: a panic leaves the list as it was, and the block is
            // kept apart below (a panic counts as a wrong answer).
            let rule = self.coalesce;
            std::panic::catch_unwind(move || rule(left, freed, right)).unwrap_or(Span {
                start: usize::MAX,
                len: 0,
            })
        } else {
            (self.coalesce)(left, freed, right)
        };
        let with_left = left.filter(|l| l.end() == freed.start && merged.start == l.start);
        let with_right = right.filter(|r| r.start == freed.end() && merged.end() == r.end());
        let allowed_start = with_left.map_or(freed.start, |l| l.start);
        let allowed_end = with_right.map_or(freed.end(), |r| r.end());
        let merged = if merged.start == allowed_start && merged.end() == allowed_end {
            merged
        } else {
            self.rule_errors += 1;
            freed
        };
        let after = match with_right {
            Some(r) => self.read(r.start).1,
            None => next,
        };
        if with_left.is_some() {
            self.write(prev, (merged.len, after));
        } else {
            self.write(merged.start, (merged.len, after));
            self.link(prev, merged.start);
        }
        Ok(())
    }
}

impl fmt::Debug for FreeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "free list over {:?}: {} free blocks, {} bytes free",
            self.arena,
            self.free_iter().count(),
            self.free_iter().map(|s| s.len).sum::<usize>()
        )
    }
}

// SAFETY: blocks tile the arena; a block is handed out only from a free block found on the list,
// and is unlinked before its header is written, so it overlaps nothing live. The data starts at
// `align_up(block + HEADER, align)` (offsets, with the arena 4096-aligned and `align <= 4096`) and
// the block covers `need >= size` bytes after it. A `with_coalesce` rule runs inside `dealloc`, with
// `&mut self` lent: its answer is checked before use, and the handles refuse any re-entry from it
// (`Refusal::Reentered`), so it cannot reach this design a second time.
unsafe impl ArenaAllocator for FreeList {
    fn name(&self) -> String {
        self.name.into()
    }

    fn arena(&self) -> &Arena {
        &self.arena
    }

    fn alloc(&mut self, layout: Layout) -> Result<NonNull<u8>, Refusal> {
        let align = layout.align();
        if align > Arena::ALIGN {
            return Err(Refusal::AlignTooLarge { align });
        }
        let oom = Refusal::OutOfMemory {
            size: layout.size(),
            align,
        };
        if layout.size() > self.arena.len() {
            return Err(oom);
        }
        let need = layout.size().max(1).next_multiple_of(HEADER);
        let (mut prev, mut cur, mut walked) = (NIL, self.head, 0);
        while cur != NIL {
            let (len, next) = self.read(cur);
            let data = align_up(cur + HEADER, align).ok_or(oom)?;
            let (start, end) = (data - HEADER, data + need);
            if end <= cur + len {
                // Leading gap (alignment) and trailing remainder become free blocks of their own.
                let gap = start - cur;
                let tail = cur + len - end;
                let (block_end, tail) = if tail >= MIN_SPLIT {
                    (end, tail)
                } else {
                    (cur + len, 0)
                };
                let after = if tail > 0 {
                    self.write(end, (tail, next));
                    end
                } else {
                    next
                };
                if gap > 0 {
                    self.write(cur, (gap, after));
                } else {
                    self.link(prev, after);
                }
                self.write(start, (block_end - start, layout.size()));
                self.last_walk = walked;
                return Ok(self.arena.at(data));
            }
            walked += 1;
            prev = cur;
            cur = next;
        }
        self.last_walk = walked;
        Err(oom)
    }

    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
        let off = self
            .arena
            .offset_of(ptr.as_ptr(), layout.size())
            .filter(|&o| o >= HEADER && o % HEADER == 0)
            .ok_or(Misuse::Foreign)?;
        let start = off - HEADER;
        // A freed block inside a free block is a double free, whatever its "header" now holds.
        let (prev, next) = self.neighbours(start);
        if next == start || (prev != NIL && prev + self.read(prev).0 > start) {
            return Err(Misuse::DoubleFree);
        }
        let (len, requested) = self.read(start);
        if len < MIN_SPLIT || len % HEADER != 0 || start + len > self.arena.len() {
            return Err(Misuse::Foreign);
        }
        if requested != layout.size() {
            return Err(Misuse::WrongLayout);
        }
        self.release(Span { start, len })
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<u8>, Refusal> {
        let addr = ptr.as_ptr() as usize;
        let start = addr - self.arena.start_addr() - HEADER;
        if new.size() <= old.size() && addr.is_multiple_of(new.align()) {
            // Shrink in place; give the tail back if it can stand as a block of its own.
            let (len, _) = self.read(start);
            let keep = HEADER + new.size().max(1).next_multiple_of(HEADER);
            if len - keep >= MIN_SPLIT {
                self.write(start, (keep, new.size()));
                // The tail was inside a used block: it cannot be on the free list.
                let _ = self.release(Span {
                    start: start + keep,
                    len: len - keep,
                });
            } else {
                self.write(start, (len, new.size()));
            }
            return Ok(ptr);
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { move_block(self, ptr, old, new) }
    }

    fn reset(&mut self) {
        let len = self.arena.len();
        self.write(0, (len, NIL));
        self.head = 0;
    }

    fn regions(&self) -> Vec<Region> {
        let mut out = Vec::new();
        let free = self.free_blocks();
        let mut free_iter = free.iter().peekable();
        let mut at = 0;
        while at < self.arena.len() {
            if free_iter.peek().is_some_and(|s| s.start == at) {
                let s = free_iter.next().expect("peeked");
                out.push(Region {
                    offset: at,
                    len: s.len,
                    kind: RegionKind::Free,
                });
                at = s.end();
            } else {
                let (len, requested) = self.read(at);
                debug_assert!(
                    len >= MIN_SPLIT && at + len <= self.arena.len(),
                    "bad header at {at}: len {len}"
                );
                out.push(Region {
                    offset: at,
                    len: HEADER,
                    kind: RegionKind::Header,
                });
                out.push(Region {
                    offset: at + HEADER,
                    len: requested,
                    kind: RegionKind::Data { id: None },
                });
                out.push(Region {
                    offset: at + HEADER + requested,
                    len: len - HEADER - requested,
                    kind: RegionKind::Slack,
                });
                at += len;
            }
        }
        out
    }
}
