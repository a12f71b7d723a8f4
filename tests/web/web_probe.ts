/**
 * A probe of the web platform and the file/env calls: `nextBatch` runs
 * every check once and emits one event per check, `name ok` or
 * `name FAIL detail`. The same file runs under `deno test` (through the
 * harness) and inside the `.so`, so both give the same answers.
 *
 * Open params: JSON `{ "dir": "/abs/dir", "denied": "/abs/other/file",
 * "env": "NAME" }`; `dir` holds `a.txt` ("hello\nworld\n").
 *
 * @module
 */

import { definePlugin, EOF, followFile } from "../../mod.ts";

interface Params {
  dir: string;
  denied: string;
  env: string;
}

type Check = [string, () => unknown | Promise<unknown>];

const eq = (a: unknown, b: unknown) => {
  const x = JSON.stringify(a), y = JSON.stringify(b);
  if (x !== y) throw new Error(`${x} !== ${y}`);
};

const rejectsWith = async (f: () => Promise<unknown>, name: string) => {
  try {
    await f();
  } catch (e) {
    if ((e as Error).name !== name) {
      throw new Error(`${(e as Error).name}: ${(e as Error).message}`);
    }
    return (e as Error).message;
  }
  throw new Error("did not throw");
};

function checks(p: Params): Check[] {
  return [
    ["timers", () =>
      new Promise<void>((resolve, reject) => {
        let n = 0;
        const id = setInterval(() => {
          if (++n === 2) {
            clearInterval(id);
            setTimeout(resolve, 1);
          }
        }, 1);
        setTimeout(() => reject(new Error("timeout")), 2000);
      })],
    ["queueMicrotask", () => new Promise<void>((r) => queueMicrotask(r))],
    ["TextEncoder", () => eq([...new TextEncoder().encode("é")], [195, 169])],
    [
      "TextDecoder",
      () =>
        eq(new TextDecoder().decode(new Uint8Array([0xe2, 0x82, 0xac])), "€"),
    ],
    ["URL", () => {
      const u = new URL("../b?x=1#h", "http://h:8080/a/c");
      eq([u.href, u.port, u.searchParams.get("x")], [
        "http://h:8080/b?x=1#h",
        "8080",
        "1",
      ]);
    }],
    [
      "URLSearchParams",
      () =>
        eq(new URLSearchParams({ a: "1 2", b: "&" }).toString(), "a=1+2&b=%26"),
    ],
    ["EventTarget", () => {
      const t = new EventTarget();
      let got = "";
      t.addEventListener("x", (e) => got = e.type);
      t.dispatchEvent(new Event("x"));
      eq(got, "x");
    }],
    ["AbortController", () => {
      const c = new AbortController();
      c.abort(new Error("stop"));
      eq([c.signal.aborted, (c.signal.reason as Error).message], [
        true,
        "stop",
      ]);
    }],
    ["AbortSignal.timeout", () =>
      new Promise<void>((resolve) => {
        AbortSignal.timeout(1).addEventListener("abort", () => resolve());
      })],
    ["structuredClone", () => {
      const v = { a: [1, { b: new Date(0) }], m: new Map([[1, 2]]) };
      const c = structuredClone(v);
      eq(c.m.get(1), 2);
      eq(c.a[1], { b: new Date(0) });
    }],
    ["atob/btoa", () => eq([btoa("hi!"), atob("aGkh")], ["aGkh", "hi!"])],
    ["performance.now", () => {
      const a = performance.now();
      if (!(a >= 0)) throw new Error(`${a}`);
    }],
    ["console", () => console.log("web_probe: console works")],
    [
      "DOMException",
      () => eq(new DOMException("m", "AbortError").name, "AbortError"),
    ],
    [
      "Deno.readTextFile",
      async () =>
        eq(await Deno.readTextFile(`${p.dir}/a.txt`), "hello\nworld\n"),
    ],
    [
      "Deno.readFile",
      async () => eq((await Deno.readFile(`${p.dir}/a.txt`)).length, 12),
    ],
    ["Deno.open/read/seek", async () => {
      const f = await Deno.open(`${p.dir}/a.txt`, { read: true });
      const buf = new Uint8Array(5);
      eq(await f.read(buf), 5);
      eq(new TextDecoder().decode(buf), "hello");
      eq(await f.seek(-6, Deno.SeekMode.End), 6);
      const rest = new Uint8Array(100);
      eq(await f.read(rest), 6);
      eq(await f.read(rest), null);
      eq((await f.stat()).size, 12);
      f.close();
    }],
    ["Deno.stat", async () => {
      const s = await Deno.stat(`${p.dir}/a.txt`);
      eq([s.isFile, s.isDirectory, s.size, s.mtime instanceof Date], [
        true,
        false,
        12,
        true,
      ]);
    }],
    ["Deno.readDir", async () => {
      const names = [];
      for await (const e of Deno.readDir(p.dir)) names.push(e.name);
      if (!names.includes("a.txt")) throw new Error(names.join());
    }],
    [
      "NotFound",
      () =>
        rejectsWith(() => Deno.readTextFile(`${p.dir}/missing`), "NotFound"),
    ],
    ["denied read", async () =>
      eq(
        await rejectsWith(() => Deno.readTextFile(p.denied), "NotCapable"),
        `Requires read access to "${p.denied}", grant it in falco.yaml: init_config: {"falco_deno": {"allowRead": [...]}} (as deno's --allow-read)`,
      )],
    ["link out of the grant", async () => {
      // `${p.dir}/out` is a symbolic link to `p.denied`.
      const link = `${p.dir}/out`;
      const message =
        `'${link}' resolves to '${p.denied}', outside the paths granted to read: falco-deno follows no symbolic link out of a grant (grant the target itself in falco.yaml: init_config: {"falco_deno": {"allowRead": [...]}})`;
      eq(
        await rejectsWith(() => Deno.readTextFile(link), "NotCapable"),
        message,
      );
      eq(await rejectsWith(() => Deno.open(link), "NotCapable"), message);
    }],
    ["denied env", () => {
      try {
        Deno.env.get(p.env);
      } catch (e) {
        eq((e as Error).name, "NotCapable");
        return;
      }
      throw new Error("did not throw");
    }],
    ["followFile", async () => {
      const f = followFile(`${p.dir}/a.txt`, { from: "start", follow: false });
      eq(await f.nextLines(), ["hello", "world"]);
      f.close();
    }],
  ];
}

export default definePlugin({
  name: "web_probe",
  id: 999,
  version: "0.1.0",
  description: "Probes the web platform and file calls (tests only)",
  contact: "https://github.com/falco-deno/falco-deno",
  eventSource: "web_probe",
  permissions: { read: ["<dir>"] },
  init: () => ({}),
  open: (_s, params: string) => ({
    params: JSON.parse(params) as Params,
    done: false,
  }),
  nextBatch: async (_s, capture) => {
    if (capture.done) return EOF;
    capture.done = true;
    const out: string[] = [];
    for (const [name, run] of checks(capture.params)) {
      try {
        await run();
        out.push(`${name} ok`);
      } catch (e) {
        out.push(
          `${name} FAIL ${(e as Error)?.name}: ${(e as Error)?.message}`,
        );
      }
    }
    return out;
  },
});
