//! The workloads on mimalloc (`mimalloc` crate); its own view is `mi_process_info`.

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    alloc_bench::bench_main("mimalloc", || {
        let mut v = [0usize; 8];
        let [a, b, c, d, e, f, g, h] = &mut v;
        // SAFETY: every out-pointer points at a distinct live usize.
        unsafe { libmimalloc_sys::mi_process_info(a, b, c, d, e, f, g, h) };
        vec![
            ("current_commit", v[5] as u64),
            ("peak_commit", v[6] as u64),
            ("peak_rss", v[4] as u64),
        ]
    });
}
