//! Chapter 3 helpers: values that announce their drop, a drop counter, and a guarded heap that
//! catches the mistakes of a hand-written box without letting them reach libc.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::recording::RecordingAllocator;

/// A value that notes `drop NAME` in a recorder's log when it is dropped, so drops and the
/// allocator calls around them appear in one ordered log.
///
/// Its name is a `&'static str`, so making a `Loud` allocates nothing that would blur the log.
pub struct Loud<'a, A = System> {
    name: &'static str,
    log: &'a RecordingAllocator<A>,
}

impl<'a, A> Loud<'a, A> {
    /// A loud value called `name`, reporting to `log`.
    pub fn new(name: &'static str, log: &'a RecordingAllocator<A>) -> Self {
        Loud { name, log }
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<A> Drop for Loud<'_, A> {
    fn drop(&mut self) {
        let name = self.name;
        self.log.mark_with(|| format!("drop {name}"));
    }
}

impl<A> fmt::Debug for Loud<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Loud({})", self.name)
    }
}

/// Counts drops of its tokens: give each value a [`DropToken`], then check `count()`.
#[derive(Clone, Debug, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        DropCounter::default()
    }

    /// A new token; dropping it adds one to the count.
    pub fn token(&self) -> DropToken {
        DropToken(Arc::clone(&self.0))
    }

    /// How many tokens have been dropped.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Adds one to its [`DropCounter`] when dropped.
#[derive(Debug)]
pub struct DropToken(Arc<AtomicUsize>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

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

/// Facts about a `Box` and the heap block behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoxFacts {
    /// Bytes of the `Box` value itself (on the stack): 8 for a thin pointer, 16 for a fat one.
    pub box_size: usize,
    /// Bytes of the pointee (`size_of_val(&*b)`).
    pub heap_size: usize,
    /// Alignment of the pointee (`align_of_val(&*b)`).
    pub heap_align: usize,
    /// The heap address modulo the alignment (always 0).
    pub addr_mod_align: usize,
    /// The address itself when the pointee is zero-sized (a dangling address equal to the
    /// alignment), else `None` (heap addresses vary from run to run).
    pub dangling_addr: Option<usize>,
}

/// What a `Box<T>` is made of (works for unsized `T`: slices, `str`, trait objects).
#[allow(clippy::borrowed_box)] // the Box value itself is what is measured
pub fn box_facts<T: ?Sized>(b: &Box<T>) -> BoxFacts {
    let heap_size = std::mem::size_of_val(&**b);
    let heap_align = std::mem::align_of_val(&**b);
    let addr = &**b as *const T as *const u8 as usize;
    BoxFacts {
        box_size: std::mem::size_of_val(b),
        heap_size,
        heap_align,
        addr_mod_align: addr % heap_align,
        dangling_addr: (heap_size == 0).then_some(addr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocator_api2::boxed::Box as ABox;

    #[test]
    fn drop_is_two_phase_contents_then_memory() {
        struct Outer<'a> {
            _a: ABox<Loud<'a>, &'a RecordingAllocator>,
            _b: ABox<Loud<'a>, &'a RecordingAllocator>,
            log: &'a RecordingAllocator,
        }
        impl Drop for Outer<'_> {
            fn drop(&mut self) {
                self.log.mark("drop Outer");
            }
        }
        let rec = RecordingAllocator::new();
        let outer = ABox::new_in(
            Outer {
                _a: ABox::new_in(Loud::new("a", &rec), &rec),
                _b: ABox::new_in(Loud::new("b", &rec), &rec),
                log: &rec,
            },
            &rec,
        );
        drop(outer);
        let story = rec.story();
        let la = std::mem::size_of::<Loud>();
        let lo = std::mem::size_of::<Outer>();
        assert_eq!(
            story,
            [
                format!("alloc {la} B"),
                format!("alloc {la} B"),
                format!("alloc {lo} B"),
                "drop Outer".into(),
                "drop a".into(),
                format!("dealloc {la} B"),
                "drop b".into(),
                format!("dealloc {la} B"),
                format!("dealloc {lo} B"),
            ]
        );
    }

    #[test]
    fn drop_counter_counts() {
        let c = DropCounter::new();
        let (t1, t2) = (c.token(), c.token());
        drop(t1);
        assert_eq!(c.count(), 1);
        drop(t2);
        assert_eq!(c.count(), 2);
    }

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

    #[test]
    fn facts_of_thin_fat_and_zero_sized_boxes() {
        let f = box_facts(&Box::new(7u64));
        assert_eq!(
            (f.box_size, f.heap_size, f.heap_align, f.addr_mod_align),
            (8, 8, 8, 0)
        );
        let s: Box<[u16]> = vec![1, 2, 3].into_boxed_slice();
        let f = box_facts(&s);
        assert_eq!((f.box_size, f.heap_size, f.heap_align), (16, 6, 2));
        let z = box_facts(&Box::new(()));
        assert_eq!((z.heap_size, z.dangling_addr), (0, Some(1)));
        let z8 = box_facts(&Box::new([0u64; 0]));
        assert_eq!(z8.dangling_addr, Some(8));
        let d: Box<dyn fmt::Debug> = Box::new(1u8);
        assert_eq!(box_facts(&d).box_size, 16);
    }
}
