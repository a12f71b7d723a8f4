/**
 * The crates the embed builds with a patch of ours.
 *
 * `rust_embed/Cargo.toml` points `[patch.crates-io]` at
 * `rust_embed/vendor/<name>`, a link (never committed) to the patched
 * sources in the cache. {@linkcode preparePatchedCrates} makes them: it
 * takes the published crate from cargo's download cache or from crates.io,
 * checks its SHA-256 against the pinned one, applies
 * `rust_embed/patches/<name>.patch` and points the link at the result.
 * Every script of ours calls it before cargo; run
 * `deno run -A runtime/patched_crates.ts` before using cargo by hand.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { cacheDir, REPO_ROOT } from "./paths.ts";
import { replaceFile } from "./replace_file.ts";

/** A crate from crates.io built with a patch of ours. */
export interface PatchedCrate {
  /** The crate's name on crates.io. */
  name: string;
  /** The exact version the patch applies to (the one in `Cargo.lock`). */
  version: string;
  /** SHA-256 of the published `.crate` file, as crates.io serves it. */
  sha256: string;
  /** Why we patch it. */
  why: string;
}

/**
 * The crates patched, each with `rust_embed/patches/<name>.patch`.
 *
 * @example
 * ```ts
 * import { PATCHED_CRATES } from "./patched_crates.ts";
 * console.log(PATCHED_CRATES.map((c) => `${c.name} ${c.version}`));
 * ```
 */
export const PATCHED_CRATES: readonly PatchedCrate[] = [
  {
    name: "v8x",
    version: "149.4.0-rc.4",
    sha256: "3701ffb3692a24808503d17f758b0a3f688d2c451779247982566b5941033e63",
    why:
      "QuickJS-ng backend: free templates when their thread ends (200 KiB leaked per plugin instance); keep compiled bytecode in memory when the disk cache is off; install the Temporal polyfill on first use",
  },
];

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const { success, stderr } = await new Deno.Command(cmd, {
    args,
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(
      `${cmd} ${args.join(" ")} (in ${cwd}) failed: ${
        new TextDecoder().decode(stderr).trim()
      }`,
    );
  }
}

async function publishedCrate(
  crate: PatchedCrate,
  cache: string,
): Promise<string> {
  const path = join(
    cache,
    "crates",
    `${crate.name}-${crate.version}.crate`,
  );
  // Ours from an earlier run, or the one cargo downloaded for any project.
  const cargoHome = Deno.env.get("CARGO_HOME") ??
    join(Deno.env.get("HOME") ?? "/", ".cargo");
  const cargoCaches: string[] = [];
  try {
    for await (
      const index of Deno.readDir(join(cargoHome, "registry", "cache"))
    ) {
      cargoCaches.push(
        join(cargoHome, "registry", "cache", index.name, basename(path)),
      );
    }
  } catch {
    // no cargo registry cache
  }
  for (const candidate of [path, ...cargoCaches]) {
    try {
      if (await sha256Hex(await Deno.readFile(candidate)) === crate.sha256) {
        return candidate;
      }
    } catch {
      // absent
    }
  }
  const url =
    `https://static.crates.io/crates/${crate.name}/${crate.name}-${crate.version}.crate`;
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`Downloading ${url} failed: HTTP ${response.status}`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  const actual = await sha256Hex(bytes);
  if (actual !== crate.sha256) {
    throw new Error(
      `${url} has SHA-256 ${actual}, expected ${crate.sha256} (pinned in PATCHED_CRATES)`,
    );
  }
  await Deno.mkdir(dirname(path), { recursive: true });
  await replaceFile(path, bytes);
  return path;
}

async function pointLink(link: string, target: string): Promise<void> {
  try {
    if (await Deno.readLink(link) === target) return;
  } catch {
    // absent or not a link
  }
  await Deno.mkdir(dirname(link), { recursive: true });
  const tmp = `${link}.tmp${Deno.pid}`;
  await Deno.remove(tmp).catch(() => {});
  await Deno.symlink(target, tmp);
  await Deno.rename(tmp, link);
}

/**
 * Makes the patched sources of every crate in {@linkcode PATCHED_CRATES}
 * (once per patch, in the cache) and links `rust_embed/vendor/<name>` to
 * them.
 *
 * @param log Progress messages.
 * @returns The linked directories, by crate name.
 *
 * @example
 * ```ts ignore
 * await preparePatchedCrates();
 * // now cargo can build rust_embed
 * ```
 */
export async function preparePatchedCrates(
  log: (line: string) => void = (l) => console.error(l),
): Promise<Record<string, string>> {
  const cache = cacheDir();
  const linked: Record<string, string> = {};
  for (const crate of PATCHED_CRATES) {
    const patch = join(
      REPO_ROOT,
      "rust_embed",
      "patches",
      `${crate.name}.patch`,
    );
    const patchHash = (await sha256Hex(await Deno.readFile(patch))).slice(
      0,
      16,
    );
    const dir = join(
      cache,
      "crates",
      `${crate.name}-${crate.version}-patched-${patchHash}`,
    );
    try {
      await Deno.stat(join(dir, ".falco-deno-patched"));
    } catch {
      log(`patching ${crate.name} ${crate.version}: ${crate.why}`);
      const archive = await publishedCrate(crate, cache);
      const work = `${dir}.tmp${Deno.pid}`;
      await Deno.remove(work, { recursive: true }).catch(() => {});
      await Deno.mkdir(work, { recursive: true });
      await run("tar", ["xzf", archive, "-C", work], work);
      const sources = join(work, `${crate.name}-${crate.version}`);
      await run("git", ["apply", "--whitespace=nowarn", patch], sources);
      await Deno.writeTextFile(join(sources, ".falco-deno-patched"), patch);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.rename(sources, dir);
      await Deno.remove(work, { recursive: true });
    }
    const link = join(REPO_ROOT, "rust_embed", "vendor", crate.name);
    await pointLink(link, dir);
    linked[crate.name] = link;
  }
  return linked;
}

if (import.meta.main) {
  const linked = await preparePatchedCrates();
  for (const [name, link] of Object.entries(linked)) {
    console.log(`${name}: ${link} -> ${await Deno.readLink(link)}`);
  }
}
