/**
 * The web platform conformance suite: `web_probe.ts` and `plugins/jsonl.ts`
 * run under Deno (with `--allow-read=<dir>` only) and inside the `.so` on
 * QuickJS-ng (granted the same in the init config), and must give the same
 * answers; without grants, the `.so` refuses.
 *
 * `deno test -A tests/web/web_test.ts`. The `.so` part needs the host
 * binary (`~/.cache/falco-deno/target-hosts/release/falco-deno-host`) and
 * builds the generic library if its sources changed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../../runtime/engines.ts";

import { ENGINE, HOST, packPlugin } from "./_host.ts";

async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
) {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

async function fixture() {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "fdweb" }));
  const other = await Deno.realPath(
    await Deno.makeTempDir({ prefix: "fdweb-denied" }),
  );
  await Deno.writeTextFile(join(dir, "a.txt"), "hello\nworld\n");
  await Deno.writeTextFile(join(other, "secret"), "no\n");
  await Deno.symlink(join(other, "secret"), join(dir, "out"));
  const params = JSON.stringify({
    dir,
    denied: join(other, "secret"),
    env: "FALCO_DENO_PROBE_UNGRANTED",
  });
  return { dir, other, params };
}

const EXPECTED = [
  "timers ok",
  "queueMicrotask ok",
  "TextEncoder ok",
  "TextDecoder ok",
  "URL ok",
  "URLSearchParams ok",
  "EventTarget ok",
  "AbortController ok",
  "AbortSignal.timeout ok",
  "structuredClone ok",
  "atob/btoa ok",
  "performance.now ok",
  "console ok",
  "DOMException ok",
  "Deno.readTextFile ok",
  "Deno.readFile ok",
  "Deno.open/read/seek ok",
  "Deno.stat ok",
  "Deno.readDir ok",
  "NotFound ok",
  "denied read ok",
  "link out of the grant ok",
  "denied env ok",
  "followFile ok",
];

/** The web probe and the jsonl plugin, packed. */
async function pack(): Promise<{ probe: string; jsonl: string }> {
  return {
    probe: await packPlugin("tests/web/web_probe.ts", "probe"),
    jsonl: await packPlugin("plugins/jsonl.ts", "jsonl"),
  };
}

function payloads(
  json: string,
): { texts: string[]; end: string; error?: string } {
  const r = JSON.parse(json.slice(json.indexOf("{")));
  const texts = r.events.map((e: { payload_hex: string }) =>
    new TextDecoder().decode(
      new Uint8Array(
        e.payload_hex.match(/../g)?.map((h) => parseInt(h, 16)) ?? [],
      ),
    )
  );
  return { texts, end: r.end, error: r.error };
}

Deno.test("web probe under Deno with --allow-read=<dir>", async () => {
  const { dir, other, params } = await fixture();
  const r = await run(Deno.execPath(), [
    "run",
    `--allow-read=${dir}`,
    "--allow-env=FALCO_PROBE_PARAMS",
    join(REPO_ROOT, "tests/web/probe_runner.ts"),
  ], { FALCO_PROBE_PARAMS: params });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n").filter((l) => / (ok|FAIL)/.test(l));
  assert.deepEqual(lines, EXPECTED);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(other, { recursive: true });
});

Deno.test({
  name: `web probe inside the .so (${ENGINE}) with allowRead=[<dir>]`,
  fn: async () => {
    const so = await pack();
    const { dir, other, params } = await fixture();
    const r = await run(HOST, [
      "--plugin",
      so.probe,
      "--config",
      JSON.stringify({ falco_deno: { allowRead: [dir] } }),
      "--open",
      params,
      "--max-events",
      "100",
      "--json",
    ]);
    const { texts, end, error } = payloads(r.stdout);
    assert.equal(end, "eof", error);
    assert.deepEqual(texts, EXPECTED);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(other, { recursive: true });
  },
});

Deno.test({
  name:
    `jsonl inside the .so (${ENGINE}): denied by default, works once granted`,
  fn: async () => {
    const so = await pack();
    const { dir, other } = await fixture();
    const file = join(dir, "ev.jsonl");
    await Deno.writeTextFile(
      file,
      '{"user":{"name":"alice"}}\n{"user":{"name":"bob"}}\n',
    );
    const args = [
      "--plugin",
      so.jsonl,
      "--open",
      file,
      "--max-events",
      "10",
      "--json",
    ];
    const field = ["--field", "json.value[/user/name]"];
    const denied = payloads(
      (await run(HOST, [...args, "--config", '{"follow": false}'])).stdout,
    );
    assert.equal(denied.end, "error");
    assert.match(
      denied.error!,
      /Requires read access to .*ev\.jsonl.*falco_deno.*allowRead/,
    );
    const r = await run(HOST, [
      ...args,
      ...field,
      "--config",
      JSON.stringify({ follow: false, falco_deno: { allowRead: [file] } }),
    ]);
    const ok = JSON.parse(r.stdout.slice(r.stdout.indexOf("{")));
    assert.equal(ok.end, "eof", ok.error);
    assert.deepEqual(
      ok.events.map((e: { fields: Record<string, string[]> }) =>
        e.fields["json.value[/user/name]"]
      ),
      [["alice"], ["bob"]],
    );
    const relative = payloads(
      (await run(HOST, [
        ...args,
        "--config",
        '{"falco_deno": {"allowRead": ["ev.jsonl"]}}',
      ]))
        .stdout,
    );
    assert.equal(relative.end, "error");
    assert.match(relative.error!, /not an absolute path/);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(other, { recursive: true });
  },
});
