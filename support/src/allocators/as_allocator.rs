//! An adapter from `GlobalAlloc` to `Allocator`.

use std::alloc::{GlobalAlloc, Layout};
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};

/// Adapts a [`GlobalAlloc`] (such as one written in an exercise) to the [`Allocator`] trait, so
/// `allocator_api2` collections can use it. Zero-sized requests never reach the `GlobalAlloc`: they
/// get a dangling, aligned pointer, as std's `Global` does.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsAllocator<G>(pub G);

// SAFETY: non-zero requests are forwarded to a `GlobalAlloc`, whose blocks stay valid until
// `dealloc`; zero-sized requests get `layout.dangling_ptr()`, which is never dereferenced or freed.
unsafe impl<G: GlobalAlloc> Allocator for AsAllocator<G> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            return Ok(NonNull::slice_from_raw_parts(layout.dangling_ptr(), 0));
        }
        // SAFETY: the size is not zero.
        let p = unsafe { self.0.alloc(layout) };
        NonNull::new(p)
            .map(|p| NonNull::slice_from_raw_parts(p, layout.size()))
            .ok_or(AllocError)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: a non-zero block was made by `alloc` with this layout (the caller's contract).
            unsafe { self.0.dealloc(ptr.as_ptr(), layout) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocator_api2::boxed::Box as ABox;
    use allocator_api2::vec::Vec as AVec;
    use std::alloc::System;

    #[test]
    fn as_allocator_adapts_a_global_alloc() {
        let a = AsAllocator(System);
        let mut v = AVec::new_in(a);
        v.extend_from_slice(&[1u32, 2, 3]);
        assert_eq!(v.iter().sum::<u32>(), 6);
        let z = ABox::new_in((), a);
        assert_eq!(&*z as *const () as usize, 1);
    }
}
