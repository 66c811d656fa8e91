//! Which libc function does each allocation reach? This program *observes* it: it interposes glibc's
//! `malloc`, `calloc`, `realloc`, `posix_memalign` and `free` (a program may define these symbols; the
//! definitions here count the call and forward to glibc's own `__libc_*` entry points), then asks
//! `std::alloc::System` for a list of layouts and prints the libc calls each request made.
//!
//! ```sh
//! cargo run -p support --example libc_calls                 # the default list of layouts
//! cargo run -p support --example libc_calls -- 8:16 0:8     # alloc requests as SIZE:ALIGN
//! cargo run -p support --example libc_calls -- 16:8:4096    # a realloc: SIZE:ALIGN:NEW_SIZE
//! cargo run -p support --example libc_calls -- zeroed:4096:8 vec0:4096   # alloc_zeroed; vec![0u8; N]
//! ```
//!
//! Output lines have the form `alloc 8:16 -> posix_memalign(align 16)`,
//! `realloc 16:8:4096 -> realloc`, `alloc_zeroed 4096:8 -> calloc` or `vec![0u8; 4096] -> calloc`,
//! one per request, calls in the order they happened.

use std::alloc::{GlobalAlloc, Layout, System};

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod interpose {
    //! The interposed libc allocation functions: count while tracing, always forward.
    use std::ffi::{c_int, c_void};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    pub static TRACING: AtomicBool = AtomicBool::new(false);
    const MAX: usize = 8;
    /// Calls seen while tracing: (function code, alignment argument), in order.
    static SEEN: [(AtomicUsize, AtomicUsize); MAX] =
        [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; MAX];
    static COUNT: AtomicUsize = AtomicUsize::new(0);

    pub const NAMES: [&str; 5] = ["malloc", "calloc", "realloc", "posix_memalign", "free"];

    extern "C" {
        fn __libc_malloc(size: usize) -> *mut c_void;
        fn __libc_calloc(n: usize, size: usize) -> *mut c_void;
        fn __libc_realloc(p: *mut c_void, size: usize) -> *mut c_void;
        fn __libc_memalign(align: usize, size: usize) -> *mut c_void;
        fn __libc_free(p: *mut c_void);
    }

    fn note(code: usize, align: usize) {
        if TRACING.load(Ordering::SeqCst) {
            let i = COUNT.fetch_add(1, Ordering::SeqCst);
            if i < MAX {
                SEEN[i].0.store(code, Ordering::SeqCst);
                SEEN[i].1.store(align, Ordering::SeqCst);
            }
        }
    }

    /// Starts a trace (no allocation happens here).
    pub fn start() {
        COUNT.store(0, Ordering::SeqCst);
        TRACING.store(true, Ordering::SeqCst);
    }

    /// Stops the trace and returns the calls seen, as text.
    pub fn stop() -> Vec<String> {
        TRACING.store(false, Ordering::SeqCst);
        let n = COUNT.load(Ordering::SeqCst).min(MAX);
        (0..n)
            .map(|i| {
                let (code, align) = (
                    SEEN[i].0.load(Ordering::SeqCst),
                    SEEN[i].1.load(Ordering::SeqCst),
                );
                if NAMES[code] == "posix_memalign" {
                    format!("posix_memalign(align {align})")
                } else {
                    NAMES[code].to_string()
                }
            })
            .collect()
    }

    /// # Safety
    /// As for C `malloc`.
    #[no_mangle]
    pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
        note(0, 0);
        // SAFETY: forwarded unchanged to glibc's implementation.
        unsafe { __libc_malloc(size) }
    }

    /// # Safety
    /// As for C `calloc`.
    #[no_mangle]
    pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
        note(1, 0);
        // SAFETY: forwarded unchanged to glibc's implementation.
        unsafe { __libc_calloc(n, size) }
    }

    /// # Safety
    /// As for C `realloc`.
    #[no_mangle]
    pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
        note(2, 0);
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
        note(3, align);
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
        note(4, 0);
        // SAFETY: forwarded unchanged to glibc's implementation.
        unsafe { __libc_free(p) }
    }
}

/// One request to run through `System` (or, for `VecZeroed`, through `vec![0u8; n]`).
enum Request {
    Alloc(Layout),
    Realloc(Layout, usize),
    Zeroed(Layout),
    VecZeroed(usize),
}

/// The largest size a `zeroed:` or `vec0:` request may ask for (they really allocate).
const MAX_ZEROED: usize = 1 << 30;

fn parse(arg: &str) -> Result<Request, String> {
    if let Some(rest) = arg.strip_prefix("vec0:") {
        return match rest.parse::<usize>() {
            Ok(n) if (1..=MAX_ZEROED).contains(&n) => Ok(Request::VecZeroed(n)),
            _ => Err(format!(
                "`{arg}`: expected vec0:N with N from 1 to {MAX_ZEROED}"
            )),
        };
    }
    if let Some(rest) = arg.strip_prefix("zeroed:") {
        return match parse(rest)? {
            Request::Alloc(l) if l.size() > 0 && l.size() <= MAX_ZEROED => Ok(Request::Zeroed(l)),
            _ => Err(format!(
                "`{arg}`: expected zeroed:SIZE:ALIGN with SIZE from 1 to {MAX_ZEROED}"
            )),
        };
    }
    let nums: Result<Vec<usize>, _> = arg.split(':').map(str::parse).collect();
    let nums = nums.map_err(|_| format!("`{arg}`: expected SIZE:ALIGN or SIZE:ALIGN:NEW_SIZE"))?;
    let layout = |s, a| {
        Layout::from_size_align(s, a)
            .map_err(|e| format!("`{arg}`: {e} (alignment must be a power of two)"))
    };
    match nums[..] {
        [s, a] => Ok(Request::Alloc(layout(s, a)?)),
        [s, a, n] if s > 0 && n > 0 => Ok(Request::Realloc(layout(s, a)?, n)),
        [_, _, _] => Err(format!(
            "`{arg}`: realloc sizes must be non-zero (GlobalAlloc forbids size 0)"
        )),
        _ => Err(format!(
            "`{arg}`: expected SIZE:ALIGN or SIZE:ALIGN:NEW_SIZE"
        )),
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn observe(req: &Request) -> (String, Vec<String>) {
    use std::ptr::NonNull;
    match *req {
        Request::Alloc(l) => {
            let label = format!("alloc {}:{}", l.size(), l.align());
            if l.size() == 0 {
                // GlobalAlloc::alloc with size 0 is undefined behaviour; std's Global and
                // Allocator for System answer it without calling libc. Show that path instead.
                interpose::start();
                let p = allocator_api2::alloc::Allocator::allocate(&System, l)
                    .expect("zero-size allocate");
                let calls = interpose::stop();
                let addr = p.as_ptr() as *mut u8 as usize;
                assert_eq!(addr, l.align());
                return (
                    label,
                    if calls.is_empty() {
                        vec![format!("no libc call (dangling pointer {addr:#x})")]
                    } else {
                        calls
                    },
                );
            }
            interpose::start();
            // SAFETY: the layout has a non-zero size.
            let p = unsafe { System.alloc(l) };
            let calls = interpose::stop();
            assert!(!p.is_null(), "allocation of {l:?} failed");
            // SAFETY: `p` was allocated just above with `l`.
            unsafe { System.dealloc(p, l) };
            (label, calls)
        }
        Request::Zeroed(l) => {
            let label = format!("alloc_zeroed {}:{}", l.size(), l.align());
            interpose::start();
            // SAFETY: the layout has a non-zero size (checked in parse).
            let p = unsafe { System.alloc_zeroed(l) };
            let calls = interpose::stop();
            assert!(!p.is_null(), "allocation of {l:?} failed");
            // SAFETY: `p` was allocated just above with `l`.
            unsafe { System.dealloc(p, l) };
            (label, calls)
        }
        Request::VecZeroed(n) => {
            // `vec![0u8; n]` goes through the global allocator (the default one, `System`).
            interpose::start();
            let v = std::hint::black_box(vec![0u8; n]);
            let calls = interpose::stop();
            drop(v);
            (format!("vec![0u8; {n}]"), calls)
        }
        Request::Realloc(l, new_size) => {
            let label = format!("realloc {}:{}:{}", l.size(), l.align(), new_size);
            // SAFETY: the layout has a non-zero size (checked in parse).
            let p = NonNull::new(unsafe { System.alloc(l) }).expect("allocation failed");
            interpose::start();
            // SAFETY: `p` comes from `System` with layout `l`; `new_size` is non-zero and, rounded
            // to the alignment, small (from the command line, checked by Layout::from_size_align below).
            let q = unsafe { System.realloc(p.as_ptr(), l, new_size) };
            let calls = interpose::stop();
            assert!(!q.is_null(), "realloc failed");
            let nl = Layout::from_size_align(new_size, l.align()).expect("valid new layout");
            // SAFETY: `q` is the reallocated block, now of layout `nl`.
            unsafe { System.dealloc(q, nl) };
            (label, calls)
        }
    }
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
            "zeroed:4096:8",
            "zeroed:64:32",
            "vec0:4096",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    } else {
        args
    };
    let requests: Result<Vec<Request>, String> = args.iter().map(|a| parse(a)).collect();
    let requests = match requests {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for r in &requests {
        let (label, calls) = observe(r);
        println!("{label} -> {}", calls.join(", "));
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = requests;
        eprintln!("this program observes glibc; it needs Linux with glibc");
        std::process::exit(3);
    }
}
