//! Excerpts of the standard library source that is installed with the toolchain (`rust-src`).
//!
//! The course never pastes std code into its text: every excerpt is read at run time from
//! `$(rustc --print sysroot)/lib/rustlib/src/rust/library/`, so learners read exactly the code that
//! their compiler builds. Paths are relative to `library/`, as in `alloc/src/raw_vec/mod.rs`.
//!
//! ```no_run
//! let e = support::infra::std_source::excerpt("alloc/src/raw_vec/mod.rs", "fn min_non_zero_cap").unwrap();
//! assert!(e.text().contains("if size == 1"));
//! println!("{e}"); // with line numbers; in a notebook it shows as a titled code block
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::limits::MAX_SOURCE_BYTES;
use crate::views::display::{callout, emit, escape};
use crate::views::palette::Tone;

/// Why an excerpt could not be produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceError {
    /// The `rust-src` component is not installed where the toolchain keeps it.
    RustSrcMissing {
        /// The folder that was looked at.
        looked_in: PathBuf,
    },
    /// `rustc --print sysroot` could not be run.
    NoRustc(String),
    /// The file does not exist under `library/`.
    FileNotFound {
        /// The full path that was tried.
        path: PathBuf,
    },
    /// The path leads outside the `library/` folder (an absolute path, `..`, or a link).
    OutsideLibrary {
        /// The path as given.
        path: String,
        /// The folder paths must stay in (`library/` for std, a crate's folder for another crate).
        library: PathBuf,
    },
    /// The path exists but cannot be shown: a directory, a device or other special file, a file
    /// above the size limit, a file that is not UTF-8 text, or a read error.
    Unreadable {
        /// The full path.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// An empty (or all-blank) item or anchor: it would match any line.
    EmptyItem {
        /// The file.
        path: String,
    },
    /// The file exists but holds no item matching the request.
    ItemNotFound {
        /// The file searched.
        path: String,
        /// What was searched for.
        item: String,
    },
    /// A line range outside the file.
    BadRange {
        /// The file.
        path: String,
        /// The range asked for (1-based, inclusive).
        range: (usize, usize),
        /// How many lines the file has.
        lines: usize,
    },
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::RustSrcMissing { looked_in } => write!(
                f,
                "the std source (rust-src) is not installed: looked in {}; fix: rustup component add rust-src",
                looked_in.display()
            ),
            SourceError::NoRustc(e) => write!(
                f,
                "cannot run `rustc --print sysroot` ({e}); fix: put rustc on PATH or set RUST_SRC_LIBRARY to the library/ folder"
            ),
            SourceError::FileNotFound { path } => write!(
                f,
                "no such std source file: {} (paths are relative to library/, e.g. alloc/src/boxed.rs)",
                path.display()
            ),
            SourceError::OutsideLibrary { path, library } => write!(
                f,
                "{path:?} is outside the source folder: paths are relative to {} and must stay inside it (no absolute paths, no `..` out of it)",
                library.display()
            ),
            SourceError::Unreadable { path, reason } => {
                write!(f, "cannot show {}: {reason}", path.display())
            }
            SourceError::EmptyItem { path } => write!(
                f,
                "no item given for {path}: give the start of the item's declaration, e.g. \"fn grow_amortized\" or \"struct Layout\""
            ),
            SourceError::ItemNotFound { path, item } => write!(
                f,
                "`{item}` was not found in {path} (give the start of the item's declaration, e.g. \"fn grow_amortized\" or \"struct Layout\")"
            ),
            SourceError::BadRange { path, range, lines } => write!(
                f,
                "lines {}-{} are outside {path}, which has {lines} lines",
                range.0, range.1
            ),
        }
    }
}

impl std::error::Error for SourceError {}

/// The `library/` folder of the installed std source.
///
/// `RUST_SRC_LIBRARY` overrides the lookup (point it at a `library/` folder); otherwise the folder
/// comes from `rustc --print sysroot`.
pub fn library_root() -> Result<PathBuf, SourceError> {
    if let Some(dir) = std::env::var_os("RUST_SRC_LIBRARY") {
        let dir = PathBuf::from(dir);
        return if dir.join("core").is_dir() {
            Ok(dir)
        } else {
            Err(SourceError::RustSrcMissing { looked_in: dir })
        };
    }
    let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| SourceError::NoRustc(e.to_string()))?;
    if !out.status.success() {
        return Err(SourceError::NoRustc(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dir = Path::new(&sysroot).join("lib/rustlib/src/rust/library");
    if dir.join("core").is_dir() {
        Ok(dir)
    } else {
        Err(SourceError::RustSrcMissing { looked_in: dir })
    }
}

/// Lines of a std source file, with where they came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excerpt {
    /// Path relative to the repository root, e.g. `library/alloc/src/raw_vec/mod.rs`.
    pub path: String,
    /// 1-based number of the first line.
    pub first_line: usize,
    /// The lines, without trailing newlines.
    pub lines: Vec<String>,
}

impl Excerpt {
    /// 1-based number of the last line.
    pub fn last_line(&self) -> usize {
        self.first_line
            .saturating_add(self.lines.len().saturating_sub(1))
    }

    /// The excerpt's text, lines joined with `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// `path:first-last`, the reference a learner can open.
    pub fn location(&self) -> String {
        format!("{}:{}-{}", self.path, self.first_line, self.last_line())
    }

    /// The excerpt as an HTML code block with line numbers and a header naming the file.
    pub fn to_html(&self) -> String {
        let width = self.last_line().to_string().len();
        let mut body = String::new();
        for (i, l) in self.lines.iter().enumerate() {
            body += &format!(
                "<span style=\"color:#999;user-select:none\">{:>width$}</span>  {}\n",
                self.first_line.saturating_add(i),
                escape(l)
            );
        }
        format!(
            "<div style=\"margin:4px 0\"><div style=\"font-family:monospace;font-size:90%;background:#e8eef7;padding:3px 8px;border:1px solid #c5d2e6\">{}</div><pre style=\"margin:0;padding:6px 8px;background:#f7f7f7;border:1px solid #ddd;border-top:0;overflow-x:auto;line-height:1.3;font-family:monospace;font-size:90%\">{}</pre></div>",
            escape(&self.location()),
            body
        )
    }

    /// Shows the excerpt in an evcxr cell.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }

    /// The excerpt without the doc comment above the item (for items such as `struct Vec`, whose
    /// docs run to hundreds of lines). Everything from the first line down to the last `///` or
    /// `//!` line of the leading block of doc comments and attributes is dropped, so the lines
    /// stay contiguous and keep their numbers; attributes below the docs stay. An excerpt that
    /// does not start with a doc comment is returned unchanged.
    pub fn without_docs(&self) -> Excerpt {
        let leading = self
            .lines
            .iter()
            .take_while(|l| {
                let t = l.trim_start();
                t.starts_with("//") || t.starts_with("#[") || t.starts_with("#![") || t.is_empty()
            })
            .count();
        let last_doc = self.lines[..leading].iter().rposition(|l| {
            let t = l.trim_start();
            t.starts_with("///") || t.starts_with("//!")
        });
        match last_doc {
            Some(i) => Excerpt {
                path: self.path.clone(),
                first_line: self.first_line + i + 1,
                lines: self.lines[i + 1..].to_vec(),
            },
            None => self.clone(),
        }
    }

    /// The lines that matter: `before` lines above and `after` lines below the first line of the
    /// excerpt that contains `needle` (clamped to the excerpt), with their original numbers.
    pub fn around(
        &self,
        needle: &str,
        before: usize,
        after: usize,
    ) -> Result<Excerpt, SourceError> {
        let at = self
            .lines
            .iter()
            .position(|l| l.contains(needle))
            .ok_or_else(|| SourceError::ItemNotFound {
                path: self.path.clone(),
                item: format!("{needle}` inside `{}", self.location()),
            })?;
        let first = at.saturating_sub(before);
        let last = at.saturating_add(after).min(self.lines.len() - 1);
        Ok(Excerpt {
            path: self.path.clone(),
            first_line: self.first_line + first,
            lines: self.lines[first..=last].to_vec(),
        })
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "// {}", self.location())?;
        let width = self.last_line().to_string().len();
        for (i, l) in self.lines.iter().enumerate() {
            writeln!(f, "{:>width$} | {l}", self.first_line.saturating_add(i))?;
        }
        Ok(())
    }
}

/// Reads a file of the std source: `path` is relative to `library/` and must stay inside it (the
/// real path, links resolved, is checked); only regular UTF-8 files up to [`MAX_SOURCE_BYTES`] are
/// read, and every other case gets its own error.
fn read(path: &str) -> Result<(String, Vec<String>), SourceError> {
    read_in(
        &library_root()?,
        "library",
        path.trim_start_matches("library/"),
    )
}

/// Reads `rel`, a path inside the folder `root` (`label` names it in excerpts): the one place every
/// source file the crate shows is read, so every one gets the same checks. The real path (links
/// resolved) must stay inside `root`'s real path; only regular UTF-8 files up to
/// [`MAX_SOURCE_BYTES`] are read (so `/dev/zero`, a folder or a binary gives an error, not a hang).
fn read_in(root: &Path, label: &str, rel: &str) -> Result<(String, Vec<String>), SourceError> {
    use std::io::Read;
    let path = rel;
    let root = root.to_path_buf();
    let outside = || SourceError::OutsideLibrary {
        path: path.to_string(),
        library: root.clone(),
    };
    if Path::new(rel).is_absolute() {
        return Err(outside());
    }
    let full = root.join(rel);
    let unreadable = |reason: String| SourceError::Unreadable {
        path: full.clone(),
        reason,
    };
    let real = match full.canonicalize() {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SourceError::FileNotFound { path: full })
        }
        Err(e) => return Err(unreadable(e.to_string())),
    };
    let real_root = root.canonicalize().map_err(|e| unreadable(e.to_string()))?;
    if !real.starts_with(&real_root) {
        return Err(outside());
    }
    let meta = std::fs::metadata(&real).map_err(|e| unreadable(e.to_string()))?;
    if meta.is_dir() {
        return Err(unreadable(
            "it is a directory; give a file such as alloc/src/boxed.rs".into(),
        ));
    }
    if !meta.is_file() {
        return Err(unreadable(
            "it is not a regular file (a device, socket or pipe)".into(),
        ));
    }
    if meta.len() > MAX_SOURCE_BYTES {
        return Err(unreadable(format!(
            "it has {} bytes, above the limit of {MAX_SOURCE_BYTES} bytes",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&real)
        .and_then(|f| f.take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| unreadable(e.to_string()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| unreadable("it is not UTF-8 text (a binary file?)".into()))?;
    Ok((
        format!("{label}/{rel}"),
        text.lines().map(str::to_string).collect(),
    ))
}

/// Lines `first..=last` (1-based) of a std source file.
pub fn lines(path: &str, first: usize, last: usize) -> Result<Excerpt, SourceError> {
    let (name, all) = read(path)?;
    if first == 0 || last < first || last > all.len() {
        return Err(SourceError::BadRange {
            path: name,
            range: (first, last),
            lines: all.len(),
        });
    }
    Ok(Excerpt {
        path: name,
        first_line: first,
        lines: all[first - 1..last].to_vec(),
    })
}

/// The whole item (function, struct, impl, const …) whose declaration starts with `item`, with the
/// doc comments and attributes above it.
///
/// `item` is matched against code lines (not comments) as a whole word sequence: `"fn grow"` does
/// not match `fn grow_one`. The first match in the file wins; see [`excerpt_after`] to pick a later one.
pub fn excerpt(path: &str, item: &str) -> Result<Excerpt, SourceError> {
    excerpt_after(path, "", item)
}

/// Like [`excerpt`], but the search for `item` starts after the first code line containing `anchor`
/// (e.g. `anchor = "impl<A: Allocator> RawVecInner<A>"`, `item = "fn grow_one"`).
pub fn excerpt_after(path: &str, anchor: &str, item: &str) -> Result<Excerpt, SourceError> {
    let (name, all) = read(path)?;
    find_item(name, all, anchor, item)
}

/// The item `item` (after the first code line holding `anchor`, when it is not empty) of a file's lines.
fn find_item(
    name: String,
    all: Vec<String>,
    anchor: &str,
    item: &str,
) -> Result<Excerpt, SourceError> {
    if item.trim().is_empty() || (!anchor.is_empty() && anchor.trim().is_empty()) {
        return Err(SourceError::EmptyItem { path: name });
    }
    let not_found = || SourceError::ItemNotFound {
        path: name.clone(),
        item: if anchor.is_empty() {
            item.to_string()
        } else {
            format!("{item}` after `{anchor}")
        },
    };
    let start_search = if anchor.is_empty() {
        0
    } else {
        find_code_line(&all, 0, anchor).ok_or_else(not_found)? + 1
    };
    let decl = find_code_line(&all, start_search, item).ok_or_else(not_found)?;
    let (first, last) = item_span(&all, decl);
    Ok(Excerpt {
        path: name,
        first_line: first + 1,
        lines: all[first..=last].to_vec(),
    })
}

/// Like [`excerpt`], for a file of another crate's source folder `root` (such as a dependency in
/// the cargo registry); `label` names that folder in the excerpt's header (`hashbrown-0.16.1`).
/// `path` gets the same checks as a std path: it must stay inside `root`, and be a regular UTF-8
/// file of at most [`MAX_SOURCE_BYTES`].
pub fn excerpt_in(
    root: &Path,
    label: &str,
    path: &str,
    item: &str,
) -> Result<Excerpt, SourceError> {
    let (name, all) = read_in(root, label, path)?;
    find_item(name, all, "", item)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The index of the first non-comment line at or after `from` that contains `needle` as a whole token run.
fn find_code_line(lines: &[String], from: usize, needle: &str) -> Option<usize> {
    (from..lines.len()).find(|&i| {
        let l = &lines[i];
        if l.trim_start().starts_with("//") {
            return false;
        }
        let mut start = 0;
        while let Some(pos) = l[start..].find(needle) {
            let at = start + pos;
            let before = l[..at].chars().next_back();
            let after = l[at + needle.len()..].chars().next();
            let first_is_ident = needle.chars().next().is_some_and(is_ident);
            let last_is_ident = needle.chars().next_back().is_some_and(is_ident);
            let clean_before = !(first_is_ident && before.is_some_and(is_ident));
            let clean_after = !(last_is_ident && after.is_some_and(is_ident));
            if clean_before && clean_after {
                return true;
            }
            start = at + needle.len();
        }
        false
    })
}

/// From a declaration line, the span of the item: attributes and doc comments above, and the body
/// to its closing brace (or to the `;` of a body-less item).
fn item_span(lines: &[String], decl: usize) -> (usize, usize) {
    let mut first = decl;
    while first > 0 {
        let t = lines[first - 1].trim_start();
        if t.starts_with("///") || t.starts_with("#[") || t.starts_with("//") {
            first -= 1;
        } else {
            break;
        }
    }
    let mut depth = 0usize;
    let mut opened = false;
    let mut in_str = false;
    let mut block_comment = 0usize;
    for (i, line) in lines.iter().enumerate().skip(decl) {
        let chars: Vec<char> = line.chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            let next = chars.get(j + 1).copied();
            if block_comment > 0 {
                if c == '*' && next == Some('/') {
                    block_comment -= 1;
                    j += 1;
                } else if c == '/' && next == Some('*') {
                    block_comment += 1;
                    j += 1;
                }
            } else if in_str {
                if c == '\\' {
                    j += 1;
                } else if c == '"' {
                    in_str = false;
                }
            } else if c == '/' && next == Some('/') {
                break;
            } else if c == '/' && next == Some('*') {
                block_comment += 1;
                j += 1;
            } else if c == '"' {
                in_str = true;
            } else if c == '\'' && chars.get(j + 2) == Some(&'\'') {
                j += 2; // a char literal such as '{'
            } else if c == '{' {
                depth += 1;
                opened = true;
            } else if c == '}' {
                depth = depth.saturating_sub(1);
                if opened && depth == 0 {
                    return (first, i);
                }
            } else if c == ';' && !opened && depth == 0 {
                return (first, i);
            }
            j += 1;
        }
    }
    (first, lines.len() - 1)
}

/// What a notebook cell shows for a source request: the excerpt, or the error as a clear message.
///
/// Cells use [`show`] and friends, which never panic; code that wants to handle the error itself
/// uses [`excerpt`], which returns a `Result`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceView(pub Result<Excerpt, SourceError>);

impl SourceView {
    /// The excerpt, if it was found.
    pub fn excerpt(&self) -> Option<&Excerpt> {
        self.0.as_ref().ok()
    }

    /// The excerpt without its leading doc comment ([`Excerpt::without_docs`]); an error stays.
    pub fn without_docs(&self) -> SourceView {
        SourceView(
            self.0
                .as_ref()
                .map(Excerpt::without_docs)
                .map_err(Clone::clone),
        )
    }

    /// Only the lines around the first one containing `needle` ([`Excerpt::around`]).
    pub fn around(&self, needle: &str, before: usize, after: usize) -> SourceView {
        SourceView(match &self.0 {
            Ok(e) => e.around(needle, before, after),
            Err(e) => Err(e.clone()),
        })
    }

    /// Shows the excerpt, or the error in a red box, in an evcxr cell.
    pub fn evcxr_display(&self) {
        match &self.0 {
            Ok(e) => e.evcxr_display(),
            Err(e) => callout(Tone::Error, &e.to_string()).evcxr_display(),
        }
    }
}

impl fmt::Display for SourceView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(e) => e.fmt(f),
            Err(e) => write!(f, "error: {e}"),
        }
    }
}

/// [`excerpt`] for a notebook cell: shows the item, or says clearly why it cannot.
pub fn show(path: &str, item: &str) -> SourceView {
    SourceView(excerpt(path, item))
}

/// [`show`] without the item's doc comment: the code (and the attributes below the docs) only.
pub fn show_code(path: &str, item: &str) -> SourceView {
    show(path, item).without_docs()
}

/// [`excerpt_after`] for a notebook cell.
pub fn show_after(path: &str, anchor: &str, item: &str) -> SourceView {
    SourceView(excerpt_after(path, anchor, item))
}

/// [`lines`] for a notebook cell.
pub fn show_lines(path: &str, first: usize, last: usize) -> SourceView {
    SourceView(lines(path, first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn finds_whole_tokens_only_and_skips_comments() {
        let src = v("// fn grow here\nfn grow_one() {}\nfn grow() {}\n");
        assert_eq!(find_code_line(&src, 0, "fn grow"), Some(2));
        assert_eq!(find_code_line(&src, 0, "fn grow_one"), Some(1));
        assert_eq!(find_code_line(&src, 0, "fn nope"), None);
    }

    #[test]
    fn span_takes_docs_attributes_and_balanced_body() {
        let src = v(
            "x\n/// doc { not counted\n#[inline]\nfn f() {\n    let s = \"}\";\n    let c = '}';\n    if a { b } // }\n}\nfn g() {}\n",
        );
        assert_eq!(item_span(&src, 3), (1, 7));
    }

    #[test]
    fn span_of_a_bodyless_item_ends_at_semicolon() {
        let src = v("pub struct Global;\nfn x() {}\n");
        assert_eq!(item_span(&src, 0), (0, 0));
        let src = v("unsafe fn alloc(&self,\n    layout: Layout) -> *mut u8;\n");
        assert_eq!(item_span(&src, 0), (0, 1));
    }

    #[test]
    fn display_numbers_lines() {
        let e = Excerpt {
            path: "library/x.rs".into(),
            first_line: 9,
            lines: v("a\nb"),
        };
        assert_eq!(e.location(), "library/x.rs:9-10");
        assert_eq!(e.to_string(), "// library/x.rs:9-10\n 9 | a\n10 | b\n");
        assert!(e.to_html().contains("library/x.rs:9-10"));
    }

    fn ex(first_line: usize, text: &str) -> Excerpt {
        Excerpt {
            path: "library/x.rs".into(),
            first_line,
            lines: v(text),
        }
    }

    #[test]
    fn without_docs_drops_the_leading_doc_block_and_keeps_line_numbers() {
        let e = ex(
            10,
            "#[stable]\n/// one\n///\n/// two\n#[rustc_insignificant_dtor]\npub struct Vec<T> {\n    /// field doc\n    len: usize,\n}",
        );
        let c = e.without_docs();
        assert_eq!(c.first_line, 14);
        assert_eq!(
            c.lines,
            v("#[rustc_insignificant_dtor]\npub struct Vec<T> {\n    /// field doc\n    len: usize,\n}")
        );
        assert_eq!(c.last_line(), e.last_line());
        // No doc comment: unchanged. Only a doc comment inside the body: unchanged.
        let plain = ex(3, "#[inline]\nfn f() {\n    /// x\n}");
        assert_eq!(plain.without_docs(), plain);
        // A doc comment alone (nothing below it) leaves an empty excerpt, not a panic.
        assert!(ex(1, "/// only").without_docs().lines.is_empty());
    }

    #[test]
    fn around_keeps_the_lines_that_matter() {
        let e = ex(100, "a\nb\nneedle here\nc\nd\ne");
        let w = e.around("needle", 1, 2).unwrap();
        assert_eq!(
            (w.first_line, w.lines.clone()),
            (101, v("b\nneedle here\nc\nd"))
        );
        let clamped = e.around("needle", 50, usize::MAX).unwrap();
        assert_eq!(clamped, e);
        assert!(matches!(
            e.around("absent", 0, 0),
            Err(SourceError::ItemNotFound { .. })
        ));
        let err = SourceView(Err(SourceError::NoRustc("x".into())));
        assert_eq!(err.without_docs(), err);
        assert_eq!(err.around("a", 1, 1), err);
        assert_eq!(
            SourceView(Ok(e.clone()))
                .around("needle", 0, 0)
                .excerpt()
                .map(|x| x.first_line),
            Some(102)
        );
    }

    #[test]
    fn missing_rust_src_is_a_clear_error() {
        let e = SourceError::RustSrcMissing {
            looked_in: "/x".into(),
        };
        assert!(e.to_string().contains("rustup component add rust-src"));
    }
}
