/**
 * Builds libsinsp (falcosecurity-libs, the code inside Falco that loads and
 * drives plugins) once per machine, and our small driver on its public API.
 *
 * libsinsp comes from Debian trixie's source package `falcosecurity-libs`
 * {@linkcode LIBSINSP_VERSION}, fetched with a sources list and package
 * lists of our own so the machine's bookworm sources are not touched (no
 * trixie binary package is installed: they pull a newer glibc). Its build
 * dependencies come from the machine's own release. The build is a minimal
 * one (no drivers, no container metadata, no tests) plus `sinsp-example`,
 * installed under `<cache>/libsinsp/<version>/<options hash>/`, and reused
 * by every later run on the machine (CI included).
 *
 * CLI: `deno run -A tests/hosts/sinsp/setup.ts` builds (or reuses) both and
 * prints where they are and how long the libsinsp build took.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { cacheDir, REPO_ROOT } from "../../../runtime/paths.ts";
import { replaceFile } from "../../../runtime/replace_file.ts";

/** The falcosecurity-libs version (plugin API 3.10, the libs of Falco 0.40). */
export const LIBSINSP_VERSION = "0.20.0";

/** The Debian release whose source package is built. */
const SOURCE_SUITE = "trixie";

/** Bookworm packages the build needs (checked with dpkg, installed if missing). */
export const BUILD_DEPENDENCIES = [
  "cmake",
  "g++",
  "pkg-config",
  "dpkg-dev",
  "libvalijson-dev",
  "libjsoncpp-dev",
  "libtbb-dev",
  "libre2-dev",
  "uthash-dev",
  "libelf-dev",
  "zlib1g-dev",
  "libb64-dev",
  "libjq-dev",
  "libabsl-dev",
];

/** The CMake options; their hash is part of the cache key. */
export const CMAKE_OPTIONS = [
  "-DCMAKE_BUILD_TYPE=Release",
  "-DMINIMAL_BUILD=ON",
  "-DUSE_BUNDLED_DEPS=OFF",
  "-DUSE_BUNDLED_DRIVER=OFF",
  "-DENABLE_ENGINE_KMOD=OFF",
  "-DENABLE_ENGINE_BPF=OFF",
  "-DCREATE_TEST_TARGETS=OFF",
  "-DBUILD_LIBSCAP_EXAMPLES=OFF",
  "-DBUILD_LIBSINSP_EXAMPLES=ON",
  "-DBUILD_SHARED_LIBS=OFF",
  "-DVALIJSON_INCLUDE=/usr/include/valijson",
  `-DFALCOSECURITY_LIBS_VERSION=${LIBSINSP_VERSION}`,
];

/**
 * Debian patches reverted after unpacking:
 * `libsinsp-added-missing-libraries.patch` links libsinsp with protobuf,
 * gRPC and abseil for Debian's full build; a minimal build uses none of
 * them (and its executables would not link without them installed).
 */
export const REVERTED_DEBIAN_PATCHES = [
  "libsinsp-added-missing-libraries.patch",
];

/** A libsinsp build ready to use. */
export interface Libsinsp {
  /** Install prefix (`include/`, `lib/`, `lib/pkgconfig/libsinsp.pc`). */
  prefix: string;
  /** The `sinsp-example` binary built with it. */
  sinspExample: string;
  /** Seconds the first (cold) build took: fetch, configure, compile, install. */
  coldBuildSeconds: number;
  /** Seconds this call took (the cached time when `cached`). */
  seconds: number;
  /** Whether the build was reused from the cache. */
  cached: boolean;
  /** The Debian source version built (e.g. `0.20.0-3`). */
  debianVersion: string;
}

/** Our driver on libsinsp's API, built against a {@linkcode Libsinsp}. */
export interface SinspHost {
  /** The `falco-deno-sinsp-host` binary. */
  binary: string;
  /** The libsinsp it is linked with. */
  libsinsp: Libsinsp;
}

type Log = (line: string) => void;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * The cache directory of this libsinsp build: keyed by version and by a
 * hash of the CMake options.
 *
 * @returns An absolute path.
 *
 * @example
 * ```ts
 * import { libsinspCacheDir } from "./setup.ts";
 * console.log(await libsinspCacheDir());
 * ```
 */
export async function libsinspCacheDir(): Promise<string> {
  const key = (await sha256Hex(
    JSON.stringify([CMAKE_OPTIONS, REVERTED_DEBIAN_PATCHES]),
  )).slice(0, 12);
  return join(cacheDir(), "libsinsp", LIBSINSP_VERSION, key);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Runs a command with its output appended to `logFile`; throws on failure. */
async function run(
  cmd: string[],
  options: { cwd?: string; logFile: string; env?: Record<string, string> },
): Promise<string> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: options.cwd,
    env: options.env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const [out, status] = await Promise.all([child.output(), child.status]);
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  await Deno.writeTextFile(
    options.logFile,
    `$ ${cmd.join(" ")}\n${text}\n`,
    { append: true },
  );
  if (!status.success) {
    throw new Error(
      `Command "${
        cmd.join(" ")
      }" failed with code ${status.code} (log: "${options.logFile}"): ${
        text.slice(-2000)
      }`,
    );
  }
  return text;
}

/** The machine's Debian mirror, read from its apt sources. */
async function debianMirror(): Promise<string> {
  const files = ["/etc/apt/sources.list"];
  for await (const e of Deno.readDir("/etc/apt/sources.list.d")) {
    if (e.isFile) files.push(join("/etc/apt/sources.list.d", e.name));
  }
  for (const file of files.sort()) {
    let text;
    try {
      text = await Deno.readTextFile(file);
    } catch {
      continue;
    }
    // deb822 (`URIs: http://.../debian`) or one-line (`deb http://.../debian bookworm main`)
    const m = /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(text) ??
      /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s+\S+/m.exec(text);
    if (m) return m[1];
  }
  return "http://deb.debian.org/debian";
}

async function installMissingDependencies(log: Log, logFile: string) {
  const missing = [];
  for (const pkg of BUILD_DEPENDENCIES) {
    const { success, stdout } = await new Deno.Command("dpkg-query", {
      args: ["-W", "-f=${Status}", pkg],
      stdout: "piped",
      stderr: "null",
    }).output();
    const status = new TextDecoder().decode(stdout);
    if (!success || !status.includes("install ok installed")) missing.push(pkg);
  }
  if (missing.length === 0) return;
  log(`installing build dependencies: ${missing.join(" ")}`);
  await run([
    "apt-get",
    "install",
    "-y",
    "--no-install-recommends",
    ...missing,
  ], { logFile, env: { DEBIAN_FRONTEND: "noninteractive" } });
}

/** Fetches and unpacks the Debian source package; returns its version. */
async function fetchSource(
  dir: string,
  log: Log,
  logFile: string,
): Promise<{ source: string; debianVersion: string }> {
  const apt = join(dir, "apt");
  await Deno.mkdir(join(apt, "lists", "partial"), { recursive: true });
  await Deno.mkdir(join(apt, "cache", "archives", "partial"), {
    recursive: true,
  });
  const mirror = await debianMirror();
  await Deno.writeTextFile(
    join(apt, "sources.list"),
    `deb-src ${mirror} ${SOURCE_SUITE} main\n`,
  );
  // Our own sources list, lists and cache: the machine's apt state is not read
  // for sources nor written.
  const options = [
    "-o",
    `Dir::Etc::sourcelist=${join(apt, "sources.list")}`,
    "-o",
    "Dir::Etc::sourceparts=-",
    "-o",
    `Dir::State::Lists=${join(apt, "lists")}`,
    "-o",
    `Dir::Cache=${join(apt, "cache")}`,
    "-o",
    "APT::Sandbox::User=root",
  ];
  log(`fetching falcosecurity-libs from ${mirror} ${SOURCE_SUITE}`);
  await run(["apt-get", ...options, "update"], { logFile });
  const download = join(dir, "download");
  await Deno.mkdir(download, { recursive: true });
  await run([
    "apt-get",
    ...options,
    "source",
    "--download-only",
    "falcosecurity-libs",
  ], { cwd: download, logFile });
  let dsc = "";
  for await (const e of Deno.readDir(download)) {
    if (e.name.endsWith(".dsc")) dsc = e.name;
  }
  const m = /^falcosecurity-libs_(.+)\.dsc$/.exec(dsc);
  if (!m || !m[1].startsWith(`${LIBSINSP_VERSION}-`)) {
    throw new Error(
      `Expected falcosecurity-libs ${LIBSINSP_VERSION} in ${SOURCE_SUITE}, got "${dsc}"`,
    );
  }
  const source = join(dir, "src");
  await Deno.remove(source, { recursive: true }).catch(() => {});
  // dpkg-source applies Debian's patches (build fixes, PR 2337).
  await run(["dpkg-source", "-x", dsc, source], { cwd: download, logFile });
  for (const patch of REVERTED_DEBIAN_PATCHES) {
    await run([
      "patch",
      "-R",
      "-p1",
      "-i",
      join(source, "debian", "patches", patch),
    ], { cwd: source, logFile });
  }
  return { source, debianVersion: m[1] };
}

const niceBuild = ["nice", "-n", "15"];

function parallelJobs(): string {
  return Deno.env.get("FALCO_DENO_SINSP_JOBS") ??
    String(Math.max(1, Math.min(navigator.hardwareConcurrency ?? 1, 4)));
}

/** Holds an exclusive lock file while `f` runs (one build per machine). */
async function withLock<T>(lockPath: string, f: () => Promise<T>): Promise<T> {
  await Deno.mkdir(dirname(lockPath), { recursive: true });
  const file = await Deno.open(lockPath, { create: true, write: true });
  try {
    await file.lock(true);
    return await f();
  } finally {
    file.close();
  }
}

/**
 * Builds libsinsp and `sinsp-example`, or reuses the cached build.
 *
 * @param log Progress lines.
 * @returns The build.
 *
 * @example
 * ```ts ignore
 * import { ensureLibsinsp } from "./setup.ts";
 * const { prefix } = await ensureLibsinsp();
 * ```
 */
export async function ensureLibsinsp(
  log: Log = (l) => console.error(l),
): Promise<Libsinsp> {
  const started = performance.now();
  const dir = await libsinspCacheDir();
  const stamp = join(dir, "built.json");
  const result = (cached: boolean, recorded: Record<string, unknown>) => ({
    prefix: join(dir, "prefix"),
    sinspExample: join(dir, "prefix", "bin", "sinsp-example"),
    coldBuildSeconds: recorded.coldBuildSeconds as number,
    debianVersion: recorded.debianVersion as string,
    seconds: (performance.now() - started) / 1000,
    cached,
  });
  const readStamp = async () => {
    try {
      return JSON.parse(await Deno.readTextFile(stamp));
    } catch {
      return undefined;
    }
  };
  const done = await readStamp();
  if (done) return result(true, done);
  return await withLock(`${dir}.lock`, async () => {
    const again = await readStamp(); // another process built it meanwhile
    if (again) return result(true, again);
    await Deno.mkdir(dir, { recursive: true });
    const logFile = join(dir, "build.log");
    await Deno.writeTextFile(logFile, "");
    log(
      `building libsinsp ${LIBSINSP_VERSION} in "${dir}" (log: "${logFile}")`,
    );
    await installMissingDependencies(log, logFile);
    const { source, debianVersion } = await fetchSource(dir, log, logFile);
    const build = join(dir, "build");
    await Deno.remove(build, { recursive: true }).catch(() => {});
    const prefix = join(dir, "prefix");
    log("configuring");
    await run([
      "cmake",
      "-S",
      source,
      "-B",
      build,
      ...CMAKE_OPTIONS,
      `-DCMAKE_INSTALL_PREFIX=${prefix}`,
    ], { logFile });
    log(`compiling with ${parallelJobs()} jobs (nice 15); this takes a while`);
    await run([
      ...niceBuild,
      "cmake",
      "--build",
      build,
      "--parallel",
      parallelJobs(),
    ], { logFile });
    await run(["cmake", "--install", build], { logFile });
    await Deno.mkdir(join(prefix, "bin"), { recursive: true });
    await Deno.copyFile(
      join(build, "libsinsp", "examples", "sinsp-example"),
      join(prefix, "bin", "sinsp-example"),
    );
    const recorded = {
      version: LIBSINSP_VERSION,
      debianVersion,
      cmakeOptions: CMAKE_OPTIONS,
      revertedDebianPatches: REVERTED_DEBIAN_PATCHES,
      coldBuildSeconds: Math.round((performance.now() - started) / 100) / 10,
      builtAt: new Date().toISOString(),
    };
    await replaceFile(
      stamp,
      new TextEncoder().encode(JSON.stringify(recorded, null, 2) + "\n"),
    );
    log(`libsinsp built in ${recorded.coldBuildSeconds} s`);
    return result(false, recorded);
  });
}

/** Words of libscap.pc naming archives the build does not produce. */
const ABSENT_PC_LIBRARIES = ["-lscap_savefile_converter"];

/** Libraries libsinsp's static archives need that its .pc files omit. */
const EXTRA_LINK_LIBRARIES = [
  "-ljsoncpp",
  "-lre2",
  "-ltbb",
  "-lb64",
  "-lelf",
  "-lz",
  "-lpthread",
  "-ldl",
  "-lrt",
];

/** The host's source files; their hash keys its binary. */
const HOST_SOURCES = ["host.cpp"];
const HOST_DIR = join(REPO_ROOT, "tests", "hosts", "sinsp");

/**
 * Builds our driver (`host.cpp`) against the cached libsinsp, or reuses it.
 *
 * @param log Progress lines.
 * @returns The binary and its libsinsp.
 *
 * @example
 * ```ts ignore
 * import { ensureSinspHost } from "./setup.ts";
 * const { binary } = await ensureSinspHost();
 * ```
 */
export async function ensureSinspHost(
  log: Log = (l) => console.error(l),
): Promise<SinspHost> {
  const libsinsp = await ensureLibsinsp(log);
  let sources = "";
  for (const f of HOST_SOURCES) {
    sources += await Deno.readTextFile(join(HOST_DIR, f));
  }
  sources += JSON.stringify([EXTRA_LINK_LIBRARIES, ABSENT_PC_LIBRARIES]);
  const key = (await sha256Hex(sources)).slice(0, 12);
  const dir = join(await libsinspCacheDir(), "host", key);
  const binary = join(dir, "falco-deno-sinsp-host");
  if (await exists(binary)) return { binary, libsinsp };
  await Deno.mkdir(dir, { recursive: true });
  const logFile = join(dir, "build.log");
  const pkgConfig = await run(
    ["pkg-config", "--cflags", "--libs", "--static", "libsinsp"],
    {
      logFile,
      env: {
        PKG_CONFIG_PATH: join(libsinsp.prefix, "lib", "pkgconfig"),
      },
    },
  );
  log(`compiling the libsinsp host (log: "${logFile}")`);
  const temporary = `${binary}.tmp${Deno.pid}`;
  await run([
    ...niceBuild,
    "g++",
    "-std=c++17",
    "-O2",
    // libsinsp's headers change with it (container code), and its .pc
    // files do not say so.
    "-DMINIMAL_BUILD",
    "-o",
    temporary,
    ...HOST_SOURCES.map((f) => join(HOST_DIR, f)),
    // The driver's headers (`driver/ppm_api_version.h`, included by
    // libscap's) are not installed without the bundled driver.
    `-I${join(await libsinspCacheDir(), "src")}`,
    ...pkgConfig.trim().split(/\s+/).filter((w) =>
      !ABSENT_PC_LIBRARIES.includes(w)
    ),
    ...EXTRA_LINK_LIBRARIES,
  ], { logFile });
  await Deno.rename(temporary, binary);
  return { binary, libsinsp };
}

if (import.meta.main) {
  const host = await ensureSinspHost();
  console.log(JSON.stringify(
    {
      host: host.binary,
      ...host.libsinsp,
    },
    null,
    2,
  ));
}
