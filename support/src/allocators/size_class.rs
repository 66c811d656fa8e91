//! Fixed-size blocks: one free list per power-of-two size class, O(1) allocation and free, paid for
//! with internal fragmentation (a 33-byte request takes a 64-byte block). Requests larger than the
//! largest class, or more aligned than 16, fall back to a [`FreeList`] over the same arena, which
//! also supplies the classes with slabs of [`SLAB_BLOCKS`] blocks when their lists run empty.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

use super::free_list::FreeList;
use super::{move_block, paint, Arena, ArenaAllocator, Misuse, Refusal, Region, RegionKind};

/// The class sizes in bytes: 16, 32, …, 2048.
pub const CLASSES: [usize; 8] = [16, 32, 64, 128, 256, 512, 1024, 2048];
/// Blocks carved from one slab when a class's list is empty.
pub const SLAB_BLOCKS: usize = 8;
/// Class blocks are aligned to 16 (their slab's data is; class sizes are multiples of 16).
pub const CLASS_ALIGN: usize = 16;
/// "No next block".
const NIL: usize = usize::MAX;

/// Maps a request `(size, align)` to a class index into [`CLASSES`], or `None` for the fallback.
pub type ClassLookup = fn(usize, usize) -> Option<usize>;

/// The smallest class that holds `size` bytes, for alignments up to 16; `None` (fallback) otherwise.
#[inline]
pub fn smallest_class(size: usize, align: usize) -> Option<usize> {
    if align > CLASS_ALIGN || size > CLASSES[CLASSES.len() - 1] {
        return None;
    }
    Some(size.max(CLASSES[0]).next_power_of_two().trailing_zeros() as usize - 4)
}

/// Segregated free lists over a [`FreeList`] fallback.
pub struct SizeClasses {
    /// Supplies slabs and serves the requests no class takes.
    fallback: FreeList,
    /// Per class: the offset of the first free block, or `NIL`. Each free block's first word holds
    /// the offset of the next. Blocks of class `i` are `CLASSES[i]` bytes, 16-aligned, inside slabs.
    heads: [usize; CLASSES.len()],
    /// The class rule (checked before use: a wrong answer is refused).
    lookup: ClassLookup,
    /// True for a rule written elsewhere ([`SizeClasses::with_lookup`]): its panics are caught and
    /// refused as [`Refusal::RuleBroken`] (the course's own rule runs without the catch).
    learner_rule: bool,
    /// Slabs taken from the fallback so far.
    slabs: usize,
    /// The name, which says whose class rule is used.
    name: &'static str,
}

impl SizeClasses {
    /// Size classes over `arena` with [`smallest_class`].
    pub fn new(arena: Arena) -> SizeClasses {
        SizeClasses::make(arena, smallest_class, false, "size classes")
    }

    /// Size classes with another class rule (e.g. one written in an exercise). A wrong answer of
    /// the rule, and a panic inside it, refuses the request ([`Refusal::RuleBroken`]).
    pub fn with_lookup(arena: Arena, lookup: ClassLookup) -> SizeClasses {
        SizeClasses::make(arena, lookup, true, "size classes (your lookup)")
    }

    fn make(
        arena: Arena,
        lookup: ClassLookup,
        learner_rule: bool,
        name: &'static str,
    ) -> SizeClasses {
        SizeClasses {
            name,
            fallback: FreeList::new(arena),
            heads: [NIL; CLASSES.len()],
            lookup,
            learner_rule,
            slabs: 0,
        }
    }

    /// The free list that supplies slabs and serves the requests no class takes.
    pub fn fallback(&self) -> &FreeList {
        &self.fallback
    }

    /// Slabs taken from the fallback since the last reset.
    pub fn slabs(&self) -> usize {
        self.slabs
    }

    /// The class for a request, if the rule names one and it really fits; `Err` if the rule's
    /// answer would break the contract.
    #[inline]
    fn class_of(&self, layout: Layout) -> Result<Option<usize>, Refusal> {
        let (size, align, rule) = (layout.size(), layout.align(), self.lookup);
        let answer = if self.learner_rule {
            std::panic::catch_unwind(move || rule(size, align)).map_err(|_| {
                Refusal::RuleBroken {
                    reason: "the class rule panicked",
                }
            })?
        } else {
            // The course's own rule, called directly (not through the pointer) so it is inlined.
            smallest_class(size, align)
        };
        match answer {
            None => Ok(None),
            Some(i) if i >= CLASSES.len() => Err(Refusal::RuleBroken {
                reason: "the class index is past the last class",
            }),
            Some(i) if CLASSES[i] < layout.size() => Err(Refusal::RuleBroken {
                reason: "the class is smaller than the request",
            }),
            Some(_) if layout.align() > CLASS_ALIGN => Err(Refusal::RuleBroken {
                reason: "class blocks are only 16-aligned: this alignment needs the fallback",
            }),
            Some(i) => Ok(Some(i)),
        }
    }

    #[inline]
    fn next_of(&self, off: usize) -> usize {
        // SAFETY: `off` is a free class block inside the arena, 16-aligned, whose first word was
        // written by `push`/`refill`.
        unsafe { self.fallback.arena().at(off).cast::<usize>().read() }
    }

    #[inline]
    fn push(&mut self, class: usize, off: usize) {
        // SAFETY: `off` is a class block inside the arena (at least 16 bytes, 16-aligned) that no
        // one else uses: it is being freed or carved.
        unsafe {
            self.fallback
                .arena()
                .at(off)
                .cast::<usize>()
                .write(self.heads[class])
        };
        self.heads[class] = off;
    }

    /// Takes a slab for `class` from the fallback and puts its blocks on the class's list.
    #[cold]
    fn refill(&mut self, class: usize) -> Result<(), Refusal> {
        let size = CLASSES[class];
        let slab = Layout::from_size_align(size * SLAB_BLOCKS, CLASS_ALIGN)
            .expect("class sizes are small");
        let p = self
            .fallback
            .alloc(slab)
            .map_err(|_| Refusal::OutOfMemory {
                size,
                align: CLASS_ALIGN,
            })?;
        let base = p.as_ptr() as usize - self.fallback.arena().start_addr();
        for k in (0..SLAB_BLOCKS).rev() {
            self.push(class, base + k * size);
        }
        self.slabs += 1;
        Ok(())
    }

    /// The blocks waiting on each class's list, as regions.
    fn class_free_regions(&self) -> Vec<Region> {
        let mut v = Vec::new();
        for (class, &head) in self.heads.iter().enumerate() {
            let mut cur = head;
            while cur != NIL {
                v.push(Region {
                    offset: cur,
                    len: CLASSES[class],
                    kind: RegionKind::ClassFree,
                });
                cur = self.next_of(cur);
            }
        }
        v.sort_by_key(|r| r.offset);
        v
    }
}

impl fmt::Debug for SizeClasses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "size classes {CLASSES:?} ({} slabs) over {:?}",
            self.slabs, self.fallback
        )
    }
}

// SAFETY: class blocks come from slabs the fallback handed out (live fallback blocks, never freed
// back), each slab cut into disjoint `CLASSES[i]`-byte blocks, 16-aligned; a block is on at most one
// list while free and on none while in use (given the caller's contract). The class is checked to
// hold the size and the alignment to be at most 16. Other requests get the fallback's blocks. A
// `with_lookup` rule runs inside `alloc`/`dealloc` with `&mut self` lent: the handles refuse any
// re-entry from it (`Refusal::Reentered`).
unsafe impl ArenaAllocator for SizeClasses {
    fn name(&self) -> String {
        self.name.into()
    }

    fn arena(&self) -> &Arena {
        self.fallback.arena()
    }

    #[inline]
    fn alloc(&mut self, layout: Layout) -> Result<NonNull<u8>, Refusal> {
        let Some(class) = self.class_of(layout)? else {
            return self.fallback.alloc(layout);
        };
        if self.heads[class] == NIL {
            self.refill(class)?;
        }
        let off = self.heads[class];
        self.heads[class] = self.next_of(off);
        Ok(self.fallback.arena().at(off))
    }

    #[inline]
    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
        match self.class_of(layout) {
            Ok(Some(class)) => {
                let off = self
                    .fallback
                    .arena()
                    .offset_of(ptr.as_ptr(), CLASSES[class])
                    .filter(|o| o % CLASS_ALIGN == 0)
                    .ok_or(Misuse::Foreign)?;
                self.push(class, off);
                Ok(())
            }
            // SAFETY: a block of no class came from the fallback (the caller's contract).
            Ok(None) => unsafe { self.fallback.dealloc(ptr, layout) },
            // Allocation refused this layout, so no live block can have it.
            Err(_) => Err(Misuse::WrongLayout),
        }
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<u8>, Refusal> {
        match (self.class_of(old), self.class_of(new)?) {
            (Ok(Some(a)), Some(b)) if a == b => Ok(ptr), // same class: the block already fits
            // SAFETY: the caller's contract, passed on (a block of no class is the fallback's).
            (Ok(None), None) => unsafe { self.fallback.realloc(ptr, old, new) },
            // SAFETY: the caller's contract, passed on.
            _ => unsafe { move_block(self, ptr, old, new) },
        }
    }

    fn reset(&mut self) {
        self.fallback.reset();
        self.heads = [NIL; CLASSES.len()];
        self.slabs = 0;
    }

    fn regions(&self) -> Vec<Region> {
        // Slabs are used blocks of the fallback; the blocks on class lists are painted over them.
        paint(
            &self.fallback.regions(),
            &self.class_free_regions(),
            |k| matches!(k, RegionKind::Data { .. } | RegionKind::Slack),
            |k| k,
        )
    }
}
