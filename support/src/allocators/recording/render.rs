//! How a recording is shown: the event log as a table, the totals as a table, the order of events
//! as a numbered picture, and live bytes over time as a chart.

use super::{describe, Event, EventKind, RecordingAllocator, Stats};
use crate::limits::MAX_ROWS_SHOWN;
use crate::views::chart::Chart;
use crate::views::display::{emit, escape, Html, Table};
use crate::views::palette;

impl Stats {
    /// The totals as a two-column table.
    pub fn table(&self) -> Table {
        let mut t = Table::new(["counter", "value"]).caption("Allocator calls recorded");
        for (k, v) in [
            ("allocations", self.allocs),
            ("deallocations", self.deallocs),
            ("grows (in place)", self.grows_in_place),
            (
                "grows (moved)",
                self.grows.saturating_sub(self.grows_in_place),
            ),
            ("shrinks", self.shrinks),
            ("failures", self.failures),
            ("zero-size calls", self.zero_size_calls),
            ("bytes requested", self.bytes_requested),
            ("bytes released", self.bytes_released),
            ("bytes moved by reallocation", self.bytes_moved),
            ("live blocks", self.live_blocks()),
            ("live bytes", self.live_bytes),
            ("peak live bytes", self.peak_live_bytes),
            ("live blocks at the last clear", self.live_blocks_at_clear),
        ] {
            t.row([k.to_string(), v.to_string()]);
        }
        t
    }

    /// Shows the totals as a table in an evcxr cell.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }
}

impl<A> RecordingAllocator<A> {
    /// The event log as a table with addresses relative to the first block seen.
    pub fn table(&self) -> Table {
        events_table_labelled(&self.labelled_events())
    }

    /// The log as a numbered picture, one row per event, coloured by kind: allocations green,
    /// marks (such as drops) orange, frees vermillion, reallocations blue.
    pub fn sequence_picture(&self, title: &str) -> Html {
        let events = self.labelled_events();
        let kinds: Vec<EventKind> = events.iter().map(|(e, _)| e.kind).collect();
        let story: Vec<String> = events
            .iter()
            .map(|(e, l)| describe(e, l.as_deref()))
            .collect();
        Html(sequence_svg(title, &kinds, &story))
    }

    /// Live bytes after each event, as a step chart with moved reallocations marked.
    pub fn timeline(&self, title: &str) -> Chart {
        timeline_chart(title, &self.events())
    }

    /// Shows the event log as a table in an evcxr cell.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.table().to_html());
    }
}

/// An event log as a table: one row per call (at most [`MAX_ROWS_SHOWN`], then a row counting the
/// rest), addresses relative to the first block's address.
pub fn events_table(events: &[Event]) -> Table {
    let unlabelled: Vec<(Event, Option<String>)> = events.iter().map(|e| (*e, None)).collect();
    events_table_labelled(&unlabelled)
}

/// [`events_table`] with `Mark` events shown by their labels (as
/// [`RecordingAllocator::labelled_events`] gives them).
pub fn events_table_labelled(events: &[(Event, Option<String>)]) -> Table {
    let base = events
        .iter()
        .map(|(e, _)| e.addr)
        .find(|&a| a != 0)
        .unwrap_or(0);
    let rel = |a: usize| -> String {
        if a == 0 {
            "-".into()
        } else if a >= base {
            format!("base+{:#x}", a - base)
        } else {
            format!("base-{:#x}", base - a)
        }
    };
    let mut t = Table::new([
        "#",
        "event",
        "old size",
        "size",
        "align",
        "old address",
        "address",
    ])
    .caption("Allocator events (addresses relative to the first block)");
    for (e, label) in events.iter().take(MAX_ROWS_SHOWN) {
        let what = if e.kind == EventKind::Mark {
            describe(e, label.as_deref())
        } else {
            e.kind.name().to_string()
        };
        let mark = e.kind == EventKind::Mark;
        let num = |n: usize| if mark { "-".to_string() } else { n.to_string() };
        t.row([
            e.seq.to_string(),
            what,
            if e.old_size == 0 {
                "-".into()
            } else {
                e.old_size.to_string()
            },
            num(e.size),
            num(e.align),
            rel(e.old_addr),
            rel(e.addr),
        ]);
    }
    if events.len() > MAX_ROWS_SHOWN {
        t.row([
            "…".to_string(),
            format!("{} more events not shown", events.len() - MAX_ROWS_SHOWN),
        ]);
    }
    t
}

/// A vertical numbered sequence of events as SVG (see [`RecordingAllocator::sequence_picture`]):
/// at most [`MAX_ROWS_SHOWN`] rows, then a line counting the rest.
pub fn sequence_svg(title: &str, kinds: &[EventKind], lines: &[String]) -> String {
    let hidden = lines.len().saturating_sub(MAX_ROWS_SHOWN);
    let lines = &lines[..lines.len() - hidden];
    let row = 26;
    let height = 40 + row * (lines.len() + usize::from(hidden > 0)).max(1) + 10;
    let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let width = (title.chars().count() * 9 + 20)
        .max(longest * 8 + 70)
        .max(300);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"13\"><text x=\"8\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    if lines.len() > 1 {
        s += &format!(
            "<line x1=\"30\" y1=\"{}\" x2=\"30\" y2=\"{}\" stroke=\"#bbb\" stroke-width=\"2\"/>",
            40 + row / 2,
            40 + row * (lines.len() - 1) + row / 2
        );
    }
    for (i, (kind, text)) in kinds.iter().zip(lines).enumerate() {
        let y = 40 + i * row;
        let colour = match kind {
            EventKind::Alloc | EventKind::AllocZeroed => palette::GREEN,
            EventKind::Dealloc => palette::VERMILLION,
            EventKind::Mark => palette::ORANGE,
            EventKind::Failed => palette::BLACK,
            _ => palette::BLUE,
        };
        s += &format!(
            "<circle cx=\"30\" cy=\"{}\" r=\"10\" fill=\"{colour}\"/><text x=\"30\" y=\"{}\" text-anchor=\"middle\" fill=\"white\" font-size=\"11\">{}</text><text x=\"50\" y=\"{}\">{}</text>",
            y + row / 2,
            y + row / 2 + 4,
            i + 1,
            y + row / 2 + 5,
            escape(text)
        );
    }
    if hidden > 0 {
        s += &format!(
            "<text x=\"50\" y=\"{}\">… {hidden} more events not shown</text>",
            40 + lines.len() * row + row / 2 + 5
        );
    }
    s += "</svg>";
    s
}

/// Live bytes after each event (step, from each event's [`Event::live_bytes`]), with moved grows
/// and frees marked as points.
pub fn timeline_chart(title: &str, events: &[Event]) -> Chart {
    let at = |(i, e): (usize, &Event)| (i + 1, e.live_bytes);
    let marked = |kinds: &[EventKind]| -> Vec<(usize, usize)> {
        events
            .iter()
            .enumerate()
            .filter(|(_, e)| kinds.contains(&e.kind))
            .map(at)
            .collect()
    };
    let steps: Vec<(usize, usize)> = events.iter().enumerate().map(at).collect();
    let mut c = Chart::new(title)
        .x_axis("allocator event number")
        .y_axis("live bytes")
        .step("live bytes", steps);
    let moved = marked(&[EventKind::GrowMoved, EventKind::ShrinkMoved]);
    if !moved.is_empty() {
        c = c.points("block moved", moved);
    }
    let frees = marked(&[EventKind::Dealloc]);
    if !frees.is_empty() {
        c = c.points("dealloc", frees);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocator_api2::vec::Vec as AVec;

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn table_and_timeline_render() {
        let rec = RecordingAllocator::new();
        let mut v = AVec::new_in(&rec);
        v.extend(0..100u32);
        drop(v);
        let t = rec.table();
        assert_eq!(t.rows.len(), rec.events().len());
        assert_eq!(t.rows[0][6], "base+0x0");
        let c = rec.timeline("t");
        assert_eq!(c.series_list()[0].points.len(), rec.events().len());
        assert_eq!(c.series_list()[0].points.last().unwrap().1, 0.0);
    }
}
