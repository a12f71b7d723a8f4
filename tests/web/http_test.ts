/**
 * `Deno.serve`, `fetch`, `plugins/webhook.ts` and `plugins/poll.ts`: under Deno through the harness,
 * and inside the `.so` (QuickJS-ng) through the host binary, posting with
 * Deno's own `fetch`. Loopback only; every wait is bounded.
 *
 * `deno test --allow-net=127.0.0.1 --allow-read --allow-write --allow-run --allow-env tests/web/http_test.ts`
 * (`-A` works too). The `.so` part needs the host binary
 * (`~/.cache/falco-deno/target-hosts/release/falco-deno-host`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PluginHarness } from "../../mod.ts";
import { REPO_ROOT } from "../../runtime/engines.ts";
import webhook, { parseListen } from "../../plugins/webhook.ts";
import poll from "../../plugins/poll.ts";

import { ENGINE, HOST, packPlugin } from "./_host.ts";
import { type TestCerts, testCerts } from "./_tls.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function post(
  port: number,
  path: string,
  body: string,
  method = "POST",
  client?: Deno.HttpClient,
): Promise<number> {
  const scheme = client ? "https" : "http";
  const r = await fetch(`${scheme}://127.0.0.1:${port}${path}`, {
    method,
    body: method === "GET" ? undefined : body,
    signal: AbortSignal.timeout(5000),
    client,
  });
  await r.body?.cancel();
  return r.status;
}

/** Waits until something listens on `port` (at most `ms`). */
async function listening(port: number, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

Deno.test("parseListen", () => {
  assert.deepEqual(parseListen("127.0.0.1:80"), {
    hostname: "127.0.0.1",
    port: 80,
  });
  assert.deepEqual(parseListen("[::1]:9"), { hostname: "::1", port: 9 });
  assert.throws(() => parseListen("9000"), /hostname:port/);
  assert.throws(() => parseListen("h:70000"), /hostname:port/);
});

Deno.test("webhook under Deno: events, fields, refusals, bounded queue, close frees the port", async () => {
  const port = freePort();
  const h = await PluginHarness.start(webhook, {
    config: JSON.stringify({
      maxQueue: 2,
      maxBodyBytes: 64,
      waitMs: 10,
      falco_deno: { allowNet: [`127.0.0.1:${port}`] },
    }),
  });
  await h.open(`127.0.0.1:${port}`);
  assert.equal(await post(port, "/audit", '{"user":{"name":"alice"}}'), 200);
  assert.equal(await post(port, "/b", "[1,2]"), 200);
  // the queue holds 2: the third is refused and counted
  assert.equal(await post(port, "/c", "{}"), 503);
  assert.equal(await post(port, "/c", "not json"), 400);
  assert.equal(await post(port, "/c", "{}", "GET"), 405);
  assert.equal(
    await post(port, "/c", JSON.stringify({ a: "x".repeat(100) })),
    413,
  );
  const events = [];
  while (events.length < 2) {
    const r = await h.nextBatch();
    if (Array.isArray(r)) events.push(...r);
  }
  const [a, b] = events;
  assert.equal(h.extract(a, "webhook.value[/user/name]"), "alice");
  assert.equal(h.extract(a, "webhook.path"), "/audit");
  assert.equal(h.extract(a, "webhook.remote"), "127.0.0.1");
  assert.equal(h.extract(b, "webhook.value[/1]"), "2");
  assert.equal(h.extract(b, "webhook.body"), "[1,2]");
  assert.equal(h.extract(b, "webhook.value[/x]"), undefined);
  const m = h.metrics();
  assert.equal(m.received, 2);
  assert.equal(m.dropped, 1);
  assert.equal(m.refused_invalid, 1);
  assert.equal(m.refused_method, 1);
  assert.equal(m.refused_too_large, 1);
  // close awaits the server's shutdown: the port is free once it returns.
  await h.close();
  Deno.listen({ hostname: "127.0.0.1", port }).close();
  await h.open(`127.0.0.1:${port}`);
  assert.equal(await post(port, "/again", '{"n":1}'), 200);
  await h.close();
  await h.destroy();
});

Deno.test("webhook over HTTPS under Deno: tlsCertFile/tlsKeyFile, plain HTTP refused, bad config", async () => {
  const certs = await testCerts();
  const tls = {
    tlsCertFile: join(certs.dir, "cert.pem"),
    tlsKeyFile: join(certs.dir, "key.pem"),
  };
  const port = freePort();
  const grants = {
    allowNet: [`127.0.0.1:${port}`],
    allowRead: [tls.tlsCertFile, tls.tlsKeyFile],
  };
  const h = await PluginHarness.start(webhook, {
    config: JSON.stringify({ ...tls, waitMs: 10, falco_deno: grants }),
  });
  const client = Deno.createHttpClient({ caCerts: [certs.ca] });
  try {
    await h.open(`127.0.0.1:${port}`);
    assert.equal(
      await post(port, "/tls", '{"user":{"name":"alice"}}', "POST", client),
      200,
    );
    await assert.rejects(post(port, "/plain", "{}"), TypeError);
    const events = [];
    while (events.length < 1) {
      const r = await h.nextBatch();
      if (Array.isArray(r)) events.push(...r);
    }
    assert.equal(events.length, 1);
    assert.equal(h.extract(events[0], "webhook.value[/user/name]"), "alice");
    assert.equal(h.extract(events[0], "webhook.path"), "/tls");
    await h.close();
  } finally {
    client.close();
    await h.destroy();
  }
  await assert.rejects(
    PluginHarness.start(webhook, {
      config: JSON.stringify({ tlsCertFile: tls.tlsCertFile }),
    }),
    /tlsKeyFile/,
  );
  await assert.rejects(
    PluginHarness.start(webhook, {
      config: JSON.stringify({ tlsCertFile: "cert.pem", tlsKeyFile: "k" }),
    }),
    /tlsCertFile must match pattern/,
  );
  // A key file that is not a key: open fails, naming the problem.
  const bad = await PluginHarness.start(webhook, {
    config: JSON.stringify({
      ...tls,
      tlsKeyFile: tls.tlsCertFile,
      falco_deno: grants,
    }),
  });
  await assert.rejects(
    async () => await bad.open(`127.0.0.1:${port}`),
    /No keys found in key data/,
  );
  await bad.destroy();
});

/** The packed webhook plugin, or another with its library name. */
function pack(src = "plugins/webhook.ts", name = "webhook"): Promise<string> {
  return packPlugin(src, name);
}

Deno.test({
  name:
    `webhook inside the .so (${ENGINE}) with allowNet granted: events, fields, limits, malformed and slow clients`,
  fn: async () => {
    const so = await pack();
    const port = freePort();
    const child = new Deno.Command(HOST, {
      args: [
        "--plugin",
        so,
        "--config",
        JSON.stringify({
          maxBodyBytes: 64,
          falco_deno: { allowNet: [`127.0.0.1:${port}`] },
        }),
        "--open",
        `127.0.0.1:${port}`,
        "--max-events",
        "3",
        "--timeout-ms",
        "15000",
        "--field",
        "webhook.value[/user/name]",
        "--field",
        "webhook.path",
        "--json",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let slow: Deno.TcpConn | undefined;
    try {
      await listening(port);
      // a slow client (half a body, then silence) stalls nothing
      slow = await Deno.connect({ hostname: "127.0.0.1", port });
      await slow.write(
        new TextEncoder().encode(
          "POST /slow HTTP/1.1\r\nhost: x\r\ncontent-length: 50\r\n\r\n{",
        ),
      );
      // a malformed request gets 400 from the HTTP parser
      const bad = await Deno.connect({ hostname: "127.0.0.1", port });
      await bad.write(new TextEncoder().encode("NOT HTTP AT ALL\r\n\r\n"));
      const buf = new Uint8Array(64);
      const n = await bad.read(buf);
      assert.match(
        new TextDecoder().decode(buf.subarray(0, n ?? 0)),
        /^HTTP\/1\.1 400/,
      );
      bad.close();
      // the server's limit refuses before the handler runs
      assert.equal(
        await post(port, "/big", JSON.stringify({ a: "x".repeat(100) })),
        413,
      );
      assert.equal(await post(port, "/x", "nope"), 400);
      assert.equal(await post(port, "/x", "", "GET"), 405);
      assert.equal(await post(port, "/a", '{"user":{"name":"alice"}}'), 200);
      assert.equal(await post(port, "/b", '{"user":{"name":"bob"}}'), 200);
      // the host stops after the third event: its answer may not arrive
      await post(port, "/c", '{"user":{"name":"carol"}}').catch(() => 0);
    } finally {
      const out = await child.output();
      slow?.close();
      const text = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      const r = JSON.parse(text.slice(text.indexOf("{")));
      assert.equal(r.end, "maxEvents", r.error ?? stderr);
      assert.deepEqual(
        r.events.map((e: { fields: Record<string, string[]> }) => [
          e.fields["webhook.path"][0],
          e.fields["webhook.value[/user/name]"][0],
        ]),
        [["/a", "alice"], ["/b", "bob"], ["/c", "carol"]],
      );
      assert.match(stderr, /refused a request from 127\.0\.0\.1:[0-9]+: 413/);
      assert.match(stderr, /webhook: listening on http:\/\/127\.0\.0\.1:/);
    }
  },
});

Deno.test({
  name:
    `webhook over HTTPS inside the .so (${ENGINE}): certificate files granted with allowRead, limits as over HTTP`,
  fn: async () => {
    const so = await pack();
    const certs = await testCerts();
    const cert = join(certs.dir, "cert.pem"), key = join(certs.dir, "key.pem");
    const port = freePort();
    const run = (allowRead: string[]) =>
      new Deno.Command(HOST, {
        args: [
          "--plugin",
          so,
          "--config",
          JSON.stringify({
            maxBodyBytes: 64,
            tlsCertFile: cert,
            tlsKeyFile: key,
            falco_deno: { allowNet: [`127.0.0.1:${port}`], allowRead },
          }),
          "--open",
          `127.0.0.1:${port}`,
          "--max-events",
          "2",
          "--timeout-ms",
          "15000",
          "--field",
          "webhook.value[/user/name]",
          "--json",
        ],
        stdout: "piped",
        stderr: "piped",
      });
    const result = (out: Deno.CommandOutput) => {
      const text = new TextDecoder().decode(out.stdout);
      return {
        r: JSON.parse(text.slice(text.indexOf("{"))),
        stderr: new TextDecoder().decode(out.stderr),
      };
    };
    // Without the read grant, open fails and says what to grant.
    const denied = result(await run([]).output());
    assert.notEqual(denied.r.end, "maxEvents");
    assert.match(
      JSON.stringify(denied.r) + denied.stderr,
      /Requires read access to .*cert\.pem.*allowRead/,
    );
    const child = run([cert, key]).spawn();
    const client = Deno.createHttpClient({ caCerts: [certs.ca] });
    try {
      await listening(port);
      // plain HTTP on the HTTPS port: the handshake fails, nothing else
      await assert.rejects(post(port, "/plain", "{}"), TypeError);
      assert.equal(
        await post(
          port,
          "/big",
          JSON.stringify({ a: "x".repeat(100) }),
          "POST",
          client,
        ),
        413,
      );
      assert.equal(
        await post(port, "/a", '{"user":{"name":"alice"}}', "POST", client),
        200,
      );
      // the host stops after the second event: its answer may not arrive
      await post(port, "/b", '{"user":{"name":"bob"}}', "POST", client)
        .catch(() => 0);
    } finally {
      client.close();
      const { r, stderr } = result(await child.output());
      assert.equal(r.end, "maxEvents", r.error ?? stderr);
      assert.deepEqual(
        r.events.map((e: { fields: Record<string, string[]> }) =>
          e.fields["webhook.value[/user/name]"][0]
        ),
        ["alice", "bob"],
      );
      assert.match(stderr, /webhook: listening on https:\/\/127\.0\.0\.1:/);
      assert.match(stderr, /refused a request from 127\.0\.0\.1:[0-9]+: 413/);
    }
  },
});

const PROBE_EXPECTED = [
  "Headers ok",
  "Response ok",
  "Request ok",
  "Deno.serve addr/onListen/shutdown ok",
  "Deno.serve signal ok",
  "Deno.serve denied port ok",
  "fetch from Deno.serve ok",
  "fetch denied URL ok",
  "Deno.serve 200 open/close cycles ok",
  "Deno.serve HTTPS + fetch with createHttpClient caCerts ok",
  "fetch from an outside HTTPS server ok",
  "fetch https without the test CA is refused ok",
  "plain HTTP to the HTTPS port fails, the server goes on ok",
  "Deno.serve bad PEM fails cleanly, the port stays free ok",
  "createHttpClient close ok",
];

/**
 * Deno's own HTTPS server with the test certificate, answering
 * `outside <path>`: what the probe fetches from.
 */
function outsideHttps(certs: TestCerts) {
  const port = freePort();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port,
    cert: certs.cert,
    key: certs.key,
    onListen: () => {},
  }, (req) => new Response(`outside ${new URL(req.url).pathname}`));
  return { port, server };
}

/** The serve probe's open params and the grants it needs. */
async function probeSetup() {
  const certs = await testCerts();
  const outside = outsideHttps(certs);
  // The probe takes port + 1 as a port it is not granted.
  let port = freePort();
  while (port + 1 === outside.port) port = freePort();
  return {
    outside,
    params: { port, tls: certs.dir, outsidePort: outside.port },
    net: [`127.0.0.1:${port}`, `127.0.0.1:${outside.port}`],
    read: ["/proc/self/fd", certs.dir],
  };
}

Deno.test("serve probe under Deno with --allow-net=127.0.0.1:<port>", async () => {
  const { outside, params, net, read } = await probeSetup();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-net=${net.join(",")}`,
        `--allow-read=${read.join(",")}`,
        "--allow-env=FALCO_PROBE_PARAMS",
        join(REPO_ROOT, "tests/web/serve_probe_runner.ts"),
      ],
      env: { FALCO_PROBE_PARAMS: JSON.stringify(params) },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const lines = stdout.split("\n").filter((l) => / (ok|FAIL)/.test(l));
    assert.deepEqual(lines, PROBE_EXPECTED);
  } finally {
    await outside.server.shutdown();
  }
});

Deno.test({
  name:
    `serve probe inside the .so (${ENGINE}) with allowNet=[127.0.0.1:<port>]`,
  fn: async () => {
    const so = await pack("tests/web/serve_probe.ts", "serve_probe");
    const { outside, params, net, read } = await probeSetup();
    const out = await new Deno.Command(HOST, {
      args: [
        "--plugin",
        so,
        "--config",
        JSON.stringify({ falco_deno: { allowNet: net, allowRead: read } }),
        "--open",
        JSON.stringify(params),
        "--max-events",
        "100",
        "--timeout-ms",
        "30000",
        "--json",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output().finally(() => outside.server.shutdown());
    const text = new TextDecoder().decode(out.stdout);
    const r = JSON.parse(text.slice(text.indexOf("{")));
    assert.equal(r.end, "eof", r.error);
    const texts = r.events.map((e: { payload_hex: string }) =>
      new TextDecoder().decode(
        new Uint8Array(
          e.payload_hex.match(/../g)?.map((h) => parseInt(h, 16)) ?? [],
        ),
      )
    );
    assert.deepEqual(texts, PROBE_EXPECTED);
  },
});

/** A JSON server counting its requests, for the poll plugin. */
function counter(port: number) {
  let n = 0;
  return Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    () => Response.json({ n: ++n, who: { name: "svc" } }),
  );
}

Deno.test("poll under Deno: one event per response, fields", async () => {
  const port = freePort();
  const server = counter(port);
  const h = await PluginHarness.start(poll, {
    config: JSON.stringify({
      intervalMs: 20,
      falco_deno: { allowNet: [`127.0.0.1:${port}`] },
    }),
  });
  await h.open(`http://127.0.0.1:${port}/status`);
  const events = [];
  const end = Date.now() + 5000;
  while (events.length < 2 && Date.now() < end) {
    const r = await h.nextBatch();
    if (Array.isArray(r)) events.push(...r);
    await new Promise((r) => setTimeout(r, 10));
  }
  await h.close();
  const [a, b] = events;
  assert.equal(h.extract(a, "poll.value[/n]"), "1");
  assert.equal(h.extract(b, "poll.value[/n]"), "2");
  assert.equal(h.extract(a, "poll.value[/who/name]"), "svc");
  assert.equal(h.extract(a, "poll.status"), "200");
  assert.equal(h.extract(a, "poll.url"), `http://127.0.0.1:${port}/status`);
  assert.ok(h.metrics().responses >= 2);
  await h.destroy();
  await server.shutdown();
});

Deno.test({
  name:
    `poll inside the .so (${ENGINE}): denied by default, works once granted`,
  fn: async () => {
    const so = await pack("plugins/poll.ts", "poll");
    const port = freePort();
    const server = counter(port);
    const url = `http://127.0.0.1:${port}/status`;
    const run = (config: unknown, timeoutMs: number) =>
      new Deno.Command(HOST, {
        args: [
          "--plugin",
          so,
          "--config",
          JSON.stringify(config),
          "--open",
          url,
          "--max-events",
          "2",
          "--timeout-ms",
          String(timeoutMs),
          "--field",
          "poll.value[/who/name]",
          "--field",
          "poll.status",
          "--json",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    try {
      const denied = await run({ intervalMs: 50 }, 1000);
      const stderr = new TextDecoder().decode(denied.stderr);
      assert.match(
        stderr,
        /poll: fetch .* failed: Requires net access to \\?"127\.0\.0\.1:[0-9]+.*allowNet/,
      );
      const out = await run({
        intervalMs: 50,
        falco_deno: { allowNet: [`127.0.0.1:${port}`] },
      }, 10000);
      const text = new TextDecoder().decode(out.stdout);
      const r = JSON.parse(text.slice(text.indexOf("{")));
      assert.equal(r.end, "maxEvents", r.error);
      assert.deepEqual(
        r.events.map((e: { fields: Record<string, string[]> }) => [
          e.fields["poll.status"][0],
          e.fields["poll.value[/who/name]"][0],
        ]),
        [["200", "svc"], ["200", "svc"]],
      );
    } finally {
      await server.shutdown();
    }
  },
});
