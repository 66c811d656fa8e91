//! A design behind a ledger of live blocks: the arena the exercises run a learner's allocator in,
//! and the one the notebook draws heap maps of.
//!
//! Every block the design hands out is checked — inside the arena, aligned, overlapping no live
//! block — before anyone writes to it; every free is checked against the ledger before it reaches
//! the design (a double free, a foreign pointer or a wrong layout is refused and written down).
//! So a wrong allocator produces a report, never a crash of the kernel.

use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};

use super::{paint, Arena, ArenaAllocator, HeapMap, Refusal, Region, RegionKind};

/// A block handed out by a [`CheckedArena`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Allocation number: 1 for the first block, in the order they were made (0 for zero-sized).
    pub id: u32,
    /// Where the data starts.
    pub ptr: NonNull<u8>,
    /// The layout it was allocated with.
    pub layout: Layout,
}

#[derive(Clone, Copy, Debug)]
struct Live {
    id: u32,
    layout: Layout,
}

/// A design with a ledger: checks every block and every free (see the module docs).
/// One thread only (`!Sync`, `RefCell`s inside).
pub struct CheckedArena<A> {
    design: RefCell<A>,
    /// Live blocks by address. Invariant: pairwise disjoint, each inside the arena.
    live: RefCell<BTreeMap<usize, Live>>,
    /// Addresses freed and not handed out again, with the id they had (to name double frees).
    freed: RefCell<BTreeMap<usize, u32>>,
    next_id: Cell<u32>,
    problems: RefCell<Vec<String>>,
    refusals: RefCell<Vec<Refusal>>,
}

/// At most this many problems and refusals are kept (a runaway loop cannot eat memory).
const MAX_NOTES: usize = 1000;

fn note<T>(list: &RefCell<Vec<T>>, item: T) {
    let mut l = list.borrow_mut();
    if l.len() < MAX_NOTES {
        l.push(item);
    }
}

impl<A: ArenaAllocator> CheckedArena<A> {
    /// Puts `design` behind a ledger.
    pub fn new(design: A) -> CheckedArena<A> {
        CheckedArena {
            design: RefCell::new(design),
            live: RefCell::new(BTreeMap::new()),
            freed: RefCell::new(BTreeMap::new()),
            next_id: Cell::new(1),
            problems: RefCell::new(Vec::new()),
            refusals: RefCell::new(Vec::new()),
        }
    }

    /// The design, for one call into it; refused with [`Refusal::Reentered`] when the design is
    /// already in a call (a rule of the design's that allocates through this same arena), as the
    /// handles `Local` and `Locked` refuse it, instead of a "already borrowed" panic.
    fn design_mut(&self) -> Result<std::cell::RefMut<'_, A>, String> {
        self.design.try_borrow_mut().map_err(|_| {
            note(&self.refusals, Refusal::Reentered);
            Refusal::Reentered.to_string()
        })
    }

    /// The design's name.
    pub fn name(&self) -> String {
        self.design.borrow().name()
    }

    /// Contract violations seen so far (by the caller or by the design), in order.
    pub fn problems(&self) -> Vec<String> {
        self.problems.borrow().clone()
    }

    /// Requests the design refused so far, in order.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.refusals.borrow().clone()
    }

    /// Live blocks, in address order.
    pub fn live_blocks(&self) -> Vec<Block> {
        self.live
            .borrow()
            .iter()
            .map(|(&addr, l)| Block {
                id: l.id,
                ptr: self.design.borrow().arena().at(addr - self.start()),
                layout: l.layout,
            })
            .collect()
    }

    /// Where a block's data starts, as an offset from the arena's start (0 for a zero-sized block,
    /// which lies outside the arena).
    pub fn offset(&self, block: Block) -> usize {
        (block.ptr.as_ptr() as usize)
            .checked_sub(self.start())
            .filter(|_| block.layout.size() > 0)
            .unwrap_or(0)
    }

    /// Bytes asked for by the live blocks.
    pub fn live_bytes(&self) -> usize {
        self.live.borrow().values().map(|l| l.layout.size()).sum()
    }

    fn start(&self) -> usize {
        self.design.borrow().arena().start_addr()
    }

    /// A block of `size` bytes aligned to `align`, or a clear error (bad layout, or the design's
    /// refusal, or a contract break by the design).
    pub fn alloc(&self, size: usize, align: usize) -> Result<Block, String> {
        let layout = Layout::from_size_align(size, align).map_err(|_| {
            if !align.is_power_of_two() {
                format!("alignment {align} is not a power of two")
            } else {
                format!("size {size} with alignment {align} exceeds isize::MAX when rounded up: no layout has it")
            }
        })?;
        self.alloc_layout(layout)
    }

    /// A block for `layout` (see [`CheckedArena::alloc`]). Size 0 gets a dangling aligned pointer
    /// with id 0, as the `Allocator` contract allows; it never reaches the design.
    pub fn alloc_layout(&self, layout: Layout) -> Result<Block, String> {
        if layout.size() == 0 {
            return Ok(Block {
                id: 0,
                ptr: layout.dangling_ptr(),
                layout,
            });
        }
        if layout.align() > Arena::ALIGN {
            let r = Refusal::AlignTooLarge {
                align: layout.align(),
            };
            note(&self.refusals, r);
            return Err(r.to_string());
        }
        let got = self.design_mut()?.alloc(layout);
        match got {
            Ok(p) => self.admit(p, layout, None),
            Err(r) => {
                note(&self.refusals, r);
                Err(r.to_string())
            }
        }
    }

    /// Checks a block the design handed out and enters it in the ledger. `replacing` is the address
    /// of a block being resized, which the new one may overlap.
    fn admit(
        &self,
        p: NonNull<u8>,
        layout: Layout,
        replacing: Option<usize>,
    ) -> Result<Block, String> {
        let addr = p.as_ptr() as usize;
        let arena_len = self.design.borrow().arena().len();
        let off = self
            .design
            .borrow()
            .arena()
            .offset_of(p.as_ptr(), layout.size());
        let problem = if off.is_none() {
            Some(format!(
                "the design handed out {} bytes at offset {}, outside the arena of {arena_len} bytes",
                layout.size(),
                addr.wrapping_sub(self.start()) as isize
            ))
        } else if !addr.is_multiple_of(layout.align()) {
            Some(format!(
                "the design handed out a block at offset {} for alignment {}: not aligned (offset % align = {})",
                addr - self.start(),
                layout.align(),
                addr % layout.align()
            ))
        } else {
            self.overlap(addr, layout.size(), replacing).map(|(other, id)| {
                format!(
                    "the design handed out {} bytes at offset {}, overlapping live block #{id} at offset {}",
                    layout.size(),
                    addr - self.start(),
                    other - self.start()
                )
            })
        };
        if let Some(p) = problem {
            note(&self.problems, p.clone());
            return Err(p);
        }
        let id = self.next_id.get();
        self.next_id.set(id.saturating_add(1));
        if let Some(old) = replacing {
            self.live.borrow_mut().remove(&old);
        }
        self.live.borrow_mut().insert(addr, Live { id, layout });
        self.freed.borrow_mut().remove(&addr);
        Ok(Block { id, ptr: p, layout })
    }

    /// A live block overlapping `addr..addr+size`, other than `except`.
    fn overlap(&self, addr: usize, size: usize, except: Option<usize>) -> Option<(usize, u32)> {
        let live = self.live.borrow();
        let before = live
            .range(..addr + size)
            .rev()
            .find(|(a, _)| Some(**a) != except)
            .filter(|(a, l)| **a + l.layout.size() > addr);
        before.map(|(a, l)| (*a, l.id))
    }

    /// Checks a free against the ledger; the live entry if it is right.
    fn check_free(&self, ptr: NonNull<u8>, layout: Layout) -> Result<Live, String> {
        let addr = ptr.as_ptr() as usize;
        let live = self.live.borrow().get(&addr).copied();
        let problem = match live {
            Some(l) if l.layout == layout => return Ok(l),
            Some(l) => format!(
                "free of block #{} with size {} align {}, but it was allocated with size {} align {}",
                l.id,
                layout.size(),
                layout.align(),
                l.layout.size(),
                l.layout.align()
            ),
            None => match self.freed.borrow().get(&addr) {
                Some(id) => format!("double free: block #{id} was already freed"),
                None => format!(
                    "free of {ptr:p}, which this arena never handed out (a foreign pointer)"
                ),
            },
        };
        note(&self.problems, problem.clone());
        Err(problem)
    }

    /// Gives a block back, or says why the free was refused (it then never reaches the design).
    pub fn free(&self, block: Block) -> Result<(), String> {
        self.free_ptr(block.ptr, block.layout)
    }

    fn free_ptr(&self, ptr: NonNull<u8>, layout: Layout) -> Result<(), String> {
        if layout.size() == 0 {
            return Ok(());
        }
        let l = self.check_free(ptr, layout)?;
        let mut design = self.design_mut()?;
        let addr = ptr.as_ptr() as usize;
        self.live.borrow_mut().remove(&addr);
        self.freed.borrow_mut().insert(addr, l.id);
        // SAFETY: the ledger shows `ptr` is a live block of this design with `layout`.
        let r = unsafe { design.dealloc(ptr, layout) };
        drop(design);
        r.map_err(|m| {
            let p = format!("the design refused a valid free of block #{}: {m}", l.id);
            note(&self.problems, p.clone());
            p
        })
    }

    /// Resizes a block to `new_size` bytes (same alignment), keeping its contents.
    pub fn realloc(&self, block: Block, new_size: usize) -> Result<Block, String> {
        let new = Layout::from_size_align(new_size, block.layout.align())
            .map_err(|_| format!("size {new_size} exceeds isize::MAX when rounded up"))?;
        self.resize(block.ptr, block.layout, new)
    }

    fn resize(&self, ptr: NonNull<u8>, old: Layout, new: Layout) -> Result<Block, String> {
        if old.size() == 0 || new.size() == 0 {
            let fresh = self.alloc_layout(new)?;
            self.free_ptr(ptr, old)?;
            return Ok(fresh);
        }
        self.check_free(ptr, old)?;
        if new.align() > Arena::ALIGN {
            let r = Refusal::AlignTooLarge { align: new.align() };
            note(&self.refusals, r);
            return Err(r.to_string());
        }
        let mut design = self.design_mut()?;
        // SAFETY: the ledger shows `ptr` is a live block of this design with `old`.
        let got = unsafe { design.realloc(ptr, old, new) };
        drop(design);
        match got {
            Ok(p) => self.admit(p, new, Some(ptr.as_ptr() as usize)),
            Err(r) => {
                note(&self.refusals, r);
                Err(r.to_string())
            }
        }
    }

    /// Writes `byte` into every byte of a live block (to check later that nothing overwrote it).
    pub fn fill(&self, block: Block, byte: u8) -> Result<(), String> {
        self.check_live(block)?;
        // SAFETY: the ledger shows the block is live with this layout: `size` writable bytes.
        unsafe { block.ptr.as_ptr().write_bytes(byte, block.layout.size()) };
        Ok(())
    }

    /// Whether the first `len` bytes of a live block (at most its size) all hold `byte`.
    pub fn holds(&self, block: Block, byte: u8, len: usize) -> Result<bool, String> {
        self.check_live(block)?;
        let len = len.min(block.layout.size());
        // SAFETY: the block is live with this layout, so `len` bytes are readable; they were
        // written by `fill` (directly, or copied there by a resize).
        let bytes = unsafe { std::slice::from_raw_parts(block.ptr.as_ptr(), len) };
        Ok(super::conformance::all_equal(bytes, byte))
    }

    fn check_live(&self, block: Block) -> Result<(), String> {
        if block.layout.size() == 0 {
            return Ok(());
        }
        match self.live.borrow().get(&(block.ptr.as_ptr() as usize)) {
            Some(l) if l.layout == block.layout => Ok(()),
            _ => Err(format!("block #{} is not live", block.id)),
        }
    }

    /// The arena as regions: what the design knows, with live blocks painted by allocation number,
    /// and handed-out bytes no live block asked for shown as slack.
    pub fn heap_map(&self) -> HeapMap {
        let d = self.design.borrow();
        let start = d.arena().start_addr();
        let spans: Vec<Region> = self
            .live
            .borrow()
            .iter()
            .map(|(&a, l)| Region {
                offset: a - start,
                len: l.layout.size(),
                kind: RegionKind::Data { id: Some(l.id) },
            })
            .collect();
        let regions = paint(
            &d.regions(),
            &spans,
            |k| matches!(k, RegionKind::Data { .. } | RegionKind::Slack),
            |_| RegionKind::Slack,
        );
        HeapMap::new(d.name(), d.arena().len(), regions)
    }

    /// Frees every block at once (the ledger is emptied too).
    pub fn reset(&mut self) {
        self.design.get_mut().reset();
        self.live.get_mut().clear();
        self.freed.get_mut().clear();
    }
}

impl<A: ArenaAllocator> fmt::Debug for CheckedArena<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CheckedArena({}: {} live blocks, {} problems)",
            self.name(),
            self.live.borrow().len(),
            self.problems.borrow().len()
        )
    }
}

// SAFETY: only blocks that passed `admit` (inside the arena, aligned, disjoint from every live
// block) are handed out, and the ledger keeps them live until freed; zero-size requests get a
// dangling aligned pointer; frees the ledger refuses never reach the design.
unsafe impl<A: ArenaAllocator> Allocator for CheckedArena<A> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.alloc_layout(layout)
            .map(|b| NonNull::slice_from_raw_parts(b.ptr, layout.size()))
            .map_err(|_| AllocError)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        let _ = self.free_ptr(ptr, layout); // a refused free is in `problems`
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        self.resize(ptr, old, new)
            .map(|b| NonNull::slice_from_raw_parts(b.ptr, new.size()))
            .map_err(|_| AllocError)
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        self.resize(ptr, old, new)
            .map(|b| NonNull::slice_from_raw_parts(b.ptr, new.size()))
            .map_err(|_| AllocError)
    }
}
