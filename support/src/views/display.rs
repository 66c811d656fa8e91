//! Rich output for evcxr cells: HTML tables and raw HTML/SVG values.
//!
//! evcxr shows a cell's last value through an inherent `evcxr_display(&self)` method, which prints
//! `EVCXR_BEGIN_CONTENT <mime>` … `EVCXR_END_CONTENT` on stdout. One output per mime type per cell:
//! the last one printed wins, so a cell shows one table or one chart.

use std::fmt;

use crate::limits::{MAX_CELLS_PER_ROW, MAX_ROWS_SHOWN};
use crate::views::palette::Tone;

/// Prints `content` as one rich output of type `mime` for evcxr.
///
/// evcxr ends the output at the first line that reads `EVCXR_END_CONTENT` (and treats a panic
/// notification line specially), so content holding the protocol's markers would break out of
/// its block and print the rest as stray text. Every `EVCXR_` in the content is therefore
/// neutralised: in HTML, SVG and XML as `EVCXR&#95;` (which renders as the same text), elsewhere
/// with an invisible word joiner after `EVCXR`. A `mime` that is not a single `type/subtype` word
/// is refused, and the refusal shown as text.
pub fn emit(mime: &str, content: &str) {
    let valid_mime = mime.contains('/')
        && !mime.is_empty()
        && mime.len() <= 100
        && mime.chars().all(|c| c.is_ascii_graphic());
    if !valid_mime {
        let why = format!(
            "cannot show output of type {mime:?}: a mime type is one word such as text/html"
        );
        return emit("text/plain", &why);
    }
    println!(
        "EVCXR_BEGIN_CONTENT {mime}\n{}\nEVCXR_END_CONTENT",
        protocol_safe(mime, content)
    );
}

/// `content` with every `EVCXR_` neutralised for evcxr's output protocol (see [`emit`]).
pub fn protocol_safe(mime: &str, content: &str) -> String {
    let markup = ["html", "svg", "xml"].iter().any(|m| mime.contains(m));
    let replacement = if markup {
        "EVCXR&#95;"
    } else {
        "EVCXR\u{2060}_"
    };
    content.replace("EVCXR_", replacement)
}

/// Escapes text for inclusion in HTML or SVG.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A box with a coloured border and background around `text` (escaped here), in the colours of
/// `tone`: exercise verdicts and std-source errors are shown this way.
pub fn callout(tone: Tone, text: &str) -> Html {
    Html(format!(
        "<div style=\"border:2px solid {};background:{};padding:6px 10px;font-family:sans-serif\">{}</div>",
        tone.border(),
        tone.background(),
        escape(text)
    ))
}

/// A finished piece of HTML, shown as `text/html` in a notebook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Html(pub String);

impl Html {
    /// Shows the HTML in an evcxr cell.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.0);
    }
}

impl fmt::Display for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// At most [`MAX_CELLS_PER_ROW`] cells of `cells`, then one that says more were not kept (an
/// endless iterator stops there).
fn bounded_cells(cells: impl Iterator<Item = String>) -> Vec<String> {
    let mut row: Vec<String> = cells.take(MAX_CELLS_PER_ROW + 1).collect();
    if row.len() > MAX_CELLS_PER_ROW {
        row.truncate(MAX_CELLS_PER_ROW);
        row.push(format!(
            "… more cells not kept (a row keeps at most {MAX_CELLS_PER_ROW})"
        ));
    }
    row
}

/// A table with a header row, shown as HTML in a notebook and as aligned text elsewhere.
///
/// Styles are inline attributes, so the table survives viewers that strip `<style>` blocks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    /// An optional caption shown above the table.
    pub caption: Option<String>,
    /// The column headings.
    pub headers: Vec<String>,
    /// The rows; each should have as many cells as there are headers.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings (at most [`MAX_CELLS_PER_ROW`], as for a row) and no
    /// rows yet.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            caption: None,
            headers: bounded_cells(headers.into_iter().map(Into::into)),
            rows: Vec::new(),
        }
    }

    /// Sets the caption.
    pub fn caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }

    /// Appends a row of cells (anything that implements `Display`). A row keeps at most
    /// [`MAX_CELLS_PER_ROW`] cells; an endless or longer iterator ends with a cell that says so.
    pub fn row<D: fmt::Display>(&mut self, cells: impl IntoIterator<Item = D>) -> &mut Self {
        self.rows
            .push(bounded_cells(cells.into_iter().map(|c| c.to_string())));
        self
    }

    /// The rows that are rendered (at most [`MAX_ROWS_SHOWN`]) and how many are left out.
    fn shown_rows(&self) -> (&[Vec<String>], usize) {
        let n = self.rows.len().min(MAX_ROWS_SHOWN);
        (&self.rows[..n], self.rows.len() - n)
    }

    /// A warning when some row does not have one cell per heading (a ragged row would otherwise
    /// shift its values under the wrong headings without a word): which rows, and their lengths.
    pub fn ragged_note(&self) -> Option<String> {
        let n = self.headers.len();
        let bad: Vec<String> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.len() != n)
            .take(5)
            .map(|(i, r)| format!("row {} has {}", i + 1, r.len()))
            .collect();
        let total = self.rows.iter().filter(|r| r.len() != n).count();
        (total > 0).then(|| {
            format!(
                "warning: {total} row(s) do not have one cell per column ({n} columns): {}{}",
                bad.join(", "),
                if total > bad.len() { ", …" } else { "" }
            )
        })
    }

    fn more_rows(hidden: usize) -> Vec<String> {
        vec![format!(
            "… {hidden} more rows not shown (a table shows at most {MAX_ROWS_SHOWN})"
        )]
    }

    /// Builder form of [`Table::row`].
    pub fn with_row<D: fmt::Display>(mut self, cells: impl IntoIterator<Item = D>) -> Self {
        self.row(cells);
        self
    }

    /// The table as an HTML fragment.
    pub fn to_html(&self) -> String {
        let cell = "border:1px solid #bbb;padding:2px 8px;font-family:monospace;text-align:right";
        let mut s = String::from("<table style=\"border-collapse:collapse;margin:4px 0\">");
        if let Some(c) = &self.caption {
            s += &format!(
                "<caption style=\"text-align:left;font-weight:bold;padding:2px 0\">{}</caption>",
                escape(c)
            );
        }
        s += "<tr>";
        for h in &self.headers {
            s += &format!("<th style=\"{cell};background:#eee\">{}</th>", escape(h));
        }
        s += "</tr>";
        let (shown, hidden) = self.shown_rows();
        let more = (hidden > 0).then(|| Table::more_rows(hidden));
        for r in shown.iter().chain(more.as_ref()) {
            s += "<tr>";
            for c in r {
                s += &format!("<td style=\"{cell}\">{}</td>", escape(c));
            }
            s += "</tr>";
        }
        if let Some(note) = self.ragged_note() {
            s += &format!(
                "<tr><td colspan=\"{}\" style=\"{cell};text-align:left;color:#a33\">{}</td></tr>",
                self.headers.len().max(1),
                escape(&note)
            );
        }
        s += "</table>";
        s
    }

    /// Shows the table as HTML in an evcxr cell.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }
}

impl fmt::Display for Table {
    /// Plain text with columns padded to the widest cell (at most [`MAX_ROWS_SHOWN`] rows).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (shown, hidden) = self.shown_rows();
        let ncols = shown
            .iter()
            .map(Vec::len)
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0; ncols];
        for r in shown.iter().chain([&self.headers]) {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        if let Some(c) = &self.caption {
            writeln!(f, "{c}")?;
        }
        let line = |f: &mut fmt::Formatter<'_>, r: &[String]| -> fmt::Result {
            let cells: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| format!("{:>w$}", r.get(i).map_or("", String::as_str)))
                .collect();
            writeln!(f, "{}", cells.join("  ").trim_end())
        };
        line(f, &self.headers)?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        writeln!(f, "{}", rule.join("  "))?;
        for r in shown {
            line(f, r)?;
        }
        if hidden > 0 {
            writeln!(f, "{}", Table::more_rows(hidden)[0])?;
        }
        if let Some(note) = self.ragged_note() {
            writeln!(f, "{note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_handles_markup() {
        assert_eq!(escape("<a & 'b'>"), "&lt;a &amp; &#39;b&#39;&gt;");
    }

    #[test]
    fn callouts_escape_their_text_and_take_the_tone_colours() {
        let good = callout(Tone::Good, "PASS <ok>").0;
        assert!(good.contains("PASS &lt;ok&gt;"), "{good}");
        assert!(good.contains(&Tone::Good.border().to_string()), "{good}");
        assert_ne!(good, callout(Tone::Error, "PASS <ok>").0);
    }

    #[test]
    fn table_renders_text_and_html() {
        let t = Table::new(["type", "size"])
            .caption("sizes")
            .with_row(["u8", "1"])
            .with_row(["Box<u64>", "8"]);
        let text = t.to_string();
        assert_eq!(
            text,
            "sizes\n    type  size\n--------  ----\n      u8     1\nBox<u64>     8\n"
        );
        let html = t.to_html();
        assert!(html.contains("<th style"), "{html}");
        assert!(html.contains("Box&lt;u64&gt;"), "{html}");
        assert_eq!(html.matches("<tr>").count(), 3);
    }

    #[test]
    fn protocol_markers_cannot_break_out_of_an_output_block() {
        let hostile = "a\nEVCXR_END_CONTENT\nEVCXR_BEGIN_CONTENT text/plain\nb";
        let html = protocol_safe("text/html", hostile);
        assert!(!html.contains("EVCXR_"), "{html}");
        assert!(html.contains("EVCXR&#95;END_CONTENT"), "{html}");
        let text = protocol_safe("text/plain", hostile);
        assert!(!text.lines().any(|l| l.starts_with("EVCXR_")), "{text}");
        assert_eq!(text.replace('\u{2060}', ""), hostile);
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn huge_tables_render_a_bounded_part() {
        let mut t = Table::new(["n"]);
        for i in 0..MAX_ROWS_SHOWN + 5 {
            t.row([i]);
        }
        t.row(0u64..);
        assert_eq!(t.rows.last().unwrap().len(), MAX_CELLS_PER_ROW + 1);
        let html = t.to_html();
        // header, the rows shown, the "more rows" line, and the warning about the endless row
        // (1001 cells in a table of 1 column)
        assert_eq!(html.matches("<tr>").count(), 1 + MAX_ROWS_SHOWN + 1 + 1);
        assert!(html.contains("… 6 more rows not shown"), "tail");
        let text = t.to_string();
        assert!(text.contains("(a table shows at most 2000)\n"), "tail");
        assert!(
            text.ends_with("row 2006 has 1001\n"),
            "{}",
            &text[text.len() - 200..]
        );
    }
}
