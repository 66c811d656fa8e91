//! How results are shown in a notebook cell: charts, tables, HTML, and the colours they share.
//!
//! | module | what it holds |
//! |---|---|
//! | [`bars`] | grouped bar charts (allocators side by side, steps of a change) as inline SVG |
//! | [`chart`] | line, step and point charts, linear or log axes, as inline SVG (or an SVG file) |
//! | [`display`] | HTML tables, raw HTML, the coloured callout box, and the `evcxr_display` plumbing |
//! | [`palette`] | the one colour palette every picture draws from |

pub mod bars;
pub mod chart;
pub mod display;
pub mod palette;
