//! A fixed arena: one block taken from `System` (never from the global allocator, so an arena can
//! back a `#[global_allocator]`), owned, aligned to 4096, and given back when dropped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt;
use std::ptr::NonNull;

/// A fixed stretch of memory the allocators of this module carve their blocks from.
///
/// Pointers into it are always made from [`Arena::at`] (base pointer plus offset), so they carry
/// the arena's provenance (Miri checks this).
pub struct Arena {
    /// Start of the block; aligned to [`Arena::ALIGN`]; valid for `len` bytes until drop.
    base: NonNull<u8>,
    /// Length in bytes: a multiple of 16, between 16 and [`Arena::MAX_LEN`].
    len: usize,
}

// SAFETY: the arena owns its block exclusively (like a `Box<[u8]>`); moving it to another thread
// moves that ownership. It is not `Sync`: shared access goes through `Locked`.
unsafe impl Send for Arena {}

/// Why an arena could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArenaError {
    /// A length of 0 bytes.
    Empty,
    /// A length above [`Arena::MAX_LEN`].
    TooLarge {
        /// The length asked for.
        len: usize,
    },
    /// `System` had no memory for it.
    SystemRefused {
        /// The length asked for.
        len: usize,
    },
}

impl fmt::Display for ArenaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArenaError::Empty => {
                f.write_str("an arena of 0 bytes can hold nothing: ask for at least 16")
            }
            ArenaError::TooLarge { len } => write!(
                f,
                "an arena of {len} bytes is larger than the course's limit of {} bytes (256 MiB)",
                Arena::MAX_LEN
            ),
            ArenaError::SystemRefused { len } => {
                write!(f, "System could not provide {len} bytes for the arena")
            }
        }
    }
}

impl std::error::Error for ArenaError {}

impl Arena {
    /// The arena's alignment: alignments up to this are honoured by every design.
    pub const ALIGN: usize = 4096;
    /// The largest arena this course makes (256 MiB).
    pub const MAX_LEN: usize = 256 << 20;

    /// An arena of `len` bytes, rounded up to a multiple of 16.
    pub fn new(len: usize) -> Result<Arena, ArenaError> {
        if len == 0 {
            return Err(ArenaError::Empty);
        }
        if len > Self::MAX_LEN {
            return Err(ArenaError::TooLarge { len });
        }
        let len = len.next_multiple_of(16);
        let layout =
            Layout::from_size_align(len, Self::ALIGN).map_err(|_| ArenaError::TooLarge { len })?;
        // SAFETY: the size is at least 16.
        let p = unsafe { System.alloc(layout) };
        let base = NonNull::new(p).ok_or(ArenaError::SystemRefused { len })?;
        Ok(Arena { base, len })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: an arena holds at least 16 bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The first address.
    pub fn start_addr(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// One past the last address.
    pub fn end_addr(&self) -> usize {
        self.start_addr() + self.len
    }

    /// A pointer `offset` bytes into the arena, with the arena's provenance.
    ///
    /// # Panics
    /// If `offset > len` ("offset 17 is past the arena's 16 bytes"): such a pointer would be out of
    /// bounds, which a safe function must never make. The check is one comparison, which the
    /// designs' own bounds checks usually let the compiler drop.
    #[inline]
    pub fn at(&self, offset: usize) -> NonNull<u8> {
        if offset > self.len {
            past_the_end(offset, self.len);
        }
        // SAFETY: `offset <= len`, so the result is inside the block or one past its end, and not null.
        unsafe { self.base.add(offset) }
    }

    /// The offset of `ptr` if the `size` bytes from it lie inside the arena.
    #[inline]
    pub fn offset_of(&self, ptr: *const u8, size: usize) -> Option<usize> {
        let off = (ptr as usize).checked_sub(self.start_addr())?;
        (off.checked_add(size)? <= self.len).then_some(off)
    }
}

/// The panic of [`Arena::at`], out of line so that the check costs one comparison.
#[cold]
#[inline(never)]
#[track_caller]
fn past_the_end(offset: usize, len: usize) -> ! {
    panic!("offset {offset} is past the arena's {len} bytes")
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: `base` came from `System.alloc` with exactly this layout (checked in `new`).
        unsafe {
            System.dealloc(
                self.base.as_ptr(),
                Layout::from_size_align_unchecked(self.len, Self::ALIGN),
            )
        }
    }
}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Arena({} bytes at {:p})", self.len, self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_lengths_are_clear_errors() {
        assert_eq!(Arena::new(0).unwrap_err(), ArenaError::Empty);
        let e = Arena::new(usize::MAX).unwrap_err();
        assert!(
            e.to_string().contains("larger than the course's limit"),
            "{e}"
        );
        assert_eq!(
            Arena::new(Arena::MAX_LEN + 1).unwrap_err(),
            ArenaError::TooLarge {
                len: Arena::MAX_LEN + 1
            }
        );
    }

    #[test]
    fn arena_is_aligned_rounded_and_bounds_are_checked() {
        let a = Arena::new(100).unwrap();
        assert_eq!(a.len(), 112);
        assert_eq!(a.start_addr() % Arena::ALIGN, 0);
        let p = a.at(16);
        assert_eq!(a.offset_of(p.as_ptr(), 96), Some(16));
        assert_eq!(a.offset_of(p.as_ptr(), 97), None);
        assert_eq!(a.offset_of(std::ptr::null(), 1), None);
        assert_eq!(
            a.offset_of(std::ptr::without_provenance(usize::MAX), 1),
            None
        );
    }
}
