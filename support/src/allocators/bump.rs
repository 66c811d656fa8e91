//! Bump allocators: a cursor moves through the arena; `dealloc` frees nothing, `reset` frees all.
//!
//! Bumping **up** starts at the arena's first byte: round the cursor *up* to the alignment (an add
//! that may overflow, then a mask), add the size (a second add that may overflow), compare with the
//! end. Bumping **down** starts at the end: subtract the size (one subtraction that may underflow),
//! round *down* with one `& !(align - 1)` mask (rounding down can never overflow), compare with the
//! start. One checked operation fewer per allocation — the argument of fitzgen's "Always bump
//! downwards" (2019), and what bumpalo does.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

use super::{align_up, move_block, Arena, ArenaAllocator, Misuse, Refusal, Region, RegionKind};

/// Which way a [`Bump`] moves its cursor, and how it rounds.
pub trait Direction {
    /// Whether [`Direction::bump`] runs code written elsewhere (see [`ArenaAllocator::CALLS_OUT`]).
    const CALLS_OUT: bool;
    /// The allocator's name for this direction.
    fn name(&self) -> &'static str;
    /// Whether the cursor starts at the arena's end (and moves towards the start).
    fn downward(&self) -> bool;
    /// For a cursor at address `cursor` inside `start..=end`, the block for `size` bytes aligned
    /// to `align` and the new cursor, or why not.
    fn bump(
        &self,
        cursor: usize,
        start: usize,
        end: usize,
        size: usize,
        align: usize,
    ) -> Result<(usize, usize), Refusal>;
}

/// Bump upward: round the cursor up, then add the size.
#[derive(Clone, Copy, Debug, Default)]
pub struct Up;

impl Direction for Up {
    const CALLS_OUT: bool = false;
    fn name(&self) -> &'static str {
        "bump up"
    }
    fn downward(&self) -> bool {
        false
    }
    #[inline(always)]
    fn bump(
        &self,
        cursor: usize,
        _start: usize,
        end: usize,
        size: usize,
        align: usize,
    ) -> Result<(usize, usize), Refusal> {
        let oom = Refusal::OutOfMemory { size, align };
        let block = align_up(cursor, align).ok_or(oom)?; // branch 1: overflow of the rounding
        let new = block.checked_add(size).ok_or(oom)?; // branch 2: overflow of the end
        if new > end {
            return Err(oom); // branch 3: past the arena
        }
        Ok((block, new))
    }
}

/// Bump downward: subtract the size, then round down with one mask.
#[derive(Clone, Copy, Debug, Default)]
pub struct Down;

impl Direction for Down {
    const CALLS_OUT: bool = false;
    fn name(&self) -> &'static str {
        "bump down"
    }
    fn downward(&self) -> bool {
        true
    }
    #[inline(always)]
    fn bump(
        &self,
        cursor: usize,
        start: usize,
        _end: usize,
        size: usize,
        align: usize,
    ) -> Result<(usize, usize), Refusal> {
        let oom = Refusal::OutOfMemory { size, align };
        let block = cursor.checked_sub(size).ok_or(oom)? & !(align - 1); // branch 1: underflow
        if block < start {
            return Err(oom); // branch 2: before the arena
        }
        Ok((block, block))
    }
}

/// A downward bump rule written elsewhere (an exercise): `rule(cursor, start, size, align)` returns
/// the new block's address (which is also the new cursor), or `None` when it does not fit.
///
/// The allocator checks every answer before using it — inside `start..cursor`, aligned, room for
/// `size` bytes below the old cursor — and refuses a wrong one, or a rule that panics, with
/// [`Refusal::RuleBroken`].
#[derive(Clone, Copy)]
pub struct DownBy(pub fn(usize, usize, usize, usize) -> Option<usize>);

impl fmt::Debug for DownBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DownBy(fn)")
    }
}

impl Direction for DownBy {
    const CALLS_OUT: bool = true; // the rule may reach back into the handle
    fn name(&self) -> &'static str {
        "bump down (your rule)"
    }
    fn downward(&self) -> bool {
        true
    }
    fn bump(
        &self,
        cursor: usize,
        start: usize,
        _end: usize,
        size: usize,
        align: usize,
    ) -> Result<(usize, usize), Refusal> {
        let rule = self.0;
        // A rule written elsewhere may panic: that is a broken rule, not a panic through `alloc`.
        let answer =
            std::panic::catch_unwind(move || rule(cursor, start, size, align)).map_err(|_| {
                Refusal::RuleBroken {
                    reason: "the rule panicked",
                }
            })?;
        let Some(block) = answer else {
            return Err(Refusal::OutOfMemory { size, align });
        };
        let reason = if block < start {
            "the block starts before the arena"
        } else if block % align != 0 {
            "the block is not aligned"
        } else if block.checked_add(size).is_none_or(|e| e > cursor) {
            "the block runs past the old cursor into memory already handed out"
        } else {
            return Ok((block, block));
        };
        Err(Refusal::RuleBroken { reason })
    }
}

/// A bump allocator over an [`Arena`], moving in direction `D`.
pub struct Bump<D: Direction = Down> {
    arena: Arena,
    /// The next free address: blocks are handed out from `start..cursor` (down) or `cursor..end`
    /// (up). Always inside `arena.start_addr()..=arena.end_addr()`.
    cursor: usize,
    /// Blocks handed out since the last reset (for tables; never decremented by `dealloc`).
    handed_out: usize,
    dir: D,
}

/// Bumps upward (see [`Up`]).
pub type BumpUp = Bump<Up>;
/// Bumps downward (see [`Down`]).
pub type BumpDown = Bump<Down>;

impl<D: Direction> Bump<D> {
    /// A bump allocator over `arena`, moving as `dir` says.
    pub fn with_direction(arena: Arena, dir: D) -> Self {
        let cursor = if dir.downward() {
            arena.end_addr()
        } else {
            arena.start_addr()
        };
        Bump {
            arena,
            cursor,
            handed_out: 0,
            dir,
        }
    }

    /// Bytes consumed so far (handed out, padding included; never given back before a reset).
    pub fn consumed(&self) -> usize {
        if self.dir.downward() {
            self.arena.end_addr() - self.cursor
        } else {
            self.cursor - self.arena.start_addr()
        }
    }

    /// Blocks handed out since the last reset.
    pub fn handed_out(&self) -> usize {
        self.handed_out
    }

    /// The cursor's offset from the arena's start.
    pub fn cursor_offset(&self) -> usize {
        self.cursor - self.arena.start_addr()
    }

    /// A pointer to `addr`, which lies inside the arena.
    #[inline(always)]
    fn ptr(&self, addr: usize) -> NonNull<u8> {
        self.arena.at(addr - self.arena.start_addr())
    }
}

impl<D: Direction + Default> Bump<D> {
    /// A bump allocator over `arena`.
    pub fn new(arena: Arena) -> Self {
        Self::with_direction(arena, D::default())
    }
}

impl<D: Direction> fmt::Debug for Bump<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} over {:?}: {} bytes consumed by {} blocks",
            self.dir.name(),
            self.arena,
            self.consumed(),
            self.handed_out
        )
    }
}

// SAFETY: blocks come from `start..cursor` (down) or `cursor..end` (up), a range nothing has been
// handed out from since the last reset, because the cursor only moves past what it hands out; each
// block is aligned and sized as asked (checked by `Direction::bump`, and re-checked for rules
// written elsewhere). A `DownBy` rule runs inside `alloc`, with `&mut self` lent: the handles refuse
// any re-entry from it (`Refusal::Reentered`), so it cannot reach this design a second time. `Up` and
// `Down` run only the arithmetic above, so `CALLS_OUT` is false for them.
unsafe impl<D: Direction> ArenaAllocator for Bump<D> {
    const CALLS_OUT: bool = D::CALLS_OUT;

    fn name(&self) -> String {
        self.dir.name().to_string()
    }

    fn arena(&self) -> &Arena {
        &self.arena
    }

    #[inline(always)]
    fn alloc(&mut self, layout: Layout) -> Result<NonNull<u8>, Refusal> {
        let (block, cursor) = self.dir.bump(
            self.cursor,
            self.arena.start_addr(),
            self.arena.end_addr(),
            layout.size(),
            layout.align(),
        )?;
        self.cursor = cursor;
        self.handed_out += 1;
        Ok(self.ptr(block))
    }

    #[inline(always)]
    unsafe fn dealloc(&mut self, _ptr: NonNull<u8>, _layout: Layout) -> Result<(), Misuse> {
        // Frees nothing until `reset` (bumpalo's `dealloc` takes back the most recent block).
        Ok(())
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<u8>, Refusal> {
        let addr = ptr.as_ptr() as usize;
        if new.size() <= old.size() && addr.is_multiple_of(new.align()) {
            return Ok(ptr); // shrinking in place: the tail is slack until the reset
        }
        // Bumping up, the most recent block can grow in place: it ends at the cursor.
        if !self.dir.downward()
            && addr + old.size() == self.cursor
            && addr.is_multiple_of(new.align())
            && new.size() <= self.arena.end_addr() - addr
        {
            self.cursor = addr + new.size();
            return Ok(ptr);
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { move_block(self, ptr, old, new) }
    }

    fn reset(&mut self) {
        self.cursor = if self.dir.downward() {
            self.arena.end_addr()
        } else {
            self.arena.start_addr()
        };
        self.handed_out = 0;
    }

    fn regions(&self) -> Vec<Region> {
        let (len, at) = (self.arena.len(), self.cursor_offset());
        let (used, free) = if self.dir.downward() {
            ((at, len - at), (0, at))
        } else {
            ((0, at), (at, len - at))
        };
        let mut v = vec![
            Region {
                offset: used.0,
                len: used.1,
                kind: RegionKind::Slack,
            },
            Region {
                offset: free.0,
                len: free.1,
                kind: RegionKind::Free,
            },
        ];
        v.sort_by_key(|r| r.offset);
        v
    }
}
