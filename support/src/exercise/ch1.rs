//! Checks for chapter 1 (memory layout and alignment).

use std::alloc::{Layout, LayoutError};

use super::Verdict;
use crate::layout::LayoutReport;

/// Exercise 1.1: the learner's `repr(C)` struct holds the same fields as `original`, reordered so
/// that the struct is as small as these fields allow.
pub fn check_reordered(yours: &LayoutReport, original: &LayoutReport) -> Verdict {
    let ex = "1.1 reorder to minimise size";
    let mut want: Vec<(String, usize)> = original
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.size))
        .collect();
    let mut got: Vec<(String, usize)> = yours
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.size))
        .collect();
    want.sort();
    got.sort();
    if want != got {
        return Verdict::not_yet(
            ex,
            format!(
                "keep exactly the fields of {} (name, type): expected {want:?}, found {got:?}",
                original.name
            ),
        );
    }
    let best = original.smallest_possible_size();
    if yours.size > best {
        return Verdict::not_yet(
            ex,
            format!(
                "{} is {} bytes with {} bytes of padding (order {:?}); these fields fit in {best}: put the most-aligned fields first",
                yours.name,
                yours.size,
                yours.padding_bytes(),
                yours.field_order()
            ),
        );
    }
    Verdict::pass(
        ex,
        format!(
            "{} is {} bytes (was {}), padding {} bytes",
            yours.name,
            yours.size,
            original.size,
            yours.padding_bytes()
        ),
    )
}

/// Exercise 1.2: a prediction of size and alignment, compared with the compiler's.
pub fn check_prediction(
    type_name: &str,
    predicted: (usize, usize),
    actual: (usize, usize),
) -> Verdict {
    let ex = "1.2 predict size and alignment";
    if predicted == actual {
        Verdict::pass(
            ex,
            format!("{type_name}: size {}, alignment {}", actual.0, actual.1),
        )
    } else {
        let mut wrong = Vec::new();
        if predicted.0 != actual.0 {
            wrong.push(format!(
                "size: you said {}, it is {}",
                predicted.0, actual.0
            ));
        }
        if predicted.1 != actual.1 {
            wrong.push(format!(
                "alignment: you said {}, it is {}",
                predicted.1, actual.1
            ));
        }
        Verdict::not_yet(ex, format!("{type_name}: {}", wrong.join("; ")))
    }
}

/// Exercise 1.3: a layout built by hand with `Layout::extend` and `pad_to_align` must equal the
/// compiler's layout of the `repr(C)` struct, field offsets included.
pub fn check_layout_by_hand(
    yours: Result<(Layout, Vec<usize>), LayoutError>,
    compiler: &LayoutReport,
) -> Verdict {
    let ex = "1.3 repr(C) layout by hand";
    let (layout, offsets) = match yours {
        Ok(v) => v,
        Err(e) => return Verdict::not_yet(ex, format!("building the layout failed: {e}")),
    };
    // repr(C) keeps declaration order, so memory order is declaration order.
    let want_offsets: Vec<usize> = compiler.fields.iter().map(|f| f.offset).collect();
    if layout.size() != compiler.size || layout.align() != compiler.align {
        let only_end_padding_missing = layout.align() == compiler.align
            && layout.size() < compiler.size
            && layout.size().next_multiple_of(compiler.align) == compiler.size;
        let hint = if only_end_padding_missing {
            " (did you call pad_to_align() at the end?)"
        } else {
            ""
        };
        return Verdict::not_yet(
            ex,
            format!(
                "your layout is size {} align {}, the compiler's {} is size {} align {}{hint}",
                layout.size(),
                layout.align(),
                compiler.name,
                compiler.size,
                compiler.align
            ),
        );
    }
    if offsets != want_offsets {
        return Verdict::not_yet(
            ex,
            format!("offsets {offsets:?} differ from the compiler's {want_offsets:?}"),
        );
    }
    Verdict::pass(
        ex,
        format!(
            "size {}, align {}, offsets {offsets:?}: same as the compiler",
            layout.size(),
            layout.align()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{repr_c_layout_with_offsets, Field};

    /// `(name, size, align)` of the exercise's five fields, in the order given.
    const FIELDS: [(&str, usize, usize); 5] = [
        ("flag", 1, 1),
        ("id", 8, 8),
        ("kind", 2, 2),
        ("len", 4, 4),
        ("last", 1, 1),
    ];

    /// The report of a `repr(C)` struct with these fields in this order, laid out by the crate.
    fn repr_c(name: &str, order: [usize; 5]) -> LayoutReport {
        let specs: Vec<(usize, usize)> =
            order.iter().map(|&i| (FIELDS[i].1, FIELDS[i].2)).collect();
        let (layout, offsets) = repr_c_layout_with_offsets(&specs).unwrap();
        let fields = order
            .iter()
            .zip(offsets)
            .map(|(&i, off)| Field::new(FIELDS[i].0, off, FIELDS[i].1, FIELDS[i].2))
            .collect();
        LayoutReport::new(name, layout.size(), layout.align(), fields).unwrap()
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn reorder_names_what_is_wrong_and_passes_any_smallest_order() {
        let original = repr_c("Message", [0, 1, 2, 3, 4]);
        assert_eq!(original.size, 32);
        let v = check_reordered(&original, &original);
        assert!(!v.passed && v.message.contains("fit in 16"), "{v}");
        // Largest alignment first is not enough when a 2-byte field splits the small ones.
        let v = check_reordered(&repr_c("M", [1, 2, 0, 3, 4]), &original);
        assert!(!v.passed && v.message.contains("is 24 bytes"), "{v}");
        // One of several smallest orders: id, len, flag, last, kind.
        let v = check_reordered(&repr_c("M", [1, 3, 0, 4, 2]), &original);
        assert!(v.passed && v.message.contains("16 bytes (was 32)"), "{v}");
        let mut missing = repr_c("M", [1, 3, 0, 4, 2]);
        missing.fields.pop();
        assert!(check_reordered(&missing, &original)
            .message
            .contains("keep exactly"));
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn prediction_names_what_is_wrong() {
        let v = check_prediction("(u8, u32)", (5, 4), (8, 4));
        assert!(
            !v.passed && v.message.contains("size: you said 5, it is 8"),
            "{v}"
        );
        assert!(!v.message.contains("alignment:"));
        assert!(check_prediction("(u8, u32)", (8, 4), (8, 4)).passed);
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn layout_by_hand_fails_without_padding_and_passes_with_it() {
        let compiler = repr_c("Message", [0, 1, 2, 3, 4]);
        let specs = FIELDS.map(|(_, s, a)| (s, a));
        // Extend without pad_to_align: 25 bytes instead of 32.
        let mut l = Layout::from_size_align(0, 1).unwrap();
        let mut offs = vec![];
        for (s, a) in specs {
            let (n, o) = l.extend(Layout::from_size_align(s, a).unwrap()).unwrap();
            l = n;
            offs.push(o);
        }
        let v = check_layout_by_hand(Ok((l, offs.clone())), &compiler);
        assert!(!v.passed && v.message.contains("pad_to_align"), "{v}");
        let wrong_offsets = offs.iter().map(|o| o + 1).collect();
        let v = check_layout_by_hand(Ok((l.pad_to_align(), wrong_offsets)), &compiler);
        assert!(
            !v.passed && v.message.contains("differ from the compiler's"),
            "{v}"
        );
        let v = check_layout_by_hand(repr_c_layout_with_offsets(&specs), &compiler);
        assert!(v.passed, "{v}");
        let err = Layout::from_size_align(1, 3).map(|l| (l, vec![]));
        assert!(check_layout_by_hand(err, &compiler)
            .message
            .contains("failed"));
    }
}
