//! Charts as SVG: one titled chart per cell, axes labelled with units.
//!
//! A [`Chart`] collects named series and draws them with `plotters` into an SVG string. In a notebook
//! the chart shows itself inline (`image/svg+xml`); outside Jupyter, [`Chart::save_svg`] writes the
//! same picture to a file. No system fonts are needed: text is left to the browser.
//!
//! ```
//! use support::views::chart::Chart;
//! let caps: Vec<(usize, usize)> = (1..=20usize).map(|n| (n, n.next_power_of_two().max(4))).collect();
//! let svg = Chart::new("Vec<u64> capacity after n pushes")
//!     .x_axis("pushes n")
//!     .y_axis("capacity (elements)")
//!     .step("capacity", caps)
//!     .to_svg()
//!     .unwrap();
//! assert!(svg.starts_with("<svg") && svg.contains("capacity (elements)"));
//! ```

use std::fmt;
use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::limits::{CHART_SIDE, MAX_CHART_POINTS};
use crate::views::{display, palette};

/// The largest magnitude a linear axis shows: leaves room for the 5 % margin and tick arithmetic.
pub const MAX_LINEAR_VALUE: f64 = 1e300;
/// The range of a logarithmic axis: values from 1e-300 to 1e300, at most [`MAX_LOG_DECADES`]
/// powers of ten apart.
pub const LOG_RANGE: (f64, f64) = (1e-300, 1e300);
/// The most powers of ten one logarithmic axis spans.
pub const MAX_LOG_DECADES: f64 = 60.0;

/// A number that can be plotted: every primitive integer and float converts to `f64` here.
pub trait Plottable: Copy {
    /// The value as `f64` (large integers round to the nearest representable value).
    fn to_f64(self) -> f64;
}

macro_rules! plottable {
    ($($t:ty),*) => {$(
        impl Plottable for $t {
            #[allow(clippy::cast_lossless, clippy::cast_precision_loss)]
            fn to_f64(self) -> f64 { self as f64 }
        }
    )*};
}
plottable!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Straight segments between consecutive points.
    Line,
    /// A staircase: each value holds until the next point (capacities, usable sizes).
    Step,
    /// Unconnected circular markers (events, samples).
    Points,
}

/// One named series of (x, y) points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// How the points are drawn.
    pub style: Style,
}

/// Why a chart could not be drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartError(pub String);

impl fmt::Display for ChartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chart error: {}", self.0)
    }
}

impl std::error::Error for ChartError {}

/// An axis range `(low, high)`.
type Span = (f64, f64);

/// A chart under construction: a title, two labelled axes, and series.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    title: String,
    x_label: String,
    y_label: String,
    log_x: bool,
    log_y: bool,
    size: (u32, u32),
    series: Vec<Series>,
    /// Set when a builder call was refused (too many points): drawing reports it.
    refused: Option<String>,
}

impl Chart {
    /// A new empty chart with this title.
    pub fn new(title: impl Into<String>) -> Self {
        Chart {
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            log_x: false,
            log_y: false,
            size: (760, 420),
            series: Vec::new(),
            refused: None,
        }
    }

    /// Labels the x axis; include the unit, e.g. `"requested size (bytes)"`.
    pub fn x_axis(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    /// Labels the y axis; include the unit.
    pub fn y_axis(mut self, label: impl Into<String>) -> Self {
        self.y_label = label.into();
        self
    }

    /// Uses a logarithmic x axis (all x values must be positive).
    pub fn log_x(mut self) -> Self {
        self.log_x = true;
        self
    }

    /// Uses a logarithmic y axis (all y values must be positive).
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// Sets the picture size in pixels (default 760 × 420); each side must be within
    /// [`CHART_SIDE`], which drawing checks.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// Adds a series drawn in `style`. At most [`MAX_CHART_POINTS`] points over all series are
    /// taken (an endless iterator stops there); beyond that the chart is refused when drawn.
    pub fn series<X: Plottable, Y: Plottable>(
        mut self,
        name: impl Into<String>,
        style: Style,
        points: impl IntoIterator<Item = (X, Y)>,
    ) -> Self {
        let name = name.into();
        let room = MAX_CHART_POINTS - self.point_count().min(MAX_CHART_POINTS);
        let mut taken: Vec<(f64, f64)> = points
            .into_iter()
            .take(room + 1)
            .map(|(x, y)| (x.to_f64(), y.to_f64()))
            .collect();
        if taken.len() > room {
            taken.truncate(room);
            self.refused.get_or_insert_with(|| {
                format!(
                    "series '{name}' brings the chart above {MAX_CHART_POINTS} points (support::limits::MAX_CHART_POINTS): thin the data (e.g. keep every k-th point)"
                )
            });
        }
        self.series.push(Series {
            name,
            points: taken,
            style,
        });
        self
    }

    fn point_count(&self) -> usize {
        self.series.iter().map(|s| s.points.len()).sum()
    }

    /// Adds a series drawn as connected line segments.
    pub fn line<X: Plottable, Y: Plottable>(
        self,
        name: impl Into<String>,
        points: impl IntoIterator<Item = (X, Y)>,
    ) -> Self {
        self.series(name, Style::Line, points)
    }

    /// Adds a series drawn as a staircase.
    pub fn step<X: Plottable, Y: Plottable>(
        self,
        name: impl Into<String>,
        points: impl IntoIterator<Item = (X, Y)>,
    ) -> Self {
        self.series(name, Style::Step, points)
    }

    /// Adds a series drawn as markers.
    pub fn points<X: Plottable, Y: Plottable>(
        self,
        name: impl Into<String>,
        points: impl IntoIterator<Item = (X, Y)>,
    ) -> Self {
        self.series(name, Style::Points, points)
    }

    /// The series added so far.
    pub fn series_list(&self) -> &[Series] {
        &self.series
    }

    /// Checks the size and the data and returns the x and y ranges to draw: every case that would
    /// make plotters loop without end (infinite or subnormal ranges, log axes over hundreds of
    /// decades) or draw an unusable picture is an error here.
    fn ranges(&self) -> Result<(Span, Span), ChartError> {
        if let Some(why) = &self.refused {
            return Err(ChartError(format!("'{}': {why}", self.title)));
        }
        let (w, h) = self.size;
        let (lo, hi) = CHART_SIDE;
        if !(lo..=hi).contains(&w) || !(lo..=hi).contains(&h) {
            return Err(ChartError(format!(
                "'{}' is {w} × {h} pixels: each side must be {lo} to {hi} pixels",
                self.title
            )));
        }
        let all: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .collect();
        if all.is_empty() {
            return Err(ChartError(format!(
                "'{}' has no points to draw: add a series with at least one point",
                self.title
            )));
        }
        for s in &self.series {
            for (i, &(x, y)) in s.points.iter().enumerate() {
                if !x.is_finite() || !y.is_finite() {
                    return Err(ChartError(format!(
                        "series '{}' point {i} is ({x}, {y}): values must be finite",
                        s.name
                    )));
                }
                if (self.log_x && x <= 0.0) || (self.log_y && y <= 0.0) {
                    return Err(ChartError(format!(
                        "series '{}' point {i} is ({x}, {y}): a logarithmic axis needs values > 0",
                        s.name
                    )));
                }
                for (v, log, axis) in [(x, self.log_x, "x"), (y, self.log_y, "y")] {
                    if let Some(why) = unplottable(v, log) {
                        return Err(ChartError(format!(
                            "series '{}' point {i} is ({x}, {y}): its {axis} value {why}",
                            s.name
                        )));
                    }
                }
            }
        }
        for (log, axis, pick) in [(self.log_x, "x", 0usize), (self.log_y, "y", 1usize)] {
            if !log {
                continue;
            }
            let vals = all.iter().map(|p| if pick == 0 { p.0 } else { p.1 });
            let lo = vals.clone().fold(f64::INFINITY, f64::min);
            let hi = vals.fold(f64::NEG_INFINITY, f64::max);
            let decades = hi.log10() - lo.log10();
            if decades > MAX_LOG_DECADES {
                return Err(ChartError(format!(
                    "the logarithmic {axis} axis would span {decades:.0} powers of ten ({lo:e} to {hi:e}); at most {MAX_LOG_DECADES} fit on one axis"
                )));
            }
        }
        let span = |vals: Vec<f64>, log: bool| {
            let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if log {
                let (lo, hi) = if lo == hi {
                    (lo / 2.0, hi * 2.0)
                } else {
                    (lo, hi)
                };
                (lo / 1.15, hi * 1.15)
            } else {
                let lo = lo.min(0.0);
                let hi = if hi <= lo { lo + 1.0 } else { hi };
                (lo, hi + (hi - lo) * 0.05)
            }
        };
        Ok((
            span(all.iter().map(|p| p.0).collect(), self.log_x),
            span(all.iter().map(|p| p.1).collect(), self.log_y),
        ))
    }

    /// Draws the chart into an SVG document.
    pub fn to_svg(&self) -> Result<String, ChartError> {
        let ((x0, x1), (y0, y1)) = self.ranges()?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size).into_drawing_area();
            root.fill(&WHITE).map_err(err)?;
            match (self.log_x, self.log_y) {
                (false, false) => self.draw(&root, x0..x1, y0..y1),
                (true, false) => self.draw(&root, (x0..x1).log_scale(), y0..y1),
                (false, true) => self.draw(&root, x0..x1, (y0..y1).log_scale()),
                (true, true) => self.draw(&root, (x0..x1).log_scale(), (y0..y1).log_scale()),
            }?;
            root.present().map_err(err)?;
        }
        Ok(svg)
    }

    fn draw<X, Y>(
        &self,
        root: &DrawingArea<SVGBackend<'_>, Shift>,
        x: X,
        y: Y,
    ) -> Result<(), ChartError>
    where
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 24))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(x, y)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        for (i, s) in self.series.iter().enumerate() {
            let palette::Rgb(r, g, b) = palette::series(i);
            let color = RGBColor(r, g, b);
            let style = ShapeStyle::from(&color).stroke_width(2);
            let legend = match s.style {
                Style::Points => chart
                    .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, style.filled())))
                    .map_err(err)?,
                Style::Line => chart
                    .draw_series(LineSeries::new(s.points.iter().copied(), style))
                    .map_err(err)?,
                Style::Step => chart
                    .draw_series(LineSeries::new(staircase(&s.points), style))
                    .map_err(err)?,
            };
            if !s.name.is_empty() {
                legend
                    .label(s.name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            }
        }
        if self.series.iter().any(|s| !s.name.is_empty()) {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font(("sans-serif", 15))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .draw()
                .map_err(err)?;
        }
        Ok(())
    }

    /// Writes the chart to an SVG file (for use outside Jupyter).
    pub fn save_svg(&self, path: impl AsRef<Path>) -> Result<(), ChartError> {
        let svg = self.to_svg()?;
        std::fs::write(path.as_ref(), svg)
            .map_err(|e| ChartError(format!("cannot write {}: {e}", path.as_ref().display())))
    }

    /// Shows the chart in an evcxr cell, or the reason it cannot be drawn.
    pub fn evcxr_display(&self) {
        match self.to_svg() {
            Ok(svg) => display::emit("image/svg+xml", &svg),
            Err(e) => display::emit("text/plain", &e.to_string()),
        }
    }
}

/// Why `v` cannot be placed on an axis (`None` if it can): subnormal values and values beyond
/// [`MAX_LINEAR_VALUE`] or [`LOG_RANGE`] make the padded range overflow or collapse.
fn unplottable(v: f64, log: bool) -> Option<String> {
    if v != 0.0 && v.abs() < f64::MIN_POSITIVE {
        return Some(format!(
            "is subnormal (below {:e}): scale the data to a normal range",
            f64::MIN_POSITIVE
        ));
    }
    if log && !(LOG_RANGE.0..=LOG_RANGE.1).contains(&v) {
        return Some(format!(
            "is outside {:e} ..= {:e}, the range of a logarithmic axis",
            LOG_RANGE.0, LOG_RANGE.1
        ));
    }
    if !log && v.abs() > MAX_LINEAR_VALUE {
        return Some(format!(
            "is beyond ±{MAX_LINEAR_VALUE:e}, the range of a linear axis"
        ));
    }
    None
}

fn err(e: impl fmt::Display) -> ChartError {
    ChartError(e.to_string())
}

/// Turns points into a staircase: each y holds until the next x.
pub fn staircase(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((x, points[i - 1].1));
        }
        out.push((x, y));
    }
    out
}

/// Formats a tick label compactly: `512`, `64K`, `1.5M`, `2G`, `0.25`, `1e-3`.
pub fn tick(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    let a = v.abs();
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if a == 0.0 {
        "0".into()
    } else if a >= 1e9 {
        trim(format!("{:.1}", v / 1e9)) + "G"
    } else if a >= 1e6 {
        trim(format!("{:.1}", v / 1e6)) + "M"
    } else if a >= 1e4 {
        trim(format!("{:.1}", v / 1e3)) + "K"
    } else if a >= 1.0 {
        trim(format!("{v:.2}"))
    } else if a >= 1e-3 {
        trim(format!("{v:.4}"))
    } else {
        format!("{v:.0e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staircase_holds_each_value_until_the_next_x() {
        let s = staircase(&[(1.0, 4.0), (5.0, 8.0), (9.0, 16.0)]);
        assert_eq!(
            s,
            vec![(1.0, 4.0), (5.0, 4.0), (5.0, 8.0), (9.0, 8.0), (9.0, 16.0)]
        );
    }

    #[test]
    fn ticks_are_compact() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(512.0), "512");
        assert_eq!(tick(65536.0), "65.5K");
        assert_eq!(tick(1_500_000.0), "1.5M");
        assert_eq!(tick(2e9), "2G");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(1.5), "1.5");
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn svg_has_title_labels_and_one_path_per_line_series() {
        let svg = Chart::new("Growth")
            .x_axis("n (pushes)")
            .y_axis("bytes")
            .line("a", [(1, 1), (2, 4), (3, 9)])
            .line("b", [(1, 2), (2, 3), (3, 4)])
            .to_svg()
            .unwrap();
        assert!(svg.starts_with("<svg"));
        for text in ["Growth", "n (pushes)", "bytes", ">\na\n<", ">\nb\n<"] {
            assert!(svg.contains(text), "missing {text:?}");
        }
        // two series lines plus two legend samples
        assert!(svg.matches("<polyline").count() >= 4, "{svg}");
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn points_draw_circles() {
        let svg = Chart::new("p")
            .points("moves", [(1.0, 1.0), (2.0, 2.0)])
            .to_svg()
            .unwrap();
        assert!(svg.matches("<circle").count() >= 2);
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn log_axes_reject_non_positive_values_with_a_clear_error() {
        let e = Chart::new("t")
            .log_y()
            .line("s", [(1, 0), (2, 5)])
            .to_svg()
            .unwrap_err();
        assert!(e.0.contains("logarithmic axis needs values > 0"), "{e}");
        assert!(e.0.contains("series 's' point 0"), "{e}");
        let ok = Chart::new("t")
            .log_x()
            .log_y()
            .line("s", [(1.0, 1.0), (1000.0, 1e6)])
            .to_svg();
        assert!(ok.is_ok());
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn empty_and_non_finite_charts_are_errors() {
        assert!(Chart::new("empty")
            .to_svg()
            .unwrap_err()
            .0
            .contains("no points"));
        let e = Chart::new("nan")
            .line("s", [(1.0, f64::NAN)])
            .to_svg()
            .unwrap_err();
        assert!(e.0.contains("finite"));
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri isolates the file system")]
    fn save_svg_writes_the_same_picture() {
        let c = Chart::new("file").line("s", [(0, 0), (1, 1)]);
        let path = std::env::temp_dir().join(format!("support-chart-{}.svg", std::process::id()));
        c.save_svg(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), c.to_svg().unwrap());
        std::fs::remove_file(&path).unwrap();
        let bad = c.save_svg("/nonexistent-dir/x.svg").unwrap_err();
        assert!(bad.0.contains("cannot write /nonexistent-dir/x.svg"));
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn ranges_that_would_hang_plotters_are_errors() {
        let e = |c: Chart| c.to_svg().unwrap_err().0;
        let at_max = e(Chart::new("t").points("s", [(f64::MAX, 1.0)]));
        assert!(at_max.contains("linear axis"), "{at_max}");
        let wide = e(Chart::new("t")
            .log_y()
            .points("s", [(1.0, 1e-300), (2.0, 1e300)]));
        assert!(wide.contains("600 powers of ten"), "{wide}");
        let sub = e(Chart::new("t").points("s", [(1.0, 5e-324)]));
        assert!(sub.contains("subnormal"), "{sub}");
        let tiny = e(Chart::new("t").size(0, 0).points("s", [(1, 1)]));
        assert!(tiny.contains("0 × 0 pixels"), "{tiny}");
        let huge = e(Chart::new("t").size(u32::MAX, 400).points("s", [(1, 1)]));
        assert!(huge.contains("100 to 10000 pixels"), "{huge}");
        let endless = Chart::new("t").points("s", (0u64..).map(|i| (i, i)));
        assert_eq!(endless.series_list()[0].points.len(), MAX_CHART_POINTS);
        assert!(e(endless).contains("above 1000000 points"));
        // the extremes that are allowed still draw
        assert!(Chart::new("t")
            .log_x()
            .log_y()
            .points("s", [(1e-300, 1e-300), (1e-241, 1e-241)])
            .to_svg()
            .is_ok());
        assert!(Chart::new("t")
            .points("s", [(-1e300, 1e300), (1e300, -1e300)])
            .to_svg()
            .is_ok());
    }
}
