/**
 * webhook: receives JSON documents POSTed over HTTP(S) (`Deno.serve`), one
 * event per document, with fields by JSON pointer like the official Go
 * `json` plugin: `webhook.value[/json/pointer]`, `webhook.path`,
 * `webhook.body`, `webhook.remote`.
 *
 * Open params: `hostname:port` to listen on (`127.0.0.1:9765`). The
 * operator grants that address in falco.yaml:
 *
 * ```yaml
 * plugins:
 *   - name: webhook
 *     library_path: /usr/share/falco/plugins/libwebhook.so
 *     init_config:
 *       maxQueue: 4096
 *       falco_deno: { allowNet: ["127.0.0.1:9765"] }
 *     open_params: 127.0.0.1:9765
 * ```
 *
 * HTTPS: set `tlsCertFile` (the certificate chain, PEM, leaf first) and
 * `tlsKeyFile` (its private key, PEM) to absolute paths, and grant them:
 * `allowRead: ["/etc/falco/webhook/cert.pem", "/etc/falco/webhook/key.pem"]`.
 * They are read at each `open`, so a renewed certificate is served from
 * the next capture on.
 *
 * Answers: 200 for a document queued; 400 for a body that is not JSON;
 * 405 for a method other than POST; 413 for a body over `maxBodyBytes`;
 * 503 (`Retry-After: 1`) when `maxQueue` documents wait for `nextBatch`:
 * that document is dropped, counted (`dropped` metric) and logged (at most
 * once a second, with the count). The same code runs under `deno test`
 * with Deno's own `Deno.serve`.
 *
 * @module
 */

import { definePlugin, EOF, jsonPointer } from "../mod.ts";

interface Config {
  /** Largest body accepted, in bytes. */
  maxBodyBytes: number;
  /** Most documents waiting for `nextBatch`; more are refused with 503. */
  maxQueue: number;
  /** Most events per batch. */
  maxBatch: number;
  /** How long `nextBatch` waits for a document when none is queued, ms. */
  waitMs: number;
  /** Serve HTTPS with this certificate chain (PEM file, absolute path). */
  tlsCertFile?: string;
  /** The private key of `tlsCertFile` (PEM file, absolute path). */
  tlsKeyFile?: string;
}

interface Doc {
  path: string;
  remote: string;
  body: string;
}

interface Capture {
  server: Deno.HttpServer;
  queue: Doc[];
  wake: (() => void) | null;
  closed: boolean;
  lastDropLog: number;
  droppedSinceLog: number;
}

interface State extends Config {
  /** Counters since init, published by `metrics`. */
  counts: Record<string, number>;
  /** The open capture's server, for its refusal counters. */
  server: Deno.HttpServer | null;
}

const STATS = Symbol.for("falco-deno.httpStats");

/** Parses `hostname:port` (`[::1]:port` for IPv6). */
export function parseListen(
  params: string,
): { hostname: string; port: number } {
  const m = /^\s*(?:\[([^\]]+)\]|([^:\s]+)):([0-9]{1,5})\s*$/.exec(params);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(
      `open params must be hostname:port to listen on, got "${params}"`,
    );
  }
  return { hostname: m[1] ?? m[2], port };
}

const utf8Length = (s: string) => {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
};

const answer = (status: number, text: string, headers: HeadersInit = {}) =>
  new Response(text + "\n", {
    status,
    headers: { "content-type": "text/plain;charset=UTF-8", ...headers },
  });

/** The payload of an event: `path` and the remote address, then the body. */
const encode = (d: Doc) => `${d.path} ${d.remote}\n${d.body}`;

interface Decoded {
  path: string;
  remote: string;
  body: string;
  doc: unknown;
}

export default definePlugin({
  name: "webhook",
  id: 998,
  version: "0.1.0",
  description:
    "Receives JSON documents POSTed over HTTP: one event per document, fields by JSON pointer",
  contact: "https://github.com/falco-deno/falco-deno",
  eventSource: "webhook",
  permissions: {
    net: ["<the hostname:port named in open_params>"],
    read: ["<tlsCertFile and tlsKeyFile, when set>"],
  },
  initSchema: {
    type: "object",
    properties: {
      maxBodyBytes: {
        type: "integer",
        minimum: 1,
        maximum: 64 * 1024 * 1024,
        default: 1024 * 1024,
      },
      maxQueue: {
        type: "integer",
        minimum: 1,
        maximum: 1000000,
        default: 4096,
      },
      maxBatch: { type: "integer", minimum: 1, maximum: 100000, default: 1024 },
      waitMs: { type: "integer", minimum: 0, maximum: 1000, default: 20 },
      tlsCertFile: { type: "string", pattern: "^/" },
      tlsKeyFile: { type: "string", pattern: "^/" },
    },
    dependencies: {
      tlsCertFile: ["tlsKeyFile"],
      tlsKeyFile: ["tlsCertFile"],
    },
    additionalProperties: false,
  },
  openParams: [{
    value: "127.0.0.1:9765",
    desc: "hostname:port to listen on for POSTed JSON documents",
  }],

  init: (config: Config): State => ({
    ...config,
    counts: {
      received: 0,
      dropped: 0,
      refused_too_large: 0,
      refused_invalid: 0,
      refused_method: 0,
    },
    server: null,
  }),

  open: (config, params): Capture => {
    const { hostname, port } = parseListen(params);
    const cap: Capture = {
      server: undefined as unknown as Deno.HttpServer,
      queue: [],
      wake: null,
      closed: false,
      lastDropLog: 0,
      droppedSinceLog: 0,
    };
    const handler = async (
      req: Request,
      info: Deno.ServeHandlerInfo,
    ): Promise<Response> => {
      if (req.method !== "POST") {
        config.counts.refused_method++;
        return answer(405, "Method Not Allowed", { allow: "POST" });
      }
      const declared = Number(req.headers.get("content-length") ?? "0");
      if (declared > config.maxBodyBytes) {
        config.counts.refused_too_large++;
        return answer(413, "Payload Too Large");
      }
      const body = await req.text();
      if (utf8Length(body) > config.maxBodyBytes) {
        config.counts.refused_too_large++;
        return answer(413, "Payload Too Large");
      }
      try {
        JSON.parse(body);
      } catch {
        config.counts.refused_invalid++;
        return answer(400, "Bad Request: the body is not a JSON document");
      }
      if (cap.queue.length >= config.maxQueue) {
        config.counts.dropped++;
        cap.droppedSinceLog++;
        const now = Date.now();
        if (now - cap.lastDropLog >= 1000) {
          console.warn(
            `webhook: queue full (${config.maxQueue}), dropped ${cap.droppedSinceLog} document(s) (503); ${config.counts.dropped} in all`,
          );
          cap.lastDropLog = now;
          cap.droppedSinceLog = 0;
        }
        return answer(503, "Service Unavailable: queue full", {
          "retry-after": "1",
        });
      }
      const remote = (info.remoteAddr as Deno.NetAddr).hostname;
      cap.queue.push({ path: new URL(req.url).pathname, remote, body });
      config.counts.received++;
      const wake = cap.wake;
      cap.wake = null;
      wake?.();
      return answer(200, "ok");
    };
    // The PEM files are read once per capture (needs allowRead on both),
    // synchronously: the server listens when open returns, whether or not
    // the embed awaits an async open. The files are small.
    const tls = config.tlsCertFile && config.tlsKeyFile
      ? {
        cert: Deno.readTextFileSync(config.tlsCertFile),
        key: Deno.readTextFileSync(config.tlsKeyFile),
      }
      : {};
    const scheme = config.tlsCertFile ? "https" : "http";
    // maxBodyBytes/maxPendingRequests: falco-deno's own limits on the
    // server (refused before the handler runs); Deno ignores them.
    const options = {
      hostname,
      port,
      ...tls,
      maxBodyBytes: config.maxBodyBytes,
      maxPendingRequests: config.maxQueue + 64,
      onListen: (a: Deno.NetAddr) =>
        console.info(
          `webhook: listening on ${scheme}://${a.hostname}:${a.port}/`,
        ),
    };
    cap.server = Deno.serve(options, handler);
    config.server = cap.server;
    return cap;
  },

  nextBatch: async (config, cap) => {
    if (cap.closed) return EOF;
    if (cap.queue.length === 0 && config.waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          cap.wake = null;
          resolve();
        }, config.waitMs);
        cap.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return cap.queue.splice(0, config.maxBatch).map(encode);
  },

  close: async (config, cap) => {
    cap.closed = true;
    config.server = null;
    cap.wake?.();
    // The port is free once the server has shut down.
    await cap.server.shutdown();
  },

  metrics: (config) => {
    const out = { ...config.counts };
    // Inside the .so, the server's own limits refuse before the handler.
    const stats = (config.server as unknown as Record<
      symbol,
      () => Record<string, number> | null
    >)?.[STATS]?.();
    if (stats) {
      out.server_refused_413 = stats.refused413;
      out.server_refused_503 = stats.refused503;
      out.server_refused_408 = stats.refused408;
      out.server_refused_400 = stats.refused400;
      out.server_refused_connections = stats.refusedConnections;
      out.server_pending = stats.pending;
    }
    return out;
  },

  decode: (_state, event): Decoded => {
    const text = event.text;
    const nl = text.indexOf("\n");
    const head = text.slice(0, nl);
    const sp = head.indexOf(" ");
    const body = text.slice(nl + 1);
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      doc = undefined;
    }
    return { path: head.slice(0, sp), remote: head.slice(sp + 1), body, doc };
  },

  eventToString: (_state, event) =>
    event.text.slice(event.text.indexOf("\n") + 1),

  fields: [
    {
      name: "webhook.value",
      type: "string",
      key: "required",
      desc:
        "A value of the posted JSON document: webhook.value[<json pointer>] (RFC 6901); objects and arrays as JSON text",
      extract: ({ decoded, key }) => {
        if (decoded.doc === undefined) return undefined;
        const v = jsonPointer(decoded.doc, key);
        if (v === undefined) return undefined;
        return typeof v === "string" ? v : JSON.stringify(v);
      },
    },
    {
      name: "webhook.path",
      type: "string",
      desc: "The URL path the document was posted to",
      extract: ({ decoded }) => decoded.path,
    },
    {
      name: "webhook.remote",
      type: "string",
      desc: "The address of the client that posted the document",
      extract: ({ decoded }) => decoded.remote,
    },
    {
      name: "webhook.body",
      type: "string",
      desc: "The posted document as received",
      extract: ({ decoded }) => decoded.body,
    },
  ],
});
