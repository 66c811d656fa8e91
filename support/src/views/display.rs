//! Rich output for evcxr cells: HTML tables and raw HTML/SVG values.
//!
//! evcxr shows a cell's last value through an inherent `evcxr_display(&self)` method, which prints
//! `EVCXR_BEGIN_CONTENT <mime>` … `EVCXR_END_CONTENT` on stdout. One output per mime type per cell:
//! the last one printed wins, so a cell shows one table or one chart.

use std::fmt;

use crate::views::palette::Tone;

/// Prints `content` as one rich output of type `mime` for evcxr.
pub fn emit(mime: &str, content: &str) {
    println!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT");
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
    /// A table with these column headings and no rows yet.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            caption: None,
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Sets the caption.
    pub fn caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }

    /// Appends a row of cells (anything that implements `Display`).
    pub fn row<D: fmt::Display>(&mut self, cells: impl IntoIterator<Item = D>) -> &mut Self {
        self.rows
            .push(cells.into_iter().map(|c| c.to_string()).collect());
        self
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
        for r in &self.rows {
            s += "<tr>";
            for c in r {
                s += &format!("<td style=\"{cell}\">{}</td>", escape(c));
            }
            s += "</tr>";
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
    /// Plain text with columns padded to the widest cell.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ncols = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0; ncols];
        for r in self.rows.iter().chain([&self.headers]) {
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
        for r in &self.rows {
            line(f, r)?;
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
}
