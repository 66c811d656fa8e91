//! A guarded heap: a `GlobalAlloc` that checks every call against the contract and refuses to pass
//! a bad one on, and the recorder over it that chapter 3's `MyBox` exercise allocates from.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::Mutex;

use super::recording::RecordingAllocator;

/// A `GlobalAlloc` over `System` that checks every call against the contract and **refuses to pass
/// a bad one on**: a double free, a free of an unknown pointer, a free with the wrong layout, or a
/// zero-size request is written down as a problem instead of reaching libc (where it would be
/// undefined behaviour). Blocks still live are leaks.
#[derive(Debug, Default)]
pub struct GuardedSystem {
    live: Mutex<HashMap<usize, Layout>>,
    problems: Mutex<Vec<String>>,
}

impl GuardedSystem {
    /// An empty guarded heap.
    pub fn new() -> Self {
        GuardedSystem::default()
    }

    fn problem(&self, p: String) {
        self.problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(p);
    }

    /// Contract violations seen so far, in order.
    pub fn problems(&self) -> Vec<String> {
        self.problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Blocks allocated and not freed: `(size, align)` each.
    pub fn leaks(&self) -> Vec<(usize, usize)> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<(usize, usize)> = live.values().map(|l| (l.size(), l.align())).collect();
        v.sort_unstable();
        v
    }
}

// SAFETY: valid requests are forwarded to `System` unchanged; invalid ones (size 0, unknown or
// already-freed pointers, mismatched layouts) are never forwarded, so `System`'s contract holds.
// Size-0 allocations get a dangling aligned pointer that is never passed to libc.
unsafe impl GlobalAlloc for GuardedSystem {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() == 0 {
            self.problem(format!(
                "alloc with size 0 (align {}): undefined behaviour for GlobalAlloc; a zero-sized type must not allocate",
                layout.align()
            ));
            return layout.dangling_ptr().as_ptr();
        }
        // SAFETY: the size is not zero.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            self.live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(p as usize, layout);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        match live.get(&(ptr as usize)).copied() {
            None if layout.size() == 0 => {
                drop(live);
                self.problem(format!(
                    "dealloc with size 0 at {ptr:p}: a zero-sized type's dangling pointer must never be freed"
                ));
            }
            None => {
                drop(live);
                self.problem(format!(
                    "dealloc of {ptr:p} ({} bytes), which is not a live block: a double free or a foreign pointer",
                    layout.size()
                ));
            }
            Some(l) if l != layout => {
                drop(live);
                self.problem(format!(
                    "dealloc of {ptr:p} with size {} align {}, but it was allocated with size {} align {}",
                    layout.size(),
                    layout.align(),
                    l.size(),
                    l.align()
                ));
            }
            Some(l) => {
                live.remove(&(ptr as usize));
                drop(live);
                // SAFETY: `ptr` is a live block allocated by `System` with exactly `l`.
                unsafe { System.dealloc(ptr, l) };
            }
        }
    }
}

/// A recorder over a guarded heap: the heap the chapter 3 exercise's `MyBox` allocates from.
pub type CheckedHeap = RecordingAllocator<GuardedSystem>;

/// A new [`CheckedHeap`].
pub fn checked_heap() -> CheckedHeap {
    RecordingAllocator::new_in(GuardedSystem::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_heap_refuses_bad_frees() {
        let g = GuardedSystem::new();
        let l = Layout::new::<u64>();
        // SAFETY: the guarded heap turns the invalid calls below into recorded problems; nothing
        // invalid reaches System.
        let q = unsafe {
            let p = g.alloc(l);
            let q = g.alloc(l);
            g.dealloc(p, l);
            g.dealloc(p, l); // double free: refused
            g.dealloc(q, Layout::new::<u32>()); // wrong layout: refused, q stays live
            let z = g.alloc(Layout::new::<()>()); // zero size: refused
            g.dealloc(z, Layout::new::<()>());
            q
        };
        let p = g.problems();
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].contains("not a live block"));
        assert!(p[1].contains("but it was allocated with size 8"));
        assert!(p[2].contains("alloc with size 0"));
        assert!(p[3].contains("dealloc with size 0"));
        assert_eq!(g.leaks(), [(8, 8)]);
        // SAFETY: q is the live block of layout u64; free it so the test itself does not leak.
        unsafe { g.dealloc(q, l) };
        assert!(g.leaks().is_empty());
    }
}
