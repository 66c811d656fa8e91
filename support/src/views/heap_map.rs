//! Heap maps: an arena drawn as a strip, one rectangle per region (data coloured by allocation,
//! headers dark, slack vermillion, free space pale), several snapshots stacked in one picture; and the
//! charts of a workload run (how full, how fragmented).

use std::fmt::Write as _;

use crate::allocators::workload::Run;
use crate::allocators::{HeapMap, RegionKind};
use crate::views::chart::Chart;
use crate::views::display::{emit, escape};
use crate::views::palette::{self, Rgb};

/// The fill of a region: data by allocation number (blue, green, purple, sky, orange, black in
/// turn; vermillion is kept for slack), headers dark grey, free space pale green, class lists pale
/// purple.
fn colour(kind: RegionKind) -> Rgb {
    const DATA: [Rgb; 6] = [
        palette::BLUE,
        palette::GREEN,
        palette::PURPLE,
        palette::SKY,
        palette::ORANGE,
        palette::BLACK,
    ];
    match kind {
        RegionKind::Data { id: Some(i) } => DATA[i as usize % DATA.len()],
        RegionKind::Data { id: None } => palette::BLUE.lighten(0.5),
        RegionKind::Header => palette::BLACK.lighten(0.35),
        RegionKind::Slack => palette::VERMILLION,
        RegionKind::Free => palette::GREEN.lighten(0.88),
        RegionKind::ClassFree => palette::PURPLE.lighten(0.7),
    }
}

/// One or more heap maps, stacked, with a legend: shows itself in a cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeapPicture {
    title: String,
    strips: Vec<(String, HeapMap)>,
}

/// The most strips one picture takes (more would not fit a screen).
pub const MAX_STRIPS: usize = 12;

impl HeapPicture {
    /// An empty picture with this title.
    pub fn new(title: impl Into<String>) -> HeapPicture {
        HeapPicture {
            title: title.into(),
            strips: Vec::new(),
        }
    }

    /// Adds a strip labelled `label` (a strip past [`MAX_STRIPS`] is left out, and the picture says so).
    pub fn strip(mut self, label: impl Into<String>, map: HeapMap) -> HeapPicture {
        self.strips.push((label.into(), map));
        self
    }

    /// The picture as an SVG document.
    pub fn to_svg(&self) -> String {
        let (w, left, strip_h, gap) = (760.0, 10.0, 34.0, 44.0);
        let bar_w = w - 2.0 * left;
        let shown = self.strips.len().min(MAX_STRIPS);
        let height = 40.0 + shown as f64 * (strip_h + gap) + 40.0;
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" font-family="sans-serif">"#
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="24" font-size="18" text-anchor="middle">{}</text>"#,
            w / 2.0,
            escape(&self.title)
        );
        for (i, (label, map)) in self.strips.iter().take(MAX_STRIPS).enumerate() {
            let top = 40.0 + i as f64 * (strip_h + gap);
            let t = map.totals();
            let _ = write!(
                s,
                r#"<text x="{left}" y="{}" font-size="13">{} — {} ({} bytes)</text>"#,
                top + 12.0,
                escape(label),
                escape(&map.allocator),
                map.arena_len
            );
            let y = top + 18.0;
            let scale = bar_w / map.arena_len.max(1) as f64;
            for r in &map.regions {
                let x = left + r.offset as f64 * scale;
                let rw = (r.len as f64 * scale).max(0.6);
                let _ = write!(
                    s,
                    r##"<rect x="{x:.2}" y="{y}" width="{rw:.2}" height="{strip_h}" fill="{}" stroke="#ffffff" stroke-width="0.6"><title>{} B {} at offset {}</title></rect>"##,
                    colour(r.kind),
                    r.len,
                    r.kind.name(),
                    r.offset
                );
                if let RegionKind::Data { id: Some(id) } = r.kind {
                    if rw >= 16.0 {
                        let _ = write!(
                            s,
                            r##"<text x="{:.2}" y="{}" font-size="11" fill="#ffffff" text-anchor="middle">#{id}</text>"##,
                            x + rw / 2.0,
                            y + strip_h / 2.0 + 4.0
                        );
                    }
                }
            }
            let _ = write!(
                s,
                r##"<rect x="{left}" y="{y}" width="{bar_w}" height="{strip_h}" fill="none" stroke="#888888"/>"##
            );
            let _ = write!(
                s,
                r#"<text x="{left}" y="{}" font-size="12">data {} B · headers {} B · slack {} B · free {} B in {} blocks (largest {} B){}</text>"#,
                y + strip_h + 15.0,
                t.data,
                t.header,
                t.slack,
                t.free,
                t.free_blocks,
                t.largest_free,
                if t.class_free > 0 {
                    format!(" · on class lists {} B", t.class_free)
                } else {
                    String::new()
                }
            );
        }
        let ly = height - 22.0;
        let mut x = left;
        for (name, c) in [
            (
                "data (#n = allocation number)",
                colour(RegionKind::Data { id: Some(0) }),
            ),
            ("header", colour(RegionKind::Header)),
            ("slack", colour(RegionKind::Slack)),
            ("free", colour(RegionKind::Free)),
            ("free, one class only", colour(RegionKind::ClassFree)),
        ] {
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{}" width="14" height="14" fill="{c}" stroke="#888888"/><text x="{}" y="{}" font-size="12">{name}</text>"##,
                ly - 11.0,
                x + 18.0,
                ly
            );
            x += 26.0 + 6.6 * name.len() as f64;
        }
        if self.strips.len() > MAX_STRIPS {
            let _ = write!(
                s,
                r#"<text x="{}" y="{ly}" font-size="12" text-anchor="end">({} more strips left out)</text>"#,
                w - left,
                self.strips.len() - MAX_STRIPS
            );
        }
        s.push_str("</svg>");
        s
    }

    /// Shows the picture in an evcxr cell, as HTML: a picture of an arena, not a plot with axes
    /// (the pages and the browser test treat `image/svg+xml` outputs as plotted charts).
    pub fn evcxr_display(&self) {
        emit("text/html", &format!("<div>{}</div>", self.to_svg()));
    }
}

/// External fragmentation over a run: largest free block / total free space, per design.
pub fn fragmentation_chart(title: &str, runs: &[Run]) -> Chart {
    runs.iter().fold(
        Chart::new(title)
            .x_axis("workload step")
            .y_axis("largest free block / free bytes"),
        |c, r| {
            c.line(
                r.allocator.clone(),
                r.samples
                    .iter()
                    .map(|s| (s.step, s.totals.largest_free_share())),
            )
        },
    )
}

/// How full the arena is over a run (live bytes asked for / arena), per design, up to the first failure.
pub fn fill_chart(title: &str, runs: &[Run]) -> Chart {
    runs.iter().fold(
        Chart::new(title)
            .x_axis("workload step")
            .y_axis("live data (% of the arena)"),
        |c, r| {
            c.line(
                r.allocator.clone(),
                r.samples
                    .iter()
                    .map(|s| (s.step, 100.0 * s.live_bytes as f64 / r.arena_len as f64)),
            )
        },
    )
}
