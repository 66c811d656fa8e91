//! An allocator that never resizes in place.

use std::alloc::Layout;
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};

/// An allocator that never resizes in place: `grow` and `shrink` are the `Allocator` trait's
/// defaults (allocate new, copy, free old), so every reallocation copies the whole buffer. Used to
/// measure the copying cost of a growth strategy exactly.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysMove;

// SAFETY: allocation and deallocation are forwarded to `System`; grow/shrink use the trait's
// default implementations, which are correct for any allocator.
unsafe impl Allocator for AlwaysMove {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        allocator_api2::alloc::System.allocate(layout)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller guarantees `ptr` came from `allocate` with `layout`.
        unsafe { allocator_api2::alloc::System.deallocate(ptr, layout) }
    }
}
