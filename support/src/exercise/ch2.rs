//! Checks for chapter 2 (the allocator traits).

use super::Verdict;
use crate::allocators::as_allocator::AsAllocator;
use crate::limits::MAX_HELD_BYTES;
use crate::system::{libc_calls, LibcFn, LibcRequest};
use allocator_api2::collections::TryReserveErrorKind;
use allocator_api2::vec::Vec as AVec;
use std::alloc::GlobalAlloc;

/// Exercise 2.1: `alloc` of a `GlobalAlloc` that refuses requests above `limit` bytes must
/// succeed up to `limit` bytes and return null above it, which `try_reserve` reports as an
/// allocation error (not a capacity overflow), while smaller requests keep working.
///
/// The allocator is the learner's code: it runs in the sandbox ([`super::run_check`]), so one that
/// calls itself, loops or aborts is a NOT YET and the kernel keeps its variables.
pub fn check_limit_allocator<G: GlobalAlloc>(allocator: G, limit: usize) -> Verdict {
    let ex = "2.1 a GlobalAlloc with a limit";
    super::run_check(ex, "your allocator", || {
        (limit_allocator(ex, allocator, limit), String::new())
    })
    .0
}

fn limit_allocator<G: GlobalAlloc>(ex: &str, allocator: G, limit: usize) -> Verdict {
    // The check really allocates `limit` bytes in the kernel's process: bounded like every
    // in-process measurement.
    if limit == 0 || limit > MAX_HELD_BYTES {
        return Verdict::not_yet(
            ex,
            format!(
                "choose a limit between 1 byte and {} MiB ({MAX_HELD_BYTES} bytes, support::limits), not {limit}",
                MAX_HELD_BYTES >> 20
            ),
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
///
/// Judged all at once (`exercise::judge_all_at_once`): a NOT YET states the rule of `unix.rs` with
/// each request's own numbers, never which prediction is wrong nor the function that was called.
pub fn check_libc_predictions(predictions: &[(&str, &str)]) -> Verdict {
    let ex = "2.2 which libc function?";
    if predictions.is_empty() {
        return Verdict::not_yet(
            ex,
            format!(
                "no predictions yet: give a list of (request, function) pairs such as (\"8:16\", \"?\"), \
                 replacing each \"?\" with {}",
                CHOICES.join(", ")
            ),
        );
    }
    let mut wrong = Vec::new();
    let mut requests = Vec::new();
    for (req, _) in predictions {
        match req.parse::<LibcRequest>() {
            Ok(r) => requests.push(r),
            Err(e) => wrong.push(e),
        }
    }
    if !wrong.is_empty() {
        return Verdict::not_yet(ex, wrong.join("; "));
    }
    let texts: Vec<&str> = predictions.iter().map(|(req, _)| *req).collect();
    let observed = match libc_calls(&texts) {
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
    // Mistakes of form first (named: they give nothing away, and cost nothing).
    let mut unanswered = Vec::new();
    let mut all_right = true;
    for ((req, guess), obs) in predictions.iter().zip(&observed) {
        let guess = guess.trim();
        let said: Option<Option<LibcFn>> = match guess {
            "none" => Some(None),
            g if CHOICES.contains(&g) => g.parse().ok().map(Some),
            _ => None,
        };
        all_right &= said == Some(obs.first());
        if guess.is_empty() || guess == "?" {
            unanswered.push(*req);
        } else if said.is_none() {
            wrong.push(format!(
                "{req}: `{guess}` is not one of {}",
                CHOICES.join(", ")
            ));
        }
    }
    if !unanswered.is_empty() {
        wrong.push(format!(
            "no prediction yet for {} (replace each \"?\" with {})",
            unanswered.join(", "),
            CHOICES.join(", ")
        ));
    }
    if !wrong.is_empty() {
        return Verdict::not_yet(ex, wrong.join(". "));
    }
    // The rule of every request, with its numbers: a rule for the wrong ones only would name them.
    let rules: Vec<String> = predictions
        .iter()
        .zip(&requests)
        .map(|((req, _), r)| format!("{req}: {}", libc_rule(r)))
        .collect();
    super::judge_all_at_once(
        ex,
        predictions.len(),
        all_right,
        || format!("all {} predictions match what libc saw", predictions.len()),
        &format!("The rules, request by request: {}.", rules.join(". ")),
    )
}

/// The answers exercise 2.2 accepts.
const CHOICES: [&str; 4] = ["malloc", "posix_memalign", "realloc", "none"];

/// The rule of `library/std/src/sys/alloc/unix.rs` that decides a request's first libc call,
/// with the request's own numbers filled in but not the conclusion (a NOT YET message must not
/// give the answer away).
fn libc_rule(request: &LibcRequest) -> String {
    let min = crate::system::MIN_ALIGN;
    match request {
        LibcRequest::Alloc(l) => format!(
            "an allocation of size 0 never reaches libc (Global/System answer it with a dangling pointer); \
             otherwise System::alloc calls malloc when align <= MIN_ALIGN ({min} here) and align <= size, \
             else posix_memalign (unix.rs:13-29). Here size {}, align {}",
            l.size(),
            l.align()
        ),
        LibcRequest::Realloc(l, new_size) => format!(
            "System::realloc calls libc realloc when align <= MIN_ALIGN ({min} here) and align <= the new size; \
             otherwise realloc_fallback first allocates a new block with System::alloc, then copies and frees \
             (unix.rs:52-58, mod.rs realloc_fallback). Here align {}, new size {new_size}",
            l.align()
        ),
        LibcRequest::Zeroed(l) => format!(
            "System::alloc_zeroed calls calloc(size, 1) when align <= MIN_ALIGN ({min} here) and align <= size, \
             else System::alloc and then zeroes the block (unix.rs:33-44). Here size {}, align {}",
            l.size(),
            l.align()
        ),
        LibcRequest::VecZeroed(n) => format!(
            "vec![0u8; n] asks for zeroed memory of n bytes with alignment 1 (spec_from_elem.rs, IsZero), \
             which System::alloc_zeroed serves as for zeroed:n:1 (unix.rs:33-44). Here n {n}"
        ),
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
        for bad in [0, MAX_HELD_BYTES + 1, usize::MAX] {
            assert!(check(bad, bad).message.contains("choose a limit"), "{bad}");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn the_rule_names_the_numbers_but_not_the_function() {
        let rule = |r: &str| libc_rule(&r.parse().unwrap());
        let r = rule("4:8");
        assert!(
            r.contains("Here size 4, align 8") && r.contains("unix.rs"),
            "{r}"
        );
        let r = rule("64:64:128");
        assert!(
            r.contains("Here align 64, new size 128") && r.contains("realloc_fallback"),
            "{r}"
        );
        assert!(rule("zeroed:64:32").contains("Here size 64, align 32"));
        assert!(rule("vec0:4096").contains("Here n 4096"));
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
        let v = check_libc_predictions(&[]);
        assert!(
            !v.passed && v.message.starts_with("no predictions yet: give a list"),
            "{v}"
        );
    }
}
