//! Every allocator type of the course, one module each.
//!
//! | module | what it holds |
//! |---|---|
//! | [`recording`] | [`RecordingAllocator`]: wraps any allocator, counts every call and keeps an ordered event log (and [`recording::render`]: its tables and charts) |
//! | [`guarded`] | [`GuardedSystem`](guarded::GuardedSystem): refuses contract violations instead of passing them to libc; [`CheckedHeap`](guarded::CheckedHeap) records over it |
//! | [`always_move`] | [`AlwaysMove`](always_move::AlwaysMove): never resizes in place, so every reallocation copies |
//! | [`as_allocator`] | [`AsAllocator`](as_allocator::AsAllocator): any `GlobalAlloc` as an `Allocator` |
//! | [`arena`], [`design`], [`bump`], [`free_list`], [`size_class`] | chapter 5: [`Arena`], the [`ArenaAllocator`] trait, [`BumpUp`]/[`BumpDown`], [`FreeList`], [`SizeClasses`] |
//! | [`handles`], [`checked`] | chapter 5: [`Local`] (`Allocator`, `!Sync`), [`Locked`] (`GlobalAlloc` + `Allocator`, spin lock), [`CheckedArena`] (a ledger that refuses misuse) |
//! | [`conformance`], [`workload`], [`compare`] | chapter 5: one test suite for every allocator, seeded workloads and heap efficiency, the measured comparison |
//! | [`heap_map`] | chapter 5: heap maps drawn (an arena as a strip of regions) and workload charts; here, beside the [`HeapMap`] and [`workload::Run`] they draw, so that `views` imports nothing from above it |
//!
//! ## Chapter 5: allocators built from first principles
//!
//! Each design carves blocks out of one fixed [`Arena`]:
//!
//! | type | design | alloc | free |
//! |---|---|---|---|
//! | [`BumpUp`], [`BumpDown`] | a cursor moves through the arena | O(1) | nothing (only [`ArenaAllocator::reset`]) |
//! | [`FreeList`] | first fit over an address-ordered list of free blocks, headers, split, coalesce | O(free blocks) | O(free blocks) |
//! | [`SizeClasses`] | one free list per power-of-two class, falling back to a [`FreeList`] | O(1) | O(1) |
//!
//! The designs implement [`ArenaAllocator`] (`&mut self` methods: the logic, no interior
//! mutability). Two handles turn one into something the standard traits accept, because both
//! `GlobalAlloc` and `Allocator` take `&self`:
//!
//! - [`Local`] — `allocator_api2::alloc::Allocator` through an `UnsafeCell`: no lock, and therefore
//!   `!Sync` (the compiler refuses to share it between threads). For collections in one thread.
//! - [`Locked`] — `GlobalAlloc` *and* `Allocator` behind a spin lock: `Sync`, usable as a
//!   `#[global_allocator]`. With no other thread waiting, a call costs an atomic swap to take the
//!   lock, a plain load and store of its call counter (only the holder writes it), a release
//!   store to give it back and the re-entry check (measured in the benches); a thread that finds
//!   the lock taken spins until it is free.
//!
//! [`CheckedArena`] wraps any design with a ledger of live blocks: it refuses double frees and
//! foreign pointers, checks every block the design hands out (inside the arena, aligned, not
//! overlapping), and draws heap maps. The exercises run the learner's code behind it, so a wrong
//! allocator reports instead of crashing the kernel. [`conformance`] is the one test suite every
//! allocator runs (also under Miri), [`workload`] the seeded workloads, [`compare`] the measured
//! comparison with `System` and bumpalo.

pub mod always_move;
pub mod arena;
pub mod as_allocator;
pub mod bump;
pub mod checked;
pub mod compare;
pub mod conformance;
pub mod design;
pub mod free_list;
pub mod guarded;
pub mod handles;
pub mod heap_map;
pub mod recording;
pub mod size_class;
pub mod workload;

pub use arena::{Arena, ArenaError};
pub use bump::{Bump, BumpDown, BumpUp, Down, DownBy, Up};
pub use checked::{Block, CheckedArena};
pub use design::{
    align_up, move_block, paint, ArenaAllocator, HeapMap, HeapTotals, Misuse, Refusal, Region,
    RegionKind,
};
pub use free_list::{FreeList, Span};
pub use handles::{Local, Locked};
pub use recording::RecordingAllocator;
pub use size_class::SizeClasses;
