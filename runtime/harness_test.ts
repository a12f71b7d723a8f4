import assert from "node:assert/strict";
import { join } from "node:path";
import { definePlugin } from "./define_plugin.ts";
import { PluginHarness } from "./harness.ts";
import { EOF, type PluginPermissions } from "./types.ts";

const meta = {
  name: "strict",
  id: 999,
  version: "0.1.0",
  description: "d",
  contact: "c",
  eventSource: "strict",
};

/** A plugin whose first `nextBatch` runs `probe` and emits its outcome. */
function probing(
  probe: () => unknown,
  permissions?: PluginPermissions,
) {
  return definePlugin({
    ...meta,
    permissions,
    open: () => ({ done: false }),
    nextBatch: async (_s, c) => {
      if (c.done) return EOF;
      c.done = true;
      try {
        return [`ok ${JSON.stringify(await probe())}`];
      } catch (e) {
        const err = e as Error;
        return [`${err.name}: ${err.message}`];
      }
    },
  });
}

async function outcome(
  probe: () => unknown,
  options: {
    permissions?: PluginPermissions;
    config?: Record<string, unknown>;
  } = {},
): Promise<string> {
  const h = await PluginHarness.start(
    probing(probe, options.permissions),
    { config: options.config ?? {} },
  );
  const [e] = await h.collect();
  await h.destroy();
  return e.text;
}

Deno.test("PluginHarness: a Deno call the .so lacks fails as it does there", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "x");
  assert.equal(
    await outcome(() => Deno.writeTextFile(file, "x"), {
      permissions: { write: [dir] },
    }),
    "TypeError: Deno.writeTextFile is not a function",
  );
  assert.equal(
    await outcome(() => Deno.env.toObject()),
    "TypeError: Deno.env.toObject is not a function",
  );
  assert.equal(
    await outcome(() => crypto.randomUUID()),
    "ReferenceError: crypto is not defined",
  );
  assert.equal(
    await outcome(() => new Deno.Command("true")),
    "TypeError: Deno.Command is not a constructor",
  );
  assert.equal(
    await outcome(() => Deno.open(file, { write: true, create: true })),
    "NotSupported: opening a file for writing is not available inside a falco-deno plugin",
  );
  assert.deepEqual(
    JSON.parse((await outcome(() => Deno.build)).slice(3)),
    { os: "linux", target: "falco-deno" },
  );
  // The test itself keeps the whole of Deno.
  await Deno.writeTextFile(file, "x");
  assert.equal(typeof crypto.randomUUID(), "string");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("PluginHarness: files, env and net outside the grants are refused with the .so's message", async () => {
  const dir = await Deno.makeTempDir();
  const inside = join(dir, "in.txt");
  await Deno.writeTextFile(inside, "in");
  const outsideDir = await Deno.makeTempDir();
  const outside = join(outsideDir, "out.txt");
  await Deno.writeTextFile(outside, "out");
  // Declared permissions are the grants of a test whose config grants nothing.
  assert.equal(
    await outcome(() => Deno.readTextFile(inside), {
      permissions: { read: [dir] },
    }),
    'ok "in"',
  );
  assert.equal(
    await outcome(() => Deno.readTextFile(outside), {
      permissions: { read: [dir] },
    }),
    `NotCapable: Requires read access to "${outside}", grant it in falco.yaml: init_config: {"falco_deno": {"allowRead": [...]}} (as deno's --allow-read)`,
  );
  // A placeholder grants nothing; the config's falco_deno member does, as in
  // falco.yaml.
  assert.match(
    await outcome(() => Deno.readTextFile(inside), {
      permissions: { read: ["<the file in open_params>"] },
    }),
    /^NotCapable: Requires read access/,
  );
  assert.equal(
    await outcome(() => Deno.readTextFile(inside), {
      permissions: { read: ["<the file in open_params>"] },
      config: { falco_deno: { allowRead: [inside] } },
    }),
    'ok "in"',
  );
  assert.equal(
    await outcome(() => Deno.env.get("HOME")),
    'NotCapable: Requires env access to "HOME", grant it in falco.yaml: init_config: {"falco_deno": {"allowEnv": [...]}} (as deno\'s --allow-env)',
  );
  assert.equal(
    await outcome(() => fetch("http://127.0.0.1:9/x")),
    'NotCapable: Requires net access to "127.0.0.1:9", grant it in falco.yaml: init_config: {"falco_deno": {"allowNet": [...]}} (as deno\'s --allow-net)',
  );
  assert.match(
    await outcome(() =>
      Deno.serve(
        { hostname: "127.0.0.1", port: 9, onListen() {} },
        () => new Response(),
      )
    ),
    /^NotCapable: Requires net access to "127\.0\.0\.1:9"/,
  );
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(outsideDir, { recursive: true });
});

Deno.test("PluginHarness: a symlink in a granted directory that points outside it is refused", async () => {
  const dir = await Deno.makeTempDir();
  const outsideDir = await Deno.makeTempDir();
  const secret = join(outsideDir, "secret");
  await Deno.writeTextFile(secret, "secret");
  await Deno.symlink(secret, join(dir, "link"));
  await Deno.writeTextFile(join(dir, "real"), "real");
  await Deno.symlink(join(dir, "real"), join(dir, "inner-link"));
  const config = { falco_deno: { allowRead: [dir] } };
  const link = join(dir, "link");
  assert.equal(
    await outcome(() => Deno.readTextFile(link), { config }),
    `NotCapable: '${link}' resolves to '${await Deno.realPath(
      secret,
    )}', outside the paths granted to read: falco-deno follows no symbolic link out of a grant (grant the target itself in falco.yaml: init_config: {"falco_deno": {"allowRead": [...]}})`,
  );
  assert.match(
    await outcome(() => Deno.open(join(dir, "link")), { config }),
    /^NotCapable: /,
  );
  assert.equal(
    await outcome(() => Deno.readTextFile(join(dir, "inner-link")), { config }),
    'ok "real"',
  );
  // lstat looks at the link itself, which is inside.
  assert.equal(
    await outcome(async () => (await Deno.lstat(join(dir, "link"))).isSymlink, {
      config,
    }),
    "ok true",
  );
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(outsideDir, { recursive: true });
});

Deno.test("PluginHarness: grants are checked as the .so checks them", async () => {
  await assert.rejects(
    () =>
      PluginHarness.start(probing(() => 1), {
        config: { falco_deno: { allowRead: ["logs"] } },
      }),
    /^Error: strict: falco_deno\.allowRead: "logs" is not an absolute path \(Falco's working directory is not the plugin's\)$/,
  );
  for (
    const [member, message] of [
      [
        { noSuchOption: 1 },
        'strict: invalid "falco_deno" member of the init config: unknown field `noSuchOption`, expected one of `batchDeadlineMs`, `callbackDeadlineMs`, `heapLimitMb`, `allowRead`, `allowWrite`, `allowNet`, `allowEnv`, `prefetchFields`',
      ],
      [
        { heapLimitMb: 1 },
        'strict: invalid "falco_deno" member of the init config: callbackDeadlineMs must be > 0 and heapLimitMb >= 8',
      ],
      [
        { allowRead: "x" },
        'strict: invalid "falco_deno" member of the init config: data did not match any variant of untagged enum Grant',
      ],
    ] as const
  ) {
    await assert.rejects(
      () =>
        PluginHarness.start(probing(() => 1), {
          config: { falco_deno: member },
        }),
      (err: Error) => (assert.equal(err.message, message), true),
    );
  }
});

Deno.test("PluginHarness: an ExtractContext or EventView kept past its call throws when read", async () => {
  let kept: { key?: string } | undefined;
  let keptEvent: { text: string } | undefined;
  let keptPayload: Uint8Array | undefined;
  const plugin = definePlugin({
    ...meta,
    open: () => ({ n: 0 }),
    nextBatch: (_s, c) => c.n++ < 2 ? [`event ${c.n}`] : EOF,
    decode: (_s, event) => {
      keptEvent = event;
      return event.text;
    },
    fields: [
      {
        name: "strict.keep",
        type: "string",
        desc: "Keeps its context",
        key: "optional",
        extract: (ctx) => {
          kept = ctx;
          keptPayload = ctx.event.payload;
          return ctx.decoded;
        },
      },
      {
        name: "strict.use_kept",
        type: "string",
        desc: "Reads the kept context",
        extract: () => kept?.key,
      },
    ],
  });
  const h = await PluginHarness.start(plugin);
  const [a, b] = await h.collect();
  assert.equal(h.extract(a, "strict.keep[k]"), "event 1");
  assert.throws(
    () => h.extract(a, "strict.use_kept"),
    /extract of field "strict\.use_kept" failed: The ExtractContext of field "strict\.keep" was kept after its call returned/,
  );
  assert.throws(
    () => keptEvent!.text,
    /The EventView given to decode was kept after its call returned/,
  );
  const first = keptPayload!;
  assert.equal(new TextDecoder().decode(first), "event 1");
  h.extract(b, "strict.keep");
  assert.equal(
    first.length,
    0,
    "a kept payload view is empty once the next event is loaded",
  );
  await h.destroy();
});
