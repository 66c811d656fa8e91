//! Checks for chapter 2 (the allocator traits).

use super::Verdict;
use crate::allocators::as_allocator::AsAllocator;
use allocator_api2::collections::TryReserveErrorKind;
use allocator_api2::vec::Vec as AVec;
use std::alloc::GlobalAlloc;

/// Exercise 2.1: `alloc` of a `GlobalAlloc` that refuses requests above `limit` bytes must
/// succeed up to `limit` bytes and return null above it, which `try_reserve` reports as an
/// allocation error (not a capacity overflow), while smaller requests keep working.
pub fn check_limit_allocator<G: GlobalAlloc>(allocator: G, limit: usize) -> Verdict {
    let ex = "2.1 a GlobalAlloc with a limit";
    if limit == 0 || limit > 1 << 30 {
        return Verdict::not_yet(
            ex,
            format!("choose a limit between 1 byte and 1 GiB, not {limit}"),
        );
    }
    let a = AsAllocator(allocator);
    let mut at_limit: AVec<u8, _> = AVec::new_in(&a);
    if let Err(e) = at_limit.try_reserve_exact(limit) {
        return Verdict::not_yet(
            ex,
            format!("a request of exactly {limit} bytes (the limit) failed: {e}"),
        );
    }
    drop(at_limit);
    let mut over: AVec<u8, _> = AVec::new_in(&a);
    match over.try_reserve_exact(limit + 1) {
        Ok(()) => {
            return Verdict::not_yet(
                ex,
                format!("a request of {} bytes (limit + 1) succeeded; `alloc` should return null above the limit", limit + 1),
            )
        }
        Err(e) => match e.kind() {
            TryReserveErrorKind::AllocError { layout, .. } if layout.size() == limit + 1 => {}
            other => {
                return Verdict::not_yet(ex, format!("expected an AllocError for {} bytes, got {other:?}", limit + 1))
            }
        },
    }
    let mut small: AVec<u64, _> = AVec::new_in(&a);
    small.extend(0..(limit / 64).max(1) as u64);
    if small.iter().sum::<u64>() != (0..(limit / 64).max(1) as u64).sum::<u64>() {
        return Verdict::not_yet(
            ex,
            "small allocations must still work and keep their contents",
        );
    }
    Verdict::pass(
        ex,
        format!(
            "{limit} bytes: granted; {} bytes: try_reserve says \"{}\"",
            limit + 1,
            over.try_reserve_exact(limit + 1).unwrap_err()
        ),
    )
}

/// The first libc function in an observed call list, normalised to `malloc`, `calloc`,
/// `realloc`, `posix_memalign` or `none`.
pub fn first_call(calls: &[String]) -> String {
    match calls.first() {
        None => "none".into(),
        Some(c) if c.starts_with("no libc call") => "none".into(),
        Some(c) => c.split('(').next().unwrap_or(c).to_string(),
    }
}

/// Exercise 2.2: predictions `(request, function)` such as `("8:16", "posix_memalign")` or
/// `("16:8:4096", "realloc")`, checked against the calls the `libc_calls` program observes.
pub fn check_libc_predictions(predictions: &[(&str, &str)]) -> Verdict {
    let ex = "2.2 which libc function?";
    let requests: Vec<&str> = predictions.iter().map(|p| p.0).collect();
    let observed = match crate::infra::programs::libc_calls(&requests) {
        Ok(o) => o,
        Err(e) => return Verdict::not_yet(ex, format!("could not observe: {e}")),
    };
    if observed.len() != predictions.len() {
        return Verdict::not_yet(
            ex,
            format!(
                "observed {} requests for {} predictions",
                observed.len(),
                predictions.len()
            ),
        );
    }
    let mut wrong = Vec::new();
    for ((req, guess), obs) in predictions.iter().zip(&observed) {
        let actual = first_call(&obs.calls);
        if guess.trim() != actual {
            wrong.push(format!(
                "{req}: you said {guess}, it called {}",
                obs.calls.join(" + ")
            ));
        }
    }
    if wrong.is_empty() {
        Verdict::pass(
            ex,
            format!("all {} predictions match what libc saw", predictions.len()),
        )
    } else {
        Verdict::not_yet(
            ex,
            format!(
                "{} of {} wrong: {}",
                wrong.len(),
                predictions.len(),
                wrong.join("; ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{GlobalAlloc, Layout, System};

    /// The notebook's starting point: forwards everything, ignores the limit.
    struct Unlimited;
    // SAFETY: forwards to System unchanged.
    unsafe impl GlobalAlloc for Unlimited {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract is passed on.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract is passed on.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    /// The solution: null above the limit.
    struct Limited {
        limit: usize,
    }
    // SAFETY: forwards to System, or returns null (allowed: it signals failure).
    unsafe impl GlobalAlloc for Limited {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.size() > self.limit {
                return std::ptr::null_mut();
            }
            // SAFETY: the caller's contract is passed on.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract is passed on.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "the unsolved allocator grants limit+1 bytes; fine, but slow under Miri"
    )]
    fn limit_allocator_fails_unsolved_and_passes_solved() {
        let v = check_limit_allocator(Unlimited, 4096);
        assert!(
            !v.passed && v.message.contains("4097 bytes (limit + 1) succeeded"),
            "{v}"
        );
        let v = check_limit_allocator(Limited { limit: 4096 }, 4096);
        assert!(v.passed, "{v}");
        assert!(v.message.contains("memory allocation failed"), "{v}");
        let v = check_limit_allocator(Limited { limit: 100 }, 4096);
        assert!(!v.passed && v.message.contains("exactly 4096"), "{v}");
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn first_call_normalises() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            first_call(&s(&["posix_memalign(align 16)", "free"])),
            "posix_memalign"
        );
        assert_eq!(
            first_call(&s(&["no libc call (dangling pointer 0x8)"])),
            "none"
        );
        assert_eq!(first_call(&s(&["realloc"])), "realloc");
        assert_eq!(first_call(&[]), "none");
    }
}
