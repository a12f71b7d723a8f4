import assert from "node:assert/strict";
import { fieldRows, readFieldsTable } from "../runtime/fields_doc.ts";
import { sectionHeading } from "../runtime/docs_cli.ts";
import type { AnyPlugin } from "../runtime/types.ts";

const DIR = new URL("./", import.meta.url);

Deno.test("plugins/README.md: every example plugin's fields table matches its definition", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", DIR));
  const files = [...Deno.readDirSync(DIR)]
    .map((e) => e.name)
    .filter((n) => n.endsWith(".ts") && !n.endsWith("_test.ts"))
    .sort();
  assert.ok(files.length >= 7, `found ${files.join(", ")}`);
  for (const file of files) {
    const plugin = (await import(new URL(file, DIR).href)).default as AnyPlugin;
    const table = readFieldsTable(readme, sectionHeading(file));
    assert.ok(
      table !== undefined,
      `plugins/README.md has no "${
        sectionHeading(file)
      }" section with a fields table`,
    );
    assert.deepEqual(
      table,
      fieldRows(plugin),
      `the fields table of ${file} drifted: run deno task docs plugins/${file} --update plugins/README.md`,
    );
  }
});

Deno.test("deno task docs prints the table that --update writes", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../runtime/docs_cli.ts", import.meta.url).pathname,
      new URL("showcase.ts", DIR).pathname,
    ],
    stdout: "piped",
  }).output();
  assert.equal(out.code, 0);
  const text = new TextDecoder().decode(out.stdout);
  assert.match(text, /^<!-- README-PLUGIN-FIELDS -->\n/);
  assert.match(
    text,
    /\| `showcase\.label` +\| `string` +\| Key, Required +\| The label with the given key +\|/,
  );
  assert.match(text, /\| `showcase\.ports` +\| `uint64 \(list\)` +\| None /);
  const readme = await Deno.readTextFile(new URL("README.md", DIR));
  assert.ok(readme.includes(text.trimEnd()), "the README holds it verbatim");
});
