/**
 * The set-up `deno task demo` and `deno task test` do first, before any
 * long build: every tool the command uses is checked; what is missing is
 * installed when this process can (root with `apt-get`; `rustup` and
 * `cargo install` need no root), and otherwise the command stops at once
 * with the one command line that installs it all.
 *
 * What a machine must have beforehand (the README says so): Node.js (for
 * `npx`), Rust through rustup (`cargo`), and, for `deno task test`, Go.
 *
 * @module
 */

import { BUILD_DEPENDENCIES as SINSP_BUILD_DEPENDENCIES } from "./hosts/sinsp/setup.ts";

/** The README's two commands. */
export type Task = "demo" | "test";

/** What a requirement's check can ask of the machine. */
export interface Probe {
  /** Whether `command` is found on `PATH`. */
  has(command: string): boolean;
  /** Whether `path` exists. */
  exists(path: string): boolean;
  /** Whether `command args` runs and exits with 0. */
  succeeds(command: string, args: string[]): Promise<boolean>;
}

/** One thing a task needs. */
export interface Requirement {
  /** What is checked, as a user names it. */
  name: string;
  /** What needs it. */
  why: string;
  /** The tasks that need it. */
  tasks: readonly Task[];
  /** Whether it is there. */
  present(probe: Probe): boolean | Promise<boolean>;
  /** The Debian packages that provide it. */
  apt?: readonly string[];
  /** A command that installs it without root. */
  install?: readonly string[];
  /** The shell command a person runs to install it (no `apt` or `install`). */
  manual?: string;
}

const GO_ARCH = Deno.build.arch === "aarch64" ? "arm64" : "amd64";

/** Rust's installer, as rustup.rs gives it. */
const RUSTUP =
  "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y && . \"$HOME/.cargo/env\"";

/**
 * Everything the two tasks use, in the order they are checked and
 * installed (a C toolchain before what `cargo install` compiles).
 *
 * @example
 * ```ts
 * import { REQUIREMENTS } from "./prerequisites.ts";
 * console.log(REQUIREMENTS.map((r) => r.name).join(", "));
 * ```
 */
export const REQUIREMENTS: readonly Requirement[] = [
  {
    name: "cargo",
    why: "builds the plugin library and the test host",
    tasks: ["demo", "test"],
    present: (p) => p.has("cargo"),
    manual: RUSTUP,
  },
  {
    name: "C and C++ compilers, make, C headers",
    why: "QuickJS-ng and WAMR (v8x) are C; Rust links with cc",
    tasks: ["demo", "test"],
    present: (p) =>
      ["cc", "c++", "gcc", "make"].every((c) => p.has(c)) &&
      p.exists("/usr/include/stdio.h"),
    apt: ["build-essential"],
  },
  {
    name: "cmake",
    why: "builds WAMR, the WebAssembly engine of QuickJS-ng",
    tasks: ["demo", "test"],
    present: (p) => p.has("cmake"),
    apt: ["cmake"],
  },
  {
    name: "git",
    why: "applies our patch to the v8x crate",
    tasks: ["demo", "test"],
    present: (p) => p.has("git"),
    apt: ["git"],
  },
  {
    name: "tar",
    why: "unpacks the v8x crate",
    tasks: ["demo", "test"],
    present: (p) => p.has("tar"),
    apt: ["tar"],
  },
  {
    name: "go",
    why: "Falco's C plugin loader (Go SDK) and the official Go plugins",
    tasks: ["test"],
    present: (p) => p.has("go"),
    manual:
      `curl -sSfL https://go.dev/dl/go1.24.0.linux-${GO_ARCH}.tar.gz | tar -C /usr/local -xz && export PATH="/usr/local/go/bin:$PATH"`,
  },
  {
    name: "openssl",
    why: "makes the certificates of the HTTPS tests",
    tasks: ["test"],
    present: (p) => p.has("openssl"),
    apt: ["openssl"],
  },
  {
    name: "valgrind",
    why: "the leak check of the .so",
    tasks: ["test"],
    present: (p) => p.has("valgrind"),
    apt: ["valgrind"],
  },
  {
    name: "unshare",
    why: "runs the .so with the build tree hidden",
    tasks: ["test"],
    present: (p) => p.has("unshare"),
    apt: ["util-linux"],
  },
  {
    name: "bc",
    why: "the fuzzing script's figures",
    tasks: ["test"],
    present: (p) => p.has("bc"),
    apt: ["bc"],
  },
  {
    name: "libsinsp's build dependencies",
    why: "builds Falco's plugin framework (libsinsp 0.20.0) for its suites",
    tasks: ["test"],
    present: (p) => p.succeeds("dpkg", ["-s", ...SINSP_BUILD_DEPENDENCIES]),
    apt: SINSP_BUILD_DEPENDENCIES,
  },
  {
    name: "Rust nightly toolchain",
    why: "cargo-fuzz builds with sanitizers on nightly",
    tasks: ["test"],
    present: (p) => p.succeeds("rustup", ["run", "nightly", "rustc", "-V"]),
    install: [
      "rustup",
      "toolchain",
      "install",
      "nightly",
      "--profile",
      "minimal",
    ],
  },
  {
    name: "cargo-fuzz",
    why: "the fuzzing runs of the .so",
    tasks: ["test"],
    present: (p) => p.has("cargo-fuzz"),
    install: ["cargo", "install", "--locked", "cargo-fuzz@0.13.2"],
  },
];

/** What this process may do to install. */
export interface Situation {
  /** Running as root. */
  root: boolean;
  /** `apt-get` is on `PATH`. */
  aptGet: boolean;
}

/** What to do about the missing requirements. */
export interface SetupPlan {
  /** Debian packages to install with `apt-get` (after one `apt-get update`). */
  apt: string[];
  /** Commands to run after that, in order. */
  installs: string[][];
  /**
   * Set when this process cannot install everything: the one command line
   * that does it all. Nothing is installed then.
   */
  stop?: string;
}

const shellWord = (w: string) => /^[\w@.\/=:+-]+$/.test(w) ? w : `'${w}'`;

/**
 * The one shell command line that installs `missing` (what a user runs
 * when this process cannot).
 *
 * @param missing The requirements found missing, in {@linkcode REQUIREMENTS} order.
 * @param situation Root or not (`sudo`), `apt-get` or not.
 * @returns The command line.
 *
 * @example
 * ```ts
 * import { installCommand, REQUIREMENTS } from "./prerequisites.ts";
 * const valgrind = REQUIREMENTS.filter((r) => r.name === "valgrind");
 * console.log(installCommand(valgrind, { root: false, aptGet: true }));
 * ```
 */
export function installCommand(
  missing: readonly Requirement[],
  situation: Situation,
): string {
  const steps = missing.flatMap((r) => r.manual ? [r.manual] : []);
  const apt = aptPackages(missing);
  if (apt.length) {
    const sudo = situation.root ? "" : "sudo ";
    steps.push(
      situation.aptGet
        ? `${sudo}apt-get update && ${sudo}apt-get install -y ${apt.join(" ")}`
        : `install the Debian packages ${
          apt.join(" ")
        } (or your system's equivalents)`,
    );
  }
  for (const r of missing) {
    if (r.install) steps.push(r.install.map(shellWord).join(" "));
  }
  return steps.join(" && ");
}

function aptPackages(missing: readonly Requirement[]): string[] {
  return [...new Set(missing.flatMap((r) => r.apt ?? []))];
}

/**
 * Decides how to get the missing requirements: by this process when it can
 * install every one of them, else nothing is done and `stop` holds the one
 * command line for the user.
 *
 * @param missing The requirements found missing, in {@linkcode REQUIREMENTS} order.
 * @param situation Root or not, `apt-get` or not.
 * @returns The plan.
 *
 * @example
 * ```ts
 * import { planSetup, REQUIREMENTS } from "./prerequisites.ts";
 * const valgrind = REQUIREMENTS.filter((r) => r.name === "valgrind");
 * const plan = planSetup(valgrind, { root: true, aptGet: true });
 * console.assert(plan.apt[0] === "valgrind" && plan.stop === undefined);
 * ```
 */
export function planSetup(
  missing: readonly Requirement[],
  situation: Situation,
): SetupPlan {
  const apt = aptPackages(missing);
  const manual = missing.some((r) => r.manual !== undefined);
  const canApt = apt.length === 0 || (situation.root && situation.aptGet);
  if (!manual && canApt) {
    return {
      apt,
      installs: missing.flatMap((r) => r.install ? [[...r.install]] : []),
    };
  }
  return { apt: [], installs: [], stop: installCommand(missing, situation) };
}

/**
 * The requirements of `task` missing on this machine.
 *
 * @param task The task.
 * @param probe How to look (the machine's own by default).
 * @returns The missing ones, in {@linkcode REQUIREMENTS} order.
 *
 * @example
 * ```ts ignore
 * const missing = await missingFor("demo");
 * ```
 */
export async function missingFor(
  task: Task,
  probe: Probe = machine,
): Promise<Requirement[]> {
  const missing = [];
  for (const r of REQUIREMENTS) {
    if (r.tasks.includes(task) && !(await r.present(probe))) missing.push(r);
  }
  return missing;
}

/** The real machine. */
export const machine: Probe = {
  has(command) {
    for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
      if (dir === "") continue;
      try {
        const info = Deno.statSync(`${dir}/${command}`);
        if (info.isFile && (info.mode ?? 0o111) & 0o111) return true;
      } catch {
        // not in this directory
      }
    }
    return false;
  },
  exists(path) {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  },
  async succeeds(command, args) {
    try {
      const r = await new Deno.Command(command, {
        args,
        stdout: "null",
        stderr: "null",
      }).output();
      return r.success;
    } catch {
      return false;
    }
  },
};

/**
 * Puts the places rustup and Go's archive install into on `PATH` (for this
 * process and what it runs), when they exist and are not there yet: their
 * installers ask the user to do the same in the shell's profile.
 */
function addToolDirsToPath(): void {
  const home = Deno.env.get("HOME") ?? "";
  const path = (Deno.env.get("PATH") ?? "").split(":");
  const extra = [
    Deno.env.get("CARGO_HOME") ? `${Deno.env.get("CARGO_HOME")}/bin` : "",
    `${home}/.cargo/bin`,
    "/usr/local/go/bin",
  ].filter((d) => d && !path.includes(d) && machine.exists(d));
  if (extra.length) Deno.env.set("PATH", [...path, ...extra].join(":"));
}

async function runLoud(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<void> {
  console.log(`setup: $ ${[command, ...args].join(" ")}`);
  const { success, code } = await new Deno.Command(command, {
    args,
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!success) {
    throw new Error(
      `"${command} ${args.join(" ")}" failed with code "${code}"`,
    );
  }
}

/**
 * Checks what `task` needs, installs what is missing when this process can,
 * and otherwise exits at once with code 1 and the command line to run.
 * Call it first, before any build.
 *
 * @param task The task about to run.
 *
 * @example
 * ```ts ignore
 * import { ensurePrerequisites } from "./prerequisites.ts";
 * await ensurePrerequisites("demo");
 * ```
 */
export async function ensurePrerequisites(task: Task): Promise<void> {
  addToolDirsToPath();
  const missing = await missingFor(task);
  if (missing.length === 0) {
    console.log(
      `setup: everything \`deno task ${task}\` uses is here (${
        REQUIREMENTS.filter((r) => r.tasks.includes(task)).map((r) => r.name)
          .join(", ")
      })`,
    );
    return;
  }
  const situation = { root: Deno.uid() === 0, aptGet: machine.has("apt-get") };
  const plan = planSetup(missing, situation);
  const list = missing.map((r) => `  ${r.name}: ${r.why}`).join("\n");
  if (plan.stop !== undefined) {
    console.error(
      `setup: \`deno task ${task}\` needs what is missing here:\n${list}\n` +
        `Install it with:\n\n  ${plan.stop}\n\nthen run the task again.`,
    );
    Deno.exit(1);
  }
  console.log(`setup: installing what is missing:\n${list}`);
  try {
    if (plan.apt.length) {
      const env = { DEBIAN_FRONTEND: "noninteractive" };
      await runLoud("apt-get", ["update", "-qq"], env);
      await runLoud("apt-get", ["install", "-y", "-qq", ...plan.apt], env);
    }
    for (const [command, ...args] of plan.installs) {
      await runLoud(command, args);
    }
  } catch (e) {
    console.error(`setup: ${e instanceof Error ? e.message : e}`);
  }
  const still = await missingFor(task);
  if (still.length) {
    console.error(
      `setup: still missing after installing: ${
        still.map((r) => r.name).join(", ")
      }. Install it with:\n\n  ${installCommand(still, situation)}\n`,
    );
    Deno.exit(1);
  }
  console.log("setup: done");
}

if (import.meta.main) {
  const task = Deno.args[0];
  if (task !== "demo" && task !== "test") {
    console.error("usage: deno run -A tests/prerequisites.ts demo|test");
    Deno.exit(2);
  }
  await ensurePrerequisites(task);
}
