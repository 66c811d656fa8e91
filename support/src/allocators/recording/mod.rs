//! A recording allocator: wraps another allocator, counts every call and keeps an ordered event log.
//!
//! It is a *value*, not a `static` (statics are per cell in evcxr): a cell creates one and hands a
//! reference to a collection of `allocator_api2`, which then allocates through it:
//!
//! ```
//! use support::allocators::recording::{EventKind, RecordingAllocator};
//! use support::reexports::allocator_api2::vec::Vec;
//!
//! let rec = RecordingAllocator::new();           // wraps the system allocator (malloc)
//! let mut v = Vec::new_in(&rec);
//! for i in 0..10u64 { v.push(i); }               // capacity 4 -> 8 -> 16
//! drop(v);
//! let kinds: std::vec::Vec<EventKind> = rec.events().iter().map(|e| e.kind).collect();
//! assert_eq!(kinds[0], EventKind::Alloc);
//! assert_eq!(kinds.len(), 4);                    // allocate, grow, grow, deallocate
//! assert!(rec.stats().balanced());
//! ```
//!
//! It implements [`Allocator`] (for `allocator_api2` collections) and, when the inner allocator is a
//! [`GlobalAlloc`], `GlobalAlloc` too, so a *program* can install it as `#[global_allocator]` and see
//! every allocation of plain `Box`/`Vec`/`String` (see the `alloc_trace` example). The log's own
//! allocations are not recorded: a thread-local guard passes them straight to the inner allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use allocator_api2::alloc::{AllocError, Allocator};

pub mod render;

/// What happened in one allocator call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A new block (`allocate` / `alloc`).
    Alloc,
    /// A new zero-filled block (`allocate_zeroed` / `alloc_zeroed`).
    AllocZeroed,
    /// A block grew and kept its address.
    GrowInPlace,
    /// A block grew and moved to a new address.
    GrowMoved,
    /// A block shrank and kept its address.
    ShrinkInPlace,
    /// A block shrank and moved.
    ShrinkMoved,
    /// A block was freed.
    Dealloc,
    /// The inner allocator refused a request (returned null / `AllocError`).
    Failed,
    /// Not an allocator call: a labelled moment (such as "drop Outer") noted with
    /// [`RecordingAllocator::mark`], so program events and allocator calls share one order.
    Mark,
}

impl EventKind {
    /// Every kind, in declaration order (for reading a kind back from its name).
    pub const ALL: [EventKind; 9] = [
        EventKind::Alloc,
        EventKind::AllocZeroed,
        EventKind::GrowInPlace,
        EventKind::GrowMoved,
        EventKind::ShrinkInPlace,
        EventKind::ShrinkMoved,
        EventKind::Dealloc,
        EventKind::Failed,
        EventKind::Mark,
    ];

    /// A short lower-case name, as shown in tables.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Alloc => "alloc",
            EventKind::AllocZeroed => "alloc_zeroed",
            EventKind::GrowInPlace => "grow (in place)",
            EventKind::GrowMoved => "grow (moved)",
            EventKind::ShrinkInPlace => "shrink (in place)",
            EventKind::ShrinkMoved => "shrink (moved)",
            EventKind::Dealloc => "dealloc",
            EventKind::Failed => "FAILED",
            EventKind::Mark => "mark",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One allocator call, in the order the calls happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Position in the log (0-based, counting every recorded call).
    pub seq: usize,
    /// What happened.
    pub kind: EventKind,
    /// Size of the block before the call (0 for a new block).
    pub old_size: usize,
    /// Size of the block after the call (the size freed, for `Dealloc`; the size asked, for `Failed`).
    pub size: usize,
    /// Alignment of the block.
    pub align: usize,
    /// Address of the block before the call (0 for a new block).
    pub old_addr: usize,
    /// Address of the block after the call (the freed address for `Dealloc`, 0 for `Failed`).
    pub addr: usize,
    /// Bytes in live blocks right after this event (the running [`Stats::live_bytes`]).
    pub live_bytes: usize,
}

/// One allocator call as a trait method sees it, before it gets its place in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NewEvent {
    kind: EventKind,
    old_size: usize,
    size: usize,
    align: usize,
    old_addr: usize,
    addr: usize,
}

impl NewEvent {
    /// A new block of `layout` at `addr` (`alloc` or `alloc_zeroed`), or a failure when `addr`
    /// is `None`.
    fn block(kind: EventKind, layout: Layout, addr: Option<usize>) -> NewEvent {
        NewEvent {
            kind: if addr.is_some() {
                kind
            } else {
                EventKind::Failed
            },
            old_size: 0,
            size: layout.size(),
            align: layout.align(),
            old_addr: 0,
            addr: addr.unwrap_or(0),
        }
    }

    /// A block of `layout` at `addr` freed.
    fn dealloc(layout: Layout, addr: usize) -> NewEvent {
        NewEvent {
            kind: EventKind::Dealloc,
            old_size: layout.size(),
            size: layout.size(),
            align: layout.align(),
            old_addr: addr,
            addr,
        }
    }

    /// A block at `old_addr` resized from `old_size` to `size` bytes, now at `addr` (`None`: the
    /// request failed). Growing or shrinking follows from the sizes.
    fn resize(
        old_addr: usize,
        old_size: usize,
        size: usize,
        align: usize,
        addr: Option<usize>,
    ) -> NewEvent {
        let kind = match (addr, size >= old_size) {
            (None, _) => EventKind::Failed,
            (Some(a), true) if a == old_addr => EventKind::GrowInPlace,
            (Some(_), true) => EventKind::GrowMoved,
            (Some(a), false) if a == old_addr => EventKind::ShrinkInPlace,
            (Some(_), false) => EventKind::ShrinkMoved,
        };
        NewEvent {
            kind,
            old_size,
            size,
            align,
            old_addr,
            addr: addr.unwrap_or(0),
        }
    }
}

/// Totals over everything recorded since the last [`RecordingAllocator::clear`] (including
/// events that fell off a full log).
///
/// `clear()` zeroes the counters but not the heap: blocks live at that moment stay live, so
/// [`Stats::live_blocks_at_clear`] and `live_bytes` carry them over, and freeing one of them later
/// is counted in `deallocs` without making any count negative. Every subtraction saturates, so
/// even frees of blocks the recorder never saw (allocated while recording was off) cannot underflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// New blocks (`alloc` and `alloc_zeroed`).
    pub allocs: usize,
    /// Freed blocks.
    pub deallocs: usize,
    /// Grow calls (in place or moved).
    pub grows: usize,
    /// Grow calls that kept the address.
    pub grows_in_place: usize,
    /// Shrink calls.
    pub shrinks: usize,
    /// Requests the inner allocator refused.
    pub failures: usize,
    /// Bytes requested by new blocks plus bytes added by grows.
    pub bytes_requested: usize,
    /// Bytes given back by deallocations and shrinks.
    pub bytes_released: usize,
    /// Bytes in blocks that are currently live.
    pub live_bytes: usize,
    /// The largest `live_bytes` seen.
    pub peak_live_bytes: usize,
    /// Bytes that had to move when a block changed address (the old size, for each moved grow/shrink).
    pub bytes_moved: usize,
    /// Zero-byte allocate/deallocate calls (allowed by `Allocator`; no memory is involved, so they
    /// are not counted as blocks).
    pub zero_size_calls: usize,
    /// Blocks that were live when the log was last cleared (their bytes stay in `live_bytes`).
    pub live_blocks_at_clear: usize,
}

impl Stats {
    /// Blocks currently live: blocks live at the last clear plus new blocks, minus freed ones
    /// (never below zero).
    pub fn live_blocks(&self) -> usize {
        self.live_blocks_at_clear
            .saturating_add(self.allocs)
            .saturating_sub(self.deallocs)
    }

    /// True when every block allocated since the last clear was freed and every byte requested
    /// given back (blocks live at the clear are not part of this window; see
    /// [`Stats::live_blocks`] for what is live now).
    pub fn balanced(&self) -> bool {
        self.allocs == self.deallocs && self.bytes_requested == self.bytes_released
    }
}

struct Log {
    events: Vec<Event>,
    /// Labels of `Mark` events, by sequence number.
    labels: Vec<(usize, String)>,
    stats: Stats,
    next_seq: usize,
    dropped: usize,
}

thread_local! {
    /// Set while this thread is inside the recorder, so the log's own allocations are not recorded
    /// (and cannot deadlock on the log's lock when the recorder is the global allocator).
    static IN_RECORDER: Cell<bool> = const { Cell::new(false) };
}

/// Wraps an allocator `A` (by default the system allocator, i.e. `malloc` on Unix) and records
/// every call made through it.
pub struct RecordingAllocator<A = System> {
    inner: A,
    enabled: AtomicBool,
    max_events: AtomicUsize,
    log: Mutex<Log>,
}

impl<A: fmt::Debug> fmt::Debug for RecordingAllocator<A> {
    /// The inner allocator, whether recording is on, how many events are logged, and the totals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (events, dropped, stats) = Self::unrecorded(|| {
            let log = self.lock();
            (log.events.len(), log.dropped, log.stats)
        });
        f.debug_struct("RecordingAllocator")
            .field("inner", &self.inner)
            .field("recording", &self.enabled.load(Ordering::Relaxed))
            .field("events", &events)
            .field("dropped_events", &dropped)
            .field("stats", &stats)
            .finish()
    }
}

impl RecordingAllocator<System> {
    /// A recorder over the system allocator.
    pub const fn new() -> Self {
        RecordingAllocator::new_in(System)
    }
}

impl Default for RecordingAllocator<System> {
    fn default() -> Self {
        RecordingAllocator::new()
    }
}

impl<A> RecordingAllocator<A> {
    /// A recorder over `inner`; usable in a `static` (the constructor is `const`).
    pub const fn new_in(inner: A) -> Self {
        RecordingAllocator {
            inner,
            enabled: AtomicBool::new(true),
            max_events: AtomicUsize::new(1_000_000),
            log: Mutex::new(Log {
                events: Vec::new(),
                labels: Vec::new(),
                stats: Stats {
                    allocs: 0,
                    deallocs: 0,
                    grows: 0,
                    grows_in_place: 0,
                    shrinks: 0,
                    failures: 0,
                    bytes_requested: 0,
                    bytes_released: 0,
                    live_bytes: 0,
                    peak_live_bytes: 0,
                    bytes_moved: 0,
                    zero_size_calls: 0,
                    live_blocks_at_clear: 0,
                },
                next_seq: 0,
                dropped: 0,
            }),
        }
    }

    /// The wrapped allocator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// Turns recording on or off (calls are always forwarded either way).
    pub fn set_recording(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    /// Keeps at most `n` events in the log (counters keep counting); the default is one million.
    pub fn set_max_events(&self, n: usize) {
        self.max_events.store(n, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` with the re-entrancy guard set, so allocations made by `f` are not recorded.
    /// The guard is restored even if `f` panics.
    fn unrecorded<R>(f: impl FnOnce() -> R) -> R {
        let _inside = InRecorder::enter();
        f()
    }

    /// A copy of the event log, oldest first.
    pub fn events(&self) -> Vec<Event> {
        Self::unrecorded(|| self.lock().events.clone())
    }

    /// The totals.
    pub fn stats(&self) -> Stats {
        self.lock().stats
    }

    /// Events that did not fit in the log (see [`RecordingAllocator::set_max_events`]).
    pub fn dropped_events(&self) -> usize {
        self.lock().dropped
    }

    /// Forgets every event and zeroes the counters. Blocks still live stay live in the real heap,
    /// and in the totals: `live_bytes` and [`Stats::live_blocks_at_clear`] keep them, so freeing
    /// one later balances instead of underflowing.
    pub fn clear(&self) {
        Self::unrecorded(|| {
            let mut log = self.lock();
            log.events = Vec::new();
            log.labels = Vec::new();
            let old = log.stats;
            log.stats = Stats {
                live_blocks_at_clear: old.live_blocks(),
                live_bytes: old.live_bytes,
                peak_live_bytes: old.live_bytes,
                ..Stats::default()
            };
            log.next_seq = 0;
            log.dropped = 0;
        })
    }

    /// Notes a labelled moment in the log (for example "drop Outer" from a `Drop` impl), ordered
    /// with the allocator calls around it. The label's own allocation is not recorded.
    pub fn mark(&self, label: impl Into<String>) {
        self.mark_with(|| label.into());
    }

    /// [`RecordingAllocator::mark`] with a label built by `label()` inside the recorder, so that
    /// building it (e.g. `format!`) is not itself recorded.
    pub fn mark_with(&self, label: impl FnOnce() -> String) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        Self::unrecorded(|| {
            let label = label();
            let mut log = self.lock();
            let seq = log.next_seq;
            log.next_seq = log.next_seq.wrapping_add(1);
            log.labels.push((seq, label));
            let live_bytes = log.stats.live_bytes;
            log.events.push(Event {
                seq,
                kind: EventKind::Mark,
                old_size: 0,
                size: 0,
                align: 0,
                old_addr: 0,
                addr: 0,
                live_bytes,
            });
        });
    }

    /// The label of the `Mark` event with sequence number `seq`.
    pub fn label(&self, seq: usize) -> Option<String> {
        self.lock()
            .labels
            .iter()
            .find(|(s, _)| *s == seq)
            .map(|(_, l)| l.clone())
    }

    /// A copy of the event log, oldest first, each `Mark` event with its label (one snapshot).
    pub fn labelled_events(&self) -> Vec<(Event, Option<String>)> {
        Self::unrecorded(|| {
            let log = self.lock();
            // Both lists are in sequence order, so one walk pairs each mark with its label.
            let mut labels = log.labels.iter().peekable();
            log.events
                .iter()
                .map(|e| {
                    if e.kind != EventKind::Mark {
                        return (*e, None);
                    }
                    while labels.next_if(|(s, _)| *s < e.seq).is_some() {}
                    let label = labels.next_if(|(s, _)| *s == e.seq).map(|(_, l)| l.clone());
                    (*e, label)
                })
                .collect()
        })
    }

    /// Each event with a one-line description: marks show their label, allocator calls their
    /// kind and sizes (`alloc 24 B`, `grow 32 -> 64 B (moved)`, `dealloc 24 B`).
    pub fn story(&self) -> Vec<String> {
        self.labelled_events()
            .iter()
            .map(|(e, l)| describe(e, l.as_deref()))
            .collect()
    }

    /// Returns the log and clears it.
    pub fn take_events(&self) -> Vec<Event> {
        Self::unrecorded(|| {
            let mut log = self.lock();
            log.next_seq = 0;
            log.labels.clear();
            std::mem::take(&mut log.events)
        })
    }

    fn record(&self, call: NewEvent) {
        let NewEvent {
            kind,
            old_size,
            size,
            align,
            old_addr,
            addr,
        } = call;
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        // During thread teardown the guard may be gone; then we simply do not record. Inside the
        // recorder (the log's own allocations) we do not record either.
        let Some(_inside) = InRecorder::try_enter() else {
            return;
        };
        {
            let mut log = self.lock();
            let s = &mut log.stats;
            let zero_sized_block = size == 0
                && matches!(
                    kind,
                    EventKind::Alloc | EventKind::AllocZeroed | EventKind::Dealloc
                );
            match kind {
                _ if zero_sized_block => s.zero_size_calls += 1,
                EventKind::Alloc | EventKind::AllocZeroed => {
                    s.allocs = s.allocs.saturating_add(1);
                    s.bytes_requested = s.bytes_requested.saturating_add(size);
                    s.live_bytes = s.live_bytes.saturating_add(size);
                }
                EventKind::GrowInPlace | EventKind::GrowMoved => {
                    // A grow to a smaller size breaks the caller's contract; count no bytes then.
                    let added = size.saturating_sub(old_size);
                    s.grows = s.grows.saturating_add(1);
                    s.grows_in_place += usize::from(kind == EventKind::GrowInPlace);
                    s.bytes_requested = s.bytes_requested.saturating_add(added);
                    s.live_bytes = s.live_bytes.saturating_add(added);
                }
                EventKind::ShrinkInPlace | EventKind::ShrinkMoved => {
                    let given_back = old_size.saturating_sub(size);
                    s.shrinks = s.shrinks.saturating_add(1);
                    s.bytes_released = s.bytes_released.saturating_add(given_back);
                    s.live_bytes = s.live_bytes.saturating_sub(given_back);
                }
                EventKind::Dealloc => {
                    s.deallocs = s.deallocs.saturating_add(1);
                    s.bytes_released = s.bytes_released.saturating_add(size);
                    s.live_bytes = s.live_bytes.saturating_sub(size);
                }
                EventKind::Failed => s.failures = s.failures.saturating_add(1),
                EventKind::Mark => {}
            }
            if matches!(kind, EventKind::GrowMoved | EventKind::ShrinkMoved) {
                s.bytes_moved = s.bytes_moved.saturating_add(old_size.min(size));
            }
            s.peak_live_bytes = s.peak_live_bytes.max(s.live_bytes);
            let live_bytes = s.live_bytes;
            let seq = log.next_seq;
            log.next_seq = log.next_seq.wrapping_add(1);
            if log.events.len() < self.max_events.load(Ordering::Relaxed) {
                log.events.push(Event {
                    seq,
                    kind,
                    old_size,
                    size,
                    align,
                    old_addr,
                    addr,
                    live_bytes,
                });
            } else {
                log.dropped = log.dropped.saturating_add(1);
            }
        }
    }
}

/// Holds this thread's "inside the recorder" flag while it lives, and restores the previous value
/// when dropped, also when a panic unwinds through the recorder (a flag left set would make the
/// thread record nothing ever after).
struct InRecorder {
    was: bool,
}

impl InRecorder {
    /// Sets the flag (it may already be set: nested `unrecorded` calls).
    fn enter() -> Self {
        InRecorder {
            was: IN_RECORDER.with(|g| g.replace(true)),
        }
    }

    /// Sets the flag if it was clear; `None` if this thread is already inside the recorder or its
    /// thread-local storage is gone (thread teardown).
    fn try_enter() -> Option<Self> {
        match IN_RECORDER.try_with(|g| g.replace(true)) {
            Ok(false) => Some(InRecorder { was: false }),
            _ => None,
        }
    }
}

impl Drop for InRecorder {
    fn drop(&mut self) {
        let was = self.was;
        // try_with: never panic in drop, even during thread teardown.
        let _ = IN_RECORDER.try_with(|g| g.set(was));
    }
}

/// One line for an event: a mark's label, or the call's kind and sizes.
fn describe(e: &Event, label: Option<&str>) -> String {
    match e.kind {
        EventKind::Mark => label.unwrap_or("mark").to_string(),
        EventKind::Alloc | EventKind::AllocZeroed => format!("{} {} B", e.kind.name(), e.size),
        EventKind::Dealloc => format!("dealloc {} B", e.size),
        EventKind::Failed => format!("FAILED request of {} B", e.size),
        _ => format!("{} {} -> {} B", e.kind.name(), e.old_size, e.size),
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments unchanged, so `inner`'s
// guarantees (valid blocks, fit rules, no unwinding) carry over; recording only reads the results.
unsafe impl<A: Allocator> Allocator for RecordingAllocator<A> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let r = self.inner.allocate(layout);
        let addr = r.as_ref().ok().map(|p| p.as_ptr() as *mut u8 as usize);
        self.record(NewEvent::block(EventKind::Alloc, layout, addr));
        r
    }

    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let r = self.inner.allocate_zeroed(layout);
        let addr = r.as_ref().ok().map(|p| p.as_ptr() as *mut u8 as usize);
        self.record(NewEvent::block(EventKind::AllocZeroed, layout, addr));
        r
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        let addr = ptr.as_ptr() as usize;
        // SAFETY: the caller guarantees `ptr` is a block of this allocator that fits `layout`.
        unsafe { self.inner.deallocate(ptr, layout) };
        self.record(NewEvent::dealloc(layout, addr));
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller upholds `grow`'s contract; arguments pass through unchanged.
        let r = unsafe { self.inner.grow(ptr, old_layout, new_layout) };
        self.record_resize(ptr, old_layout, new_layout, r)
    }

    unsafe fn grow_zeroed(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller upholds `grow_zeroed`'s contract; arguments pass through unchanged.
        let r = unsafe { self.inner.grow_zeroed(ptr, old_layout, new_layout) };
        self.record_resize(ptr, old_layout, new_layout, r)
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller upholds `shrink`'s contract; arguments pass through unchanged.
        let r = unsafe { self.inner.shrink(ptr, old_layout, new_layout) };
        self.record_resize(ptr, old_layout, new_layout, r)
    }
}

impl<A> RecordingAllocator<A> {
    /// Records the outcome `r` of an `Allocator` grow or shrink of the block at `old`, and
    /// returns it.
    fn record_resize(
        &self,
        old: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
        r: Result<NonNull<[u8]>, AllocError>,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let new = r.as_ref().ok().map(|p| p.as_ptr() as *mut u8 as usize);
        self.record(NewEvent::resize(
            old.as_ptr() as usize,
            old_layout.size(),
            new_layout.size(),
            new_layout.align(),
            new,
        ));
        r
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments unchanged; the recorder's
// own bookkeeping allocates only with the re-entrancy guard set, so it never recurses into itself
// while holding the log's lock, and it never unwinds (poisoned locks are recovered).
unsafe impl<A: GlobalAlloc> GlobalAlloc for RecordingAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller guarantees a non-zero size, as `GlobalAlloc::alloc` requires.
        let p = unsafe { self.inner.alloc(layout) };
        let addr = (!p.is_null()).then_some(p as usize);
        self.record(NewEvent::block(EventKind::Alloc, layout, addr));
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        let addr = (!p.is_null()).then_some(p as usize);
        self.record(NewEvent::block(EventKind::AllocZeroed, layout, addr));
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller guarantees `ptr` came from this allocator with `layout`.
        unsafe { self.inner.dealloc(ptr, layout) };
        self.record(NewEvent::dealloc(layout, ptr as usize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `realloc`'s contract; arguments pass through unchanged.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        self.record(NewEvent::resize(
            ptr as usize,
            layout.size(),
            new_size,
            layout.align(),
            (!p.is_null()).then_some(p as usize),
        ));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocator_api2::boxed::Box as ABox;
    use allocator_api2::vec::Vec as AVec;
    use std::sync::Arc;

    #[test]
    fn all_lists_every_kind_once() {
        // The match is exhaustive: a new kind fails to compile here until ALL lists it.
        let position = |k: EventKind| match k {
            EventKind::Alloc => 0,
            EventKind::AllocZeroed => 1,
            EventKind::GrowInPlace => 2,
            EventKind::GrowMoved => 3,
            EventKind::ShrinkInPlace => 4,
            EventKind::ShrinkMoved => 5,
            EventKind::Dealloc => 6,
            EventKind::Failed => 7,
            EventKind::Mark => 8,
        };
        for (i, k) in EventKind::ALL.into_iter().enumerate() {
            assert_eq!(position(k), i, "{k:?} is out of place in EventKind::ALL");
        }
    }

    #[test]
    fn vec_growth_is_recorded_in_order_and_balances() {
        let rec = RecordingAllocator::new();
        {
            let mut v = AVec::new_in(&rec);
            for i in 0..17u64 {
                v.push(i);
            }
            assert_eq!(v.capacity(), 32);
        }
        let ev = rec.events();
        let kinds: Vec<EventKind> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(kinds.len(), 5, "{kinds:?}"); // alloc 4, grow 8, 16, 32, dealloc
        assert_eq!(kinds[0], EventKind::Alloc);
        assert!(kinds[1..4]
            .iter()
            .all(|k| matches!(k, EventKind::GrowInPlace | EventKind::GrowMoved)));
        assert_eq!(kinds[4], EventKind::Dealloc);
        let sizes: Vec<usize> = ev.iter().map(|e| e.size).collect();
        assert_eq!(sizes, [32, 64, 128, 256, 256]);
        let live: Vec<usize> = ev.iter().map(|e| e.live_bytes).collect();
        assert_eq!(live, [32, 64, 128, 256, 0]);
        assert_eq!(
            ev.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        let s = rec.stats();
        assert!(s.balanced(), "{s:?}");
        assert_eq!((s.allocs, s.deallocs, s.grows), (1, 1, 3));
        assert_eq!(s.peak_live_bytes, 256);
        assert_eq!(s.bytes_requested, 256);
    }

    #[test]
    fn zero_sized_boxes_and_shrinks() {
        let rec = RecordingAllocator::new();
        let b = ABox::new_in((), &rec);
        drop(b);
        // allocator_api2's Box skips `allocate` for a zero-sized type but still calls `deallocate`
        // with size 0 when dropped (std's Box checks `layout.size() != 0` first).
        let ev = rec.events();
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(
            (ev[0].kind, ev[0].size, ev[0].addr),
            (EventKind::Dealloc, 0, 1)
        );
        assert_eq!((rec.stats().deallocs, rec.stats().zero_size_calls), (0, 1));
        rec.clear();
        let mut v: AVec<u8, _> = AVec::with_capacity_in(100, &rec);
        v.push(1);
        v.shrink_to_fit();
        drop(v);
        let kinds: Vec<EventKind> = rec.events().iter().map(|e| e.kind).collect();
        assert_eq!(kinds[0], EventKind::Alloc);
        assert!(matches!(
            kinds[1],
            EventKind::ShrinkInPlace | EventKind::ShrinkMoved
        ));
        assert_eq!(kinds[2], EventKind::Dealloc);
        assert!(rec.stats().balanced());
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri stops on a huge allocation instead of returning null"
    )]
    fn failures_are_recorded_and_clear_resets() {
        let rec = RecordingAllocator::new();
        let mut v: AVec<u8, _> = AVec::new_in(&rec);
        let err = v.try_reserve(isize::MAX as usize).unwrap_err();
        assert!(!err.to_string().is_empty());
        let s = rec.stats();
        assert_eq!(s.failures, 1, "{s:?}");
        assert_eq!(rec.events()[0].kind, EventKind::Failed);
        rec.clear();
        assert!(rec.events().is_empty());
        assert_eq!(rec.stats(), Stats::default());
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "4000 allocations per thread are slow under Miri; see the small variant"
    )]
    fn concurrent_events_are_all_kept() {
        concurrent(8, 500);
    }

    #[test]
    fn concurrent_events_are_all_kept_small() {
        concurrent(3, 20);
    }

    fn concurrent(threads: usize, per_thread: usize) {
        let rec = Arc::new(RecordingAllocator::new());
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let rec = Arc::clone(&rec);
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        let b = ABox::new_in([t as u8; 24], &*rec);
                        assert_eq!(b[i % 24], t as u8);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let ev = rec.events();
        assert_eq!(ev.len(), threads * per_thread * 2);
        let mut seqs: Vec<usize> = ev.iter().map(|e| e.seq).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (0..ev.len()).collect::<Vec<_>>());
        assert!(rec.stats().balanced());
    }

    #[test]
    fn global_alloc_interface_records_realloc() {
        let rec = RecordingAllocator::new();
        let l = Layout::from_size_align(16, 8).unwrap();
        // SAFETY: non-zero layout; the block is used within its size, reallocated with its own
        // layout and freed with the layout of its final size.
        unsafe {
            let p = GlobalAlloc::alloc(&rec, l);
            assert!(!p.is_null());
            p.write_bytes(7, 16);
            let q = GlobalAlloc::realloc(&rec, p, l, 4096);
            assert!(!q.is_null());
            assert_eq!(*q.add(15), 7);
            GlobalAlloc::dealloc(&rec, q, Layout::from_size_align(4096, 8).unwrap());
        }
        let kinds: Vec<EventKind> = rec.events().iter().map(|e| e.kind).collect();
        assert_eq!(kinds.len(), 3);
        assert!(matches!(
            kinds[1],
            EventKind::GrowInPlace | EventKind::GrowMoved
        ));
        assert!(rec.stats().balanced());
    }

    #[test]
    fn recording_can_pause_and_log_can_be_capped() {
        let rec = RecordingAllocator::new();
        rec.set_recording(false);
        drop(ABox::new_in(1u64, &rec));
        assert!(rec.events().is_empty());
        rec.set_recording(true);
        rec.set_max_events(1);
        drop(ABox::new_in(1u64, &rec));
        assert_eq!(rec.events().len(), 1);
        assert_eq!(rec.dropped_events(), 1);
        assert_eq!(rec.stats().deallocs, 1, "counters keep counting");
        assert_eq!(rec.take_events().len(), 1);
        assert!(rec.events().is_empty());
    }

    #[test]
    fn marks_interleave_with_allocator_calls() {
        let rec = RecordingAllocator::new();
        let b = ABox::new_in(5u32, &rec);
        rec.mark("before drop");
        drop(b);
        rec.mark("after drop");
        assert_eq!(
            rec.story(),
            ["alloc 4 B", "before drop", "dealloc 4 B", "after drop"]
        );
        assert_eq!(rec.label(1).as_deref(), Some("before drop"));
        assert_eq!(rec.table().rows[3][1], "after drop");
        let pic = rec.sequence_picture("order").0;
        assert_eq!(pic.matches("<circle").count(), 4);
        assert!(rec.stats().balanced(), "marks do not disturb the counters");
        rec.set_recording(false);
        rec.mark("ignored");
        assert_eq!(rec.events().len(), 4);
    }

    #[test]
    fn stats_stay_consistent_across_clear() {
        // Chapter 3 does exactly this: a block allocated, the log cleared, the block freed.
        let rec = RecordingAllocator::new();
        let keep = ABox::new_in(7u64, &rec);
        let other = ABox::new_in(8u32, &rec);
        rec.clear();
        assert_eq!(rec.stats().live_blocks_at_clear, 2);
        assert_eq!(rec.stats().live_bytes, 12);
        drop(keep);
        let s = rec.stats();
        assert_eq!((s.allocs, s.deallocs, s.live_blocks()), (0, 1, 1), "{s:?}");
        assert_eq!(s.live_bytes, 4);
        let fresh = ABox::new_in(1u16, &rec);
        assert_eq!(rec.stats().live_blocks(), 2);
        drop(fresh);
        drop(other);
        let s = rec.stats();
        assert_eq!((s.live_blocks(), s.live_bytes), (0, 0), "{s:?}");
        assert!(
            !s.balanced(),
            "two frees of blocks from before the clear: {s:?}"
        );
        assert_eq!(s.table().rows.len(), 14);
    }

    #[test]
    fn frees_of_blocks_never_seen_do_not_underflow() {
        let rec = RecordingAllocator::new();
        rec.set_recording(false);
        let b = ABox::new_in([0u8; 100], &rec);
        let mut v: AVec<u8, _> = AVec::with_capacity_in(64, &rec);
        v.push(1);
        rec.set_recording(true);
        v.shrink_to_fit(); // a shrink the recorder never saw allocated
        drop(v);
        drop(b);
        let s = rec.stats();
        assert_eq!((s.allocs, s.deallocs, s.shrinks), (0, 2, 1), "{s:?}");
        assert_eq!((s.live_blocks(), s.live_bytes), (0, 0));
        let c = rec.timeline("starts with a shrink");
        assert!(c.series_list()[0].points.iter().all(|p| p.1 == 0.0));
    }

    /// An allocator whose `shrink` panics after doing its work.
    #[derive(Debug)]
    struct PanickingShrink;
    // SAFETY: allocation and deallocation are forwarded to `System`; `shrink` panics before
    // touching the block, which stays valid and owned by the caller.
    unsafe impl Allocator for PanickingShrink {
        fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
            allocator_api2::alloc::System.allocate(layout)
        }
        unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
            // SAFETY: the caller's contract: `ptr` came from `allocate` with `layout`.
            unsafe { allocator_api2::alloc::System.deallocate(ptr, layout) }
        }
        unsafe fn shrink(
            &self,
            _ptr: NonNull<u8>,
            _old: Layout,
            _new: Layout,
        ) -> Result<NonNull<[u8]>, AllocError> {
            panic!("shrink failed on purpose")
        }
    }

    #[test]
    fn a_panic_inside_the_recorder_does_not_stop_recording() {
        let rec = RecordingAllocator::new_in(PanickingShrink);
        let l = Layout::from_size_align(64, 8).unwrap();
        let p = rec.allocate(l).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: `p` is a live block of `l`; the shrink panics without touching it.
            unsafe { rec.shrink(p.cast(), l, Layout::from_size_align(8, 8).unwrap()) }
        }));
        assert!(r.is_err());
        // A panic while the recorder builds a mark's label unwinds through its guard too.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rec.mark_with(|| panic!("label failed on purpose"))
        }));
        assert!(r.is_err());
        assert!(
            !IN_RECORDER.with(Cell::get),
            "the guard was reset on unwind"
        );
        // SAFETY: `p` is still the live block of `l`.
        unsafe { rec.deallocate(p.cast(), l) };
        drop(ABox::new_in(1u8, &rec));
        let kinds: Vec<EventKind> = rec.events().iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::Alloc,
                EventKind::Dealloc,
                EventKind::Alloc,
                EventKind::Dealloc
            ]
        );
        assert!(rec.stats().balanced());
    }
}
