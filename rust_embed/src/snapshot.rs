//! The V8 startup snapshot: what every plugin instance starts from, taken
//! once when the generic library is built.
//!
//! It holds the runtime after deno_core's, deno_webidl's and deno_web's
//! set-up and our `bootstrap.js` (the globals and `Deno.*`), so an instance
//! deserialises that state instead of running those scripts and binding
//! every op again; the plugin's bundle is still evaluated at `plugin_init`.
//!
//! `runtime/engines.ts` builds the `falco_deno_snapshot` binary with the
//! library (same cargo run, same sources and V8 archive), runs it and
//! appends its output to the library file:
//! `blob | build key (16 bytes) | u64 blob length | SNAPSHOT_MAGIC`.
//! The packed plugin's own trailer comes after that ([`crate::manifest`]).
//! V8 aborts the process on a blob from another V8 build, and deno_core
//! binds ops by position, so a blob is used only if its build key is this
//! library's: the source hash `engines.ts` passes as
//! `FALCO_DENO_BUILD_KEY`. Without a key (a hand-made cargo build) no blob
//! is ever used. QuickJS-ng builds take no snapshot (v8x's snapshots are
//! untested there; its scripts' bytecode is kept per process instead).

/// Marks the end of a snapshot section.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"FDENOSN1";

/// Length of the section's trailer: build key, blob length, magic.
pub const TRAILER_LEN: usize = KEY_LEN + 16;

const KEY_LEN: usize = 16;

/// This library's build key, if it was built by `runtime/engines.ts`.
pub fn build_key() -> Option<[u8; KEY_LEN]> {
  option_env!("FALCO_DENO_BUILD_KEY")
    .map(str::as_bytes)
    .and_then(|k| k.try_into().ok())
}

/// The section's trailer for a blob of `blob_len` bytes made with `key`.
pub fn trailer(key: &[u8; KEY_LEN], blob_len: usize) -> [u8; TRAILER_LEN] {
  let mut out = [0u8; TRAILER_LEN];
  out[..KEY_LEN].copy_from_slice(key);
  out[KEY_LEN..KEY_LEN + 8].copy_from_slice(&(blob_len as u64).to_le_bytes());
  out[KEY_LEN + 8..].copy_from_slice(SNAPSHOT_MAGIC);
  out
}

/// The blob's length from the [`TRAILER_LEN`] bytes that end the generic
/// library, or `Ok(None)` when they are no snapshot trailer.
///
/// # Errors
/// A section made by another build than `key`'s (or by any build, when
/// `key` is `None`).
pub fn blob_len(
  tail: &[u8; TRAILER_LEN],
  key: Option<&[u8; KEY_LEN]>,
) -> Result<Option<u64>, String> {
  if &tail[KEY_LEN + 8..] != SNAPSHOT_MAGIC {
    return Ok(None);
  }
  if key.map(|k| &k[..]) != Some(&tail[..KEY_LEN]) {
    return Err(format!(
      "the startup snapshot was made by another build (key \"{}\", this library's {})",
      String::from_utf8_lossy(&tail[..KEY_LEN]),
      key.map_or("none".into(), |k| format!(
        "\"{}\"",
        String::from_utf8_lossy(k)
      ))
    ));
  }
  Ok(Some(u64::from_le_bytes(
    tail[KEY_LEN..KEY_LEN + 8].try_into().unwrap(),
  )))
}

/// Loads deno_web's scripts behind the globals most plugins touch, so the
/// snapshot holds them compiled and set up (each would otherwise be parsed
/// at the first use in every instance). Scripts that read per-process state
/// when they load (`performance`'s time origin) stay lazy, as do the large
/// and rarely used streams and `Blob`.
#[cfg(feature = "v8")]
const WARM_UP: &str = r#"
  for (const name of [
    "console", "TextEncoder", "TextDecoder", "URL", "URLSearchParams",
    "DOMException", "Event", "EventTarget", "AbortController", "atob",
    "setTimeout", "structuredClone",
  ]) {
    if (globalThis[name] === undefined) throw new Error(`no ${name}`);
  }
"#;

/// Takes the snapshot: a runtime with every extension of an instance, and
/// this library's section trailer after the blob.
///
/// # Errors
/// When the runtime cannot be created, or the library has no build key.
#[cfg(feature = "v8")]
pub fn create() -> Result<Vec<u8>, String> {
  let extensions = crate::web::extensions(
    crate::logger::Logger::new(None, std::ptr::null_mut(), "snapshot"),
    &crate::web::Grants::default(),
  )?;
  // As on an instance thread: extension state may reach for tokio.
  let tokio = tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()
    .map_err(|e| format!("cannot start tokio: {e}"))?;
  let _entered = tokio.enter();
  let mut runtime = deno_core::JsRuntimeForSnapshot::try_new(deno_core::RuntimeOptions {
    extensions,
    ..Default::default()
  })
  .map_err(|e| format!("cannot create the runtime to snapshot: {e}"))?;
  runtime
    .execute_script("ext:falco_web/warm_up.js", WARM_UP)
    .map_err(|e| format!("cannot load the web globals to snapshot: {e}"))?;
  let mut blob = runtime.snapshot().into_vec();
  let key = build_key().ok_or(
    "this library has no build key (FALCO_DENO_BUILD_KEY): build it with `deno task build`",
  )?;
  let trailer = trailer(&key, blob.len());
  blob.extend_from_slice(&trailer);
  Ok(blob)
}

#[cfg(test)]
mod tests {
  use super::*;

  const KEY: &[u8; KEY_LEN] = b"0123456789abcdef";

  #[test]
  fn other_bytes_are_no_section() {
    assert_eq!(blob_len(&[7u8; TRAILER_LEN], Some(KEY)).unwrap(), None);
  }

  #[test]
  fn a_section_is_used_only_with_its_builds_key() {
    let tail = trailer(KEY, 1234);
    assert_eq!(blob_len(&tail, Some(KEY)).unwrap(), Some(1234));
    let foreign = blob_len(&tail, Some(b"fedcba9876543210")).unwrap_err();
    assert!(foreign.contains("another build"), "{foreign}");
    assert!(blob_len(&tail, None)
      .unwrap_err()
      .contains("this library's none"));
  }
}
