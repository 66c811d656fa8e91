//! Layout reports: where each field of a struct lives, and where the padding is.
//!
//! evcxr cannot import macros from a crate, so a cell measures the struct itself with
//! `core::mem::offset_of!` and hands the numbers in:
//!
//! ```
//! use std::mem::offset_of;
//! use support::layout::{Field, LayoutReport};
//!
//! #[repr(C)]
//! struct Header { tag: u8, len: u32, id: u16 }
//!
//! let report = LayoutReport::of::<Header>("Header", vec![
//!     Field::of::<u8>("tag", offset_of!(Header, tag)),
//!     Field::of::<u32>("len", offset_of!(Header, len)),
//!     Field::of::<u16>("id", offset_of!(Header, id)),
//! ]).unwrap();
//! assert_eq!(report.size, 12);
//! assert_eq!(report.padding_bytes(), 5); // 3 after `tag`, 2 at the end
//! assert_eq!(report.end_padding(), 2);
//! ```
//!
//! A report checks what it is given (alignment a power of two, fields inside the struct, no overlaps)
//! and returns a [`LayoutReportError`] rather than panicking. It displays as a byte map (one square per
//! byte, a colour per field, padding hatched) and a table; outside Jupyter it renders to text or SVG.

use std::alloc::Layout;
use std::fmt;

use crate::limits::{MAX_BYTE_MAP_BYTES, MAX_ROWS_SHOWN};
use crate::views::display::{emit, escape, Table};
use crate::views::palette::field_fill;

/// One field of a struct: its name, offset and the size and alignment of its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field's name as written in the struct.
    pub name: String,
    /// Byte offset from the start of the struct (`offset_of!`).
    pub offset: usize,
    /// `size_of` the field's type.
    pub size: usize,
    /// `align_of` the field's type.
    pub align: usize,
}

impl Field {
    /// A field of type `T` at `offset`.
    pub fn of<T>(name: &str, offset: usize) -> Field {
        Field {
            name: name.to_string(),
            offset,
            size: std::mem::size_of::<T>(),
            align: std::mem::align_of::<T>(),
        }
    }

    /// A field described by numbers (for layouts worked out by hand).
    pub fn new(name: &str, offset: usize, size: usize, align: usize) -> Field {
        Field {
            name: name.to_string(),
            offset,
            size,
            align,
        }
    }

    /// The first byte after the field (saturating at `usize::MAX` for impossible fields, which
    /// [`LayoutReport::new`] refuses).
    pub fn end(&self) -> usize {
        self.offset.saturating_add(self.size)
    }
}

/// Why a report could not be made: the inputs do not describe a possible layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutReportError {
    /// An alignment that is zero or not a power of two.
    BadAlign {
        /// Whose alignment (the struct's name or a field's).
        what: String,
        /// The value given.
        align: usize,
    },
    /// The struct's size is not a multiple of its alignment, or exceeds `isize::MAX` rounded.
    BadSize {
        /// The struct's size.
        size: usize,
        /// The struct's alignment.
        align: usize,
    },
    /// A field reaches past the end of the struct (or its end overflows).
    FieldOutside {
        /// The field.
        field: String,
        /// Its offset.
        offset: usize,
        /// Its size.
        size: usize,
        /// The struct's size.
        struct_size: usize,
    },
    /// A field at an offset that is not a multiple of its alignment.
    Misaligned {
        /// The field.
        field: String,
        /// Its offset.
        offset: usize,
        /// Its alignment.
        align: usize,
    },
    /// A field aligned more strictly than the struct that holds it (a struct's alignment is at
    /// least the largest alignment of its fields).
    AlignAboveStruct {
        /// The field.
        field: String,
        /// Its alignment.
        align: usize,
        /// The struct's alignment.
        struct_align: usize,
    },
    /// Two fields share bytes.
    Overlap {
        /// The earlier field.
        first: String,
        /// The field that starts inside it.
        second: String,
    },
}

impl fmt::Display for LayoutReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutReportError::BadAlign { what, align } => {
                write!(f, "alignment of {what} is {align}: an alignment must be a power of two (1, 2, 4, 8, ...)")
            }
            LayoutReportError::BadSize { size, align } => write!(
                f,
                "size {size} with alignment {align} is not a valid layout: the size must be a multiple of the alignment and, rounded up to it, at most isize::MAX"
            ),
            LayoutReportError::FieldOutside { field, offset, size, struct_size } => write!(
                f,
                "field `{field}` at offset {offset} with size {size} does not fit in a struct of {struct_size} bytes"
            ),
            LayoutReportError::Misaligned { field, offset, align } => write!(
                f,
                "field `{field}` at offset {offset} is not aligned to its alignment {align}: an offset must be a multiple of the field's alignment (for repr(packed) fields, give alignment 1)"
            ),
            LayoutReportError::AlignAboveStruct { field, align, struct_align } => write!(
                f,
                "field `{field}` has alignment {align}, above the struct's alignment {struct_align}: a struct is aligned at least as strictly as each of its fields"
            ),
            LayoutReportError::Overlap { first, second } => {
                write!(f, "fields `{first}` and `{second}` overlap")
            }
        }
    }
}

impl std::error::Error for LayoutReportError {}

/// A stretch of a struct's bytes: a field, padding between fields, or padding at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// The bytes of a field (index into [`LayoutReport::fields`]).
    Field(usize),
    /// Padding between fields: `len` bytes at `offset`.
    Padding {
        /// Where the gap starts.
        offset: usize,
        /// How many bytes.
        len: usize,
    },
    /// Padding after the last field, so that arrays of the struct keep every element aligned.
    EndPadding {
        /// Where the end padding starts.
        offset: usize,
        /// How many bytes.
        len: usize,
    },
}

/// A struct's layout: its size and alignment, and its fields in memory order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutReport {
    /// The type's name, for titles.
    pub name: String,
    /// `size_of` the struct.
    pub size: usize,
    /// `align_of` the struct.
    pub align: usize,
    /// The fields sorted by offset (zero-sized fields after any field that starts at the same offset).
    pub fields: Vec<Field>,
}

fn valid_size_align(size: usize, align: usize) -> bool {
    Layout::from_size_align(size, align).is_ok() && size.is_multiple_of(align)
}

impl LayoutReport {
    /// A report from explicit numbers; fails if they cannot describe a real layout.
    pub fn new(
        name: &str,
        size: usize,
        align: usize,
        mut fields: Vec<Field>,
    ) -> Result<LayoutReport, LayoutReportError> {
        if !align.is_power_of_two() {
            return Err(LayoutReportError::BadAlign {
                what: name.to_string(),
                align,
            });
        }
        if !valid_size_align(size, align) {
            return Err(LayoutReportError::BadSize { size, align });
        }
        for fl in &fields {
            if !fl.align.is_power_of_two() {
                return Err(LayoutReportError::BadAlign {
                    what: format!("field `{}`", fl.name),
                    align: fl.align,
                });
            }
            if fl.offset.checked_add(fl.size).is_none_or(|end| end > size) {
                return Err(LayoutReportError::FieldOutside {
                    field: fl.name.clone(),
                    offset: fl.offset,
                    size: fl.size,
                    struct_size: size,
                });
            }
            if fl.align > align {
                return Err(LayoutReportError::AlignAboveStruct {
                    field: fl.name.clone(),
                    align: fl.align,
                    struct_align: align,
                });
            }
            if !fl.offset.is_multiple_of(fl.align) {
                return Err(LayoutReportError::Misaligned {
                    field: fl.name.clone(),
                    offset: fl.offset,
                    align: fl.align,
                });
            }
        }
        fields.sort_by_key(|fl| (fl.offset, fl.size == 0));
        let sized: Vec<&Field> = fields.iter().filter(|fl| fl.size > 0).collect();
        for w in sized.windows(2) {
            if w[1].offset < w[0].end() {
                return Err(LayoutReportError::Overlap {
                    first: w[0].name.clone(),
                    second: w[1].name.clone(),
                });
            }
        }
        Ok(LayoutReport {
            name: name.to_string(),
            size,
            align,
            fields,
        })
    }

    /// A report for the type `T`, whose size and alignment are taken from the compiler.
    pub fn of<T>(name: &str, fields: Vec<Field>) -> Result<LayoutReport, LayoutReportError> {
        LayoutReport::new(
            name,
            std::mem::size_of::<T>(),
            std::mem::align_of::<T>(),
            fields,
        )
    }

    /// The bytes in memory order: fields, gaps and end padding.
    pub fn segments(&self) -> Vec<Segment> {
        let mut out = Vec::new();
        let mut at = 0;
        for (i, fl) in self.fields.iter().enumerate() {
            if fl.offset > at {
                out.push(Segment::Padding {
                    offset: at,
                    len: fl.offset - at,
                });
            }
            out.push(Segment::Field(i));
            at = at.max(fl.end());
        }
        if self.size > at {
            out.push(Segment::EndPadding {
                offset: at,
                len: self.size - at,
            });
        }
        out
    }

    /// All padding bytes, between fields and at the end.
    pub fn padding_bytes(&self) -> usize {
        let used = self
            .fields
            .iter()
            .fold(0usize, |sum, fl| sum.saturating_add(fl.size));
        self.size.saturating_sub(used)
    }

    /// Padding bytes after the last field.
    pub fn end_padding(&self) -> usize {
        match self.segments().last() {
            Some(Segment::EndPadding { len, .. }) => *len,
            _ => 0,
        }
    }

    /// The field names in memory order.
    pub fn field_order(&self) -> Vec<&str> {
        self.fields.iter().map(|fl| fl.name.as_str()).collect()
    }

    /// The smallest size these fields can have in any order (largest alignment first, as `repr(Rust)`
    /// usually arranges them), keeping the struct's alignment.
    pub fn smallest_possible_size(&self) -> usize {
        let mut fields = self.fields.clone();
        fields.sort_by_key(|fl| std::cmp::Reverse(fl.align));
        let specs: Vec<(usize, usize)> = fields.iter().map(|fl| (fl.size, fl.align)).collect();
        repr_c_layout(&specs)
            .and_then(|l| l.align_to(self.align))
            .map(|l| l.pad_to_align().size())
            .unwrap_or(self.size)
    }

    /// The `segments` as lines such as `field .a: 1 bytes`, `padding: 7 bytes`, `end padding: 5 bytes`
    /// (the wording of `rustc -Zprint-type-sizes`, so the two can be compared).
    pub fn describe(&self) -> Vec<String> {
        self.segments()
            .iter()
            .map(|s| match s {
                Segment::Field(i) => format!(
                    "field .{}: {} bytes",
                    self.fields[*i].name, self.fields[*i].size
                ),
                Segment::Padding { len, .. } => format!("padding: {len} bytes"),
                Segment::EndPadding { len, .. } => format!("end padding: {len} bytes"),
            })
            .collect()
    }

    /// A table: one row per field or padding run.
    pub fn table(&self) -> Table {
        let mut t = Table::new(["offset", "size", "align", "what"]).caption(format!(
            "{}: size {} bytes, alignment {}, padding {} bytes",
            self.name,
            self.size,
            self.align,
            self.padding_bytes()
        ));
        for s in self.segments() {
            match s {
                Segment::Field(i) => {
                    let fl = &self.fields[i];
                    t.row([
                        fl.offset.to_string(),
                        fl.size.to_string(),
                        fl.align.to_string(),
                        format!("field {}", fl.name),
                    ]);
                }
                Segment::Padding { offset, len } => {
                    t.row([
                        offset.to_string(),
                        len.to_string(),
                        "".into(),
                        "padding".into(),
                    ]);
                }
                Segment::EndPadding { offset, len } => {
                    t.row([
                        offset.to_string(),
                        len.to_string(),
                        "".into(),
                        "end padding".into(),
                    ]);
                }
            }
        }
        t
    }

    /// The byte map as an SVG picture: one square per byte, 16 bytes a row (a summary for structs
    /// above [`MAX_BYTE_MAP_BYTES`] bytes).
    pub fn byte_map_svg(&self) -> String {
        byte_map_svg(&self.name, self.size, &self.fields, 16)
            .unwrap_or_else(|e| summary_svg(&self.name, &e))
    }

    /// Byte map and table together, as one HTML fragment.
    pub fn to_html(&self) -> String {
        format!(
            "<div>{}</div>{}",
            self.byte_map_svg(),
            self.table().to_html()
        )
    }

    /// Shows the byte map and the table in an evcxr cell.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }
}

impl fmt::Display for LayoutReport {
    /// A text byte map (one character per byte, a letter per field, `.` for padding) and the
    /// table; above [`MAX_BYTE_MAP_BYTES`] bytes the map is replaced by a one-line summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.size > MAX_BYTE_MAP_BYTES {
            writeln!(f, "{}", too_large(self.size))?;
        } else {
            let mut map = vec!['.'; self.size];
            for (i, fl) in self.fields.iter().enumerate() {
                let c = (b'a' + (i % 26) as u8) as char;
                for b in map.iter_mut().take(fl.end()).skip(fl.offset) {
                    *b = c;
                }
            }
            writeln!(f, "{}", map.iter().collect::<String>())?;
        }
        write!(f, "{}", self.table())
    }
}

fn too_large(size: usize) -> String {
    format!(
        "{size} bytes: too many to draw one square per byte (a byte map shows at most {MAX_BYTE_MAP_BYTES}); the table lists every field and gap"
    )
}

/// A small SVG that says why there is no byte map.
fn summary_svg(title: &str, why: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"56\" font-family=\"sans-serif\" font-size=\"12\">\
<text x=\"4\" y=\"18\" font-size=\"15\" font-weight=\"bold\">{}</text><text x=\"4\" y=\"42\">{}</text></svg>",
        escape(title),
        escape(why)
    )
}

/// Draws bytes `0..size` as squares, `per_row` (1 to 256) a row, coloured by the field covering
/// them, padding hatched grey.
///
/// Errors (as a message) when `per_row` is outside `1..=256`, when `size` is above
/// [`MAX_BYTE_MAP_BYTES`], or when there are more than [`MAX_ROWS_SHOWN`] fields: the picture would
/// be unreadable, and the work to draw it unbounded.
pub fn byte_map_svg(
    title: &str,
    size: usize,
    fields: &[Field],
    per_row: usize,
) -> Result<String, String> {
    if !(1..=256).contains(&per_row) {
        return Err(format!(
            "byte_map_svg: per_row is {per_row}; give 1 to 256 bytes per row"
        ));
    }
    if size > MAX_BYTE_MAP_BYTES {
        return Err(too_large(size));
    }
    if fields.len() > MAX_ROWS_SHOWN {
        return Err(format!(
            "{} fields: too many to draw (at most {MAX_ROWS_SHOWN}); the table lists them",
            fields.len()
        ));
    }
    // Which field owns each byte (the first sized field that covers it): one pass over the fields.
    let mut owners: Vec<Option<usize>> = vec![None; size];
    for (i, fl) in fields.iter().enumerate().filter(|(_, fl)| fl.size > 0) {
        for o in owners.iter_mut().take(fl.end()).skip(fl.offset) {
            o.get_or_insert(i);
        }
    }
    let owner = |b: usize| owners[b];
    let cell = 30usize;
    let left = 48usize;
    let top = 30usize;
    let rows = size.div_ceil(per_row).max(1);
    let legend_top = top + rows * cell + 14;
    let legend_rows = fields.len().div_ceil(4).max(1) + 1;
    let width = left + per_row * cell + 10;
    let height = legend_top + legend_rows * 20 + 6;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\
<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
<rect width=\"6\" height=\"6\" fill=\"#eeeeee\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#aaaaaa\" stroke-width=\"2\"/></pattern></defs>\
<text x=\"4\" y=\"18\" font-size=\"15\" font-weight=\"bold\">{} — {size} bytes, one square per byte</text>",
        escape(title)
    );
    for r in 0..rows {
        s += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#666\">{}</text>",
            left - 6,
            top + r * cell + cell / 2 + 4,
            r * per_row
        );
    }
    // Field names go on top of the squares, so they are drawn after all of them: a name centred over
    // a run of squares would otherwise be painted over by the squares that follow it.
    let mut labels = String::new();
    for b in 0..size {
        let (x, y) = (left + (b % per_row) * cell, top + (b / per_row) * cell);
        let fill = match owner(b) {
            Some(i) => field_fill(i).to_string(),
            None => "url(#hatch)".to_string(),
        };
        s += &format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" fill=\"{fill}\" stroke=\"#ffffff\" stroke-width=\"2\"/>"
        );
        if let Some(i) = owner(b) {
            if fields[i].offset == b || b % per_row == 0 {
                // Centre the name over the field's run of squares on this row.
                let run = fields[i].end().min((b / per_row + 1) * per_row) - b;
                let label: String = fields[i].name.chars().take(run * 4).collect();
                labels += &format!(
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                    x + run * cell / 2,
                    y + cell / 2 + 4,
                    escape(&label)
                );
            }
        }
    }
    s += &labels;
    let mut entries: Vec<(String, String)> = fields
        .iter()
        .enumerate()
        .map(|(i, fl)| {
            (
                field_fill(i).to_string(),
                format!("{} @{} ({} B)", fl.name, fl.offset, fl.size),
            )
        })
        .collect();
    entries.push(("url(#hatch)".into(), "padding".into()));
    for (k, (fill, text)) in entries.iter().enumerate() {
        let (x, y) = (8 + (k % 4) * 150, legend_top + (k / 4) * 20);
        s += &format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"14\" height=\"14\" fill=\"{fill}\" stroke=\"#999\"/><text x=\"{}\" y=\"{}\">{}</text>",
            x + 19,
            y + 11,
            escape(text)
        );
    }
    s += "</svg>";
    Ok(s)
}

/// The `repr(C)` layout of fields given as `(size, align)` in declaration order, built with
/// `Layout::extend` and finished with `pad_to_align`, as the `Layout` docs describe.
/// Returns the layout and each field's offset.
pub fn repr_c_layout_with_offsets(
    fields: &[(usize, usize)],
) -> Result<(Layout, Vec<usize>), std::alloc::LayoutError> {
    let mut layout = Layout::from_size_align(0, 1)?;
    let mut offsets = Vec::with_capacity(fields.len());
    for &(size, align) in fields {
        let (next, offset) = layout.extend(Layout::from_size_align(size, align)?)?;
        layout = next;
        offsets.push(offset);
    }
    Ok((layout.pad_to_align(), offsets))
}

/// [`repr_c_layout_with_offsets`] without the offsets.
pub fn repr_c_layout(fields: &[(usize, usize)]) -> Result<Layout, std::alloc::LayoutError> {
    repr_c_layout_with_offsets(fields).map(|(l, _)| l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[allow(dead_code)]
    #[repr(C)]
    struct Wasteful {
        a: u8,
        b: u64,
        c: u16,
    }

    fn wasteful() -> LayoutReport {
        LayoutReport::of::<Wasteful>(
            "Wasteful",
            vec![
                Field::of::<u8>("a", offset_of!(Wasteful, a)),
                Field::of::<u64>("b", offset_of!(Wasteful, b)),
                Field::of::<u16>("c", offset_of!(Wasteful, c)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn segments_make_padding_explicit() {
        let r = wasteful();
        assert_eq!(r.size, 24);
        assert_eq!(
            r.segments(),
            vec![
                Segment::Field(0),
                Segment::Padding { offset: 1, len: 7 },
                Segment::Field(1),
                Segment::Field(2),
                Segment::EndPadding { offset: 18, len: 6 },
            ]
        );
        assert_eq!(r.padding_bytes(), 13);
        assert_eq!(r.end_padding(), 6);
        assert_eq!(r.smallest_possible_size(), 16);
        assert_eq!(
            r.describe(),
            [
                "field .a: 1 bytes",
                "padding: 7 bytes",
                "field .b: 8 bytes",
                "field .c: 2 bytes",
                "end padding: 6 bytes"
            ]
        );
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn text_and_svg_renderings() {
        let r = wasteful();
        let text = r.to_string();
        assert!(text.starts_with("a.......bbbbbbbbcc......\n"), "{text}");
        let svg = r.byte_map_svg();
        assert_eq!(
            svg.matches("<rect x=").count(),
            24 + 4,
            "24 bytes + 4 legend swatches"
        );
        assert!(svg.contains("url(#hatch)"));
        assert!(r.to_html().contains("<table"));
        // Every field name is drawn after the last byte square, so no square paints over it.
        let last_square = svg
            .match_indices("<rect x=")
            .nth(23)
            .map(|(i, _)| i)
            .unwrap();
        for name in ["a", "b", "c"] {
            let label = svg
                .find(&format!(">{name}</text>"))
                .unwrap_or_else(|| panic!("no label {name} in {svg}"));
            assert!(label > last_square, "label {name} is drawn under a square");
        }
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let e = LayoutReport::new("X", 8, 3, vec![]).unwrap_err();
        assert!(e.to_string().contains("power of two"), "{e}");
        assert!(matches!(
            LayoutReport::new("X", 6, 4, vec![]),
            Err(LayoutReportError::BadSize { .. })
        ));
        assert!(matches!(
            LayoutReport::new("X", usize::MAX - 7, 8, vec![]),
            Err(LayoutReportError::BadSize { .. })
        ));
        let e = LayoutReport::new("X", 8, 8, vec![Field::new("a", 6, 4, 4)]).unwrap_err();
        assert!(e.to_string().contains("does not fit"), "{e}");
        let e = LayoutReport::new("X", 8, 8, vec![Field::new("a", usize::MAX, 4, 4)]).unwrap_err();
        assert!(matches!(e, LayoutReportError::FieldOutside { .. }));
        let e = LayoutReport::new(
            "X",
            8,
            4,
            vec![Field::new("a", 0, 4, 4), Field::new("b", 2, 4, 2)],
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "fields `a` and `b` overlap");
        let e = LayoutReport::new("X", 8, 4, vec![Field::new("a", 0, 4, 5)]).unwrap_err();
        assert!(e.to_string().contains("field `a`"));
        let e = LayoutReport::new("X", 8, 4, vec![Field::new("a", 2, 4, 4)]).unwrap_err();
        assert!(matches!(e, LayoutReportError::Misaligned { .. }), "{e}");
        assert!(e.to_string().contains("offset 2 is not aligned"), "{e}");
        let e = LayoutReport::new("X", 16, 4, vec![Field::new("a", 0, 8, 8)]).unwrap_err();
        assert!(
            matches!(e, LayoutReportError::AlignAboveStruct { .. }),
            "{e}"
        );
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn huge_layouts_render_in_summary_form() {
        let r = LayoutReport::new("Huge", 1 << 40, 8, vec![Field::new("a", 8, 8, 8)]).unwrap();
        let text = r.to_string();
        assert!(
            text.starts_with("1099511627776 bytes: too many to draw"),
            "{text}"
        );
        assert!(r.byte_map_svg().contains("too many to draw"));
        assert!(r.to_html().len() < 10_000);
        assert_eq!(r.padding_bytes(), (1 << 40) - 8);
        let e = byte_map_svg("x", 8, &[], 0).unwrap_err();
        assert!(e.contains("per_row is 0"), "{e}");
    }

    #[test]
    fn repr_c_by_hand_matches_the_compiler() {
        let (l, offsets) = repr_c_layout_with_offsets(&[(1, 1), (8, 8), (2, 2)]).unwrap();
        assert_eq!(l, Layout::new::<Wasteful>());
        assert_eq!(
            offsets,
            [
                offset_of!(Wasteful, a),
                offset_of!(Wasteful, b),
                offset_of!(Wasteful, c)
            ]
        );
        assert!(repr_c_layout(&[(1, 3)]).is_err());
        assert!(repr_c_layout(&[(isize::MAX as usize, 1), (2, 2)]).is_err());
    }
}

/// A table of `size_of` and `align_of` for a list of types, built one type at a time.
///
/// ```
/// let t = support::layout::SizeTable::new().row::<u8>("u8").row::<Option<Box<u8>>>("Option<Box<u8>>");
/// assert_eq!(t.rows()[1], ("Option<Box<u8>>".to_string(), 8, 8));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SizeTable {
    rows: Vec<(String, usize, usize)>,
}

impl SizeTable {
    /// An empty table.
    pub fn new() -> Self {
        SizeTable::default()
    }

    /// Adds the type `T` under `name`.
    pub fn row<T>(mut self, name: &str) -> Self {
        self.rows.push((
            name.to_string(),
            std::mem::size_of::<T>(),
            std::mem::align_of::<T>(),
        ));
        self
    }

    /// The rows: name, size, alignment.
    pub fn rows(&self) -> &[(String, usize, usize)] {
        &self.rows
    }

    /// As a display table with a `size / align` column.
    pub fn table(&self) -> Table {
        let mut t = Table::new([
            "type",
            "size_of (bytes)",
            "align_of (bytes)",
            "size / align",
        ]);
        for (n, s, a) in &self.rows {
            t.row([n.clone(), s.to_string(), a.to_string(), (s / a).to_string()]);
        }
        t
    }

    /// Shows the table in an evcxr cell.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }
}
