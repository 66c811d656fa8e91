//! Shows an excerpt of the installed standard-library source, as a notebook cell does with
//! `support::infra::std_source::show`, or checks many requests at once.
//!
//! ```sh
//! cargo run -p support --example std_excerpt -- alloc/src/raw_vec/mod.rs "fn grow_amortized"
//! cargo run -p support --example std_excerpt -- alloc/src/raw_vec/mod.rs "Drop for RawVec" "fn grow_one"
//! printf 'alloc/src/boxed.rs\tfn box_new_uninit\n' | cargo run -p support --example std_excerpt -- --check
//! ```
//!
//! With `--check`, each line of stdin is a request, `PATH<TAB>ITEM` or `PATH<TAB>ANCHOR<TAB>ITEM`,
//! and each answer is one line: `ok PATH:FIRST-LAST`, or `error: ` and why. The notebook runner's
//! hygiene check uses this, so a toolchain update that moves an item the chapters show is caught
//! without starting a kernel, by the same lookup the cells use.

use std::io::BufRead;

use support::infra::std_source::{excerpt, excerpt_after, Excerpt, SourceError};

fn lookup(fields: &[&str]) -> Result<Excerpt, String> {
    match *fields {
        [path, item] => excerpt(path, item).map_err(|e: SourceError| e.to_string()),
        [path, anchor, item] => excerpt_after(path, anchor, item).map_err(|e| e.to_string()),
        _ => Err(format!(
            "expected PATH ITEM or PATH ANCHOR ITEM, got {} fields",
            fields.len()
        )),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--check") {
        for line in std::io::stdin().lock().lines() {
            let line = line.unwrap_or_default();
            let fields: Vec<&str> = line.split('\t').collect();
            match lookup(&fields) {
                Ok(e) => println!("ok {}", e.location()),
                Err(e) => println!("error: {}", e.replace('\n', " ")),
            }
        }
        return;
    }
    let fields: Vec<&str> = args.iter().map(String::as_str).collect();
    match lookup(&fields) {
        Ok(e) => print!("{e}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
