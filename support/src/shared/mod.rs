//! Chapter 7 helpers: shared ownership with `Rc`, `Arc` and `Weak`.
//!
//! | module | what it holds |
//! |---|---|
//! | [`inner`] | the block behind an `Rc`/`Arc` (`RcInner`/`ArcInner`): its layout for any `T`, a byte map, and a live `Rc` or `Arc` read in place (its counts read from the block and from `strong_count`/`weak_count`) |
//! | [`trace`] | std's own `Rc`/`Arc` measured in the `rc_trace` example under a recording `#[global_allocator]`: what each operation allocates, the two phases of drop on one timeline, cycles and their live bytes, one tree built four ways, the `Arc::clone` abort past `MAX_REFCOUNT` |
//! | [`cost`] | clone + drop of `Rc` against `Arc` on one thread, and one `Arc` cloned and dropped by several threads at once (each thread's CPU clock) |
//! | [`structures`] | one binary tree built with `Box`, `Rc` + `Weak`, a `Vec` with indices and a bumpalo arena (the `rc_trace` example measures them; the tests check they agree) |
//!
//! std's `Rc` takes no allocator value on stable Rust, so every allocator call of std's `Rc` is
//! counted in a child program whose `#[global_allocator]` is the recorder of chapter 2 (like
//! chapters 2, 3 and 6); the layout and the counts of a live `Rc` are read in the kernel itself.

pub mod cost;
pub mod inner;
pub mod structures;
pub mod trace;
