//! Keeps the engine's C/C++ symbols out of the dynamic symbol table: the
//! packed `.so` must export only `plugin_*`, or two plugins (or a plugin and
//! the host) carrying different engine copies could bind to each other's.

fn main() {
  println!("cargo:rustc-cdylib-link-arg=-Wl,--exclude-libs,ALL");
  println!("cargo:rerun-if-changed=build.rs");
}
