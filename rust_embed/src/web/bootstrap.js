// falco-deno: the globals a Deno user expects, from deno_web's own scripts,
// and the `Deno.*` file, env and network calls on our ops (`Deno.serve`
// with `Headers`/`Request`/`Response`, `fetch`). A classic script
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

  const toDate = (
    ms,
  ) => (ms === null || ms === undefined ? null : new Date(ms));
  const fileInfo = (s) => ({
    ...s,
    mtime: toDate(s.mtime),
    atime: toDate(s.atime),
    birthtime: toDate(s.birthtime),
    ctime: toDate(s.ctime),
  });
  const pathText = (
    p,
  ) => (p instanceof URL ? decodeURIComponent(p.pathname) : String(p));

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
    throw new NotSupported(
      `${what} is not available inside a falco-deno plugin`,
    );
  };

  // --- HTTP: Headers, Request, Response and Deno.serve, on our ops ---

  const normalizeName = (name) => {
    const n = String(name).toLowerCase();
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(n)) {
      throw new TypeError(`Invalid header name: "${name}"`);
    }
    return n;
  };
  const normalizeValue = (value) =>
    String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");

  /** `Headers` (WHATWG fetch): case-insensitive, values combined with ", ". */
  class Headers {
    #map = new Map();
    #cookies = [];
    constructor(init = undefined) {
      if (init === undefined || init === null) return;
      if (init instanceof Headers) {
        for (const [k, v] of init.#map) this.#map.set(k, v);
        this.#cookies = [...init.#cookies];
      } else if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const [k, v, ...rest] = pair;
          if (rest.length || v === undefined) {
            throw new TypeError("Header pairs must have exactly two items");
          }
          this.append(k, v);
        }
      } else if (typeof init === "object") {
        for (const k of Object.keys(init)) this.append(k, init[k]);
      } else {
        throw new TypeError("Headers init must be an object or iterable");
      }
    }
    append(name, value) {
      const k = normalizeName(name), v = normalizeValue(value);
      if (k === "set-cookie") this.#cookies.push(v);
      else this.#map.set(k, this.#map.has(k) ? `${this.#map.get(k)}, ${v}` : v);
    }
    set(name, value) {
      const k = normalizeName(name), v = normalizeValue(value);
      if (k === "set-cookie") this.#cookies = [v];
      else this.#map.set(k, v);
    }
    get(name) {
      const k = normalizeName(name);
      if (k === "set-cookie") {
        return this.#cookies.length ? this.#cookies.join(", ") : null;
      }
      return this.#map.get(k) ?? null;
    }
    has(name) {
      const k = normalizeName(name);
      return k === "set-cookie" ? this.#cookies.length > 0 : this.#map.has(k);
    }
    delete(name) {
      const k = normalizeName(name);
      if (k === "set-cookie") this.#cookies = [];
      else this.#map.delete(k);
    }
    getSetCookie() {
      return [...this.#cookies];
    }
    *entries() {
      const names = [...this.#map.keys()];
      if (this.#cookies.length) names.push("set-cookie");
      for (const k of names.sort()) {
        if (k === "set-cookie") { for (const c of this.#cookies) yield [k, c]; }
        else yield [k, this.#map.get(k)];
      }
    }
    *keys() {
      for (const [k] of this.entries()) yield k;
    }
    *values() {
      for (const [, v] of this.entries()) yield v;
    }
    forEach(callback, thisArg) {
      for (const [k, v] of this.entries()) callback.call(thisArg, v, k, this);
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    get [Symbol.toStringTag]() {
      return "Headers";
    }
  }

  const utf8 = {
    encode: (s) => new (encoding().TextEncoder)().encode(s),
    decode: (b) => new (encoding().TextDecoder)().decode(b),
  };
  const bytesOf = (body) => {
    if (body instanceof Uint8Array) return body;
    if (ArrayBuffer.isView(body)) {
      return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    }
    if (body instanceof ArrayBuffer) return new Uint8Array(body);
    return null;
  };
  /** Runs `f` into a promise: what it throws rejects. */
  const settle = (f) => {
    try {
      return Promise.resolve(f());
    } catch (e) {
      return Promise.reject(e);
    }
  };
  /** A body read from an op on first use, as bytes or (faster) as text. */
  class Lazy {
    constructor(bytes, text) {
      this.bytes = bytes;
      this.text = text;
    }
  }
  /**
   * A body: null, a string, bytes, or a `Lazy` (the server's request
   * body), consumed once as in fetch.
   */
  class Body {
    #body;
    #used = false;
    constructor(body) {
      this.#body = body;
    }
    get bodyUsed() {
      return this.#used;
    }
    #take() {
      if (this.#used) throw new TypeError("Body already consumed");
      this.#used = true;
      const b = this.#body;
      this.#body = null;
      return b;
    }
    /** The body as given: string, bytes or null (for the server's reply). */
    [Symbol.for("falco-deno.rawBody")]() {
      return this.#body === null ? null : this.#take();
    }
    get body() {
      if (this.#body === null) return null;
      const { ReadableStream } = streams();
      return new ReadableStream({
        type: "bytes",
        start: async (controller) => {
          const bytes = await this.bytes();
          if (bytes.byteLength) controller.enqueue(bytes);
          controller.close();
        },
      });
    }
    text() {
      return settle(() => {
        const b = this.#take();
        if (b === null || b === undefined) return "";
        if (typeof b === "string") return b;
        if (b instanceof Lazy) return b.text();
        return utf8.decode(b);
      });
    }
    bytes() {
      return settle(() => {
        const b = this.#take();
        if (b === null || b === undefined) return new Uint8Array(0);
        if (typeof b === "string") return utf8.encode(b);
        if (b instanceof Lazy) return b.bytes();
        return new Uint8Array(b);
      });
    }
    async arrayBuffer() {
      return (await this.bytes()).buffer;
    }
    async json() {
      return JSON.parse(await this.text());
    }
  }

  /** `Request`: what a `Deno.serve` handler receives (or one made by hand). */
  class Request extends Body {
    #method;
    #url;
    #headers;
    #signal;
    constructor(input, init = {}) {
      const from = input instanceof Request ? input : null;
      const text = from
        ? null
        : String(input instanceof URL ? input.href : input);
      let body = init.body ?? null;
      if (
        body !== null && !(body instanceof Lazy) && typeof body !== "string"
      ) {
        body = bytesOf(body) ?? String(body);
      }
      super(body);
      this.#method = String(init.method ?? from?.method ?? "GET").toUpperCase();
      this.#url = from ? from.url : new (url().URL)(text).href;
      this.#headers = new Headers(init.headers ?? from?.headers);
      this.#signal = init.signal ?? null;
    }
    get method() {
      return this.#method;
    }
    get url() {
      return this.#url;
    }
    get headers() {
      return this.#headers;
    }
    get signal() {
      if (this.#signal === null) {
        this.#signal = new (abort().AbortController)().signal;
      }
      return this.#signal;
    }
    get [Symbol.toStringTag]() {
      return "Request";
    }
  }

  /** `Response`: what a `Deno.serve` handler returns. */
  class Response extends Body {
    #status;
    #statusText;
    #headers;
    constructor(body = null, init = {}) {
      const status = init.status ?? 200;
      if (!Number.isInteger(status) || status < 200 || status > 599) {
        throw new RangeError(
          `The status provided (${status}) is outside the range [200, 599].`,
        );
      }
      const headers = new Headers(init.headers);
      if (
        body !== null && body !== undefined && typeof body !== "string" &&
        !(body instanceof Lazy)
      ) {
        body = bytesOf(body) ?? String(body);
      }
      if (typeof body === "string" && !headers.has("content-type")) {
        headers.set("content-type", "text/plain;charset=UTF-8");
      }
      super(body ?? null);
      this.#status = status;
      this.#statusText = String(init.statusText ?? "");
      this.#headers = headers;
    }
    static json(data, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("content-type")) {
        headers.set("content-type", "application/json");
      }
      return new Response(JSON.stringify(data), { ...init, headers });
    }
    static redirect(location, status = 302) {
      return new Response(null, {
        status,
        headers: { location: String(location) },
      });
    }
    get status() {
      return this.#status;
    }
    get statusText() {
      return this.#statusText;
    }
    get ok() {
      return this.#status >= 200 && this.#status < 300;
    }
    get headers() {
      return this.#headers;
    }
    get type() {
      return "default";
    }
    get url() {
      return "";
    }
    get redirected() {
      return false;
    }
    get [Symbol.toStringTag]() {
      return "Response";
    }
  }

  for (const [name, value] of Object.entries({ Headers, Request, Response })) {
    Object.defineProperty(globalThis, name, {
      value,
      writable: true,
      configurable: true,
    });
  }

  /**
   * `Deno.HttpClient` of `Deno.createHttpClient`: only `caCerts` (PEM texts
   * trusted besides the system roots); other options would change what is
   * trusted or where requests go, so they are refused rather than ignored.
   */
  class HttpClient {
    #rid;
    constructor(rid) {
      this.#rid = rid;
    }
    close() {
      core.tryClose(this.#rid);
    }
    [Symbol.dispose]() {
      core.tryClose(this.#rid);
    }
    static rid(client) {
      return client.#rid;
    }
  }
  function createHttpClient(options = {}) {
    for (const name of Object.keys(options)) {
      if (name !== "caCerts") notSupported(`Deno.createHttpClient's ${name}`);
    }
    const caCerts = options.caCerts ?? [];
    if (
      !Array.isArray(caCerts) || !caCerts.every((c) => typeof c === "string")
    ) {
      throw new TypeError(
        "Deno.createHttpClient: caCerts must be an array of PEM strings",
      );
    }
    return new HttpClient(ops.op_falco_fetch_create_client(caCerts));
  }
  const clientRid = (client) => {
    if (client === undefined || client === null) return 0;
    if (!(client instanceof HttpClient)) {
      throw new TypeError("fetch: client must come from Deno.createHttpClient");
    }
    return HttpClient.rid(client);
  };

  /**
   * `fetch` over HTTP/1.1, https through rustls (system roots, or the
   * `client` of `Deno.createHttpClient`), redirects returned as they are
   * (like `redirect: "manual"`), the whole body read before the promise
   * resolves. `net` permission per URL.
   */
  async function fetch(input, init = {}) {
    const client = clientRid(init.client);
    const textBody = typeof init.body === "string";
    const req = new Request(input, init);
    const headers = req.headers;
    if (textBody && !headers.has("content-type")) {
      headers.set("content-type", "text/plain;charset=UTF-8");
    }
    const signal = init.signal ?? null;
    if (signal?.aborted) throw signal.reason;
    const body = init.body === undefined || init.body === null
      ? new Uint8Array(0)
      : await req.bytes();
    let cancelRid = 0;
    const onAbort = () => core.tryClose(cancelRid);
    if (signal) {
      cancelRid = ops.op_falco_fetch_cancel_handle();
      signal.addEventListener("abort", onAbort, { once: true });
    }
    let r;
    try {
      r = await ops.op_falco_fetch(
        req.method,
        req.url,
        [...headers],
        body,
        cancelRid,
        client,
      );
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw e;
    } finally {
      if (signal) {
        signal.removeEventListener("abort", onAbort);
        core.tryClose(cancelRid);
      }
    }
    const rid = r.bodyRid;
    return new Response(
      new Lazy(
        () => ops.op_falco_fetch_body(rid),
        () => ops.op_falco_fetch_body_text(rid),
      ),
      { status: r.status, statusText: r.statusText, headers: r.headers },
    );
  }
  Object.defineProperty(globalThis, "fetch", {
    value: fetch,
    writable: true,
    configurable: true,
  });

  // Refusals of the server's limits are logged, at most 10 a second per
  // server, then one line with the number left out.
  const refusalLog = () => {
    let second = 0, logged = 0, skipped = 0;
    return (note) => {
      const now = Math.floor(Date.now() / 1000);
      if (now !== second) {
        if (skipped) {
          console.warn(`Deno.serve: ${skipped} more refusals not logged`);
        }
        second = now;
        logged = 0;
        skipped = 0;
      }
      if (++logged > 10) skipped++;
      else {console.warn(
          `Deno.serve: refused a request from ${note.remoteHostname}:${note.remotePort}: ${note.status} ${note.reason}`,
        );}
    };
  };

  /** Body-size, pending-request and connection limits of `Deno.serve`. */
  const SERVE_DEFAULTS = {
    maxBodyBytes: 1 << 20,
    maxPendingRequests: 1024,
    maxConnections: 1024,
  };
  const limit = (options, name) => {
    const v = options[name] ?? SERVE_DEFAULTS[name];
    if (!Number.isInteger(v) || v < 1 || v > 0x7fffffff) {
      throw new RangeError(
        `Deno.serve: ${name} must be an integer from 1 to 2^31-1`,
      );
    }
    return v;
  };

  const respond = (rid, res) => {
    const headers = [...res.headers];
    const body = res[Symbol.for("falco-deno.rawBody")]();
    if (body === null || typeof body === "string") {
      ops.op_falco_http_respond_text(rid, res.status, headers, body ?? "");
    } else ops.op_falco_http_respond_bytes(rid, res.status, headers, body);
  };

  /**
   * `Deno.serve(options?, handler)` over HTTP/1.1, HTTPS with `cert` and
   * `key` (PEM texts, as Deno takes them); no Unix sockets.
   */
  function serve(options, handler) {
    if (typeof options === "function") {
      [options, handler] = [handler ?? {}, options];
    }
    options ??= {};
    handler ??= options.handler;
    if (typeof handler !== "function") {
      throw new TypeError("A handler function must be provided.");
    }
    const tls = Boolean(options.cert || options.key);
    if (
      tls && (typeof options.cert !== "string" || !options.cert ||
        typeof options.key !== "string" || !options.key)
    ) {
      throw new TypeError(
        "Both 'cert' and 'key' must be provided to enable HTTPS",
      );
    }
    if (options.path !== undefined) notSupported("Deno.serve on a Unix socket");
    const port = options.port ?? 8000;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TypeError(`Invalid port: ${port}`);
    }
    const hostname = options.hostname ?? "0.0.0.0";
    const { rid, port: boundPort, hostname: boundHost } = ops
      .op_falco_http_serve(
        hostname,
        port,
        limit(options, "maxBodyBytes"),
        limit(options, "maxPendingRequests"),
        limit(options, "maxConnections"),
        tls ? options.cert : "",
        tls ? options.key : "",
      );
    const addr = { hostname: boundHost, port: boundPort, transport: "tcp" };
    let closed = false;
    let resolveFinished;
    const finished = new Promise((r) => (resolveFinished = r));
    const logRefusal = refusalLog();
    const dispatch = async (m) => {
      const req = new Request(m.url, {
        method: m.method,
        headers: m.headers,
        body: new Lazy(
          () => ops.op_falco_http_body(m.rid),
          () => ops.op_falco_http_body_text(m.rid),
        ),
      });
      const info = {
        remoteAddr: {
          hostname: m.remoteHostname,
          port: m.remotePort,
          transport: "tcp",
        },
        completed: Promise.resolve(),
      };
      let res;
      try {
        res = await handler(req, info);
        if (!(res instanceof Response)) {
          throw new TypeError(
            "Return value from serve handler must be a response or a promise resolving to a response",
          );
        }
      } catch (e) {
        console.error("Error in Deno.serve handler:", e);
        res = new Response("Internal Server Error", { status: 500 });
      }
      try {
        respond(m.rid, res);
      } catch (e) {
        console.error("Deno.serve: cannot send the response:", e);
        try {
          ops.op_falco_http_respond_text(
            m.rid,
            500,
            [],
            "Internal Server Error",
          );
        } catch {
          // already answered or gone
        }
      }
    };
    (async () => {
      for (;;) {
        let m;
        try {
          m = await ops.op_falco_http_next(rid);
        } catch {
          m = null;
        }
        if (m === null) break;
        if (m.status) logRefusal(m);
        else dispatch(m);
      }
      resolveFinished();
    })();
    const shutdown = async () => {
      if (!closed) {
        closed = true;
        ops.op_falco_http_close(rid);
      }
      await finished;
    };
    if (options.signal) {
      if (options.signal.aborted) shutdown();
      else {options.signal.addEventListener("abort", () => shutdown(), {
          once: true,
        });}
    }
    if (options.onListen) options.onListen(addr);
    else {console.info(
        `Listening on ${tls ? "https" : "http"}://${boundHost}:${boundPort}/`,
      );}
    return {
      addr,
      finished,
      shutdown,
      ref() {},
      unref() {},
      [Symbol.asyncDispose]: shutdown,
      /** falco-deno only: the limits' refusal counters. */
      [Symbol.for("falco-deno.httpStats")]:
        () => (closed ? null : ops.op_falco_http_stats(rid)),
    };
  }

  const Deno = globalThis.Deno;
  Object.assign(Deno, {
    errors,
    SeekMode,
    FsFile,
    build: Object.freeze({ os: "linux", target: "falco-deno" }),
    readFile: (path) => ops.op_falco_read_file(pathText(path)),
    readTextFile: (path) => ops.op_falco_read_text_file(pathText(path)),
    readTextFileSync: (path) =>
      ops.op_falco_read_text_file_sync(pathText(path)),
    async open(path, options = {}) {
      if (
        options.write || options.append || options.create || options.truncate
      ) {
        notSupported("opening a file for writing");
      }
      return new FsFile(await ops.op_falco_open(pathText(path)));
    },
    stat: async (path) =>
      fileInfo(await ops.op_falco_stat(pathText(path), false)),
    lstat: async (path) =>
      fileInfo(await ops.op_falco_stat(pathText(path), true)),
    async *readDir(path) {
      yield* await ops.op_falco_read_dir(pathText(path));
    },
    serve,
    createHttpClient,
    HttpClient,
    env: Object.freeze({
      get: (name) => ops.op_falco_env_get(String(name)) ?? undefined,
      has: (name) => ops.op_falco_env_get(String(name)) !== null,
    }),
  });
  // The embed's console already goes to Falco: the bridge keeps it.
  Object.defineProperty(Deno, Symbol.for("falco-deno.console"), {
    value: true,
  });

  // `Deno.core` and `__bootstrap` stay until `seal.js`: on V8 this script
  // runs when the startup snapshot is taken, and deno_core reads
  // `Deno.core` again when it starts a runtime from the snapshot.
})();
