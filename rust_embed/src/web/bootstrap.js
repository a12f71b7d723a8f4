// falco-deno: the globals a Deno user expects, from deno_web's own scripts,
// and the `Deno.*` file, env and network calls on our ops. A classic script
// run once per instance before the plugin bundle. Every deno_web script is
// loaded on first use (QuickJS-ng has no snapshot: whatever is loaded here
// is parsed at every plugin_init).
(function () {
  const { core } = globalThis.__bootstrap;
  const ops = core.ops;

  /** A loader that evaluates an extension script once, on first use. */
  const lazy = (specifier, then) => {
    let value;
    return () => {
      if (value === undefined) {
        value = core.loadExtScript(specifier);
        then?.(value);
      }
      return value;
    };
  };
  const url = lazy("ext:deno_web/00_url.js");
  const domException = lazy("ext:deno_web/01_dom_exception.js");
  const event = lazy("ext:deno_web/02_event.js");
  const structuredClone = lazy("ext:deno_web/02_structured_clone.js");
  const timers = lazy("ext:deno_web/02_timers.js");
  const abort = lazy("ext:deno_web/03_abort_signal.js");
  const base64 = lazy("ext:deno_web/05_base64.js");
  const streams = lazy("ext:deno_web/06_streams.js");
  const encoding = lazy("ext:deno_web/08_text_encoding.js");
  const file = lazy("ext:deno_web/09_file.js");
  const performance = lazy(
    "ext:deno_web/15_performance.js",
    (m) => m.setTimeOrigin(),
  );

  // console: Deno's Console, printing to Falco's logger with its level
  // (0 debug, 1 info, 2 warning, 3 error), without the trailing newline.
  let theConsole;
  const consoleLoader = () => {
    if (theConsole === undefined) {
      const { Console } = core.loadExtScript("ext:deno_web/01_console.js");
      theConsole = new Console((msg, level) => {
        const text = msg.endsWith("\n") ? msg.slice(0, -1) : msg;
        ops.op_falco_log(level < 0 ? 0 : level > 3 ? 3 : level, text);
      });
    }
    return theConsole;
  };

  const cls = (load, name) =>
    core.propNonEnumerableLazyLoaded((m) => m[name], load);
  const fn = (load, name) => core.propWritableLazyLoaded((m) => m[name], load);

  core.defineGlobalProperties(globalThis, {
    AbortController: cls(abort, "AbortController"),
    AbortSignal: cls(abort, "AbortSignal"),
    Blob: cls(file, "Blob"),
    ByteLengthQueuingStrategy: cls(streams, "ByteLengthQueuingStrategy"),
    CountQueuingStrategy: cls(streams, "CountQueuingStrategy"),
    CustomEvent: cls(event, "CustomEvent"),
    DOMException: cls(domException, "DOMException"),
    ErrorEvent: cls(event, "ErrorEvent"),
    Event: cls(event, "Event"),
    EventTarget: cls(event, "EventTarget"),
    File: cls(file, "File"),
    MessageEvent: cls(event, "MessageEvent"),
    Performance: cls(performance, "Performance"),
    ReadableStream: cls(streams, "ReadableStream"),
    ReadableStreamDefaultReader: cls(streams, "ReadableStreamDefaultReader"),
    TextDecoder: cls(encoding, "TextDecoder"),
    TextDecoderStream: cls(encoding, "TextDecoderStream"),
    TextEncoder: cls(encoding, "TextEncoder"),
    TextEncoderStream: cls(encoding, "TextEncoderStream"),
    TransformStream: cls(streams, "TransformStream"),
    URL: cls(url, "URL"),
    URLSearchParams: cls(url, "URLSearchParams"),
    WritableStream: cls(streams, "WritableStream"),
    WritableStreamDefaultWriter: cls(streams, "WritableStreamDefaultWriter"),
    atob: fn(base64, "atob"),
    btoa: fn(base64, "btoa"),
    clearInterval: fn(timers, "clearInterval"),
    clearTimeout: fn(timers, "clearTimeout"),
    console: core.propNonEnumerableLazyLoaded((c) => c, consoleLoader),
    performance: fn(performance, "performance"),
    reportError: fn(event, "reportError"),
    setInterval: fn(timers, "setInterval"),
    setTimeout: fn(timers, "setTimeout"),
    structuredClone: fn(structuredClone, "structuredClone"),
  });

  // Deno.errors, with the io error classes our ops raise.
  class NotFound extends Error {}
  class PermissionDenied extends Error {}
  class AlreadyExists extends Error {}
  class InvalidData extends Error {}
  class TimedOut extends Error {}
  class ConnectionRefused extends Error {}
  class ConnectionReset extends Error {}
  class AddrInUse extends Error {}
  class AddrNotAvailable extends Error {}
  class BrokenPipe extends Error {}
  class UnexpectedEof extends Error {}
  class IsADirectory extends Error {}
  class NotADirectory extends Error {}
  class Http extends Error {}
  class NotSupported extends Error {}
  const errors = {
    NotFound,
    PermissionDenied,
    AlreadyExists,
    InvalidData,
    TimedOut,
    ConnectionRefused,
    ConnectionReset,
    AddrInUse,
    AddrNotAvailable,
    BrokenPipe,
    UnexpectedEof,
    IsADirectory,
    NotADirectory,
    Http,
    NotSupported,
  };
  for (const [name, Class] of Object.entries(errors)) {
    Object.defineProperty(Class.prototype, "name", {
      value: name,
      configurable: true,
      writable: true,
    });
    core.registerErrorClass(name, Class);
  }
  errors.BadResource = core.BadResource;
  errors.Interrupted = core.Interrupted;
  errors.NotCapable = core.NotCapable;

  const SeekMode = Object.freeze({ Start: 0, Current: 1, End: 2 });

  const toDate = (ms) => (ms === null || ms === undefined ? null : new Date(ms));
  const fileInfo = (s) => ({
    ...s,
    mtime: toDate(s.mtime),
    atime: toDate(s.atime),
    birthtime: toDate(s.birthtime),
    ctime: toDate(s.ctime),
  });
  const pathText = (p) => (p instanceof URL ? decodeURIComponent(p.pathname) : String(p));

  /** `Deno.FsFile`, read-only. */
  class FsFile {
    #rid;
    #readable;
    constructor(rid) {
      this.#rid = rid;
    }
    /** Reads into `p`; resolves to the byte count, or null at the end. */
    async read(p) {
      if (p.byteLength === 0) return 0;
      const bytes = await ops.op_falco_file_read(this.#rid, p.byteLength);
      if (bytes.byteLength === 0) return null;
      p.set(bytes);
      return bytes.byteLength;
    }
    /** Moves the position; resolves to the new one. */
    seek(offset, whence) {
      return ops.op_falco_file_seek(this.#rid, Number(offset), whence);
    }
    async stat() {
      return fileInfo(await ops.op_falco_file_stat(this.#rid));
    }
    close() {
      core.close(this.#rid);
    }
    [Symbol.dispose]() {
      core.tryClose(this.#rid);
    }
    get readable() {
      if (this.#readable === undefined) {
        const { ReadableStream } = streams();
        this.#readable = new ReadableStream({
          type: "bytes",
          pull: async (controller) => {
            const bytes = await ops.op_falco_file_read(this.#rid, 65536);
            if (bytes.byteLength === 0) {
              controller.close();
              core.tryClose(this.#rid);
            } else {
              controller.enqueue(bytes);
            }
          },
          cancel: () => core.tryClose(this.#rid),
        });
      }
      return this.#readable;
    }
  }

  const notSupported = (what) => {
    throw new NotSupported(`${what} is not available inside a falco-deno plugin`);
  };

  const Deno = globalThis.Deno;
  Object.assign(Deno, {
    errors,
    SeekMode,
    FsFile,
    build: Object.freeze({ os: "linux", target: "falco-deno" }),
    readFile: (path) => ops.op_falco_read_file(pathText(path)),
    readTextFile: (path) => ops.op_falco_read_text_file(pathText(path)),
    async open(path, options = {}) {
      if (options.write || options.append || options.create || options.truncate) {
        notSupported("opening a file for writing");
      }
      return new FsFile(await ops.op_falco_open(pathText(path)));
    },
    stat: async (path) => fileInfo(await ops.op_falco_stat(pathText(path), false)),
    lstat: async (path) => fileInfo(await ops.op_falco_stat(pathText(path), true)),
    async *readDir(path) {
      yield* await ops.op_falco_read_dir(pathText(path));
    },
    env: Object.freeze({
      get: (name) => ops.op_falco_env_get(String(name)) ?? undefined,
      has: (name) => ops.op_falco_env_get(String(name)) !== null,
    }),
  });
  // The embed's console already goes to Falco: the bridge keeps it.
  Object.defineProperty(Deno, Symbol.for("falco-deno.console"), { value: true });

  delete globalThis.__bootstrap;
  // Plugin code must not reach deno_core's raw ops: some abort the process
  // when called with bad arguments (a Rust panic inside an op cannot unwind
  // into the engine). Everything above captured what it needs.
  delete Deno.core;
})();
