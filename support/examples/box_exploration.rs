//! The companion program of chapter 3: Box, measured. Every allocation it makes goes through a
//! recording global allocator, so the "allocations" it reports are real calls, not claims.
//!
//! ```sh
//! cargo run -p support --example box_exploration
//! cargo +nightly miri run -p support --example box_exploration   # runs clean under Miri
//! ```
//!
//! Sections: Box memory layout inspection; Layout calculations for various types; zero-sized type
//! behaviour; drop order visualisation; raw pointer round trips; manual allocation and deallocation.
//! Addresses are never printed raw (they change every run): only `addr % align` and relative facts.

use std::alloc::{alloc, dealloc, realloc, Layout, System};
use std::fmt::Debug;
use std::mem::{align_of, size_of};

use support::allocators::RecordingAllocator;
use support::boxes::{box_facts, Loud};

#[global_allocator]
static HEAP: RecordingAllocator<System> = RecordingAllocator::new_in(System);

/// Runs `f` and returns its result with the allocator story of exactly what happened inside.
fn traced<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    HEAP.clear();
    HEAP.set_recording(true);
    let r = f();
    HEAP.set_recording(false);
    let story = HEAP.story();
    HEAP.clear();
    (r, story)
}

fn section(n: u32, title: &str) {
    println!("\n== {n}. {title} ==");
}

fn layout_line(name: &str, l: Layout) {
    println!("{name:<28} size {:>3}  align {:>2}", l.size(), l.align());
}

#[repr(C)]
struct Point {
    x: i32,
    y: i32,
}

/// A C-ABI function: it receives a `Box<Point>` as a plain C pointer and hands it back.
extern "C" fn c_side_move_right(p: Box<Point>) -> Box<Point> {
    Box::new(Point { x: p.x + 1, ..*p })
}

#[allow(dead_code)] // the fields exist to be dropped
struct Outer<'a> {
    first: Box<Loud<'a>>,
    second: Box<Loud<'a>>,
}

impl Drop for Outer<'_> {
    fn drop(&mut self) {
        HEAP.mark("drop Outer (its Drop::drop runs first)");
    }
}

fn main() {
    HEAP.set_recording(false);

    section(1, "Box memory layout inspection");
    for (name, size) in [
        ("Box<u64>", size_of::<Box<u64>>()),
        ("Option<Box<u64>>", size_of::<Option<Box<u64>>>()),
        ("Box<()>", size_of::<Box<()>>()),
        ("Box<[u8]>", size_of::<Box<[u8]>>()),
        ("Box<str>", size_of::<Box<str>>()),
        ("Box<dyn Fn()>", size_of::<Box<dyn Fn()>>()),
    ] {
        println!("{name:<20} {size:>2} bytes");
    }
    let thin = box_facts(&Box::new(7u64));
    let slice: Box<[u16]> = vec![1, 2, 3].into_boxed_slice();
    let fat = box_facts(&slice);
    let dynamic: Box<dyn Debug> = Box::new(1u8);
    let vt = box_facts(&dynamic);
    println!(
        "Box<u64>:      box {} B -> heap {} B, align {}, addr % align = {}",
        thin.box_size, thin.heap_size, thin.heap_align, thin.addr_mod_align
    );
    println!(
        "Box<[u16]>:    box {} B (pointer + length) -> heap {} B",
        fat.box_size, fat.heap_size
    );
    println!(
        "Box<dyn Debug>: box {} B (pointer + vtable) -> heap {} B",
        vt.box_size, vt.heap_size
    );

    section(2, "Layout calculations for various types");
    layout_line("u8", Layout::new::<u8>());
    layout_line("u64", Layout::new::<u64>());
    layout_line("(u8, u32)", Layout::new::<(u8, u32)>());
    layout_line("[u16; 3]", Layout::new::<[u16; 3]>());
    layout_line("Point (repr(C) i32, i32)", Layout::new::<Point>());
    layout_line("String", Layout::new::<String>());
    layout_line(
        "Layout::array::<u64>(10)",
        Layout::array::<u64>(10).expect("small array"),
    );
    let (hand, offset) = Layout::new::<u8>()
        .extend(Layout::new::<u32>())
        .expect("fits");
    println!(
        "u8 then u32 by extend:       size {} align {} (u32 at offset {offset}); padded: size {}",
        hand.size(),
        hand.align(),
        hand.pad_to_align().size()
    );
    println!(
        "from_size_align(isize::MAX, 2): {}",
        match Layout::from_size_align(isize::MAX as usize, 2) {
            Ok(_) => "Ok".to_string(),
            Err(e) => format!("Err({e})"),
        }
    );

    section(3, "Zero-sized type behaviour");
    let (addr, story) = traced(|| {
        let b = Box::new(());
        &*b as *const () as usize
    });
    println!(
        "Box::new(()) points at {addr:#x} (= align_of::<()>()), allocator calls: {}",
        story.len()
    );
    let (addr8, story8) = traced(|| {
        let b = Box::new([0u64; 0]);
        &*b as *const [u64; 0] as usize
    });
    println!(
        "Box::new([0u64; 0]) points at {addr8:#x} (= align_of::<u64>()), allocator calls: {}",
        story8.len()
    );
    let ((cap, len), story_v) = traced(|| {
        let mut v: Vec<()> = Vec::new();
        for _ in 0..1000 {
            v.push(());
        }
        (v.capacity(), v.len())
    });
    println!(
        "Vec<()> after 1000 pushes: len {len}, capacity {cap} (usize::MAX), allocator calls: {}",
        story_v.len()
    );

    section(4, "Drop order visualisation");
    let (_, story) = traced(|| {
        let outer = Box::new(Outer {
            first: Box::new(Loud::new("first", &HEAP)),
            second: Box::new(Loud::new("second", &HEAP)),
        });
        HEAP.mark("-- drop(outer) --");
        drop(outer);
    });
    for (i, line) in story.iter().enumerate() {
        println!("{:>2}. {line}", i + 1);
    }

    section(5, "Raw pointer round trips");
    let (_, story) = traced(|| {
        let b = Box::new(Point { x: 1, y: 2 });
        let raw: *mut Point = Box::into_raw(b); // ownership leaves the Box: no free at scope end
        println!(
            "into_raw: pointer aligned: {}",
            (raw as usize).is_multiple_of(align_of::<Point>())
        );
        // SAFETY: `raw` came from Box::into_raw of a Box<Point> (Global, Layout of Point).
        let back = unsafe { Box::from_raw(raw) };
        println!("from_raw: x = {}, y = {}", back.x, back.y);
        let moved = c_side_move_right(back);
        println!("through an extern \"C\" fn and back: x = {}", moved.x);
        let leaked: &'static mut Point = Box::leak(moved);
        leaked.y += 40;
        println!("leak: a &'static mut Point, y = {}", leaked.y);
        // SAFETY: `leaked` came from Box::leak; rebuilding the Box frees it exactly once.
        drop(unsafe { Box::from_raw(leaked as *mut Point) });
    });
    for line in &story {
        println!("   {line}");
    }

    section(6, "Manual allocation and deallocation");
    let (sum, story) = traced(|| {
        let layout = Layout::array::<u32>(4).expect("small array");
        // SAFETY: non-zero size; the block is written within bounds, reallocated with its own
        // layout, and freed once with the layout of its final size.
        unsafe {
            let p = alloc(layout) as *mut u32;
            assert!(!p.is_null());
            for i in 0..4 {
                p.add(i).write(i as u32 + 1);
            }
            let bigger = Layout::array::<u32>(64).expect("small array");
            let q = realloc(p as *mut u8, layout, bigger.size()) as *mut u32;
            assert!(!q.is_null());
            let sum: u32 = (0..4).map(|i| q.add(i).read()).sum();
            dealloc(q as *mut u8, bigger);
            sum
        }
    });
    println!("sum of the 4 values after realloc: {sum}");
    for line in &story {
        println!("   {line}");
    }
    let s = HEAP.stats();
    println!(
        "\nall sections done; recorder counters after the last clear: live blocks {}",
        s.live_blocks()
    );
}
