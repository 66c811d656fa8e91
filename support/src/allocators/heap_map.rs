//! Heap maps: an arena drawn as a strip, one rectangle per region (data coloured by allocation,
//! headers dark, slack vermillion, free space pale), several snapshots stacked in one picture; and the
//! charts of a workload run (how full, how fragmented).

use std::fmt::Write as _;

use super::workload::Run;
use super::{HeapMap, RegionKind};
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

/// A strip with more regions than this is drawn with runs of regions narrower than a pixel merged
/// into one rectangle each (a million live blocks would otherwise make an SVG of 150 MB, and no
/// screen shows a region narrower than a pixel).
pub const MAX_REGIONS_DRAWN: usize = 1000;

/// One rectangle of a strip: `len` bytes from `offset`, drawn as `kind`; `merged` regions in it
/// (1 for a region drawn as it is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Drawn {
    offset: usize,
    len: usize,
    kind: RegionKind,
    merged: usize,
}

/// What a strip draws for `map` at `bytes_per_px`: every region, or past [`MAX_REGIONS_DRAWN`],
/// runs of sub-pixel regions merged, each coloured by the kind holding most of its bytes. At most
/// about two rectangles per pixel column, whatever the number of regions.
fn drawn(map: &HeapMap, bytes_per_px: f64) -> Vec<Drawn> {
    if map.regions.len() <= MAX_REGIONS_DRAWN {
        return map
            .regions
            .iter()
            .map(|r| Drawn {
                offset: r.offset,
                len: r.len,
                kind: r.kind,
                merged: 1,
            })
            .collect();
    }
    const KINDS: [RegionKind; 5] = [
        RegionKind::Data { id: None },
        RegionKind::Header,
        RegionKind::Slack,
        RegionKind::Free,
        RegionKind::ClassFree,
    ];
    let slot = |k: RegionKind| match k {
        RegionKind::Data { .. } => 0,
        RegionKind::Header => 1,
        RegionKind::Slack => 2,
        RegionKind::Free => 3,
        RegionKind::ClassFree => 4,
    };
    let mut out = Vec::new();
    let mut bucket: Option<(usize, usize, [usize; 5], usize)> = None; // offset, end, bytes by kind, count
    let flush = |b: &mut Option<(usize, usize, [usize; 5], usize)>, out: &mut Vec<Drawn>| {
        if let Some((offset, end, bytes, merged)) = b.take() {
            let best = (0..5).max_by_key(|&i| bytes[i]).unwrap_or(0);
            out.push(Drawn {
                offset,
                // saturating: the regions of a map built by hand may be out of order
                len: end.saturating_sub(offset),
                kind: KINDS[best],
                merged,
            });
        }
    };
    for r in &map.regions {
        if r.len as f64 >= bytes_per_px {
            flush(&mut bucket, &mut out);
            out.push(Drawn {
                offset: r.offset,
                len: r.len,
                kind: r.kind,
                merged: 1,
            });
            continue;
        }
        let b = bucket.get_or_insert((r.offset, r.offset, [0; 5], 0));
        b.1 = r.end();
        b.2[slot(r.kind)] = b.2[slot(r.kind)].saturating_add(r.len);
        b.3 = b.3.saturating_add(1);
        if b.1.saturating_sub(b.0) as f64 >= bytes_per_px {
            flush(&mut bucket, &mut out);
        }
    }
    flush(&mut bucket, &mut out);
    out
}

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
            let rects = drawn(map, 1.0 / scale);
            let merged = map.regions.len() > MAX_REGIONS_DRAWN;
            for r in &rects {
                let x = left + r.offset as f64 * scale;
                let rw = (r.len as f64 * scale).max(0.6);
                let what = if r.merged > 1 {
                    format!(
                        "{} regions merged ({} B, mostly {})",
                        r.merged,
                        r.len,
                        r.kind.name()
                    )
                } else {
                    format!("{} B {}", r.len, r.kind.name())
                };
                let _ = write!(
                    s,
                    r##"<rect x="{x:.2}" y="{y}" width="{rw:.2}" height="{strip_h}" fill="{}" stroke="{}" stroke-width="0.6"><title>{what} at offset {}</title></rect>"##,
                    colour(r.kind),
                    if merged { "none" } else { "#ffffff" },
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
                } + &if merged {
                    format!(
                        " · {} regions, more than {MAX_REGIONS_DRAWN}: runs narrower than a pixel drawn as one ({} rectangles)",
                        map.regions.len(),
                        rects.len()
                    )
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
