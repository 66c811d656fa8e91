//! Which libc function does each allocation reach? This program *observes* it: it interposes glibc's
//! `malloc`, `calloc`, `realloc`, `posix_memalign` and `free` (a program may define these symbols; the
//! definitions here count the call and forward to glibc's own `__libc_*` entry points), then asks
//! `std::alloc::System` for a list of layouts and prints the libc calls each request made.
//!
//! ```sh
//! cargo run -p support --example libc_calls                 # the default list of layouts
//! cargo run -p support --example libc_calls -- 8:16 0:8     # alloc requests as SIZE:ALIGN
//! cargo run -p support --example libc_calls -- 16:8:4096    # a realloc: SIZE:ALIGN:NEW_SIZE
//! ```
//!
//! One output line per request, written and read back by `support::system::LibcObservation`:
//! `observed request=8:16 calls=posix_memalign(16)` or `observed request=16:8:4096 calls=realloc`,
//! calls in the order they happened (`calls=` empty when libc was not called).

use std::alloc::{GlobalAlloc, Layout, System};

#[cfg(all(target_os = "linux", target_env = "gnu"))]
use support::system::LibcObservation;
use support::system::LibcRequest;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod interpose {
    //! The interposed libc allocation functions: count while tracing, always forward.
    use std::ffi::{c_int, c_void};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use support::system::{LibcCall, LibcFn};

    pub static TRACING: AtomicBool = AtomicBool::new(false);
    const MAX: usize = 8;
    /// Calls seen while tracing: (`LibcFn::index`, alignment argument), in order.
    static SEEN: [(AtomicUsize, AtomicUsize); MAX] =
        [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; MAX];
    static COUNT: AtomicUsize = AtomicUsize::new(0);

    extern "C" {
        fn __libc_malloc(size: usize) -> *mut c_void;
        fn __libc_calloc(n: usize, size: usize) -> *mut c_void;
        fn __libc_realloc(p: *mut c_void, size: usize) -> *mut c_void;
        fn __libc_memalign(align: usize, size: usize) -> *mut c_void;
        fn __libc_free(p: *mut c_void);
    }

    fn note(func: LibcFn, align: usize) {
        if TRACING.load(Ordering::SeqCst) {
            let i = COUNT.fetch_add(1, Ordering::SeqCst);
            if i < MAX {
                SEEN[i].0.store(func.index(), Ordering::SeqCst);
                SEEN[i].1.store(align, Ordering::SeqCst);
            }
        }
    }

    /// Starts a trace (no allocation happens here).
    pub fn start() {
        COUNT.store(0, Ordering::SeqCst);
        TRACING.store(true, Ordering::SeqCst);
    }

    /// Stops the trace and returns the calls seen.
    pub fn stop() -> Vec<LibcCall> {
        TRACING.store(false, Ordering::SeqCst);
        let n = COUNT.load(Ordering::SeqCst).min(MAX);
        (0..n)
            .filter_map(|i| {
                let func = LibcFn::from_index(SEEN[i].0.load(Ordering::SeqCst))?;
                let align = SEEN[i].1.load(Ordering::SeqCst);
                Some(LibcCall {
                    func,
                    align: (func == LibcFn::PosixMemalign).then_some(align),
                })
            })
            .collect()
    }

    /// # Safety
    /// As for C `malloc`.
    #[no_mangle]
    pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
        note(LibcFn::Malloc, 0);
        // SAFETY: forwarded unchanged to glibc's implementation.
        unsafe { __libc_malloc(size) }
    }

    /// # Safety
    /// As for C `calloc`.
    #[no_mangle]
    pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
        note(LibcFn::Calloc, 0);
        // SAFETY: forwarded unchanged to glibc's implementation.
        unsafe { __libc_calloc(n, size) }
    }

    /// # Safety
    /// As for C `realloc`.
    #[no_mangle]
    pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
        note(LibcFn::Realloc, 0);
        // SAFETY: forwarded unchanged to glibc's implementation.
        unsafe { __libc_realloc(p, size) }
    }

    /// # Safety
    /// As for C `posix_memalign`: `out` must be valid for a pointer write.
    #[no_mangle]
    pub unsafe extern "C" fn posix_memalign(
        out: *mut *mut c_void,
        align: usize,
        size: usize,
    ) -> c_int {
        note(LibcFn::PosixMemalign, align);
        if !align.is_power_of_two() || !align.is_multiple_of(std::mem::size_of::<usize>()) {
            return libc::EINVAL;
        }
        // SAFETY: glibc's memalign accepts any power-of-two alignment; same allocator as malloc/free.
        let p = unsafe { __libc_memalign(align, size) };
        if p.is_null() {
            return libc::ENOMEM;
        }
        // SAFETY: the caller passes a valid out-pointer, as posix_memalign requires.
        unsafe { *out = p };
        0
    }

    /// # Safety
    /// As for C `free`.
    #[no_mangle]
    pub unsafe extern "C" fn free(p: *mut c_void) {
        note(LibcFn::Free, 0);
        // SAFETY: forwarded unchanged to glibc's implementation.
        unsafe { __libc_free(p) }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn observe(request: LibcRequest) -> LibcObservation {
    use std::ptr::NonNull;
    let calls = match request {
        LibcRequest::Alloc(l) if l.size() == 0 => {
            // GlobalAlloc::alloc with size 0 is undefined behaviour; std's Global and
            // Allocator for System answer it without calling libc. Show that path instead.
            interpose::start();
            let p =
                allocator_api2::alloc::Allocator::allocate(&System, l).expect("zero-size allocate");
            let calls = interpose::stop();
            assert_eq!(
                p.as_ptr() as *mut u8 as usize,
                l.align(),
                "dangling, not allocated"
            );
            calls
        }
        LibcRequest::Alloc(l) => {
            interpose::start();
            // SAFETY: the layout has a non-zero size.
            let p = unsafe { System.alloc(l) };
            let calls = interpose::stop();
            assert!(!p.is_null(), "allocation of {l:?} failed");
            // SAFETY: `p` was allocated just above with `l`.
            unsafe { System.dealloc(p, l) };
            calls
        }
        LibcRequest::Realloc(l, new_size) => {
            // SAFETY: the layout has a non-zero size (LibcRequest's parser refuses size 0).
            let p = NonNull::new(unsafe { System.alloc(l) }).expect("allocation failed");
            interpose::start();
            // SAFETY: `p` comes from `System` with layout `l`; `new_size` is non-zero and, rounded
            // to the alignment, a valid layout size (both checked by LibcRequest's parser).
            let q = unsafe { System.realloc(p.as_ptr(), l, new_size) };
            let calls = interpose::stop();
            assert!(!q.is_null(), "realloc failed");
            let nl = Layout::from_size_align(new_size, l.align()).expect("valid new layout");
            // SAFETY: `q` is the reallocated block, now of layout `nl`.
            unsafe { System.dealloc(q, nl) };
            calls
        }
    };
    LibcObservation { request, calls }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = if args.is_empty() {
        [
            "1:1",
            "8:8",
            "24:8",
            "8:16",
            "16:16",
            "4096:16",
            "64:32",
            "4096:4096",
            "0:8",
            "16:8:4096",
            "64:32:4096",
            "8:16:24",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    } else {
        args
    };
    let requests: Result<Vec<LibcRequest>, String> = args.iter().map(|a| a.parse()).collect();
    let requests = match requests {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for r in requests {
        println!("{}", observe(r).to_line());
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = requests;
        eprintln!("this program observes glibc; it needs Linux with glibc");
        std::process::exit(3);
    }
}
