// Run with: deno test -A plugins/k8saudit_test.ts (needs `go` for the oracle)
import assert from "node:assert/strict";
import { join } from "node:path";
import { type HarnessEvent, PluginHarness } from "../mod.ts";
import { buildManifest } from "../runtime/manifest.ts";
import k8saudit, {
  auditEvents,
  extractField,
  goQueryParam,
  parseRfc3339Nano,
} from "./k8saudit.ts";
import { parseJson } from "../runtime/lossless_json.ts";
import {
  compareDumps,
  FIXTURE_DIR,
  fixtureNames,
  harnessDump,
  type OracleDump,
  oracleDump,
} from "../tests/k8saudit_parity.ts";

let oracle: OracleDump | undefined;
const getOracle = async () => oracle ??= await oracleDump();

Deno.test("k8saudit declares the Go plugin's identity and fields exactly", async () => {
  const m = buildManifest(k8saudit);
  assert.equal(m.name, "k8saudit");
  assert.equal(m.id, 1);
  assert.equal(m.version, "0.18.0");
  assert.equal(m.eventSource, "k8s_audit");
  const go = (await getOracle()).fields;
  const ours = JSON.parse(m.fields) as {
    name: string;
    type: string;
    isList?: boolean;
    arg?: { isRequired?: boolean; isIndex?: boolean; isKey?: boolean };
    desc: string;
  }[];
  assert.equal(ours.length, 100);
  assert.deepEqual(
    ours.map((f) => ({
      name: f.name,
      type: f.type,
      isList: f.isList ?? false,
      arg: {
        isRequired: f.arg?.isRequired ?? false,
        isIndex: f.arg?.isIndex ?? false,
        isKey: f.arg?.isKey ?? false,
      },
      desc: f.desc,
    })),
    go.map((f) => ({
      name: f.name,
      type: f.type,
      isList: f.isList,
      arg: f.arg,
      desc: f.desc,
    })),
  );
});

Deno.test("k8saudit gives the Go plugin's events and values on every fixture (harness)", async () => {
  const o = await getOracle();
  const names = await fixtureNames();
  assert.ok(names.length >= 5);
  for (const name of names) {
    const got = await harnessDump(name, o.variants);
    const r = compareDumps(o.fixtures[name], got, o.variants);
    assert.equal(r.failed, 0, `${name}:\n${r.diffs.join("\n")}`);
    assert.ok(r.passed > 0);
  }
});

Deno.test("k8saudit covers every field with a value on some fixture", async () => {
  const o = await getOracle();
  const seen = new Set<string>();
  for (const events of Object.values(o.fixtures)) {
    for (const e of events) {
      for (const [k, v] of Object.entries(e.fields)) {
        if (v !== null) seen.add(k.replace(/\[.*$/, ""));
      }
    }
  }
  // ka.sourceips never has a value in the Go plugin (plugins#236).
  const missing = o.fields.map((f) => f.name).filter((n) =>
    !seen.has(n) && n !== "ka.sourceips"
  );
  assert.deepEqual(missing, []);
});

/** Reads the fixtures: the harness grants nothing the config does not. */
const readFixtures = { falco_deno: { allowRead: [FIXTURE_DIR] } };

async function eventsOf(fixture: string, config = {}) {
  const h = await PluginHarness.start(k8saudit, {
    config: { ...config, ...readFixtures },
  });
  await h.open(join(FIXTURE_DIR, fixture));
  const events = await h.collect();
  return { h, events };
}

const byId = (h: PluginHarness, events: HarnessEvent[], id: string) =>
  events.find((e) => h.extract(e, "ka.auditid") === id)!;

Deno.test("k8saudit matches the values the research note checked in Go", async () => {
  const { h, events } = await eventsOf("pods_and_rbac.jsonl");
  const pod = byId(h, events, "id-1");
  assert.deepEqual(h.extract(pod, "ka.req.pod.containers.add_capabilities"), [
    '["NET_ADMIN","SYS_TIME"]',
  ]);
  // Go reads containers[].runAsUser and spec.runAsUser: real pods give 0.
  assert.deepEqual(h.extract(pod, "ka.req.pod.containers.eff_run_as_user"), [
    "0",
    "0",
    "0",
  ]);
  assert.deepEqual(
    h.extract(pod, "ka.req.pod.containers.image.repository"),
    ["docker.io/library/nginx", "localhost", "busybox"],
  );
  assert.deepEqual(h.extract(pod, "ka.req.pod.containers.host_port"), [
    "8080",
    "443",
    "9090",
  ]);
  assert.equal(
    h.extract(pod, "ka.req.pod.containers.privileged[1]"),
    undefined,
  );
  assert.equal(h.extract(pod, "ka.sourceips"), undefined);
  assert.equal(h.extract(pod, "ka.response.code"), "201");
  const exec = byId(h, events, "id-2");
  assert.equal(h.extract(exec, "ka.uri.param[command]"), "sh");
  await h.destroy();
});

Deno.test("k8saudit fixGoBugs corrects the Go plugin's known field bugs", async () => {
  const { h, events } = await eventsOf("pods_and_rbac.jsonl", {
    fixGoBugs: true,
  });
  const pod = byId(h, events, "id-1");
  assert.deepEqual(h.extract(pod, "ka.sourceips"), ["10.0.0.1", "172.17.0.2"]);
  assert.deepEqual(h.extract(pod, "ka.sourceips[1]"), ["172.17.0.2"]);
  assert.deepEqual(h.extract(pod, "ka.req.pod.containers.eff_run_as_user"), [
    "5",
    "1000",
    "7",
  ]);
  assert.deepEqual(h.extract(pod, "ka.req.pod.containers.eff_run_as_group"), [
    "6",
    "3000",
    "3000",
  ]);
  assert.deepEqual(
    h.extract(pod, "ka.req.pod.containers.image.repository"),
    ["docker.io/library/nginx", "localhost:5000/tools/sidecar", "busybox"],
  );
  assert.equal(h.extract(pod, "ka.req.volume.hostpath[/proc*]"), "true");
  await h.destroy();
});

Deno.test("k8saudit reads lines over 64 KiB and drops events over maxEventSize", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "audit.log");
  const ev = (id: string, blob: string) =>
    JSON.stringify({
      kind: "Event",
      auditID: id,
      stageTimestamp: "2024-05-01T10:00:00Z",
      requestObject: { data: { blob } },
    });
  await Deno.writeTextFile(
    path,
    [
      ev("a", "x"),
      ev("big", "y".repeat(200_000)),
      ev("too-big", "z".repeat(300_000)),
      ev("b", "x"),
    ].join("\n") + "\n",
  );
  const h = await PluginHarness.start(k8saudit, {
    config: { falco_deno: { allowRead: [dir] } },
  });
  await h.open(path);
  const events = await h.collect();
  assert.deepEqual(events.map((e) => h.extract(e, "ka.auditid")), [
    "a",
    "big",
    "b",
  ]);
  assert.equal(
    (h.extract(events[1], "ka.req.configmap.obj") as string).length,
    200_000 + 11,
  );
  await h.destroy();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("k8saudit reads a directory's files oldest first, and refuses other schemes", async () => {
  const dir = await Deno.makeTempDir();
  const ev = (id: string) =>
    JSON.stringify({
      kind: "Event",
      auditID: id,
      stageTimestamp: "2024-05-01T10:00:00Z",
    });
  await Deno.writeTextFile(join(dir, "a.log"), ev("second"));
  await Deno.writeTextFile(join(dir, "b.log"), ev("first") + "\n");
  await Deno.utime(join(dir, "a.log"), 2000, 2000);
  await Deno.utime(join(dir, "b.log"), 1000, 1000);
  await Deno.mkdir(join(dir, "sub"));
  const h = await PluginHarness.start(k8saudit, {
    config: { falco_deno: { allowRead: [dir] } },
  });
  await h.open(` ${dir} `);
  const events = await h.collect();
  assert.deepEqual(events.map((e) => h.extract(e, "ka.auditid")), [
    "first",
    "second",
  ]);
  await h.close();
  await assert.rejects(
    async () => await h.open("ftp://x/y"),
    /scheme "ftp" is not supported/,
  );
  await h.destroy();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("k8saudit follows a file:// path from its end", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "audit.log");
  const ev = (id: string) =>
    JSON.stringify({
      kind: "Event",
      auditID: id,
      stageTimestamp: "2024-05-01T10:00:00Z",
    }) + "\n";
  await Deno.writeTextFile(path, ev("old"));
  const h = await PluginHarness.start(k8saudit, {
    config: { falco_deno: { allowRead: [dir] } },
  });
  await h.open(`file://${path}`);
  const first = h.collect(2);
  await new Promise((r) => setTimeout(r, 300));
  await Deno.writeTextFile(path, ev("new-1") + ev("new-2"), { append: true });
  const events = await first;
  assert.deepEqual(events.map((e) => h.extract(e, "ka.auditid")), [
    "new-1",
    "new-2",
  ]);
  await h.destroy();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("k8saudit serves the audit webhook as the Go plugin", async () => {
  const port = 19765 + Math.floor(Math.random() * 1000);
  const h = await PluginHarness.start(k8saudit, {
    config: {
      webhookMaxBatchSize: 2000,
      falco_deno: { allowNet: [`127.0.0.1:${port}`] },
    },
  });
  await h.open(`http://127.0.0.1:${port}/k8s-audit`);
  const url = `http://127.0.0.1:${port}/k8s-audit`;
  const post = (body: string, type = "application/json", to = url) =>
    fetch(to, { method: "POST", headers: { "content-type": type }, body });
  const list = JSON.stringify({
    kind: "EventList",
    items: [1, 2, 3].map((i) => ({
      kind: "Event",
      auditID: `w${i}`,
      stageTimestamp: "2024-05-01T10:00:00Z",
    })),
  });
  const answers: [number, string][] = [];
  for (
    const r of [
      await post(list),
      await post("not json"),
      await post(list, "text/plain"),
      await post("x".repeat(3000)),
      await fetch(url),
      await post(list, "application/json", url + "/more"),
    ]
  ) {
    answers.push([r.status, (await r.text()).trim()]);
  }
  assert.deepEqual(answers, [
    [200, ""],
    [200, ""],
    [400, "wrong Content Type"],
    [400, "bad request: http: request body too large"],
    [405, "GET method not allowed"],
    [404, "404 page not found"],
  ]);
  const events = await h.collect(3);
  assert.deepEqual(events.map((e) => h.extract(e, "ka.auditid")), [
    "w1",
    "w2",
    "w3",
  ]);
  await h.destroy();
});

Deno.test("auditEvents drops a whole document it does not recognize, and only bad events otherwise", () => {
  const logs: string[] = [];
  const ok = (id: string) =>
    `{"kind":"Event","auditID":"${id}","stageTimestamp":"2024-05-01T10:00:00Z"}`;
  assert.deepEqual(
    auditEvents(`[${ok("a")},{"kind":"Other"}]`, 1000, (m) => logs.push(m)),
    [],
  );
  assert.deepEqual(
    auditEvents(
      `{"kind":"EventList","items":[${ok("a")},{"kind":"Event"}]}`,
      1000,
      (m) => logs.push(m),
    ).map((e) => e.payload),
    [ok("a")],
  );
  assert.deepEqual(auditEvents(ok("a"), 10, (m) => logs.push(m)), []);
  assert.deepEqual(logs, [
    "data not recognized as a k8s audit event",
    "can't read stageTimestamp",
    "event larger than maxEventSize: size=70",
  ]);
});

Deno.test("parseRfc3339Nano parses as Go's time.RFC3339Nano", () => {
  assert.equal(parseRfc3339Nano("1970-01-01T00:00:00Z"), 0n);
  assert.equal(
    parseRfc3339Nano("2024-05-01T12:00:00.5+02:00"),
    1714557600500000000n,
  );
  assert.equal(parseRfc3339Nano("2024-02-29T00:00:00Z"), 1709164800000000000n);
  assert.equal(parseRfc3339Nano("2023-02-29T00:00:00Z"), undefined);
  assert.equal(parseRfc3339Nano("2024-05-01T24:00:00Z"), undefined);
  assert.equal(parseRfc3339Nano("2024-05-01T10:00:00"), undefined);
});

Deno.test("goQueryParam gives no value where Go's url package fails", () => {
  assert.equal(goQueryParam("/p?a=1&a=2", "a"), "1");
  assert.equal(goQueryParam("/p?a=x+y%21", "a"), "x y!");
  assert.equal(goQueryParam("/p?a=1;b", "a"), undefined);
  assert.equal(goQueryParam("/p?a=%zz", "a"), undefined);
  assert.equal(goQueryParam("/p%zz?a=1", "a"), undefined);
  assert.equal(goQueryParam("/p?a=1#%zz", "a"), undefined);
  assert.equal(goQueryParam("1a:b?a=1", "a"), undefined);
  assert.equal(goQueryParam("/p\n?a=1", "a"), undefined);
});

Deno.test("extractField needs an auditID, and cuts values at NUL as libsinsp reads them", () => {
  const root = parseJson('{"auditID":"a","verb":"x\\u0000y"}');
  assert.equal(extractField("ka.verb", root, undefined, "", false), "x");
  const noId = parseJson('{"verb":"get"}');
  assert.equal(extractField("ka.verb", noId, undefined, "", false), undefined);
});

Deno.test("k8saudit has every field the official rules name, with its argument", async () => {
  const gomodcache = new TextDecoder().decode(
    (await new Deno.Command("go", { args: ["env", "GOMODCACHE"] }).output())
      .stdout,
  ).trim();
  await getOracle(); // downloads the module
  const rules = await Deno.readTextFile(
    join(
      gomodcache,
      "github.com/falcosecurity/plugins/plugins/k8saudit@v0.18.0/rules/k8s_audit_rules.yaml",
    ),
  );
  const fields = new Map(
    k8saudit.definition.fields!.map((f) => [f.name, f]),
  );
  const used = new Set(
    rules.match(/\bka\.[A-Za-z0-9_.]*[A-Za-z0-9_](\[[^\]]*\])?/g) ?? [],
  );
  assert.ok(used.size >= 33, `${used.size} fields`);
  for (const use of used) {
    const [, name, arg] = /^([^[]+)(?:\[(.*)\])?$/.exec(use)!;
    const f = fields.get(name);
    assert.ok(f, `${name} is missing`);
    assert.equal(f.type, "string", name);
    if (arg !== undefined) {
      assert.ok(f.index || f.key, `${name} takes no argument`);
      if (f.index) assert.match(arg, /^[0-9]+$/, name);
    } else {
      assert.ok(
        f.index !== "required" && f.key !== "required",
        `${name} needs an argument`,
      );
    }
  }
  assert.ok(
    /required_plugin_versions:[\s\S]*name: k8saudit\s+version: 0\.18\.0/.test(
      rules,
    ),
  );
});
