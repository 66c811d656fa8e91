//! Grouped bar charts as SVG: one bar per series in each group (allocators side by side for each
//! thread count, steps of a change), with the value written above each bar.
//!
//! ```
//! use support::views::bars::Bars;
//! let svg = Bars::new("time of one run", "threads", "seconds")
//!     .groups(["1 thread", "2 threads"])
//!     .series("System", [0.21, 0.30])
//!     .series("jemalloc", [0.15, 0.20])
//!     .to_svg()
//!     .unwrap();
//! assert!(svg.starts_with("<svg") && svg.contains("jemalloc") && svg.contains("rotate(-90"));
//! ```

use crate::limits::MAX_CHART_POINTS;
use crate::views::chart::tick;
use crate::views::display::{emit, escape};
use crate::views::palette;

/// Most groups × series one bar chart draws.
pub const MAX_BARS: usize = 400;

/// A grouped bar chart under construction.
#[derive(Clone, Debug, PartialEq)]
pub struct Bars {
    title: String,
    x_label: String,
    y_label: String,
    groups: Vec<String>,
    series: Vec<(String, Vec<f64>)>,
}

impl Bars {
    /// A chart with a title and the two axis labels (with units).
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Bars {
        Bars {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            groups: Vec::new(),
            series: Vec::new(),
        }
    }

    /// The group names, left to right.
    pub fn groups<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Bars {
        self.groups = names
            .into_iter()
            .take(MAX_BARS + 1)
            .map(Into::into)
            .collect();
        self
    }

    /// One series: a value per group (missing values are not drawn).
    pub fn series(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = f64>,
    ) -> Bars {
        let values = values.into_iter().take(MAX_BARS + 1).collect();
        if self.series.len() <= MAX_BARS {
            self.series.push((name.into(), values));
        }
        self
    }

    /// The SVG, or why it cannot be drawn (no bars, too many, a value that is not finite or is
    /// negative).
    pub fn to_svg(&self) -> Result<String, String> {
        let (ng, ns) = (self.groups.len(), self.series.len());
        if ng == 0 || ns == 0 {
            return Err(format!(
                "'{}' has no groups or no series to draw",
                self.title
            ));
        }
        if ng.saturating_mul(ns) > MAX_BARS.min(MAX_CHART_POINTS) {
            return Err(format!(
                "'{}' has {ng} groups × {ns} series: at most {MAX_BARS} bars",
                self.title
            ));
        }
        let mut top = 0.0f64;
        for (name, vals) in &self.series {
            for v in vals {
                if !v.is_finite() || *v < 0.0 || *v > 1e300 {
                    return Err(format!(
                        "series '{name}' has the value {v}: bars need finite values ≥ 0"
                    ));
                }
                top = top.max(*v);
            }
        }
        let top = if top > 0.0 { nice_top(top) } else { 1.0 };
        let (w, h) = (840.0, 420.0);
        let (left, right, up, down) = (90.0, 20.0, 80.0, 60.0);
        let (pw, ph) = (w - left - right, h - up - down);
        let mut s = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif"><rect width="{w}" height="{h}" fill="white"/>"#
        );
        s += &format!(
            r#"<text x="{}" y="28" text-anchor="middle" font-size="22">{}</text>"#,
            w / 2.0,
            escape(&self.title)
        );
        // Legend, one line under the title.
        let mut lx = left;
        for (i, (name, _)) in self.series.iter().enumerate() {
            let c = palette::series(i);
            s += &format!(
                r#"<rect x="{lx}" y="44" width="14" height="14" fill="{c}"/><text x="{}" y="56" font-size="14">{}</text>"#,
                lx + 18.0,
                escape(name)
            );
            lx += 30.0 + 8.0 * name.chars().count() as f64;
        }
        for k in 0..=4 {
            let v = top * f64::from(k) / 4.0;
            let y = up + ph - ph * f64::from(k) / 4.0;
            s += &format!(
                r##"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e6e6e6"/><text x="{}" y="{:.1}" text-anchor="end" font-size="13">{}</text>"##,
                left + pw,
                left - 6.0,
                y + 4.0,
                escape(&tick(v))
            );
        }
        let gw = pw / ng as f64;
        let bw = (gw * 0.8) / ns as f64;
        for (g, gname) in self.groups.iter().enumerate() {
            let gx = left + gw * g as f64 + gw * 0.1;
            for (i, (_, vals)) in self.series.iter().enumerate() {
                let Some(v) = vals.get(g) else { continue };
                let bh = ph * v / top;
                let (x, y) = (gx + bw * i as f64, up + ph - bh);
                s += &format!(
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{bh:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                    (bw - 2.0).max(1.0),
                    palette::series(i),
                    escape(gname),
                    escape(&tick(*v))
                );
                if bw >= 26.0 {
                    s += &format!(
                        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
                        x + bw / 2.0 - 1.0,
                        y - 3.0,
                        escape(&tick(*v))
                    );
                }
            }
            s += &format!(
                r#"<text x="{:.1}" y="{}" text-anchor="middle" font-size="14">{}</text>"#,
                left + gw * (g as f64 + 0.5),
                up + ph + 20.0,
                escape(gname)
            );
        }
        s += &format!(
            r#"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{left}" y1="{up}" x2="{left}" y2="{}" stroke="black"/>"#,
            up + ph,
            left + pw,
            up + ph,
            up + ph
        );
        s += &format!(
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="16">{}</text>"#,
            left + pw / 2.0,
            h - 12.0,
            escape(&self.x_label)
        );
        s += &format!(
            r#"<text x="20" y="{}" text-anchor="middle" font-size="16" transform="rotate(-90 20 {})">{}</text>"#,
            up + ph / 2.0,
            up + ph / 2.0,
            escape(&self.y_label)
        );
        s += "</svg>";
        Ok(s)
    }

    /// Shows the chart in an evcxr cell, or the reason it cannot be drawn.
    pub fn evcxr_display(&self) {
        match self.to_svg() {
            Ok(svg) => emit("image/svg+xml", &svg),
            Err(e) => emit("text/plain", &format!("chart error: {e}")),
        }
    }
}

/// A round number at or above `v` (1, 2 or 5 times a power of ten), for the top of the axis.
fn nice_top(v: f64) -> f64 {
    // 10 to the power of v's decade, by exact multiplications (no `powf` rounding).
    let e = v.log10().floor().clamp(-300.0, 300.0) as i32;
    let p = (0..e.unsigned_abs()).fold(1.0f64, |p, _| if e >= 0 { p * 10.0 } else { p / 10.0 });
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|t| *t >= v)
        .unwrap_or(10.0 * p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_draw_and_refuse_bad_data() {
        let b = Bars::new("t <x>", "x", "y")
            .groups(["a", "b"])
            .series("s", [1.0, 2.5]);
        let svg = b.to_svg().unwrap();
        assert!(
            svg.contains("t &lt;x&gt;") && svg.matches("<rect").count() >= 3,
            "{svg}"
        );
        assert!(Bars::new("t", "x", "y").to_svg().is_err());
        let nan = Bars::new("t", "x", "y")
            .groups(["a"])
            .series("s", [f64::NAN]);
        assert!(nan.to_svg().unwrap_err().contains("finite"));
        let neg = Bars::new("t", "x", "y").groups(["a"]).series("s", [-1.0]);
        assert!(neg.to_svg().is_err());
        let many = Bars::new("t", "x", "y")
            .groups((0..500).map(|i| i.to_string()))
            .series("s", [1.0]);
        assert!(many.to_svg().unwrap_err().contains("at most"));
        let zero = Bars::new("t", "x", "y").groups(["a"]).series("s", [0.0]);
        assert!(zero.to_svg().is_ok());
        // Within rounding: `powf` is not exact everywhere (Miri adds its permitted error on purpose).
        for (v, top) in [(0.7, 1.0), (130.0, 200.0), (5.0, 5.0)] {
            assert!(
                (nice_top(v) - top).abs() < 1e-9 * top,
                "nice_top({v}) = {}",
                nice_top(v)
            );
        }
    }
}
