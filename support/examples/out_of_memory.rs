//! Out of memory, for real, in a process of its own: chapter 2 runs this program and shows how it
//! ends. It asks for `isize::MAX` bytes twice: first with `try_reserve_exact`, which returns the
//! failure as a value, then with `Vec::with_capacity`, which calls `handle_alloc_error`; std's
//! default handler prints `memory allocation of N bytes failed` and aborts the process
//! (`library/std/src/alloc.rs`: `default_alloc_error_hook`, then `rust_oom` calls
//! `crate::process::abort()`), so the program ends with `SIGABRT` and prints nothing after it.
//!
//! ```sh
//! cargo run --release -p support --example out_of_memory   # ends with signal 6 (SIGABRT)
//! ```
//! (Not run under Miri: Miri reports a failed allocation of this size itself.)

use std::hint::black_box;
use std::io::Write;

fn main() {
    let bytes = isize::MAX as usize;
    let mut v: Vec<u8> = Vec::new();
    println!(
        "try_reserve_exact({bytes}) -> {:?}",
        v.try_reserve_exact(black_box(bytes))
            .map_err(|e| e.to_string())
    );
    println!("Vec::<u8>::with_capacity({bytes}): asking the allocator ...");
    std::io::stdout().flush().expect("stdout");
    // black_box keeps the allocation: an unused one may be removed by the optimizer.
    let v: Vec<u8> = Vec::with_capacity(black_box(bytes));
    black_box(&v);
    println!(
        "not reached: the allocation succeeded with capacity {}",
        v.capacity()
    );
}
