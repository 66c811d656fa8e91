//! Broken allocator contracts, for Miri to catch. **Never run this natively**: each case is
//! undefined behaviour. The test suite runs it as `cargo +nightly miri run --example ub_under_miri
//! -- CASE` and checks that Miri reports the undefined behaviour (support/tests/under_miri.rs); the
//! chapters describe these cases and show Miri's verdicts instead of running them.

use std::alloc::{alloc, dealloc, Layout};

fn main() {
    let case = std::env::args().nth(1).unwrap_or_default();
    if !cfg!(miri) {
        eprintln!(
            "refusing to run `{case}` natively: it is undefined behaviour; run it under Miri"
        );
        std::process::exit(2);
    }
    let layout = Layout::new::<[u64; 4]>();
    // SAFETY: none. Each arm breaks one rule of `GlobalAlloc` on purpose, for Miri to detect.
    unsafe {
        let p = alloc(layout);
        assert!(!p.is_null());
        match case.as_str() {
            "wrong-layout" => dealloc(p, Layout::new::<[u64; 2]>()), // freed with another size
            "double-free" => {
                dealloc(p, layout);
                dealloc(p, layout);
            }
            "use-after-free" => {
                dealloc(p, layout);
                std::hint::black_box(p.read());
            }
            "leak" => {} // not UB: Miri reports it as a leak at exit
            "box-from-raw-twice" => {
                dealloc(p, layout);
                let raw = Box::into_raw(Box::new(5u64));
                drop(Box::from_raw(raw));
                drop(Box::from_raw(raw)); // the same pointer owned twice: a double free
            }
            "box-foreign-allocator" => {
                dealloc(p, layout);
                let raw = libc::malloc(8) as *mut u64; // C's heap, not Rust's global allocator
                assert!(!raw.is_null());
                raw.write(5);
                drop(Box::from_raw(raw)); // Box frees it through Rust's allocator: mismatch
            }
            "box-wrong-type" => {
                dealloc(p, layout);
                let raw = Box::into_raw(Box::new(5u64)) as *mut u32;
                drop(Box::from_raw(raw)); // freed as a u32: the wrong layout
            }
            other => {
                dealloc(p, layout);
                eprintln!(
                    "unknown case `{other}`: wrong-layout, double-free, use-after-free, leak, box-from-raw-twice, box-foreign-allocator, box-wrong-type"
                );
                std::process::exit(2);
            }
        }
    }
}
