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

/// `Symbol.for` key of the function the bridge asks for its shared
/// buffers (`runtime/embed_bridge.ts`, `sharedBuffer`).
pub const SHARED_BUFFER_HOOK: &str = "falco-deno.sharedBuffer";

/// Largest buffer the hook hands out.
#[cfg(feature = "v8")]
const MAX_SHARED_BUFFER: usize = 64 << 20;

/// Offers the bundle a hook that makes the bridge's shared buffers.
///
/// On V8 each buffer is an `ArrayBuffer` of fixed length over pages mapped
/// here, which the OS zeroes when first touched: `new ArrayBuffer(size)`
/// is zeroed whole by the allocator (glibc's calloc clears it unless it
/// comes straight from `mmap`, which stops once a 4 MiB block was freed),
/// and a resizable buffer, which V8 maps lazily, makes every `DataView`
/// access a call (measured: 10 ns per `setUint32` against 0.5) and every
/// `subarray` slower. QuickJS-ng copies buffers made outside the engine,
/// so there the bridge keeps its resizable buffers.
pub fn offer_shared_buffers(runtime: &mut deno_core::JsRuntime) {
  #[cfg(feature = "v8")]
  {
    use deno_core::v8;
    deno_core::scope!(scope, runtime);
    let global = scope.get_current_context().global(scope);
    let name = v8::String::new(scope, SHARED_BUFFER_HOOK).unwrap();
    let key = v8::Symbol::for_key(scope, name);
    let hook = v8::Function::new(scope, shared_buffer).unwrap();
    global.set(scope, key.into(), hook.into());
  }
  #[cfg(not(feature = "v8"))]
  let _ = runtime;
}

/// The hook: `(size) => ArrayBuffer`, or a thrown `RangeError`.
#[cfg(feature = "v8")]
fn shared_buffer(
  scope: &mut deno_core::v8::PinScope,
  args: deno_core::v8::FunctionCallbackArguments,
  mut rv: deno_core::v8::ReturnValue,
) {
  use deno_core::v8;
  let size = args.get(0).number_value(scope).unwrap_or(-1.0);
  if !(size >= 1.0 && size <= MAX_SHARED_BUFFER as f64 && size.fract() == 0.0) {
    let text = v8::String::new(scope, "shared buffer size out of range").unwrap();
    let error = v8::Exception::range_error(scope, text);
    scope.throw_exception(error);
    return;
  }
  let len = size as usize;
  // SAFETY: a private anonymous mapping of `len` bytes, given to the
  // backing store, which unmaps it when the buffer dies.
  let data = unsafe {
    libc::mmap(
      std::ptr::null_mut(),
      len,
      libc::PROT_READ | libc::PROT_WRITE,
      libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
      -1,
      0,
    )
  };
  if data == libc::MAP_FAILED {
    let text = v8::String::new(scope, "cannot map a shared buffer").unwrap();
    let error = v8::Exception::range_error(scope, text);
    scope.throw_exception(error);
    return;
  }
  unsafe extern "C" fn unmap(data: *mut std::ffi::c_void, len: usize, _: *mut std::ffi::c_void) {
    // SAFETY: `data` is the mapping of `len` bytes made above.
    unsafe { libc::munmap(data, len) };
  }
  // SAFETY: `data` is `len` writable bytes that live until `unmap`.
  let store =
    unsafe { v8::ArrayBuffer::new_backing_store_from_ptr(data, len, unmap, std::ptr::null_mut()) }
      .make_shared();
  rv.set(v8::ArrayBuffer::with_backing_store(scope, &store).into());
}

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
