/**
 * A probe of `Deno.serve`, `fetch`, `Headers`, `Request` and `Response`: `nextBatch`
 * runs every check once and emits one event per check, `name ok` or
 * `name FAIL detail`, then EOF. The same file runs under `deno run` (with
 * `--allow-net=127.0.0.1:<port> --allow-read=/proc/self/fd`) and inside the
 * `.so` (granted the same), so both give the same answers.
 *
 * Open params: JSON `{ "port": <a free port> }`.
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
  open: (_s, params) => ({
    port: JSON.parse(params).port as number,
    done: false,
  }),
  nextBatch: async (_s, cap) => {
    if (cap.done) return EOF;
    cap.done = true;
    const out: string[] = [];
    for (const [name, f] of checks(cap.port)) {
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
