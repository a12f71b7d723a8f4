/**
 * What stops or crashes the Go k8saudit plugin must not touch the packed
 * TypeScript one: a line over 64 KiB (plugins#639), large payloads
 * (plugins#1059, #1098), shutdown while the webhook is under load
 * (plugins#183). Each check runs the packed `.so` in the
 * falco_plugin_runner host (`falco-deno-host`).
 *
 * @module
 */

import { join } from "node:path";
import { cacheDir } from "../runtime/paths.ts";

/** Pass and fail counts, with what failed. */
export interface CheckResult {
  passed: number;
  failed: number;
  diffs: string[];
}

const event = (id: string, extra: Record<string, unknown> = {}) => ({
  kind: "Event",
  apiVersion: "audit.k8s.io/v1",
  auditID: id,
  stage: "ResponseComplete",
  verb: "create",
  user: { username: "load" },
  stageTimestamp: "2024-05-01T10:00:00.000001Z",
  ...extra,
});

interface HostRun {
  code: number;
  stderr: string;
  result: {
    events?: { fields: Record<string, unknown> }[];
    end?: string;
    error?: string;
  };
}

function startHost(hostBinary: string, args: string[]) {
  const child = new Deno.Command(hostBinary, {
    args: [...args, "--json"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return {
    child,
    async done(): Promise<HostRun> {
      const out = await child.output();
      const text = new TextDecoder().decode(out.stdout);
      let result = {};
      try {
        result = JSON.parse(text.slice(text.indexOf("{")));
      } catch {
        result = { error: `no JSON: ${text.slice(0, 300)}` };
      }
      return {
        code: out.code,
        stderr: new TextDecoder().decode(out.stderr),
        result,
      };
    },
  };
}

const ids = (r: HostRun) =>
  (r.result.events ?? []).map((e) =>
    (e.fields["ka.auditid"] as string[] | null)?.[0] ?? ""
  );

async function waitForPort(url: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(url, { method: "GET" });
      await r.body?.cancel();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return false;
}

/**
 * POSTs `body` until it is taken (a 503 is retried, as the apiserver does).
 * Returns the status, or -1 when the connection failed.
 */
async function post(url: string, body: string): Promise<number> {
  for (;;) {
    let r: Response;
    try {
      r = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    } catch {
      return -1;
    }
    await r.body?.cancel();
    if (r.status !== 503) return r.status;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs the checks on a packed k8saudit `.so`.
 *
 * @param engine The engine the `.so` embeds (for the log).
 * @param soPath The packed k8saudit `.so`.
 * @param hostBinary The falco-deno-host binary (default: the shared build).
 * @returns Pass and fail counts per check.
 */
export async function k8sauditRobustness(
  engine: string,
  soPath: string,
  hostBinary = join(cacheDir(), "target-hosts", "release", "falco-deno-host"),
): Promise<Record<string, CheckResult>> {
  const results: Record<string, CheckResult> = {};
  const dir = await Deno.makeTempDir({ prefix: "k8saudit-robust-" });
  const check = (name: string, ok: boolean, what: string) => {
    const r = results[name] ??= { passed: 0, failed: 0, diffs: [] };
    if (ok) r.passed++;
    else {
      r.failed++;
      r.diffs.push(what);
    }
  };
  const healthy = (name: string, run: HostRun) => {
    check(
      name,
      run.code === 0 && !/panic|SIGSEGV|fatal/i.test(run.stderr),
      `host exited ${run.code}: ${run.stderr.slice(-500)}`,
    );
  };

  // 1. A file with lines far over 64 KiB, an event over maxEventSize, a
  // 3 MiB EventList, a 1 MiB line of garbage and 100k unclosed brackets,
  // with good lines around each: every good event arrives, in order.
  {
    const name = "long lines and large payloads in a file";
    const want: string[] = [];
    const lines: string[] = [];
    const good = (id: string) => {
      want.push(id);
      lines.push(JSON.stringify(event(id)));
    };
    good("g0");
    const big = event("big-200k", {
      requestObject: { blob: "x".repeat(200_000) },
    });
    want.push("big-200k");
    lines.push(JSON.stringify(big));
    good("g1");
    lines.push(
      JSON.stringify(event("over-max", { blob: "y".repeat(300_000) })),
    );
    good("g2");
    const items = [];
    for (let i = 0; i < 6000; i++) {
      items.push(event(`list-${i}`, { objectRef: { name: "z".repeat(400) } }));
      want.push(`list-${i}`);
    }
    lines.push(JSON.stringify({ kind: "EventList", items }));
    good("g3");
    lines.push("q".repeat(1 << 20));
    good("g4");
    lines.push("[".repeat(100_000));
    good("g5");
    const path = join(dir, "audit.log");
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    const run = await startHost(hostBinary, [
      "--plugin",
      soPath,
      "--config",
      JSON.stringify({ falco_deno: { allowRead: [dir] } }),
      "--open",
      path,
      "--max-events",
      "100000",
      "--field",
      "ka.auditid",
    ]).done();
    healthy(name, run);
    const got = ids(run);
    check(
      name,
      JSON.stringify(got) === JSON.stringify(want),
      `${got.length} events (want ${want.length}); first differing at ${
        got.findIndex((g, i) => g !== want[i])
      }; end "${run.result.end}" ${run.result.error ?? ""}`,
    );
    check(name, run.result.end === "eof", `end "${run.result.end}"`);
  }

  // 2. The webhook under load: parallel posters, a 10 MiB EventList among
  // them; every event taken (200) arrives exactly once.
  {
    const name = "webhook under load, with a 10 MiB body";
    const port = 20000 + Math.floor(Math.random() * 20000);
    const url = `http://127.0.0.1:${port}/k8s-audit`;
    const bodies: string[] = [];
    const want = new Set<string>();
    for (let b = 0; b < 40; b++) {
      const items = [];
      for (let i = 0; i < 100; i++) {
        items.push(event(`w${b}-${i}`));
        want.add(`w${b}-${i}`);
      }
      bodies.push(JSON.stringify({ kind: "EventList", items }));
    }
    const hugeItems = [];
    for (let i = 0; i < 16000; i++) {
      hugeItems.push(event(`h${i}`, { objectRef: { name: "n".repeat(500) } }));
      want.add(`h${i}`);
    }
    bodies.splice(
      20,
      0,
      JSON.stringify({ kind: "EventList", items: hugeItems }),
    );
    const host = startHost(hostBinary, [
      "--plugin",
      soPath,
      "--config",
      JSON.stringify({ falco_deno: { allowNet: [`127.0.0.1:${port}`] } }),
      "--open",
      url,
      "--max-events",
      String(want.size),
      "--timeout-ms",
      "30000",
      "--field",
      "ka.auditid",
    ]);
    if (!(await waitForPort(url, 15000))) {
      check(name, false, "the webhook did not listen within 15 s");
      host.child.kill();
      await host.done();
    } else {
      const statuses: number[] = [];
      const queue = [...bodies];
      await Promise.all(
        [0, 1, 2, 3].map(async () => {
          while (queue.length > 0) {
            statuses.push(await post(url, queue.shift()!));
          }
        }),
      );
      const run = await host.done();
      healthy(name, run);
      check(
        name,
        statuses.every((s) => s === 200),
        `answers ${[...new Set(statuses)]}`,
      );
      const got = ids(run);
      const unique = new Set(got);
      check(
        name,
        got.length === want.size && unique.size === want.size &&
          [...want].every((id) => unique.has(id)),
        `${got.length} events (${unique.size} distinct), want ${want.size}; end "${run.result.end}" ${
          run.result.error ?? ""
        }`,
      );
    }
  }

  // 3. Shutdown while posters keep sending: the host stops the capture
  // after 200 events; it must close and exit cleanly, and the posters
  // must see the server go away rather than hang.
  {
    const name = "shutdown while the webhook is under load";
    const port = 20000 + Math.floor(Math.random() * 20000);
    const url = `http://127.0.0.1:${port}/k8s-audit`;
    const host = startHost(hostBinary, [
      "--plugin",
      soPath,
      "--config",
      JSON.stringify({ falco_deno: { allowNet: [`127.0.0.1:${port}`] } }),
      "--open",
      url,
      "--max-events",
      "200",
      "--timeout-ms",
      "30000",
      "--field",
      "ka.auditid",
    ]);
    if (!(await waitForPort(url, 15000))) {
      check(name, false, "the webhook did not listen within 15 s");
      host.child.kill();
      await host.done();
    } else {
      let stop = false, sent = 0, refused = 0;
      const body = JSON.stringify({
        kind: "EventList",
        items: Array.from({ length: 20 }, (_, i) => event(`s${i}`)),
      });
      const posters = [0, 1, 2, 3].map(async () => {
        while (!stop) {
          try {
            const r = await fetch(url, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body,
              signal: AbortSignal.timeout(5000),
            });
            await r.body?.cancel();
            sent++;
          } catch {
            refused++;
            if (refused > 20) return;
            await new Promise((r) => setTimeout(r, 10));
          }
        }
      });
      const run = await host.done();
      const closedAt = Date.now();
      await Promise.race([
        Promise.all(posters),
        new Promise((r) => setTimeout(r, 10000)),
      ]);
      stop = true;
      healthy(name, run);
      check(
        name,
        run.result.end === "maxEvents" && ids(run).length === 200,
        `end "${run.result.end}", ${ids(run).length} events ${
          run.result.error ?? ""
        }`,
      );
      check(
        name,
        refused > 0 && Date.now() - closedAt < 10000,
        `posters still served after close (${sent} sent, ${refused} refused)`,
      );
    }
  }

  // 4. https:// with sslCertificate: one PEM file holding the certificate
  // and its key, as the Go plugin takes it (made here with openssl).
  {
    const name = "https webhook with one PEM for certificate and key";
    const pem = join(dir, "falco.pem");
    const made = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
      ],
      stdout: "null",
      stderr: "piped",
    }).output().catch((e) => ({ success: false, stderr: String(e) }));
    if (!made.success) {
      check(
        name,
        false,
        `openssl could not make a certificate: ${made.stderr}`,
      );
    } else {
      await Deno.writeTextFile(
        pem,
        (await Deno.readTextFile(join(dir, "cert.pem"))) +
          (await Deno.readTextFile(join(dir, "key.pem"))),
      );
      const port = 20000 + Math.floor(Math.random() * 20000);
      const url = `https://127.0.0.1:${port}/k8s-audit`;
      const host = startHost(hostBinary, [
        "--plugin",
        soPath,
        "--config",
        JSON.stringify({
          sslCertificate: pem,
          falco_deno: { allowNet: [`127.0.0.1:${port}`], allowRead: [pem] },
        }),
        "--open",
        url,
        "--max-events",
        "2",
        "--field",
        "ka.auditid",
      ]);
      const client = Deno.createHttpClient({
        caCerts: [await Deno.readTextFile(join(dir, "cert.pem"))],
      });
      let status = -1;
      const end = Date.now() + 15000;
      while (status === -1 && Date.now() < end) {
        try {
          const r = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              kind: "EventList",
              items: [event("tls-1"), event("tls-2")],
            }),
            client,
          });
          await r.body?.cancel();
          status = r.status;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      client.close();
      if (status === -1) {
        try {
          host.child.kill();
        } catch {
          // already ended: its output says why
        }
      }
      const run = await host.done();
      healthy(name, run);
      check(
        name,
        status === 200 && JSON.stringify(ids(run)) === '["tls-1","tls-2"]',
        `answer ${status}, events ${JSON.stringify(ids(run))} ${
          run.result.error ?? ""
        }`,
      );
    }
  }

  await Deno.remove(dir, { recursive: true });
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `[${engine}] k8saudit robustness, ${name}: ${r.passed} passed, ${r.failed} failed${
        r.diffs.map((d) => "\n  " + d).join("")
      }`,
    );
  }
  return results;
}

// deno run -A tests/k8saudit_robustness.ts <libk8saudit.so>
if (import.meta.main) {
  const r = await k8sauditRobustness("so", Deno.args[0]);
  Deno.exit(Object.values(r).some((x) => x.failed > 0) ? 1 : 0);
}
