//! How results are shown: heap maps (chapter 5).
pub mod heap_map;
