//! Checks for chapter 2 (the allocator traits).

use super::Verdict;
use crate::allocators::as_allocator::AsAllocator;
use crate::system::{libc_calls, LibcFn, LibcRequest};
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

/// Exercise 2.2: predictions `(request, function)` such as `("8:16", "posix_memalign")`,
/// `("16:8:4096", "realloc")` or `("0:8", "none")`, checked against the first libc call the
/// `libc_calls` program observes for each request.
pub fn check_libc_predictions(predictions: &[(&str, &str)]) -> Verdict {
    let ex = "2.2 which libc function?";
    let mut wrong = Vec::new();
    let mut requests = Vec::new();
    for (req, _) in predictions {
        match req.parse::<LibcRequest>() {
            Ok(_) => requests.push(*req),
            Err(e) => wrong.push(e),
        }
    }
    if !wrong.is_empty() {
        return Verdict::not_yet(ex, wrong.join("; "));
    }
    let observed = match libc_calls(&requests) {
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
    for ((req, guess), obs) in predictions.iter().zip(&observed) {
        let said: Result<Option<LibcFn>, String> = match guess.trim() {
            "none" => Ok(None),
            g => g.parse().map(Some),
        };
        if said.as_ref().ok() != Some(&obs.first()) {
            let calls: Vec<String> = obs.calls.iter().map(|c| c.to_string()).collect();
            let called = if calls.is_empty() {
                "no libc function".to_string()
            } else {
                calls.join(" + ")
            };
            wrong.push(format!("{req}: you said {guess}, it called {called}"));
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
    use crate::allocators::guarded::GuardedSystem;
    use std::alloc::Layout;

    /// A test allocator, not the exercise's answer: a guarded heap (which notes every contract
    /// violation instead of passing it on) behind a cap of `max` bytes.
    struct Capped<'h> {
        heap: &'h GuardedSystem,
        max: usize,
    }

    // SAFETY: requests within the cap go to the guarded heap, whose blocks are valid; others get
    // null, which is how GlobalAlloc reports failure. Frees go back to the heap that made them.
    unsafe impl GlobalAlloc for Capped<'_> {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.size() > self.max {
                return std::ptr::null_mut();
            }
            // SAFETY: the caller's contract (non-zero size) is passed on.
            unsafe { self.heap.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from `self.heap` with `layout` (the caller's contract).
            unsafe { self.heap.dealloc(ptr, layout) }
        }
    }

    fn check(max: usize, limit: usize) -> Verdict {
        let heap = GuardedSystem::new();
        let v = check_limit_allocator(Capped { heap: &heap, max }, limit);
        assert_eq!(
            heap.problems(),
            Vec::<String>::new(),
            "the check misused the heap"
        );
        assert_eq!(heap.leaks(), [], "the check leaked");
        v
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "the wrong allocators grant limit+1 bytes; fine, but slow under Miri"
    )]
    fn limit_check_names_what_is_wrong_and_passes_a_cap_at_the_limit() {
        let v = check(usize::MAX, 4096);
        assert!(
            !v.passed && v.message.contains("4097 bytes (limit + 1) succeeded"),
            "{v}"
        );
        let v = check(4095, 4096);
        assert!(!v.passed && v.message.contains("exactly 4096"), "{v}");
        let v = check(4096, 4096);
        assert!(v.passed, "{v}");
        assert!(v.message.contains("memory allocation failed"), "{v}");
        let v = check(100, 100);
        assert!(v.passed, "{v}");
        for bad in [0, (1 << 30) + 1, usize::MAX] {
            assert!(check(bad, bad).message.contains("choose a limit"), "{bad}");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn libc_predictions_with_a_bad_request_say_which() {
        let v = check_libc_predictions(&[("8:3", "malloc"), ("x", "malloc")]);
        assert!(!v.passed, "{v}");
        assert!(
            v.message.contains("`8:3`") && v.message.contains("`x`"),
            "{v}"
        );
    }
}
