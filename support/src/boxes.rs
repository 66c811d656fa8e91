//! Chapter 3 helpers: values that announce their drop, a drop counter, and the facts of a `Box`.
//! (The guarded heap of the `MyBox` exercise is an allocator: [`crate::allocators::guarded`].)

use std::alloc::System;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::allocators::recording::RecordingAllocator;
use crate::views::display::Table;

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

/// One row per `(name, facts)`: the box's own size, the heap block's size and alignment, and the
/// address modulo the alignment.
pub fn facts_table(rows: &[(&str, BoxFacts)]) -> Table {
    let mut t = Table::new([
        "value",
        "Box (bytes)",
        "heap block (bytes)",
        "heap align",
        "addr % align",
    ]);
    for (name, f) in rows {
        t.row([
            name.to_string(),
            f.box_size.to_string(),
            f.heap_size.to_string(),
            f.heap_align.to_string(),
            f.addr_mod_align.to_string(),
        ]);
    }
    t
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
        let t = facts_table(&[("u64", box_facts(&Box::new(7u64))), ("dyn", box_facts(&d))]);
        assert_eq!(t.rows[1], ["dyn", "16", "1", "1", "0"]);
    }
}
