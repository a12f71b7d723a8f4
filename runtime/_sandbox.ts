/**
 * What `PluginHarness` gives a plugin instead of `deno test`'s whole Deno:
 * the globals and the `Deno.*` calls of the `.so` (`rust_embed/src/web/
 * bootstrap.js` and `rust_embed/src/web/*.rs`), checked against the grants
 * the `.so` would have, with the `.so`'s messages. A call the `.so` would
 * refuse fails under `deno test` the same way.
 *
 * Every call into the plugin runs inside {@linkcode Sandbox.run}; an
 * `AsyncLocalStorage` carries the sandbox through the plugin's awaits,
 * timers and `Deno.serve` handlers, so code the test itself runs keeps the
 * real `Deno`. The plugin module's top-level code runs when the test
 * imports it, outside any sandbox.
 *
 * Files are checked as given and by their resolved real path (the file
 * actually opened): a symlink inside a granted directory that points
 * outside it is refused, as in the `.so` (`rust_embed/src/web/fs.rs`), with
 * its message.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { RESERVED_CONFIG_KEY } from "./_bridge_abi.ts";
import type { PluginPermissions } from "./types.ts";

/** One kind of grant: everything (`true`), these entries, or nothing. */
export type Grant = true | readonly string[] | undefined;

/** The grants of one instance, as the `.so` reads them. */
export interface Grants {
  /** `allowRead`: absolute paths. */
  read: Grant;
  /** `allowWrite`: absolute paths (the `.so` has no write call yet). */
  write: Grant;
  /** `allowNet`: `host` or `host:port`. */
  net: Grant;
  /** `allowEnv`: names, `PREFIX*` for a prefix. */
  env: Grant;
}

const KINDS = ["read", "write", "net", "env"] as const;
type Kind = typeof KINDS[number];
const MEMBER: Record<Kind, string> = {
  read: "allowRead",
  write: "allowWrite",
  net: "allowNet",
  env: "allowEnv",
};

/**
 * The grants of an instance: the `falco_deno.allow*` members of the init
 * config where given (exactly what the `.so` would get), else the
 * plugin's declared `permissions` of that kind, placeholders (`<...>`)
 * left out: a test runs with what the plugin declares, and one whose
 * declaration names only placeholders grants in its config, as falco.yaml
 * would.
 *
 * @param plugin The plugin's name (for error messages).
 * @param config The parsed init config (anything).
 * @param declared The plugin's `permissions`.
 * @returns The grants.
 */
export function harnessGrants(
  plugin: string,
  config: unknown,
  declared: PluginPermissions | undefined,
): Grants {
  const reserved = config !== null && typeof config === "object" &&
      !Array.isArray(config)
    ? (config as Record<string, unknown>)[RESERVED_CONFIG_KEY]
    : undefined;
  const given = reserved !== null && typeof reserved === "object"
    ? reserved as Record<string, unknown>
    : {};
  const out = {} as Record<Kind, Grant>;
  for (const kind of KINDS) {
    const member = given[MEMBER[kind]];
    if (member !== undefined) {
      out[kind] = member === true
        ? true
        : Array.isArray(member) && member.length > 0
        ? member.map(String)
        : undefined;
    } else {
      const list = (declared?.[kind] ?? []).filter((v) => !/^<.*>$/.test(v));
      out[kind] = list.length > 0 ? list : undefined;
    }
  }
  for (const kind of ["read", "write"] as const) {
    const list = out[kind];
    if (list === true || list === undefined) continue;
    for (const p of list) {
      if (!p.startsWith("/")) {
        throw new Error(
          `${plugin}: ${RESERVED_CONFIG_KEY}.${
            MEMBER[kind]
          }: "${p}" is not an absolute path (Falco's working directory is not the plugin's)`,
        );
      }
    }
  }
  return out;
}

// Set by `install`, on the first harness: nothing runs when this module is
// only bundled (through mod.ts) into a plugin.
let RealDeno: typeof Deno;
let realFetch: typeof fetch;
let storage: AsyncLocalStorage<Sandbox>;

/** Globals of the ECMAScript engine, present in the `.so` as under Deno. */
const ENGINE_GLOBALS = new Set([
  "globalThis",
  "Object",
  "Function",
  "Array",
  "Number",
  "parseFloat",
  "parseInt",
  "Infinity",
  "NaN",
  "undefined",
  "Boolean",
  "String",
  "Symbol",
  "Date",
  "Promise",
  "RegExp",
  "Error",
  "AggregateError",
  "EvalError",
  "RangeError",
  "ReferenceError",
  "SyntaxError",
  "TypeError",
  "URIError",
  "SuppressedError",
  "JSON",
  "Math",
  "Intl",
  "ArrayBuffer",
  "SharedArrayBuffer",
  "Atomics",
  "Uint8Array",
  "Int8Array",
  "Uint16Array",
  "Int16Array",
  "Uint32Array",
  "Int32Array",
  "Float16Array",
  "Float32Array",
  "Float64Array",
  "Uint8ClampedArray",
  "BigUint64Array",
  "BigInt64Array",
  "DataView",
  "Map",
  "BigInt",
  "Set",
  "WeakMap",
  "WeakSet",
  "Proxy",
  "Reflect",
  "FinalizationRegistry",
  "WeakRef",
  "Iterator",
  "DisposableStack",
  "AsyncDisposableStack",
  "decodeURI",
  "decodeURIComponent",
  "encodeURI",
  "encodeURIComponent",
  "escape",
  "unescape",
  "eval",
  "isFinite",
  "isNaN",
  "WebAssembly",
  "queueMicrotask",
]);

/**
 * The globals `rust_embed/src/web/bootstrap.js` defines (and `Deno`, which
 * the sandbox replaces).
 */
const SO_GLOBALS = new Set([
  "AbortController",
  "AbortSignal",
  "Blob",
  "ByteLengthQueuingStrategy",
  "CountQueuingStrategy",
  "CustomEvent",
  "DOMException",
  "ErrorEvent",
  "Event",
  "EventTarget",
  "File",
  "MessageEvent",
  "Performance",
  "ReadableStream",
  "ReadableStreamDefaultReader",
  "TextDecoder",
  "TextDecoderStream",
  "TextEncoder",
  "TextEncoderStream",
  "TransformStream",
  "URL",
  "URLSearchParams",
  "WritableStream",
  "WritableStreamDefaultWriter",
  "atob",
  "btoa",
  "clearInterval",
  "clearTimeout",
  "console",
  "performance",
  "reportError",
  "setInterval",
  "setTimeout",
  "structuredClone",
  "Headers",
  "Request",
  "Response",
  "fetch",
  "Deno",
]);

let installed = false;

/**
 * Replaces, once per process, `globalThis.Deno`, `fetch` and every global
 * the `.so` lacks by accessors that answer the sandbox's view inside
 * {@linkcode Sandbox.run} and the real value everywhere else.
 */
function install(): void {
  if (installed) return;
  installed = true;
  RealDeno = globalThis.Deno;
  realFetch = globalThis.fetch;
  storage = new AsyncLocalStorage<Sandbox>();
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    if (ENGINE_GLOBALS.has(name)) continue;
    if (SO_GLOBALS.has(name) && name !== "Deno" && name !== "fetch") continue;
    const desc = Object.getOwnPropertyDescriptor(globalThis, name);
    if (desc === undefined || !desc.configurable) continue;
    let real: unknown = desc.value;
    const readReal = desc.get !== undefined
      ? () => desc.get!.call(globalThis)
      : () => real;
    const inside = name === "Deno"
      ? (s: Sandbox) => s.deno
      : name === "fetch"
      ? (s: Sandbox) => s.fetch
      : () => {
        throw new ReferenceError(`${name} is not defined`);
      };
    Object.defineProperty(globalThis, name, {
      configurable: true,
      enumerable: desc.enumerable,
      get() {
        const s = storage.getStore();
        return s === undefined ? readReal() : inside(s);
      },
      set(v: unknown) {
        if (desc.set !== undefined) desc.set.call(globalThis, v);
        else real = v;
      },
    });
  }
}

/** Deno's `NotCapable`, raised the way the `.so` words it. */
function denied(kind: Kind, what: string): Error {
  return new RealDeno.errors.NotCapable(
    `Requires ${kind} access to "${what}", grant it in falco.yaml: init_config: {"${RESERVED_CONFIG_KEY}": {"${
      MEMBER[kind]
    }": [...]}} (as deno's --allow-${kind})`,
  );
}

function notSupported(what: string): never {
  throw new RealDeno.errors.NotSupported(
    `${what} is not available inside a falco-deno plugin`,
  );
}

/** `path` made absolute and normalized (no `.`, `..`, repeated `/`). */
function normalize(path: string): string {
  const abs = path.startsWith("/") ? path : `${RealDeno.cwd()}/${path}`;
  const out: string[] = [];
  for (const part of abs.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/** The real path of `path` (symlinks resolved), or its normal form if it does not exist. */
function realPath(path: string): string {
  try {
    return RealDeno.realPathSync(path);
  } catch {
    return normalize(path);
  }
}

/** The real path of a link itself: its directory resolved, its name kept. */
function linkPath(path: string): string {
  const abs = normalize(path);
  const at = abs.lastIndexOf("/");
  const dir = at <= 0 ? "/" : abs.slice(0, at);
  const base = abs.slice(at + 1);
  const realDir = realPath(dir);
  return base === "" ? realDir : `${realDir === "/" ? "" : realDir}/${base}`;
}

function within(path: string, root: string): boolean {
  return path === root || root === "/" || path.startsWith(root + "/");
}

function pathText(path: string | URL): string {
  return path instanceof URL ? decodeURIComponent(path.pathname) : String(path);
}

/** `Deno.FsFile` of the `.so`: read, seek, stat, close, `readable`. */
class FsFile {
  #file: Deno.FsFile;
  constructor(file: Deno.FsFile) {
    this.#file = file;
  }
  read(p: Uint8Array): Promise<number | null> {
    return this.#file.read(p);
  }
  seek(offset: number | bigint, whence: Deno.SeekMode): Promise<number> {
    return this.#file.seek(offset, whence);
  }
  stat(): Promise<Deno.FileInfo> {
    return this.#file.stat();
  }
  close(): void {
    this.#file.close();
  }
  [Symbol.dispose](): void {
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
  get readable(): ReadableStream<Uint8Array> {
    return this.#file.readable;
  }
}

/**
 * The `.so`'s surface for one plugin instance, under its grants.
 *
 * @example
 * ```ts ignore
 * const sandbox = new Sandbox(harnessGrants("p", {}, { read: ["/etc/hosts"] }));
 * await sandbox.run(() => Deno.readTextFile("/etc/hosts"));
 * ```
 */
export class Sandbox {
  /** The grants. */
  readonly grants: Grants;
  /** `Deno` as the plugin sees it. */
  readonly deno: Record<string | symbol, unknown>;
  /** `fetch` as the plugin sees it. */
  readonly fetch: typeof globalThis.fetch;
  #readRoots: string[] | true | undefined;

  /** @param grants What the instance may read, write, reach and see. */
  constructor(grants: Grants) {
    install();
    this.grants = grants;
    const read = grants.read;
    // Grants are taken as written (made absolute and normal), as
    // deno_permissions takes them: a granted link does not grant its target.
    this.#readRoots = read === true || read === undefined
      ? read
      : read.map(normalize);
    this.fetch = (input, init) => this.#fetch(input, init);
    this.deno = this.#makeDeno();
  }

  /**
   * Runs `fn` (a call into the plugin) with this sandbox as the plugin's
   * world, and everything it schedules too.
   */
  run<T>(fn: () => T): T {
    return storage.run(this, fn);
  }

  /** Checks a read of `path` (its real path: `link` for `lstat`). */
  checkRead(path: string | URL, link = false): string {
    const given = pathText(path);
    const roots = this.#readRoots;
    if (roots === true) return given;
    const asked = normalize(given);
    const real = link ? linkPath(given) : realPath(given);
    if (roots === undefined || !roots.some((r) => within(asked, r))) {
      throw denied("read", given);
    }
    if (!roots.some((r) => within(real, r))) {
      throw new RealDeno.errors.NotCapable(
        `'${given}' resolves to '${real}', outside the paths granted to read: falco-deno follows no symbolic link out of a grant (grant the target itself in falco.yaml: init_config: {"${RESERVED_CONFIG_KEY}": {"allowRead": [...]}})`,
      );
    }
    return real;
  }

  /** Checks a connection to or a listener on `host:port`. */
  checkNet(hostname: string, port: number | undefined): void {
    const grant = this.grants.net;
    if (grant === true) return;
    const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
    const shown = host.includes(":") ? `[${host}]` : host;
    const what = port === undefined ? shown : `${shown}:${port}`;
    const ok = grant?.some((g) => {
      const m = /^(\[[^\]]+\]|[^:]+)(?::([0-9]+))?$/.exec(g.trim());
      if (m === null) return false;
      const gHost = m[1].toLowerCase().replace(/^\[(.*)\]$/, "$1");
      return gHost === host &&
        (m[2] === undefined || Number(m[2]) === port);
    });
    if (!ok) throw denied("net", what);
  }

  /** Checks reading the environment variable `name`. */
  checkEnv(name: string): void {
    const grant = this.grants.env;
    if (grant === true) return;
    const ok = grant?.some((g) =>
      g.endsWith("*") ? name.startsWith(g.slice(0, -1)) : g === name
    );
    if (!ok) throw denied("env", name);
  }

  #fetch(
    input: string | URL | Request,
    init?: RequestInit & { client?: unknown },
  ): Promise<Response> {
    try {
      const url = new URL(input instanceof Request ? input.url : input);
      const port = url.port !== ""
        ? Number(url.port)
        : url.protocol === "https:"
        ? 443
        : url.protocol === "http:"
        ? 80
        : undefined;
      this.checkNet(url.hostname, port);
    } catch (err) {
      return Promise.reject(err);
    }
    return realFetch(input, init);
  }

  #makeDeno(): Record<string | symbol, unknown> {
    const E = RealDeno.errors;
    const errors = {
      NotFound: E.NotFound,
      PermissionDenied: E.PermissionDenied,
      AlreadyExists: E.AlreadyExists,
      InvalidData: E.InvalidData,
      TimedOut: E.TimedOut,
      ConnectionRefused: E.ConnectionRefused,
      ConnectionReset: E.ConnectionReset,
      AddrInUse: E.AddrInUse,
      AddrNotAvailable: E.AddrNotAvailable,
      BrokenPipe: E.BrokenPipe,
      UnexpectedEof: E.UnexpectedEof,
      IsADirectory: E.IsADirectory,
      NotADirectory: E.NotADirectory,
      Http: E.Http,
      NotSupported: E.NotSupported,
      BadResource: E.BadResource,
      Interrupted: E.Interrupted,
      NotCapable: E.NotCapable,
    };
    const settle = <T>(f: () => Promise<T>): Promise<T> => {
      try {
        return f();
      } catch (err) {
        return Promise.reject(err);
      }
    };
    const run = <T>(f: () => T): T => this.run(f);
    const checkRead = (path: string | URL) => this.checkRead(path);
    const checkNet = (host: string, port: number) => this.checkNet(host, port);
    const serve = (
      options: Record<string, unknown> | ((...a: unknown[]) => unknown),
      handler?: unknown,
    ) => {
      if (typeof options === "function") {
        [options, handler] = [
          (handler ?? {}) as Record<string, unknown>,
          options,
        ];
      }
      options ??= {};
      handler ??= options.handler;
      if (typeof handler !== "function") {
        throw new TypeError("A handler function must be provided.");
      }
      if (options.path !== undefined) {
        notSupported("Deno.serve on a Unix socket");
      }
      const port = (options.port ?? 8000) as number;
      const hostname = String(options.hostname ?? "0.0.0.0");
      checkNet(hostname, port);
      const inner = handler as (...a: unknown[]) => unknown;
      const onListen = options.onListen as ((a: unknown) => void) | undefined;
      // Deno runs the handler outside the caller's async context.
      return RealDeno.serve(
        {
          ...options,
          handler: undefined,
          ...(onListen
            ? { onListen: (a: Deno.NetAddr) => run(() => onListen(a)) }
            : {}),
        } as Deno.ServeTcpOptions,
        (req, info) =>
          run(() => inner(req, info)) as Response | Promise<Response>,
      );
    };
    const HttpClient = RealDeno.HttpClient;
    return {
      errors: Object.freeze(errors),
      SeekMode: Object.freeze({ Start: 0, Current: 1, End: 2 }),
      FsFile,
      build: Object.freeze({ os: "linux", target: "falco-deno" }),
      readFile: (path: string | URL) =>
        settle(() => RealDeno.readFile(this.checkRead(path))),
      readTextFile: (path: string | URL) =>
        settle(() => RealDeno.readTextFile(this.checkRead(path))),
      readTextFileSync: (path: string | URL) =>
        RealDeno.readTextFileSync(this.checkRead(path)),
      open: (path: string | URL, options: Deno.OpenOptions = {}) =>
        settle(async () => {
          if (
            options.write || options.append || options.create ||
            options.truncate
          ) {
            notSupported("opening a file for writing");
          }
          return new FsFile(await RealDeno.open(this.checkRead(path)));
        }),
      stat: (path: string | URL) =>
        settle(() => RealDeno.stat(this.checkRead(path))),
      lstat: (path: string | URL) =>
        settle(() => RealDeno.lstat(this.checkRead(path, true))),
      async *readDir(path: string | URL) {
        yield* RealDeno.readDir(checkRead(path));
      },
      serve,
      createHttpClient(options: Record<string, unknown> = {}) {
        for (const name of Object.keys(options)) {
          if (name !== "caCerts") {
            notSupported(`Deno.createHttpClient's ${name}`);
          }
        }
        return RealDeno.createHttpClient(
          options as Deno.CreateHttpClientOptions,
        );
      },
      HttpClient,
      env: Object.freeze({
        get: (name: string) => {
          this.checkEnv(String(name));
          return RealDeno.env.get(String(name));
        },
        has: (name: string) => {
          this.checkEnv(String(name));
          return RealDeno.env.has(String(name));
        },
      }),
    };
  }
}
