//! The `&self` faces of an [`ArenaAllocator`]: [`Local`] (`Allocator`, no lock, `!Sync`) and
//! [`Locked`] (`GlobalAlloc` and `Allocator`, a spin lock, `Sync`).
//!
//! Both traits take `&self`, because an allocator is shared by every collection that uses it while
//! it changes its own state: the state needs interior mutability. In one thread an `UnsafeCell` is
//! enough, and the type is then `!Sync`, so the compiler stops it from being shared across
//! threads. A `#[global_allocator]` must be `Sync` (any thread may allocate), so [`Locked`] puts
//! the state behind a lock. It is a spin lock by choice, for teaching: small enough to read whole,
//! and using nothing beyond `core` but `thread_local!`, which `GlobalAlloc`'s docs list as never
//! allocating through the global allocator (a lock that allocated would re-enter the global
//! allocator it protects). `std::sync::Mutex` would also do on Linux: its `new` is `const` (so it
//! fits in a `static`) and it is a futex that does not allocate; `GlobalAlloc`'s docs warn that it
//! may allocate on some platforms. Spinning has its price under contention: a waiting thread keeps
//! its core busy for the whole critical section (for [`FreeList`](super::FreeList), a walk of the
//! free list) and, if the holder is descheduled, until it runs again; std's futex `Mutex` spins a
//! bounded number of times and then sleeps in the kernel.
//!
//! A design may run code written elsewhere while it holds the handle's `&mut` (the rules of the
//! exercises). If that code calls the same handle again, the handle refuses the inner call with
//! [`Refusal::Reentered`]: `Local` keeps a `busy` flag, `Locked` remembers which thread holds it.
//! A design that runs only its own code ([`ArenaAllocator::CALLS_OUT`] false: [`BumpUp`](super::BumpUp),
//! [`BumpDown`](super::BumpDown)) cannot be re-entered, and `Local` lends it `&mut` without the
//! flag: the flag's two stores were a tenth of a bump allocation's time in the benches.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::hint::spin_loop;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Runs on drop: gives a `Cell<bool>` flag back (also if the closure panics).
struct Clear<'a>(&'a Cell<bool>);

impl Drop for Clear<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

thread_local! {
    /// One byte per thread; its address identifies the thread while it lives (no allocation, no
    /// destructor: safe to reach from inside a global allocator).
    static THREAD_MARK: u8 = const { 0 };
}

/// A non-zero number unique to the calling thread among the threads alive now.
#[inline]
fn thread_mark() -> usize {
    THREAD_MARK.with(|m| m as *const u8 as usize)
}

use allocator_api2::alloc::{AllocError, Allocator};

use super::{Arena, ArenaAllocator, HeapMap, Misuse, Refusal};

/// What the handles share: run a closure on the design, and note refusals and misuse.
trait Handle {
    type Design: ArenaAllocator;
    /// Runs `f` on the design, or returns `None` if there is none (a lazy one that failed) or if
    /// this thread is already inside `with` of this handle (see [`Handle::inside`]).
    fn with<R>(&self, f: impl FnOnce(&mut Self::Design) -> R) -> Option<R>;
    /// Whether the calling thread is inside `with` of this handle right now (a re-entry).
    fn inside(&self) -> bool;
    /// Why `with` returned `None` for a request of `layout`.
    fn unreached(&self, layout: Layout) -> Refusal {
        if self.inside() {
            Refusal::Reentered
        } else {
            Refusal::OutOfMemory {
                size: layout.size(),
                align: layout.align(),
            }
        }
    }
    fn note_refusal(&self, r: Refusal);
    fn note_misuse(&self, m: Misuse);
}

/// Handles the requests no design sees: zero size (a dangling, aligned pointer, as std's `Global`
/// does) and alignments beyond the arena's.
#[inline(always)]
fn allocate_via<H: Handle>(h: &H, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
    if layout.size() == 0 {
        return Ok(NonNull::slice_from_raw_parts(layout.dangling_ptr(), 0));
    }
    let r = if layout.align() > Arena::ALIGN {
        Err(Refusal::AlignTooLarge {
            align: layout.align(),
        })
    } else {
        h.with(|a| a.alloc(layout))
            .unwrap_or_else(|| Err(h.unreached(layout)))
    };
    match r {
        Ok(p) => Ok(NonNull::slice_from_raw_parts(p, layout.size())),
        Err(e) => {
            h.note_refusal(e);
            Err(AllocError)
        }
    }
}

/// # Safety
/// `ptr` is a live block of `h` with `layout` (the `Allocator::deallocate` contract).
#[inline(always)]
unsafe fn deallocate_via<H: Handle>(h: &H, ptr: NonNull<u8>, layout: Layout) {
    if layout.size() == 0 {
        return;
    }
    // SAFETY: the caller's contract, passed on.
    // A re-entrant free is not done: the block stays consumed (a leak, never a second `&mut`).
    if let Some(Err(m)) = h.with(|a| unsafe { a.dealloc(ptr, layout) }) {
        h.note_misuse(m);
    }
}

/// Grow or shrink (`Allocator::grow`/`shrink` contracts), through the design's `realloc`.
///
/// # Safety
/// `ptr` is a live block of `h` with `old`.
unsafe fn resize_via<H: Handle>(
    h: &H,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    if old.size() == 0 || new.size() == 0 {
        // One side has no block: allocate the new one, then free the old one (after a copy of
        // nothing, since one of them is empty).
        let fresh = allocate_via(h, new)?;
        // SAFETY: the caller's contract, passed on.
        unsafe { deallocate_via(h, ptr, old) };
        return Ok(fresh);
    }
    if new.align() > Arena::ALIGN {
        h.note_refusal(Refusal::AlignTooLarge { align: new.align() });
        return Err(AllocError);
    }
    // SAFETY: the caller's contract, passed on.
    match h.with(|a| unsafe { a.realloc(ptr, old, new) }) {
        Some(Ok(p)) => Ok(NonNull::slice_from_raw_parts(p, new.size())),
        Some(Err(e)) => {
            h.note_refusal(e);
            Err(AllocError)
        }
        None => {
            h.note_refusal(h.unreached(new));
            Err(AllocError)
        }
    }
}

/// A design used through `allocator_api2::alloc::Allocator` in one thread: no lock, `!Sync`.
///
/// Use it by reference: `Vec::new_in(&local)`, `Box::new_in(x, &local)`. [`Local::reset`] takes
/// `&mut self`, so the borrow checker proves no collection still uses the arena when it is reset.
pub struct Local<A> {
    /// The design. Only `with` touches it, for the length of one design call, while `busy` is set.
    inner: UnsafeCell<A>,
    /// True while `with` lends `&mut` to the design: a call that finds it set is a re-entry (from
    /// a rule the design runs) and is refused.
    busy: Cell<bool>,
    refusals: Cell<usize>,
    misuses: Cell<usize>,
    last_refusal: Cell<Option<Refusal>>,
}

impl<A: ArenaAllocator> Local<A> {
    /// Wraps a design.
    pub fn new(design: A) -> Local<A> {
        Local {
            inner: UnsafeCell::new(design),
            busy: Cell::new(false),
            refusals: Cell::new(0),
            misuses: Cell::new(0),
            last_refusal: Cell::new(None),
        }
    }

    /// The design, for reading its state.
    pub fn design(&mut self) -> &mut A {
        self.inner.get_mut()
    }

    /// Frees every block at once (the borrow checker proves no block is still in use).
    pub fn reset(&mut self) {
        self.inner.get_mut().reset();
    }

    /// The design's name.
    pub fn name(&self) -> String {
        self.with(|a| a.name()).unwrap_or_default()
    }

    /// The arena as regions; `None` when called from inside a call of this same `Local` (a rule
    /// that reaches back into its allocator).
    pub fn heap_map(&self) -> Option<HeapMap> {
        self.with(|a| HeapMap::new(a.name(), a.arena().len(), a.regions()))
    }

    /// Requests refused so far (each an `AllocError` to the caller).
    pub fn refusals(&self) -> usize {
        self.refusals.get()
    }

    /// The most recent refusal, with its reason.
    pub fn last_refusal(&self) -> Option<Refusal> {
        self.last_refusal.get()
    }

    /// Frees the design detected as contract violations (and ignored).
    pub fn misuses(&self) -> usize {
        self.misuses.get()
    }
}

impl<A: ArenaAllocator> Handle for Local<A> {
    type Design = A;
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut A) -> R) -> Option<R> {
        if !A::CALLS_OUT {
            // SAFETY: `Local` is `!Sync`, so only this thread is here; the design runs no code but
            // its own (`CALLS_OUT` is false, a promise of its unsafe `ArenaAllocator` impl), so
            // nothing can call this handle again while this `&mut` lives, and `with` is the only
            // place that makes one from `&self`. No flag is needed: there is no re-entry to refuse.
            return Some(f(unsafe { &mut *self.inner.get() }));
        }
        if self.busy.replace(true) {
            return None; // re-entered from inside a design call: refuse, never a second `&mut`
        }
        let _clear = Clear(&self.busy);
        // SAFETY: `Local` is `!Sync` (it holds an `UnsafeCell`), so only this thread can be here;
        // `busy` was false, so no other `&mut` to the design exists, and while this one lives (one
        // design call, which may run a rule written elsewhere) `busy` stays true, so a re-entrant
        // call returns above without making a second one.
        Some(f(unsafe { &mut *self.inner.get() }))
    }
    fn inside(&self) -> bool {
        self.busy.get()
    }
    fn note_refusal(&self, r: Refusal) {
        self.refusals.set(self.refusals.get() + 1);
        self.last_refusal.set(Some(r));
    }
    fn note_misuse(&self, _m: Misuse) {
        self.misuses.set(self.misuses.get() + 1);
    }
}

impl<A: ArenaAllocator> fmt::Debug for Local<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Local({}, {} refusals, {} misuses)",
            self.name(),
            self.refusals(),
            self.misuses()
        )
    }
}

// SAFETY: blocks come from the design, which promises they are live, aligned, sized and disjoint
// until freed (`ArenaAllocator`'s contract); zero-size requests get a dangling aligned pointer that
// is never freed; resizing keeps the contents (`realloc`'s contract). Moving a `Local` does not move
// the arena's memory, so blocks stay valid while the `Local` is borrowed by collections.
unsafe impl<A: ArenaAllocator> Allocator for Local<A> {
    #[inline(always)]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        allocate_via(self, layout)
    }

    #[inline(always)]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { deallocate_via(self, ptr, layout) }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller's contract, passed on.
        unsafe { resize_via(self, ptr, old, new) }
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller's contract, passed on.
        unsafe { resize_via(self, ptr, old, new) }
    }
}

/// A spin lock around a design: `Sync`, so it can be a `#[global_allocator]`, and also an
/// `Allocator`. A `static` can hold one made by [`Locked::lazy`], whose arena is taken from `System`
/// at the first allocation.
pub struct Locked<A> {
    /// True while a thread is inside `with`.
    busy: AtomicBool,
    /// The holding thread's [`thread_mark`] while `busy` is held, 0 otherwise: a thread that finds
    /// its own mark here is re-entering and is refused instead of spinning forever.
    owner: AtomicUsize,
    /// The design (or how to make it). Only touched while `busy` is held.
    slot: UnsafeCell<Slot<A>>,
    refusals: AtomicUsize,
    misuses: AtomicUsize,
    calls: AtomicUsize,
    /// Acquisitions that found the lock held by another thread.
    contended: AtomicUsize,
    /// Turns of the waiting loop, over all contended acquisitions.
    spins: AtomicUsize,
}

enum Slot<A> {
    Ready(A),
    Lazy(fn() -> Option<A>),
    Failed,
}

// SAFETY: the design is only reached inside `with`, while `busy` is held by exactly one thread
// (acquire on taking it, release on giving it back); a design that may move between threads
// (`Send`) may therefore be used from any of them.
unsafe impl<A: Send> Sync for Locked<A> {}

impl<A> Locked<A> {
    /// Wraps a design.
    pub const fn new(design: A) -> Locked<A> {
        Locked::with_slot(Slot::Ready(design))
    }

    /// A design made by `init` at the first call (for a `static`): `None` from `init` makes every
    /// allocation fail (null) instead of panicking inside the allocator.
    pub const fn lazy(init: fn() -> Option<A>) -> Locked<A> {
        Locked::with_slot(Slot::Lazy(init))
    }

    const fn with_slot(slot: Slot<A>) -> Locked<A> {
        Locked {
            busy: AtomicBool::new(false),
            owner: AtomicUsize::new(0),
            slot: UnsafeCell::new(slot),
            refusals: AtomicUsize::new(0),
            misuses: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            contended: AtomicUsize::new(0),
            spins: AtomicUsize::new(0),
        }
    }

    /// Acquisitions of the lock that found it held by another thread (and waited).
    pub fn contended(&self) -> usize {
        self.contended.load(Ordering::Relaxed)
    }

    /// Turns of the waiting loop (one `spin_loop` hint each) over all contended acquisitions.
    pub fn spins(&self) -> usize {
        self.spins.load(Ordering::Relaxed)
    }

    /// Allocation calls that reached the design.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// Requests refused so far.
    pub fn refusals(&self) -> usize {
        self.refusals.load(Ordering::Relaxed)
    }

    /// Frees the design detected as contract violations (and ignored).
    pub fn misuses(&self) -> usize {
        self.misuses.load(Ordering::Relaxed)
    }
}

impl<A: ArenaAllocator> Locked<A> {
    /// Runs `f` on the design under the lock (`None` if a lazy design could not be made).
    ///
    /// The lock is not re-entrant: a call from inside `f` to this same `Locked` is refused (`None`,
    /// or a refused allocation) rather than waiting for a lock its own thread holds. So `f` gets
    /// nothing by allocating through this `Locked` (for a global allocator: by allocating at all).
    pub fn inspect<R>(&self, f: impl FnOnce(&A) -> R) -> Option<R> {
        Handle::with(self, |a| f(a))
    }

    /// The arena as regions. Not for the instance that is the global allocator (it allocates).
    pub fn heap_map(&self) -> Option<HeapMap> {
        self.inspect(|a| HeapMap::new(a.name(), a.arena().len(), a.regions()))
    }
}

/// Holds the spin lock; gives it back when dropped (also if the closure panics).
struct Held<'a> {
    busy: &'a AtomicBool,
    owner: &'a AtomicUsize,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.owner.store(0, Ordering::Relaxed);
        self.busy.store(false, Ordering::Release);
    }
}

impl<A: ArenaAllocator> Handle for Locked<A> {
    type Design = A;
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut A) -> R) -> Option<R> {
        if self.inside() {
            return None; // this thread holds the lock already: refuse instead of spinning forever
        }
        if self.busy.swap(true, Ordering::Acquire) {
            // Found held: the slow path counts how long it waits (two atomic adds per contended
            // acquisition, none on the uncontended path).
            let mut turns = 0usize;
            loop {
                while self.busy.load(Ordering::Relaxed) {
                    spin_loop();
                    turns = turns.wrapping_add(1);
                }
                if !self.busy.swap(true, Ordering::Acquire) {
                    break;
                }
            }
            self.contended.fetch_add(1, Ordering::Relaxed);
            self.spins.fetch_add(turns, Ordering::Relaxed);
        }
        self.owner.store(thread_mark(), Ordering::Relaxed);
        let _held = Held {
            busy: &self.busy,
            owner: &self.owner,
        };
        // Only the lock's holder writes the counter, so a plain load and store count it: no second
        // locked instruction per call (an atomic add is one, as costly as the swap that took the lock).
        self.calls
            .store(self.calls.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        // SAFETY: this thread holds the lock, so no other thread's `&mut` to the slot exists; this
        // thread made none before (`inside` was false on entry), and while this one lives (one
        // design call, which may run a rule written elsewhere) `owner` holds this thread's mark, so
        // a re-entrant call returns above without making a second one.
        let slot = unsafe { &mut *self.slot.get() };
        if let Slot::Lazy(init) = slot {
            *slot = init().map_or(Slot::Failed, Slot::Ready);
        }
        match slot {
            Slot::Ready(a) => Some(f(a)),
            _ => None,
        }
    }
    fn inside(&self) -> bool {
        // Only this thread ever stores its own mark, and it clears it before giving the lock back,
        // so a stale value can never equal the mark (program order within one thread).
        self.owner.load(Ordering::Relaxed) == thread_mark()
    }
    fn note_refusal(&self, _r: Refusal) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
    }
    fn note_misuse(&self, _m: Misuse) {
        self.misuses.fetch_add(1, Ordering::Relaxed);
    }
}

impl<A> fmt::Debug for Locked<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Locked({} calls, {} refusals, {} misuses)",
            self.calls(),
            self.refusals(),
            self.misuses()
        )
    }
}

// SAFETY: as for `Local`'s `Allocator`: every block comes from the design under the lock.
unsafe impl<A: ArenaAllocator> Allocator for Locked<A> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        allocate_via(self, layout)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { deallocate_via(self, ptr, layout) }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller's contract, passed on.
        unsafe { resize_via(self, ptr, old, new) }
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller's contract, passed on.
        unsafe { resize_via(self, ptr, old, new) }
    }
}

// SAFETY: the same blocks as the `Allocator` impl; a refusal is a null pointer (never a panic or an
// abort inside the allocator). `GlobalAlloc` forbids size 0: such a call (undefined behaviour for the
// caller) gets a dangling aligned pointer, and its `dealloc` is ignored.
unsafe impl<A: ArenaAllocator> GlobalAlloc for Locked<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        allocate_via(self, layout).map_or(std::ptr::null_mut(), |p| p.cast::<u8>().as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: the caller's contract, passed on.
            unsafe { deallocate_via(self, p, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (Some(p), Ok(new)) = (
            NonNull::new(ptr),
            Layout::from_size_align(new_size, layout.align()),
        ) else {
            return std::ptr::null_mut();
        };
        // SAFETY: the caller's contract, passed on.
        unsafe { resize_via(self, p, layout, new) }
            .map_or(std::ptr::null_mut(), |p| p.cast::<u8>().as_ptr())
    }
}
