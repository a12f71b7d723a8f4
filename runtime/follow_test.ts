import assert from "node:assert/strict";
import { followFile } from "../mod.ts";

const append = (path: string, text: string) =>
  Deno.writeTextFile(path, text, { append: true });

Deno.test("followFile reads from the start and stops at the end without follow", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/a.log`;
  await Deno.writeTextFile(path, "one\ntwo\r\nthree");
  const lines: string[] = [];
  for await (const l of followFile(path, { from: "start", follow: false })) {
    lines.push(l);
  }
  assert.deepEqual(lines, ["one", "two", "three"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("followFile from the end sees only new lines, across rotation and truncation", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/a.log`;
  await Deno.writeTextFile(path, "old\n");
  const f = followFile(path, { pollMs: 10 });
  const got: string[] = [];
  const take = async (n: number) => {
    while (got.length < n) {
      const lines = await f.nextLines();
      assert.ok(lines !== null);
      got.push(...lines);
    }
  };
  // The first poll opens at the end: "old" is skipped.
  const first = f.nextLines();
  await new Promise((r) => setTimeout(r, 50));
  await append(path, "a1\na2\n");
  got.push(...(await first)!);
  await take(2);
  // A line split over two writes comes out once, whole.
  await append(path, "a3 part");
  await new Promise((r) => setTimeout(r, 40));
  await append(path, "ial\n");
  await take(3);
  // Rotation: the rest of the old file, its unterminated last line, then the new file.
  await append(path, "a4\na5");
  await Deno.rename(path, `${path}.1`);
  await Deno.writeTextFile(path, "b1\n");
  await take(6);
  // Truncation.
  await new Promise((r) => setTimeout(r, 40));
  await Deno.writeTextFile(path, "");
  await new Promise((r) => setTimeout(r, 40));
  await append(path, "c1\n");
  await take(7);
  assert.deepEqual(got, ["a1", "a2", "a3 partial", "a4", "a5", "b1", "c1"]);
  f.close();
  assert.equal(await f.nextLines(), null);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("followFile waits for a file that does not exist yet and reads it from the start", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/later.log`;
  const f = followFile(path, { pollMs: 10 });
  const pending = f.nextLines();
  await new Promise((r) => setTimeout(r, 30));
  await Deno.writeTextFile(path, "x\ny\n");
  assert.deepEqual(await pending, ["x", "y"]);
  f.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("followFile stops on abort", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/a.log`;
  await Deno.writeTextFile(path, "");
  const ac = new AbortController();
  const f = followFile(path, { pollMs: 10, signal: ac.signal });
  const pending = f.nextLines();
  setTimeout(() => ac.abort(), 20);
  assert.equal(await pending, null);
  await Deno.remove(dir, { recursive: true });
});
