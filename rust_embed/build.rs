//! Build steps of the generic library.
//!
//! 1. Keep the engine's C/C++ symbols out of the dynamic symbol table: the
//!    packed `.so` must export only `plugin_*`, or two plugins (or a plugin
//!    and the host) carrying different engine copies could bind to each
//!    other's.
//! 2. Embed every extension script. deno_core 0.413.0's `extension!` records
//!    only the *paths* of its JavaScript and reads the files when a runtime
//!    starts (it expects embedders to build a snapshot). A plugin `.so` runs
//!    on hosts without this build tree, so the scripts of deno_web,
//!    deno_webidl and our own `src/web` are compiled in here, keyed by the
//!    same paths; `web::embed_sources` swaps them in at run time.
//! 3. On QuickJS-ng, route v8x's `JS_NewRuntime` to our own, whose heap is
//!    freed whole with the runtime (`src/engine/quickjs_heap.rs`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Extension crates whose scripts are embedded, with their pinned versions.
const CRATES: &[(&str, &str)] = &[("deno_web", "0.291.0"), ("deno_webidl", "0.260.0")];

fn main() {
  println!("cargo:rustc-cdylib-link-arg=-Wl,--exclude-libs,ALL");
  println!("cargo:rerun-if-changed=build.rs");
  if std::env::var_os("CARGO_FEATURE_QUICKJS").is_some() {
    // Every QuickJS-ng runtime gets a heap released whole at teardown:
    // see `src/engine/quickjs_heap.rs`.
    println!("cargo:rustc-link-arg=-Wl,--wrap=JS_NewRuntime");
  }

  let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
  let mut dirs = vec![manifest_dir.join("src/web")];
  let registry = cargo_home().join("registry/src");
  for (name, version) in CRATES {
    let wanted = format!("{name}-{version}");
    let found = std::fs::read_dir(&registry)
      .into_iter()
      .flatten()
      .flatten()
      .map(|index| index.path().join(&wanted))
      .find(|p| p.is_dir());
    match found {
      Some(dir) => dirs.push(dir),
      None => println!(
        "cargo:warning=sources of {wanted} not found under {}: its scripts are read from disk at run time",
        registry.display()
      ),
    }
  }

  let mut files = Vec::new();
  for dir in &dirs {
    collect_scripts(dir, &mut files);
  }
  files.sort();
  let mut table = String::from("pub static EMBEDDED_SCRIPTS: &[(&str, &str)] = &[\n");
  for file in &files {
    let path = file.to_str().expect("UTF-8 path");
    println!("cargo:rerun-if-changed={path}");
    writeln!(table, "  ({path:?}, include_str!({path:?})),").unwrap();
  }
  table.push_str("];\n");
  let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded_scripts.rs");
  std::fs::write(out, table).unwrap();
}

fn cargo_home() -> PathBuf {
  std::env::var_os("CARGO_HOME")
    .map(PathBuf::from)
    .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"))
}

fn collect_scripts(dir: &Path, out: &mut Vec<PathBuf>) {
  let Ok(entries) = std::fs::read_dir(dir) else {
    return;
  };
  for entry in entries.flatten() {
    let path = entry.path();
    if path.is_dir() {
      if path
        .file_name()
        .is_some_and(|n| n != "target" && n != "benches" && n != "tests")
      {
        collect_scripts(&path, out);
      }
    } else if path.extension().is_some_and(|e| e == "js" || e == "mjs") {
      out.push(path);
    }
  }
}
