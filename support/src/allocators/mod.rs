//! Every allocator type of the course, one module each.
//!
//! | module | what it holds |
//! |---|---|
//! | [`recording`] | [`RecordingAllocator`]: wraps any allocator, counts every call and keeps an ordered event log (and [`recording::render`]: its tables and charts) |
//! | [`guarded`] | [`GuardedSystem`](guarded::GuardedSystem): refuses contract violations instead of passing them to libc; [`CheckedHeap`](guarded::CheckedHeap) records over it |
//! | [`always_move`] | [`AlwaysMove`](always_move::AlwaysMove): never resizes in place, so every reallocation copies |
//! | [`as_allocator`] | [`AsAllocator`](as_allocator::AsAllocator): any `GlobalAlloc` as an `Allocator` |

pub mod always_move;
pub mod as_allocator;
pub mod guarded;
pub mod recording;

pub use recording::RecordingAllocator;
