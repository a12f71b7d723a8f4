// Run with: deno test --allow-read --allow-write plugins/jsonl_test.ts
import assert from "node:assert/strict";
import { PluginHarness } from "../mod.ts";
import jsonl from "./jsonl.ts";
import { jsonPointer } from "../mod.ts";

const LINES = [
  '{"user": {"name": "alice", "roles": ["admin", "dev"]}, "verb": "get", "n": 3}',
  "",
  '{"user": {"name": "bob"}, "a/b": {"m~n": true}}',
  "not json",
];

Deno.test("jsonl reads a file to its end with follow off, fields as the Go json plugin", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/events.jsonl`;
  await Deno.writeTextFile(path, LINES.join("\n") + "\n");
  const h = await PluginHarness.start(jsonl, {
    // As in falco.yaml: jsonl declares only "<the file named in open_params>".
    config: { follow: false, falco_deno: { allowRead: [path] } },
  });
  await h.open(path);
  const events = await h.collect();
  assert.deepEqual(events.map((e) => e.text), [LINES[0], LINES[2], LINES[3]]);
  const [a, b, c] = events;
  assert.equal(h.extract(a, "json.value[/user/name]"), "alice");
  assert.equal(h.extract(a, "json.value[/user/roles/1]"), "dev");
  assert.equal(h.extract(a, "json.value[/user/roles]"), '["admin","dev"]');
  assert.equal(h.extract(a, "json.value[/n]"), "3");
  assert.equal(h.extract(a, "json.value[/missing]"), undefined);
  assert.equal(h.extract(b, "json.value[/a~1b/m~0n]"), "true");
  assert.equal(h.extract(c, "json.value[/user]"), undefined);
  assert.equal(h.extract(c, "json.obj"), undefined);
  assert.equal(
    h.extract(b, "json.obj"),
    JSON.stringify(JSON.parse(LINES[2]), null, 2),
  );
  assert.match(h.extract(a, "json.rawtime") as string, /^[0-9]+$/);
  await h.destroy();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("jsonl follows appends, rotation and truncation", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/events.jsonl`;
  await Deno.writeTextFile(path, '{"i": 0}\n');
  const h = await PluginHarness.start(jsonl, {
    config: { pollMs: 10, falco_deno: { allowRead: [dir] } },
  });
  await h.open(path);
  const seen: string[] = [];
  const take = async (n: number) => {
    while (seen.length < n) {
      const r = await h.nextBatch();
      if (Array.isArray(r)) {
        seen.push(...r.map((e) => h.extract(e, "json.value[/i]") as string));
      }
    }
  };
  await take(1);
  await Deno.writeTextFile(path, '{"i": 1}\n{"i": 2}\n', { append: true });
  await take(3);
  await Deno.rename(path, `${path}.1`);
  await Deno.writeTextFile(path, '{"i": 3}\n');
  await take(4);
  await Deno.writeTextFile(path, '{"i": 4}\n');
  await take(5);
  assert.deepEqual(seen, ["0", "1", "2", "3", "4"]);
  await h.close();
  await h.destroy();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("jsonl refuses a relative path", async () => {
  const h = await PluginHarness.start(jsonl, { config: "{}" });
  await assert.rejects(() => h.open("events.jsonl"), /absolute path/);
  await h.destroy();
});

Deno.test("jsonPointer follows RFC 6901", () => {
  const doc = { a: [{ "b/c": 1 }], "~": 2 };
  assert.equal(jsonPointer(doc, "/a/0/b~1c"), 1);
  assert.equal(jsonPointer(doc, "/~0"), 2);
  assert.equal(jsonPointer(doc, "/a/01"), undefined);
  assert.equal(jsonPointer(doc, ""), doc);
});
