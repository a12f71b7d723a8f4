//! The little that differs between the two engines.

#[cfg(feature = "quickjs")]
pub mod quickjs_heap;

/// Name of the engine this library was built with.
pub const ENGINE: &str = if cfg!(feature = "v8") {
  "v8"
} else {
  "quickjs"
};

/// Whether formatting an error's stack costs memory that is never given
/// back. v8x 149.4.0-rc.4 (QuickJS-ng) keeps 1-6 KiB each time a stack is
/// formatted through deno_core's `prepareStackTrace` hook (measured: 20,000
/// reads of `new Error().stack` grow a bare `JsRuntime` by 270 MiB; creating,
/// throwing, catching and `String(error)` do not grow it).
pub const STACK_FORMAT_LEAKS: bool = cfg!(feature = "quickjs");

#[cfg(all(test, feature = "quickjs"))]
mod tests {
  use deno_core::{JsRuntime, RuntimeOptions};

  /// Runs `f` on a fresh runtime, on a thread of its own as a plugin
  /// instance is.
  fn in_fresh_runtime<T: Send + 'static>(
    f: impl FnOnce(&mut JsRuntime) -> T + Send + 'static,
  ) -> T {
    crate::spawner::spawn("fresh-runtime".into(), 8 << 20, move || {
      let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
      let _entered = tokio.enter();
      f(&mut JsRuntime::new(RuntimeOptions::default()))
    })
    .unwrap()
    .join()
    .unwrap()
  }

  /// Source bytes the engine compiled to run `source` in a fresh runtime.
  fn bytes_compiled(source: &'static str) -> usize {
    in_fresh_runtime(move |runtime| {
      let compiled = |runtime: &mut JsRuntime| {
        runtime
          .v8_isolate()
          .get_heap_code_and_metadata_statistics()
          .unwrap()
          .bytecode_and_metadata_size()
      };
      let before = compiled(runtime);
      runtime.execute_script("bytecode_probe.js", source).unwrap();
      compiled(runtime) - before
    })
  }

  /// What `source` evaluates to, as a string, in a fresh runtime.
  fn evaluate(source: &'static str) -> String {
    in_fresh_runtime(move |runtime| {
      let value = runtime.execute_script("evaluate.js", source).unwrap();
      deno_core::scope!(scope, runtime);
      let value = deno_core::v8::Local::new(scope, value);
      value.to_rust_string_lossy(scope)
    })
  }

  #[test]
  fn temporal_is_installed_on_first_use() {
    let seen = evaluate(
      r#"const untouched = typeof Object.getOwnPropertyDescriptor(globalThis, "Temporal").get;
         const day = Temporal.PlainDate.from("2026-11-28").dayOfWeek;
         const installed = typeof Object.getOwnPropertyDescriptor(globalThis, "Temporal").value;
         [untouched, day, installed, typeof Date.prototype.toTemporalInstant].join()"#,
    );
    assert_eq!(seen, "function,6,object,function");
    let formatted =
      evaluate(r#"new Intl.DateTimeFormat("en-US", { timeZone: "UTC" }).format(new Date(0))"#);
    assert_eq!(
      formatted, "1/1/1970 AD, 00:00:00",
      "the polyfill's DateTimeFormat"
    );
  }

  #[test]
  fn a_script_is_parsed_once_per_process() {
    let source = "globalThis.probe = [1, 2, 3].map((x) => x * 7).join();";
    assert_eq!(bytes_compiled(source), source.len());
    assert_eq!(bytes_compiled(source), 0, "parsed again in a new runtime");
  }
}
