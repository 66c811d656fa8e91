//! One realistic function, cut one change at a time: each step below is the step before with one
//! change, and every step returns the same report (the tests check it byte for byte).
//!
//! The function handles a "request": a batch of access-log events. For each event it writes one
//! line: the user, the path in lower case, the status, the path's depth and a few tags. It is
//! written first the way code often is at first ([`report_0_baseline`]), then:
//!
//! | step | change | what it saves |
//! |---|---|---|
//! | 1 | `Vec::with_capacity` for the lines | the lines vector's regrowths |
//! | 2 | one `segments` buffer reused across events (`clear` keeps its capacity) | one vector per event |
//! | 3 | `clone_from` for the last user | an allocation whenever the user changes (the old buffer is reused) |
//! | 4 | `write!` into one output `String` instead of `format!` per line, `join` at the end | a `String` per line, the tag `join`, the lines vector |
//! | 5 | `Cow`: lower-case the path only when it has an upper-case letter | a `String` per already lower-case path |
//! | 6 | `SmallVec<[&str; 4]>` for the tags (at most 3 per event) | the tags vector of every tagged event |
//! | 7 | a `bumpalo` arena per request for the scratch data (reset between requests) | the remaining scratch allocations |

use std::borrow::Cow;
use std::fmt::Write as _;

use bumpalo::Bump;
use smallvec::SmallVec;

use crate::workloads::Lcg;

/// One access-log event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Who made the request.
    pub user: String,
    /// The path asked for (some with upper-case letters).
    pub path: String,
    /// The HTTP status.
    pub status: u16,
    /// How long it took, in microseconds.
    pub micros: u32,
}

/// `n` events from a seed: 20 users (runs of the same user, as sessions give), paths of 1 to 5
/// segments, one in five with upper-case letters, statuses and times with a few errors and slow ones.
pub fn events(n: usize, seed: u64) -> Vec<Event> {
    let mut g = Lcg::new(seed);
    let words = [
        "api", "v1", "users", "orders", "items", "search", "img", "static", "cart", "pay",
    ];
    let mut user = 0;
    (0..n)
        .map(|_| {
            if g.below(4) == 0 {
                user = g.below(20);
            }
            let depth = 1 + g.below(5) as usize;
            let mut path = String::new();
            for _ in 0..depth {
                path.push('/');
                path.push_str(words[g.below(words.len() as u64) as usize]);
            }
            if g.below(5) == 0 {
                path = path.to_uppercase();
            }
            let status = [200, 200, 200, 200, 304, 404, 500][g.below(7) as usize];
            Event {
                user: format!("user{user}"),
                path,
                status,
                micros: 50 + g.below(3000) as u32,
            }
        })
        .collect()
}

fn tags_of(e: &Event) -> impl Iterator<Item = &'static str> {
    [
        (e.status >= 500).then_some("error"),
        (e.status == 404).then_some("missing"),
        (e.micros > 2000).then_some("slow"),
    ]
    .into_iter()
    .flatten()
}

/// Step 0, the first version.
pub fn report_0_baseline(events: &[Event]) -> String {
    let mut lines = Vec::new();
    let mut last_user = String::new();
    for e in events {
        let segments: Vec<&str> = e.path.split('/').filter(|s| !s.is_empty()).collect();
        let path = e.path.to_lowercase();
        let mut tags = Vec::new();
        tags.extend(tags_of(e));
        if e.user != last_user {
            last_user = e.user.clone();
        }
        let line = format!(
            "{} {} {} depth={} [{}]",
            last_user,
            path,
            e.status,
            segments.len(),
            tags.join(",")
        );
        lines.push(line);
    }
    lines.join("\n")
}

/// Step 1: `Vec::with_capacity` for the lines.
pub fn report_1_with_capacity(events: &[Event]) -> String {
    let mut lines = Vec::with_capacity(events.len());
    let mut last_user = String::new();
    for e in events {
        let segments: Vec<&str> = e.path.split('/').filter(|s| !s.is_empty()).collect();
        let path = e.path.to_lowercase();
        let mut tags = Vec::new();
        tags.extend(tags_of(e));
        if e.user != last_user {
            last_user = e.user.clone();
        }
        let line = format!(
            "{} {} {} depth={} [{}]",
            last_user,
            path,
            e.status,
            segments.len(),
            tags.join(",")
        );
        lines.push(line);
    }
    lines.join("\n")
}

/// Step 2: one `segments` buffer for all events (`clear` keeps its capacity).
pub fn report_2_reuse_buffer(events: &[Event]) -> String {
    let mut lines = Vec::with_capacity(events.len());
    let mut last_user = String::new();
    let mut segments: Vec<&str> = Vec::new();
    for e in events {
        segments.clear();
        segments.extend(e.path.split('/').filter(|s| !s.is_empty()));
        let path = e.path.to_lowercase();
        let mut tags = Vec::new();
        tags.extend(tags_of(e));
        if e.user != last_user {
            last_user = e.user.clone();
        }
        let line = format!(
            "{} {} {} depth={} [{}]",
            last_user,
            path,
            e.status,
            segments.len(),
            tags.join(",")
        );
        lines.push(line);
    }
    lines.join("\n")
}

/// Step 3: `clone_from` reuses `last_user`'s buffer.
pub fn report_3_clone_from(events: &[Event]) -> String {
    let mut lines = Vec::with_capacity(events.len());
    let mut last_user = String::new();
    let mut segments: Vec<&str> = Vec::new();
    for e in events {
        segments.clear();
        segments.extend(e.path.split('/').filter(|s| !s.is_empty()));
        let path = e.path.to_lowercase();
        let mut tags = Vec::new();
        tags.extend(tags_of(e));
        if e.user != last_user {
            last_user.clone_from(&e.user);
        }
        let line = format!(
            "{} {} {} depth={} [{}]",
            last_user,
            path,
            e.status,
            segments.len(),
            tags.join(",")
        );
        lines.push(line);
    }
    lines.join("\n")
}

/// The output's size guess for steps 4 to 7: the paths, the users and 32 bytes per line.
fn capacity_for(events: &[Event]) -> usize {
    events
        .iter()
        .map(|e| e.path.len() + e.user.len() + 32)
        .sum()
}

fn write_tags(out: &mut String, tags: &[&str]) {
    for (i, t) in tags.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(t);
    }
}

/// Step 4: `write!` into one output `String` (sized once) instead of a `format!` per line.
pub fn report_4_write_into(events: &[Event]) -> String {
    let mut out = String::with_capacity(capacity_for(events));
    let mut last_user = String::new();
    let mut segments: Vec<&str> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        segments.clear();
        segments.extend(e.path.split('/').filter(|s| !s.is_empty()));
        let path = e.path.to_lowercase();
        let mut tags = Vec::new();
        tags.extend(tags_of(e));
        if e.user != last_user {
            last_user.clone_from(&e.user);
        }
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(
            out,
            "{} {} {} depth={} [",
            last_user,
            path,
            e.status,
            segments.len()
        );
        write_tags(&mut out, &tags);
        out.push(']');
    }
    out
}

fn lower(path: &str) -> Cow<'_, str> {
    if path.bytes().any(|b| b.is_ascii_uppercase()) || !path.is_ascii() {
        Cow::Owned(path.to_lowercase())
    } else {
        Cow::Borrowed(path)
    }
}

/// Step 5: `Cow`: a lower-case path is borrowed, only the others are copied.
pub fn report_5_cow(events: &[Event]) -> String {
    let mut out = String::with_capacity(capacity_for(events));
    let mut last_user = String::new();
    let mut segments: Vec<&str> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        segments.clear();
        segments.extend(e.path.split('/').filter(|s| !s.is_empty()));
        let path = lower(&e.path);
        let mut tags = Vec::new();
        tags.extend(tags_of(e));
        if e.user != last_user {
            last_user.clone_from(&e.user);
        }
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(
            out,
            "{} {} {} depth={} [",
            last_user,
            path,
            e.status,
            segments.len()
        );
        write_tags(&mut out, &tags);
        out.push(']');
    }
    out
}

/// Step 6: the tags (never more than three) in a `SmallVec<[&str; 4]>`, kept inline.
pub fn report_6_smallvec(events: &[Event]) -> String {
    let mut out = String::with_capacity(capacity_for(events));
    let mut last_user = String::new();
    let mut segments: Vec<&str> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        segments.clear();
        segments.extend(e.path.split('/').filter(|s| !s.is_empty()));
        let path = lower(&e.path);
        let mut tags: SmallVec<[&str; 4]> = SmallVec::new();
        tags.extend(tags_of(e));
        if e.user != last_user {
            last_user.clone_from(&e.user);
        }
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(
            out,
            "{} {} {} depth={} [",
            last_user,
            path,
            e.status,
            segments.len()
        );
        write_tags(&mut out, &tags);
        out.push(']');
    }
    out
}

/// Step 7: the scratch data (segments, lower-cased paths, the last user) in a `bumpalo` arena that
/// the caller resets between requests: after the first request its chunk is reused.
pub fn report_7_arena(events: &[Event], bump: &mut Bump) -> String {
    bump.reset();
    let bump = &*bump;
    let mut out = String::with_capacity(capacity_for(events));
    let mut last_user: &str = "";
    let mut segments = bumpalo::collections::Vec::new_in(bump);
    for (i, e) in events.iter().enumerate() {
        segments.clear();
        segments.extend(e.path.split('/').filter(|s| !s.is_empty()));
        let path: &str = if e.path.bytes().any(|b| b.is_ascii_uppercase()) || !e.path.is_ascii() {
            e.path.to_lowercase_in(bump)
        } else {
            &e.path
        };
        let mut tags: SmallVec<[&str; 4]> = SmallVec::new();
        tags.extend(tags_of(e));
        if e.user != last_user {
            last_user = bump.alloc_str(&e.user);
        }
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(
            out,
            "{} {} {} depth={} [",
            last_user,
            path,
            e.status,
            segments.len()
        );
        write_tags(&mut out, &tags);
        out.push(']');
    }
    out
}

/// Lower-casing into the arena (ASCII paths; others go through `to_lowercase` in
/// [`report_7_arena`]'s caller path, which never happens for the generated events).
trait LowerIn {
    fn to_lowercase_in<'b>(&self, bump: &'b Bump) -> &'b str;
}

impl LowerIn for String {
    fn to_lowercase_in<'b>(&self, bump: &'b Bump) -> &'b str {
        let mut s = bumpalo::collections::String::with_capacity_in(self.len(), bump);
        for c in self.chars() {
            s.extend(c.to_lowercase());
        }
        s.into_bump_str()
    }
}

/// The steps, in order: a name for the chart and the change it makes.
pub const STEPS: [(&str, &str); 8] = [
    (
        "0 baseline",
        "format! per line, to_lowercase, Vec::new everywhere, clone",
    ),
    (
        "1 with_capacity",
        "Vec::with_capacity(events.len()) for the lines",
    ),
    (
        "2 reuse buffer",
        "one segments Vec for all events: clear() keeps its capacity",
    ),
    (
        "3 clone_from",
        "last_user.clone_from(&e.user) instead of = e.user.clone()",
    ),
    (
        "4 write!",
        "write! into one String sized once, instead of format! + join",
    ),
    (
        "5 Cow",
        "lower-case only paths that need it: Cow::Borrowed otherwise",
    ),
    (
        "6 SmallVec",
        "tags in a SmallVec<[&str; 4]>: inline, no heap",
    ),
    ("7 bumpalo", "scratch data in an arena reset per request"),
];

/// Runs step `step` (0 ..= 7) on `events`; `bump` is step 7's arena, kept between requests.
pub fn run_step(step: usize, events: &[Event], bump: &mut Bump) -> Option<String> {
    Some(match step {
        0 => report_0_baseline(events),
        1 => report_1_with_capacity(events),
        2 => report_2_reuse_buffer(events),
        3 => report_3_clone_from(events),
        4 => report_4_write_into(events),
        5 => report_5_cow(events),
        6 => report_6_smallvec(events),
        7 => report_7_arena(events, bump),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_writes_the_same_report() {
        let ev = events(500, 7);
        let mut bump = Bump::new();
        let want = report_0_baseline(&ev);
        assert!(want.lines().count() == 500 && want.contains("[error") && want.contains("slow"));
        for step in 1..STEPS.len() {
            assert_eq!(run_step(step, &ev, &mut bump).unwrap(), want, "step {step}");
        }
        assert_eq!(run_step(8, &ev, &mut bump), None);
        assert_eq!(report_0_baseline(&[]), "");
        assert_eq!(report_7_arena(&[], &mut bump), "");
    }
}
