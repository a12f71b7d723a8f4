/**
 * A probe of `Deno.serve`, `fetch`, `Headers`, `Request` and `Response`: `nextBatch`
 * runs every check once and emits one event per check, `name ok` or
 * `name FAIL detail`, then EOF. The same file runs under `deno run` (with
 * `--allow-net=127.0.0.1:<port> --allow-read=/proc/self/fd`) and inside the
 * `.so` (granted the same), so both give the same answers.
 *
 * Open params: JSON `{ "port": <a free port>, "tls": <dir>, "outsidePort":
 * <port> }`: `tls` holds `ca.pem`, `cert.pem` and `key.pem` of
 * `_tls.ts` (granted with `--allow-read` / `allowRead`); on `outsidePort`
 * the test process serves HTTPS with that certificate (Deno's own server),
 * answering `outside <path>`.
 *
 * @module
 */

import { definePlugin, EOF } from "../../mod.ts";

type Check = [string, () => unknown | Promise<unknown>];

const eq = (a: unknown, b: unknown) => {
  const x = JSON.stringify(a), y = JSON.stringify(b);
  if (x !== y) throw new Error(`${x} !== ${y}`);
};

/** Open file descriptors, or null where `/proc/self/fd` is not readable
 * (Deno asks `--allow-all` for it; the `.so` grants it with allowRead). */
async function openFds(): Promise<number | null> {
  try {
    let n = 0;
    for await (const _ of Deno.readDir("/proc/self/fd")) n++;
    return n;
  } catch {
    return null;
  }
}

const quiet = () => {};
const handler = () => new Response("ok");

interface Params {
  port: number;
  tls: string;
  outsidePort: number;
}

const errorOf = async (f: () => unknown): Promise<Error> => {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("did not throw");
};

function tlsChecks({ port, tls, outsidePort }: Params): Check[] {
  const pem = (name: string) => Deno.readTextFile(`${tls}/${name}.pem`);
  const url = `https://127.0.0.1:${port}`;
  const echo = async (req: Request, info: Deno.ServeHandlerInfo) =>
    Response.json({
      method: req.method,
      url: req.url,
      remote: (info.remoteAddr as Deno.NetAddr).hostname,
      body: await req.text(),
    });
  return [
    ["Deno.serve HTTPS + fetch with createHttpClient caCerts", async () => {
      const [cert, key, ca] = await Promise.all(
        ["cert", "key", "ca"].map(pem),
      );
      let listened: unknown = null;
      const s = Deno.serve({
        hostname: "127.0.0.1",
        port,
        cert,
        key,
        onListen: (a) => listened = a,
      }, echo);
      const client = Deno.createHttpClient({ caCerts: [ca] });
      try {
        eq(s.addr, { hostname: "127.0.0.1", port, transport: "tcp" });
        eq(listened, s.addr);
        const r = await fetch(`${url}/p?q=1`, {
          client,
          method: "POST",
          body: '{"a":1}',
          signal: AbortSignal.timeout(5000),
        });
        eq([r.status, await r.json()], [200, {
          method: "POST",
          url: `${url}/p?q=1`,
          remote: "127.0.0.1",
          body: '{"a":1}',
        }]);
        const g = await fetch(`${url}/g`, { client });
        eq((await g.json()).method, "GET");
      } finally {
        client.close();
        await s.shutdown();
      }
    }],
    ["fetch from an outside HTTPS server", async () => {
      const client = Deno.createHttpClient({ caCerts: [await pem("ca")] });
      try {
        const r = await fetch(`https://127.0.0.1:${outsidePort}/x`, {
          client,
          signal: AbortSignal.timeout(5000),
        });
        eq([r.status, await r.text()], [200, "outside /x"]);
      } finally {
        client.close();
      }
    }],
    ["fetch https without the test CA is refused", async () => {
      // The system roots do not hold the test CA.
      const e = await errorOf(() =>
        fetch(`https://127.0.0.1:${outsidePort}/x`, {
          signal: AbortSignal.timeout(5000),
        })
      );
      eq(e.name, "TypeError");
    }],
    ["plain HTTP to the HTTPS port fails, the server goes on", async () => {
      const [cert, key, ca] = await Promise.all(
        ["cert", "key", "ca"].map(pem),
      );
      const s = Deno.serve(
        { hostname: "127.0.0.1", port, cert, key, onListen: quiet },
        echo,
      );
      const client = Deno.createHttpClient({ caCerts: [ca] });
      try {
        const e = await errorOf(() =>
          fetch(`http://127.0.0.1:${port}/plain`, {
            signal: AbortSignal.timeout(5000),
          })
        );
        eq(e.name, "TypeError");
        const r = await fetch(`${url}/after`, { client });
        eq((await r.json()).url, `${url}/after`);
      } finally {
        client.close();
        await s.shutdown();
      }
    }],
    ["Deno.serve bad PEM fails cleanly, the port stays free", async () => {
      const [cert, key] = await Promise.all(["cert", "key"].map(pem));
      const serve = (o: { cert?: string; key?: string }) => () =>
        Deno.serve(
          { hostname: "127.0.0.1", port, onListen: quiet, ...o } as
            & Deno.ServeTcpOptions
            & Deno.TlsCertifiedKeyPem,
          handler,
        );
      const badCert = await errorOf(serve({ cert: "not a PEM", key }));
      eq([badCert.name, badCert.message], [
        "InvalidData",
        "No certificates found in certificate data",
      ]);
      const badKey = await errorOf(serve({ cert, key: "not a PEM" }));
      eq([badKey.name, badKey.message], [
        "InvalidData",
        "No keys found in key data",
      ]);
      const half = await errorOf(serve({ cert }));
      eq(half.name, "TypeError");
      const s = Deno.serve(
        { hostname: "127.0.0.1", port, onListen: quiet },
        handler,
      );
      await s.shutdown();
    }],
    ["createHttpClient close", async () => {
      const client = Deno.createHttpClient({ caCerts: [await pem("ca")] });
      client.close();
      const e = await errorOf(() =>
        fetch(`https://127.0.0.1:${outsidePort}/x`, { client })
      );
      eq(e.name, "BadResource");
    }],
  ];
}

function checks(port: number): Check[] {
  return [
    ["Headers", () => {
      const h = new Headers({ "Content-Type": "a" });
      h.append("x-A", "1");
      h.append("X-a", "2");
      eq([h.get("content-type"), h.get("X-A"), h.has("x-b")], [
        "a",
        "1, 2",
        false,
      ]);
      eq([...h], [["content-type", "a"], ["x-a", "1, 2"]]);
    }],
    ["Response", async () => {
      const r = new Response("hi", { status: 201, headers: { "x-y": "z" } });
      eq([r.status, r.ok, r.headers.get("x-y"), r.bodyUsed], [
        201,
        true,
        "z",
        false,
      ]);
      eq(r.headers.get("content-type"), "text/plain;charset=UTF-8");
      eq(await r.text(), "hi");
      eq(r.bodyUsed, true);
      const j = Response.json({ a: 1 }, { status: 202 });
      eq([j.status, j.headers.get("content-type"), await j.json()], [
        202,
        "application/json",
        { a: 1 },
      ]);
      eq([...await new Response(new Uint8Array([1, 2])).bytes()], [1, 2]);
      let threw = false;
      try {
        new Response(null, { status: 99 });
      } catch (e) {
        threw = e instanceof RangeError;
      }
      eq(threw, true);
    }],
    ["Request", async () => {
      const r = new Request("http://h/a?b=1", {
        method: "post",
        body: '{"x":1}',
        headers: [["X-K", "v"]],
      });
      eq([r.method, r.url, r.headers.get("x-k")], [
        "POST",
        "http://h/a?b=1",
        "v",
      ]);
      eq(await r.json(), { x: 1 });
    }],
    ["Deno.serve addr/onListen/shutdown", async () => {
      let listened: unknown = null;
      const s = Deno.serve({
        hostname: "127.0.0.1",
        port,
        onListen: (a) => listened = a,
      }, handler);
      try {
        eq(s.addr, { hostname: "127.0.0.1", port, transport: "tcp" });
        eq(listened, { hostname: "127.0.0.1", port, transport: "tcp" });
      } finally {
        await s.shutdown();
        await s.finished;
      }
    }],
    ["Deno.serve signal", async () => {
      const ac = new AbortController();
      const s = Deno.serve({
        hostname: "127.0.0.1",
        port,
        signal: ac.signal,
        onListen: quiet,
      }, handler);
      ac.abort();
      await s.finished;
    }],
    ["Deno.serve denied port", () => {
      try {
        Deno.serve(
          { hostname: "127.0.0.1", port: port + 1, onListen: quiet },
          handler,
        );
      } catch (e) {
        if ((e as Error).name !== "NotCapable") throw e;
        return;
      }
      throw new Error("did not throw");
    }],
    ["fetch from Deno.serve", async () => {
      const s = Deno.serve(
        { hostname: "127.0.0.1", port, onListen: quiet },
        async (req) => {
          const url = new URL(req.url);
          if (url.pathname === "/slow") {
            await new Promise((r) => setTimeout(r, 300));
          }
          return Response.json({
            method: req.method,
            path: url.pathname + url.search,
            k: req.headers.get("x-k"),
            body: await req.text(),
          }, { status: 201, headers: { "x-r": "1" } });
        },
      );
      try {
        const r = await fetch(`http://127.0.0.1:${port}/p?q=1`, {
          method: "POST",
          body: "hi",
          headers: { "x-k": "v" },
        });
        eq([r.status, r.ok, r.headers.get("x-r")], [201, true, "1"]);
        eq(await r.json(), {
          method: "POST",
          path: "/p?q=1",
          k: "v",
          body: "hi",
        });
        const g = await fetch(`http://127.0.0.1:${port}/g`);
        eq((await g.json()).method, "GET");
        let name = "";
        try {
          await fetch(`http://127.0.0.1:${port}/slow`, {
            signal: AbortSignal.timeout(50),
          });
        } catch (e) {
          name = (e as Error).name;
        }
        eq(name, "TimeoutError");
      } finally {
        await s.shutdown();
      }
    }],
    ["fetch denied URL", async () => {
      try {
        await fetch(`http://127.0.0.1:${port + 1}/`);
      } catch (e) {
        if ((e as Error).name !== "NotCapable") throw e;
        return;
      }
      throw new Error("did not throw");
    }],
    ["Deno.serve 200 open/close cycles", async () => {
      const before = await openFds();
      for (let i = 0; i < 200; i++) {
        const s = Deno.serve(
          { hostname: "127.0.0.1", port, onListen: quiet },
          handler,
        );
        await s.shutdown();
      }
      const after = await openFds();
      if (before !== null && after !== null && after - before > 4) {
        throw new Error(`fds ${before} -> ${after}`);
      }
    }],
  ];
}

export default definePlugin({
  name: "serve_probe",
  id: 997,
  version: "0.1.0",
  description: "Deno.serve conformance probe",
  contact: "https://github.com/falco-deno/falco-deno",
  eventSource: "serve_probe",
  init: () => ({}),
  open: (_s, params) => ({ ...JSON.parse(params) as Params, done: false }),
  nextBatch: async (_s, cap) => {
    if (cap.done) return EOF;
    cap.done = true;
    const out: string[] = [];
    for (const [name, f] of [...checks(cap.port), ...tlsChecks(cap)]) {
      try {
        await f();
        out.push(`${name} ok`);
      } catch (e) {
        out.push(`${name} FAIL ${(e as Error)?.message ?? e}`);
      }
    }
    return out;
  },
  fields: [],
});
