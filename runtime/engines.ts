/**
 * The two engines and the generic library built for each.
 *
 * The generic library (`rust_embed`, one build per engine) is the same for
 * every plugin, so it is built once and kept in the cache, keyed by a hash
 * of the crate's sources. A plugin author without a Rust toolchain points
 * `FALCO_DENO_LIBRARY` (or `--library`) at a prebuilt one instead.
 *
 * @module
 */

import { join } from "node:path";
import { preparePatchedCrates } from "./patched_crates.ts";
import { cacheDir, REPO_ROOT } from "./paths.ts";

export { cacheDir, REPO_ROOT };

/** The engines the embed can be built with. */
export type Engine = "v8" | "quickjs";

/** The `v8` crate version `deno_core` 0.413.0 pins. */
export const V8_VERSION = "150.4.0";
/** File name of the prebuilt V8 static library for this machine. */
export const V8_ARCHIVE_NAME =
  "librusty_v8_simdutf_release_x86_64-unknown-linux-gnu.a.gz";

/** Where the V8 archive was found, and how. */
export interface V8Archive {
  /** Absolute path of the archive. */
  path: string;
  /** Which rule found it. */
  source: "RUSTY_V8_ARCHIVE" | "shared" | "cache";
}

/**
 * Looks for the prebuilt V8 library without downloading, in this order:
 * `RUSTY_V8_ARCHIVE`, `../shared/v8/<version>/`, the cache's
 * `v8/<version>/`.
 *
 * @returns The archive, or `undefined` when none is present.
 *
 * @example
 * ```ts
 * import { findV8Archive } from "./engines.ts";
 * const archive = findV8Archive();
 * console.log(archive ? `V8 from ${archive.path}` : "no V8 archive");
 * ```
 */
export function findV8Archive(): V8Archive | undefined {
  const explicit = Deno.env.get("RUSTY_V8_ARCHIVE");
  if (explicit) return { path: explicit, source: "RUSTY_V8_ARCHIVE" };
  const candidates: [string, V8Archive["source"]][] = [
    [
      join(REPO_ROOT, "..", "shared", "v8", V8_VERSION, V8_ARCHIVE_NAME),
      "shared",
    ],
    [join(cacheDir(), "v8", V8_VERSION, V8_ARCHIVE_NAME), "cache"],
  ];
  for (const [path, source] of candidates) {
    try {
      if (Deno.statSync(path).isFile) return { path, source };
    } catch {
      // not there
    }
  }
  return undefined;
}

/**
 * Picks the engine for a build: the requested one, else V8 when its
 * archive is present, else QuickJS-ng.
 *
 * @param requested The `--engine` flag, if given.
 * @returns The engine and a one-line reason.
 *
 * @example
 * ```ts
 * import { chooseEngine } from "./engines.ts";
 * console.assert(chooseEngine("quickjs").engine === "quickjs");
 * ```
 */
export function chooseEngine(
  requested?: string,
): { engine: Engine; reason: string } {
  if (requested !== undefined) {
    if (requested !== "v8" && requested !== "quickjs") {
      throw new Error(
        `Unknown engine "${requested}": use "v8" or "quickjs"`,
      );
    }
    return { engine: requested, reason: "requested with --engine" };
  }
  const archive = findV8Archive();
  if (archive) {
    return {
      engine: "v8",
      reason: `V8 archive found at ${archive.path} (${archive.source})`,
    };
  }
  return {
    engine: "quickjs",
    reason:
      `no V8 archive (set RUSTY_V8_ARCHIVE or place ${V8_ARCHIVE_NAME} in ../shared/v8/${V8_VERSION}/ or ${
        join(cacheDir(), "v8", V8_VERSION)
      }/)`,
  };
}

/**
 * The hash of the embed's sources (`rust_embed/`): the generic library's
 * cache key, and the build key of its V8 startup snapshot.
 *
 * @returns 16 hex digits.
 *
 * @example
 * ```ts ignore
 * const hash = await sourceHash();
 * ```
 */
export async function sourceHash(): Promise<string> {
  const crate = join(REPO_ROOT, "rust_embed");
  const files: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (
        entry.isDirectory &&
        !["target", "fuzz", "examples"].includes(entry.name)
      ) {
        await walk(path);
      } else if (entry.isFile) files.push(path);
    }
  };
  await walk(crate);
  files.sort();
  const hasher = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode(
        (await Promise.all(
          files.map(async (f) =>
            f.slice(crate.length) + "\0" + await Deno.readTextFile(f)
          ),
        )).join("\0"),
      ),
    ),
  );
  return Array.from(hasher.slice(0, 8), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * Returns the generic library for `engine`, building it with cargo when
 * the cache has none for the current sources. `FALCO_DENO_LIBRARY`
 * overrides the lookup.
 *
 * @param engine The engine.
 * @param log Progress messages.
 * @returns The library's path.
 *
 * @example
 * ```ts ignore
 * const lib = await genericLibrary("quickjs");
 * ```
 */
export async function genericLibrary(
  engine: Engine,
  log: (line: string) => void = (l) => console.error(l),
): Promise<string> {
  const override = Deno.env.get("FALCO_DENO_LIBRARY");
  if (override) return override;
  const hash = await sourceHash();
  const cached = join(
    cacheDir(),
    "lib",
    engine,
    hash,
    "libfalco_deno_embed.so",
  );
  try {
    if (Deno.statSync(cached).isFile) return cached;
  } catch {
    // build it
  }
  const env: Record<string, string> = {
    CARGO_TARGET_DIR: join(cacheDir(), `target-${engine}`),
    // Ties the startup snapshot to this very build (`snapshot.rs`).
    FALCO_DENO_BUILD_KEY: hash,
  };
  if (engine === "v8") {
    const archive = findV8Archive();
    if (archive) env.RUSTY_V8_ARCHIVE = archive.path;
  }
  log(
    `building the generic ${engine} library (once per source change; cached in ${
      join(cacheDir(), "lib")
    })`,
  );
  const started = performance.now();
  await preparePatchedCrates(log);
  const cargo = new Deno.Command("cargo", {
    args: [
      "build",
      "--release",
      "--locked",
      "--no-default-features",
      "--features",
      engine,
      "--lib",
      // V8's startup snapshot is taken by a binary of the same build.
      ...(engine === "v8" ? ["--bin", SNAPSHOT_BIN] : []),
    ],
    cwd: join(REPO_ROOT, "rust_embed"),
    env,
    stdout: "inherit",
    stderr: "inherit",
  });
  const { success } = await cargo.output();
  if (!success) {
    const hint = engine === "v8"
      ? `; the v8 crate needs its prebuilt library: set RUSTY_V8_ARCHIVE to ${V8_ARCHIVE_NAME} (see README, "Building without internet access")`
      : "";
    throw new Error(`Building the generic ${engine} library failed${hint}`);
  }
  await Deno.mkdir(join(cacheDir(), "lib", engine, hash), { recursive: true });
  const tmp = `${cached}.tmp${Deno.pid}`;
  await Deno.copyFile(
    join(env.CARGO_TARGET_DIR, "release", "libfalco_deno_embed.so"),
    tmp,
  );
  await stripSymbols(tmp);
  if (engine === "v8") {
    await appendSnapshot(
      join(env.CARGO_TARGET_DIR, "release", SNAPSHOT_BIN),
      tmp,
    );
  }
  await Deno.rename(tmp, cached);
  log(
    `built the generic ${engine} library in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
  return cached;
}

/**
 * Marks V8's startup snapshot section at the end of a generic library;
 * mirrors `rust_embed/src/snapshot.rs`.
 */
export const SNAPSHOT_MAGIC = "FDENOSN1";

/**
 * The build key of the startup snapshot at the end of a generic library
 * (`blob | key | u64 length | SNAPSHOT_MAGIC`), or `undefined` when it
 * carries none (QuickJS-ng builds).
 *
 * @param library The generic library's path.
 * @returns The key: the source hash of the build that took the snapshot.
 *
 * @example
 * ```ts ignore
 * const key = await snapshotKey(await genericLibrary("v8"));
 * ```
 */
export async function snapshotKey(
  library: string,
): Promise<string | undefined> {
  const file = await Deno.open(library);
  try {
    const tail = new Uint8Array(32);
    await file.seek(-tail.length, Deno.SeekMode.End);
    let read = 0;
    while (read < tail.length) {
      const n = await file.read(tail.subarray(read));
      if (n === null) return undefined;
      read += n;
    }
    const text = new TextDecoder();
    if (text.decode(tail.subarray(24)) !== SNAPSHOT_MAGIC) return undefined;
    return text.decode(tail.subarray(0, 16));
  } finally {
    file.close();
  }
}

/** The binary that takes V8's startup snapshot (`rust_embed/src/bin`). */
const SNAPSHOT_BIN = "falco_deno_snapshot";

/**
 * Takes the startup snapshot with `maker` and appends it, with its trailer,
 * to the library at `library` (`rust_embed/src/snapshot.rs`).
 */
async function appendSnapshot(maker: string, library: string): Promise<void> {
  const blob = `${library}.snapshot`;
  const { success, stderr } = await new Deno.Command(maker, {
    args: [blob],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(
      `taking the V8 startup snapshot failed: ${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
  try {
    await Deno.writeFile(library, await Deno.readFile(blob), { append: true });
  } finally {
    await Deno.remove(blob);
  }
}

/**
 * Drops the static symbol table from a built library: it is not needed to
 * load or run it (the dynamic table, which Falco's loader and the packer
 * use, stays), and on V8 it is 15 MiB. `strip` comes with the C toolchain
 * the build needs anyway.
 *
 * @param path The library, changed in place.
 *
 * @example
 * ```ts ignore
 * await stripSymbols("/tmp/libfalco_deno_embed.so");
 * ```
 */
export async function stripSymbols(path: string): Promise<void> {
  const { success, stderr } = await new Deno.Command("strip", {
    args: ["--strip-all", path],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(
      `strip --strip-all ${path} failed: ${new TextDecoder().decode(stderr)}`,
    );
  }
}
