//! The workloads on `std::alloc::System` (glibc `malloc`); its own view is `mallinfo2()`.

use std::alloc::System;

#[global_allocator]
static GLOBAL: System = System;

fn main() {
    alloc_bench::bench_main("System", || {
        // SAFETY: mallinfo2 has no preconditions; it reads glibc's arenas under their locks.
        let m = unsafe { support::reexports::libc::mallinfo2() };
        vec![
            ("arena", m.arena as u64),
            ("uordblks", m.uordblks as u64),
            ("fordblks", m.fordblks as u64),
            ("hblkhd", m.hblkhd as u64),
        ]
    });
}
