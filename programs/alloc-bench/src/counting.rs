//! A global allocator that counts: every `alloc`, `alloc_zeroed` and `realloc` call, the bytes they
//! asked for, and the live and peak bytes, passed on to `System`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Counts allocator calls and bytes; a `static` of it is a `#[global_allocator]`.
#[derive(Debug)]
pub struct Counting {
    calls: AtomicUsize,
    bytes: AtomicUsize,
    live: AtomicUsize,
    peak: AtomicUsize,
}

/// What a [`Counting`] saw between two snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Allocation calls (`alloc`, `alloc_zeroed`, `realloc`).
    pub calls: usize,
    /// Bytes those calls asked for (a `realloc` counts its new size).
    pub bytes: usize,
    /// Live bytes now.
    pub live: usize,
    /// The most live bytes since the last [`Counting::reset_peak`].
    pub peak: usize,
}

impl Counting {
    /// A counter at zero.
    pub const fn new() -> Counting {
        Counting {
            calls: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// The counts now.
    pub fn counts(&self) -> Counts {
        Counts {
            calls: self.calls.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            live: self.live.load(Relaxed),
            peak: self.peak.load(Relaxed),
        }
    }

    /// Starts a new peak from the live bytes now.
    pub fn reset_peak(&self) {
        self.peak.store(self.live.load(Relaxed), Relaxed);
    }

    fn grew(&self, asked: usize, added: usize) {
        self.calls.fetch_add(1, Relaxed);
        self.bytes.fetch_add(asked, Relaxed);
        let live = self.live.fetch_add(added, Relaxed) + added;
        self.peak.fetch_max(live, Relaxed);
    }
}

impl Default for Counting {
    fn default() -> Counting {
        Counting::new()
    }
}

// SAFETY: every call is passed to `System` with the caller's arguments; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            self.grew(layout.size(), layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            self.grew(layout.size(), layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) };
        self.live.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            self.live.fetch_sub(layout.size(), Relaxed);
            self.grew(new_size, new_size);
        }
        p
    }
}
