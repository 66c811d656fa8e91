//! Chapter 3 helpers: values that announce their drop, a drop counter, and the facts of a `Box`.
//! (The guarded heap of the `MyBox` exercise is an allocator: [`crate::allocators::guarded`].)

use std::alloc::System;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::allocators::recording::RecordingAllocator;
use crate::infra::programs::run_example;
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

/// A story line reduced to what a drop sequence names: `alloc`, `alloc_zeroed`, `dealloc`,
/// `grow`, `shrink`, or a mark's label (such as `drop left`), with sizes left out.
fn story_word(line: &str) -> String {
    for word in ["alloc_zeroed", "alloc", "dealloc", "grow", "shrink"] {
        if line.starts_with(&format!("{word} ")) {
            return word.to_string();
        }
    }
    line.to_string()
}

/// The events after the mark `-- drop(outer) --` in a recorder's story, as words (see `story_word`): what
/// dropping the boxed `Outer` of chapter 3 did.
pub fn drop_sequence<A>(log: &RecordingAllocator<A>) -> Vec<String> {
    let story = log.story();
    let start = story
        .iter()
        .position(|l| l == DROP_MARK)
        .map_or(story.len(), |i| i + 1);
    story[start..].iter().map(|l| story_word(l)).collect()
}

/// The mark both demonstrations set just before `drop(outer)`.
pub const DROP_MARK: &str = "-- drop(outer) --";

/// Parses the drop section of `box_exploration`'s output (numbered lines after
/// [`DROP_MARK`], up to section 5) into words (see `story_word`).
pub fn parse_drop_sequence(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .skip_while(|l| !l.contains(DROP_MARK))
        .skip(1)
        .take_while(|l| !l.starts_with("== 5."))
        .filter_map(|l| l.split_once(". ").map(|(_, r)| story_word(r.trim())))
        .collect()
}

/// The same drop as chapter 3's `Outer`, made with std's own `Box` under a recording
/// `#[global_allocator]` in the `box_exploration` program (a child process): compiler drop glue
/// and `Drop for Box`, not allocator-api2's `Box`.
pub fn std_box_drop_sequence() -> Result<Vec<String>, String> {
    let out = run_example("box_exploration", &[], &[]);
    if !out.success {
        return Err(format!("box_exploration failed: {}", out.stderr.trim()));
    }
    let seq = parse_drop_sequence(&out.stdout);
    if seq.is_empty() {
        return Err("box_exploration printed no drop sequence".into());
    }
    Ok(seq)
}

/// Two drop sequences side by side, one row per step, with a last row that says whether they are
/// the same and how many steps each has.
pub fn compare_sequences(left: (&str, &[String]), right: (&str, &[String])) -> Table {
    let mut t = Table::new(["step", left.0, right.0, "same?"]);
    for i in 0..left.1.len().max(right.1.len()) {
        let (a, b) = (left.1.get(i), right.1.get(i));
        t.row([
            (i + 1).to_string(),
            a.cloned().unwrap_or_default(),
            b.cloned().unwrap_or_default(),
            (a == b).to_string(),
        ]);
    }
    t.row([
        "all".to_string(),
        format!("{} steps", left.1.len()),
        format!("{} steps", right.1.len()),
        (left.1 == right.1).to_string(),
    ]);
    t
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

    #[test]
    fn drop_sequences_parse_and_compare() {
        let out = "x\n-- drop(outer) --\n 1. drop Outer (Drop::drop)\n 2. drop left\n 3. dealloc 24 B\n== 5. next ==\n 4. alloc 8 B\n";
        let seq = parse_drop_sequence(out);
        assert_eq!(seq, ["drop Outer (Drop::drop)", "drop left", "dealloc"]);
        assert!(parse_drop_sequence("nothing").is_empty());
        let rec = RecordingAllocator::new();
        rec.mark("before");
        rec.mark(DROP_MARK);
        rec.mark("drop left");
        assert_eq!(drop_sequence(&rec), ["drop left"]);
        let other = vec!["drop left".to_string(), "dealloc".to_string()];
        let t = compare_sequences(("a", &drop_sequence(&rec)), ("b", &other));
        let html = t.to_html();
        assert!(html.contains("1 steps") && html.contains("2 steps") && html.contains("false"));
        assert_eq!(story_word("alloc_zeroed 8 B"), "alloc_zeroed");
        assert_eq!(story_word("grow 8 -> 16 B (moved)"), "grow");
    }
}
