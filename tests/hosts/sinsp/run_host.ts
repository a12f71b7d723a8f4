/**
 * Runs `falco-deno-sinsp-host` (`host.cpp`: plugins driven by libsinsp) on
 * a spec and returns what it printed, typed.
 *
 * @module
 */

/** One plugin to register in a session. */
export interface SinspPluginSpec {
  /** The `.so`. */
  path: string;
  /** Init config, given to libsinsp's `sinsp_plugin::init`. */
  config: string;
  /**
   * `false`: never call its `get_last_error` unless libsinsp does (the Go
   * SDK's dereferences a nil error when nothing failed).
   */
  lastError?: boolean;
}

/** A Falco rule to run on every event: condition and output format. */
export interface SinspRuleSpec {
  /** The rule's name, echoed in the results. */
  name: string;
  /** The condition, macros and lists expanded. */
  condition: string;
  /** The output format. */
  output: string;
}

/** One session: one sinsp inspector, as Falco runs one per event source. */
export interface SinspSessionSpec {
  /** Plugins registered and initialized, in order. */
  plugins: SinspPluginSpec[];
  /** The source plugin to open (by name) and its open params. */
  open?: { plugin: string; params: string };
  /** Filters compiled by libsinsp; each is run on every event. */
  filters?: string[];
  /** Fields formatted per event (JSON and text formatters). */
  fields?: string[];
  /** An output format run on every event. */
  format?: string;
  /** Rules compiled by libsinsp; each is run on every event. */
  rules?: SinspRuleSpec[];
  /**
   * `false`: compile filters and rules without libsinsp's default filter
   * cache (which shares a field's extracted values among its uses in one
   * filter).
   */
  filterCache?: boolean;
  /** Most events to read. */
  maxEvents?: number;
  /** `next` failures tolerated before the session stops (default 0). */
  maxFailures?: number;
  /** Timeouts tolerated before the session stops. */
  maxTimeouts?: number;
  /** Record each event (default); `false` counts only. */
  record?: boolean;
}

/** A plugin as libsinsp read it. */
export interface SinspPluginInfo {
  path: string;
  name?: string;
  version?: string;
  requiredApiVersion?: string;
  caps?: string[];
  id?: number;
  eventSource?: string;
  extractEventSources?: string[];
  extractEventCodes?: number[];
  extractEventTypes?: string[];
  fields?: string[];
  /** Each field's type (libsinsp's name for it) and argument form. */
  fieldInfo?: SinspFieldInfo[];
  initError?: string;
  registerError?: string;
  lastError?: string;
}

/** A field as libsinsp read it from the plugin. */
export interface SinspFieldInfo {
  name: string;
  /** libsinsp's type name (`CHARBUF` for `string`). */
  type: string;
  isList: boolean;
  argRequired: boolean;
  argAllowed: boolean;
  argIndex: boolean;
  argKey: boolean;
}

/** One event as libsinsp delivered and formatted it. */
export interface SinspEvent {
  num: number;
  ts: number;
  type: number;
  source: string;
  pluginId?: number;
  payloadHex?: string;
  /** Values through libsinsp's JSON formatter, as canonical text lists. */
  fields: Record<string, string[] | null>;
  /** Each field through libsinsp's text formatter (`<NA>` without value). */
  text: Record<string, string>;
  /**
   * For each field without a value: the owning plugin's `get_last_error`
   * right after (libsinsp swallows a failed extraction).
   */
  lastErrors?: Record<string, string>;
  /** Whether each filter matched, in spec order. */
  matches: boolean[];
  /** The rules that matched (index in spec order) and their output. */
  fired?: { rule: number; output?: string }[];
  /** The output format's result. */
  output?: string;
}

/** What one session did. */
export interface SinspSessionResult {
  plugins: SinspPluginInfo[];
  openError?: string;
  formatError?: string;
  filters: { filter: string; matched: number; error?: string }[];
  /** Per rule: events matched, and what libsinsp refused. */
  rules?: {
    name: string;
    matched: number;
    conditionError?: string;
    outputError?: string;
  }[];
  events: SinspEvent[];
  errors: string[];
  counts: {
    events: number;
    timeouts: number;
    failures: number;
    outputs: number;
  };
  end: "eof" | "maxEvents" | "failures" | "timeouts" | "openError" | "none";
  loopSeconds: number;
  seconds: number;
  fatal?: string;
}

/** The host's whole answer, with its exit status and stderr. */
export interface SinspHostRun {
  sessions: SinspSessionResult[];
  code: number;
  signal: string | null;
  stderr: string;
}

/**
 * Runs the host on one spec.
 *
 * @param binary The host binary (from `ensureSinspHost`).
 * @param spec The sessions and whether they run in parallel threads.
 * @param options `timeoutMs`: kill the host after this long (default 120 s);
 * `env`: extra environment.
 * @returns The sessions' results; throws when the host printed no JSON.
 *
 * @example
 * ```ts ignore
 * import { runSinspHost } from "./run_host.ts";
 * const { sessions } = await runSinspHost("/path/to/falco-deno-sinsp-host", {
 *   sessions: [{ plugins: [{ path: "libdummy.so", config: "{}" }] }],
 * });
 * console.log(sessions[0].plugins[0].requiredApiVersion);
 * ```
 */
export async function runSinspHost(
  binary: string,
  spec: { parallel?: boolean; sessions: SinspSessionSpec[] },
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<SinspHostRun> {
  const child = new Deno.Command(binary, {
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, options.timeoutMs ?? 120_000);
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(spec)));
  await writer.close();
  const out = await child.output();
  clearTimeout(timer);
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  const line = stdout.split("\n").find((l) => l.startsWith("{"));
  if (!line) {
    throw new Error(
      `The libsinsp host printed no JSON (exit ${out.code}, signal ${out.signal}): ${
        stderr.slice(-2000)
      }`,
    );
  }
  return {
    sessions: JSON.parse(line).sessions,
    code: out.code,
    signal: out.signal,
    stderr,
  };
}
