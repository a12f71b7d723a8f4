/**
 * k8saudit: the Kubernetes audit plugin, field for field with the official
 * Go plugin `k8saudit` 0.18.0 (plugin id 1, source `k8s_audit`), so the
 * official rules file `k8s_audit_rules.yaml` works unchanged.
 *
 * Open params, as the Go plugin:
 * - `http://[host]:port/path` (`http://:9765/k8s-audit`): the audit webhook
 *   (POST, `Content-Type: application/json`, body up to
 *   `webhookMaxBatchSize` bytes); `https://...` serves TLS with
 *   `sslCertificate`, one PEM file holding the certificate and its key.
 * - `file:///var/log/k8s/audit.log`: follows the file from its end, across
 *   rotation and truncation.
 * - a file path: reads it to its end; a directory path: all its regular
 *   files, oldest first.
 *
 * Each line or POST body is a JSON audit `Event`, an `EventList`, or an
 * array of them. An event's payload is its JSON text minified, its time its
 * `stageTimestamp` in ns.
 *
 * Unlike the Go plugin, a line of any length is read (Go stops the capture
 * at a line over 64 KiB, plugins#639); events over `maxEventSize` are
 * dropped and logged by both. Field values are the Go plugin's, its known
 * bugs included (`ka.sourceips` is never set; `eff_run_as_user` and
 * `eff_run_as_group` read the wrong paths; `image.repository` cuts
 * `host:5000/x` at the port; `ka.req.volume.hostpath[...]` looks at the first
 * volume only): set `fixGoBugs: true` for the corrected fields.
 *
 * ```yaml
 * plugins:
 *   - name: k8saudit
 *     library_path: /usr/share/falco/plugins/libk8saudit.so
 *     init_config:
 *       falco_deno: { allowNet: ["0.0.0.0:9765"] }
 *     open_params: http://:9765/k8s-audit
 * ```
 *
 * @module
 */

import {
  definePlugin,
  EOF,
  type EventInput,
  type ExtractContext,
  type FileFollower,
  followFile,
} from "../mod.ts";
import {
  type JsonNode,
  JsonParser,
  parseJsonNode,
  tryPlainJson,
} from "../runtime/lossless_json.ts";
import { utf8Length } from "../runtime/_utf8.ts";

/** Init config: the Go plugin's keys, and `fixGoBugs`. */
export interface K8sAuditConfig {
  /** PEM file with the certificate and its private key, for `https://`. */
  sslCertificate: string;
  /** Accepted for compatibility with the Go plugin; ignored. */
  useAsync: boolean;
  /** Largest event payload in bytes; larger events are dropped and logged. */
  maxEventSize: number;
  /** Largest webhook POST body in bytes. */
  webhookMaxBatchSize: number;
  /** Webhook bodies waiting for `nextBatch`; more are refused with 503. */
  webhookMaxQueue: number;
  /** Correct the Go plugin's known field bugs (see the module doc). */
  fixGoBugs: boolean;
}

const DEFAULT_MAX_EVENT_SIZE = 262144;
/** Events per batch, and lines or bodies read per batch. */
const BATCH = 256;
/** How long a webhook `nextBatch` waits for a body, ms (Go: 30 ms). */
const WAIT_MS = 30;
/** Parsing per `nextBatch` call before returning what is ready, ms. */
const SLICE_MS = 50;
/** Values parsed between two looks at the clock. */
const PARSE_STEP = 2048;
/** Largest line or body parsed natively in one go, in UTF-16 units. */
const FAST_MAX = 4 << 20;

export type { EventInput };

// ---------------------------------------------------------------------------
// Time

const RFC3339 =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})$/;

const daysIn = (y: number, m: number) =>
  m === 2
    ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28)
    : [4, 6, 9, 11].includes(m)
    ? 30
    : 31;

/**
 * Parses a time as Go's `time.Parse(time.RFC3339Nano, s)` into ns since
 * the epoch (wrapped to u64 like the Go SDK's `uint64(UnixNano())`).
 *
 * @param s The time text, such as `2019-06-12T15:50:21.555521Z`.
 * @returns The time in ns, or `undefined` when Go would fail.
 *
 * @example Microseconds kept
 * ```ts
 * import { parseRfc3339Nano } from "./k8saudit.ts";
 * console.assert(
 *   parseRfc3339Nano("2019-06-12T15:50:21.555521Z") === 1560354621555521000n,
 * );
 * ```
 */
export function parseRfc3339Nano(s: string): bigint | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo)) return undefined;
  if (h > 23 || mi > 59 || se > 59) return undefined;
  let offset = 0;
  if (m[8] !== "Z") {
    const oh = Number(m[8].slice(1, 3)), om = Number(m[8].slice(4, 6));
    if (oh > 24 || om > 59) return undefined;
    offset = (oh * 60 + om) * 60 * (m[8][0] === "-" ? -1 : 1);
  }
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, se, 0);
  const frac = (m[7] ?? "").slice(0, 9).padEnd(9, "0");
  const ns = (BigInt(date.getTime() / 1000 - offset)) * 1_000_000_000n +
    BigInt(frac);
  return BigInt.asUintN(64, ns);
}

// ---------------------------------------------------------------------------
// Events from lines and bodies

/**
 * The audit events of one line or POST body, as the Go plugin makes them:
 * an `Event`, the `items` of an `EventList`, or an array of these; the
 * payload is the event's JSON text minified, its time `stageTimestamp`.
 *
 * @param text One line or body.
 * @param maxEventSize Largest payload in bytes.
 * @param log Where to report what is dropped.
 * @returns The events (none when the text is not an audit document).
 *
 * @example One event
 * ```ts
 * import { auditEvents } from "./k8saudit.ts";
 * const [e] = auditEvents(
 *   '{"kind": "Event", "auditID": "a", "stageTimestamp": "2024-01-01T00:00:00Z"}',
 *   262144,
 *   console.warn,
 * );
 * console.assert(e.payload === '{"kind":"Event","auditID":"a","stageTimestamp":"2024-01-01T00:00:00Z"}');
 * console.assert(e.ts === 1704067200000000000n);
 * ```
 */
export function auditEvents(
  text: string,
  maxEventSize: number,
  log: (msg: string) => void,
): EventInput[] {
  let root: JsonNode;
  try {
    root = parseJsonNode(text);
  } catch (e) {
    log(`cannot parse JSON: ${(e as Error).message}`);
    return [];
  }
  const found: JsonNode[] = [];
  const err = collectEvents(root, found);
  if (err !== undefined) {
    log(err);
    return [];
  }
  const out: EventInput[] = [];
  for (const v of found) {
    const e = toEvent(v, maxEventSize);
    if (typeof e === "string") log(e);
    else out.push(e);
  }
  return out;
}

/**
 * The event objects of a parsed line or body. As the Go plugin: a document
 * it does not recognize drops every event of the line or body (the error is
 * returned); a bad event is dropped later, alone ({@linkcode toEvent}).
 */
function collectEvents(v: JsonNode, out: JsonNode[]): string | undefined {
  if (v.kind() === "array") {
    for (const item of v.array()!) {
      const err = collectEvents(item, out);
      if (err !== undefined) return err;
    }
    return undefined;
  }
  const kind = v.get("kind")?.text();
  if (kind === "EventList") {
    const items = v.get("items")?.array();
    if (items !== undefined) {
      for (const item of items) out.push(item);
      return undefined;
    }
  } else if (kind === "Event") {
    out.push(v);
    return undefined;
  }
  return "data not recognized as a k8s audit event";
}

/** One event object as an event (payload, time), or why it is dropped. */
function toEvent(v: JsonNode, maxEventSize: number): EventInput | string {
  const stamp = v.get("stageTimestamp");
  if (stamp === undefined) return "can't read stageTimestamp";
  const text = stamp.text() ?? "";
  const ts = parseRfc3339Nano(text);
  if (ts === undefined) return `cannot parse stageTimestamp "${text}"`;
  const payload = v.marshal();
  // A UTF-16 unit is at most 3 UTF-8 bytes: count only near the limit.
  if (payload.length * 3 > maxEventSize) {
    const size = utf8Length(payload);
    if (size > maxEventSize) {
      return `event larger than maxEventSize: size=${size}`;
    }
  }
  return { payload, ts };
}

// ---------------------------------------------------------------------------
// Go net/url, as far as ka.uri.param needs it

const BAD_ESCAPE = /%(?![0-9a-fA-F]{2})/;
// deno-lint-ignore no-control-regex
const CTL = /[\x00-\x1f\x7f]/;
const AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%[\]<>"]*$/;

/** Go's `url.Parse(uri).RawQuery`, or `undefined` where Go gives an error. */
function goRawQuery(uri: string): string | undefined {
  const hash = uri.indexOf("#");
  const u = hash >= 0 ? uri.slice(0, hash) : uri;
  if (hash >= 0 && BAD_ESCAPE.test(uri.slice(hash + 1))) return undefined;
  if (CTL.test(u)) return undefined;
  if (u === "*") return "";
  let scheme = "", rest = u;
  for (let i = 0; i < u.length; i++) {
    const c = u[i];
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ":") {
      if (i === 0) return undefined;
      scheme = u.slice(0, i);
      rest = u.slice(i + 1);
    }
    break;
  }
  let query = "";
  const q = rest.indexOf("?");
  if (q >= 0) {
    if (q === rest.length - 1) rest = rest.slice(0, q);
    else [rest, query] = [rest.slice(0, q), rest.slice(q + 1)];
  }
  if (!rest.startsWith("/")) {
    if (scheme !== "") return query;
    const slash = rest.indexOf("/");
    if ((slash >= 0 ? rest.slice(0, slash) : rest).includes(":")) {
      return undefined;
    }
  }
  if (
    (scheme !== "" || !rest.startsWith("///")) && rest.startsWith("//")
  ) {
    const slash = rest.indexOf("/", 2);
    const authority = slash >= 0 ? rest.slice(2, slash) : rest.slice(2);
    rest = slash >= 0 ? rest.slice(slash) : "";
    const port = /:([^\]:]*)$/.exec(
      authority.slice(authority.lastIndexOf("@") + 1),
    );
    if (
      !AUTHORITY.test(authority) || BAD_ESCAPE.test(authority) ||
      (port !== null && !/^[0-9]*$/.test(port[1]))
    ) return undefined;
  }
  return BAD_ESCAPE.test(rest) ? undefined : query;
}

/** Go's `url.QueryUnescape`, or `undefined` on a bad escape. */
function queryUnescape(s: string): string | undefined {
  if (BAD_ESCAPE.test(s)) return undefined;
  s = s.replaceAll("+", " ");
  if (!s.includes("%")) return s;
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length;) {
    if (s[i] === "%") {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      const next = s.indexOf("%", i);
      const part = next < 0 ? s.slice(i) : s.slice(i, next);
      bytes.push(...enc.encode(part));
      i += part.length;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/**
 * The first value of a query parameter of a request URI, as the Go plugin's
 * `ka.uri.param` (Go's `url.Parse` then `url.ParseQuery`: a `;` or a bad
 * `%` escape anywhere gives no value).
 *
 * @param uri The request URI.
 * @param key The parameter name.
 * @returns Its first value, or `undefined`.
 *
 * @example Exec command
 * ```ts
 * import { goQueryParam } from "./k8saudit.ts";
 * console.assert(goQueryParam("/api/v1/x/exec?command=sh&stdin=true", "command") === "sh");
 * console.assert(goQueryParam("/x?a=1;b=2", "a") === undefined);
 * ```
 */
export function goQueryParam(uri: string, key: string): string | undefined {
  const query = goRawQuery(uri);
  if (query === undefined) return undefined;
  let found: string | undefined;
  for (const part of query.split("&")) {
    if (part.includes(";")) return undefined;
    if (part === "") continue;
    const eq = part.indexOf("=");
    const k = queryUnescape(eq >= 0 ? part.slice(0, eq) : part);
    const v = queryUnescape(eq >= 0 ? part.slice(eq + 1) : "");
    if (k === undefined || v === undefined) return undefined;
    if (found === undefined && k === key) found = v;
  }
  return found;
}

// ---------------------------------------------------------------------------
// Extraction: the Go plugin's extract.go, function for function

type Values = (JsonNode | null)[];

/** A field's result: a value, values, or none. */
export type FieldResult = string | string[] | undefined;
type Result = FieldResult;

/** The Go plugin's `jsonValueAsString`: a string's text, else its JSON. */
const asString = (v: JsonNode): string => v.text() ?? v.marshal();

/** `arrayAsStrings`: a missing value is an error (no value at all). */
function asStrings(vs: Values): string[] | undefined {
  const out: string[] = [];
  for (const v of vs) {
    if (v === null) return undefined;
    out.push(asString(v));
  }
  return out;
}

const asStringsSkipNull = (vs: Values): string[] => {
  const out: string[] = [];
  for (const v of vs) if (v !== null) out.push(asString(v));
  return out;
};

/**
 * `getValuesRecursive`: walks `keys`; an array met on the way fans out over
 * its items (a missing key gives a `null`) when `index` is negative, else
 * takes item `index`. An empty key stands for the value itself.
 */
function valuesAt(
  v: JsonNode,
  index: number,
  keys: readonly string[],
  from = 0,
): Values | undefined {
  for (let i = from; i < keys.length; i++) {
    if (v.kind() === "array") {
      const items = v.array()!;
      if (index < 0) {
        const out: Values = [];
        for (const item of items) {
          const r = valuesAt(item, index, keys, i);
          if (r === undefined) out.push(null);
          else for (const x of r) out.push(x);
        }
        return out;
      }
      if (index >= items.length) return undefined;
      v = items[index];
    }
    const next = keys[i] === "" ? v : v.get(keys[i]);
    if (next === undefined) return undefined;
    v = next;
  }
  return [v];
}

/** `extractFromKeys`: a list field needs an array. */
function fromKeys(root: JsonNode, list: boolean, keys: string[]): Result {
  const v = root.get(...keys);
  if (v === undefined) return undefined;
  if (!list) return asString(v);
  if (v.kind() !== "array") return undefined;
  return v.array()!.map(asString);
}

const RO = "requestObject";

const containerValues = (
  root: JsonNode,
  list: string,
  index: number,
  ...sub: string[]
) => valuesAt(root, index, [RO, "spec", list, ...sub]);

/** One string per container: its `command` or `args` joined with spaces. */
function joinedArrays(vs: Values | undefined): Result {
  if (vs === undefined) return undefined;
  const out: string[] = [];
  for (const v of vs) {
    if (v === null) continue;
    if (v.kind() !== "array") return undefined;
    const words: string[] = [];
    for (const w of v.array()!) {
      if (w.kind() !== "string") return undefined;
      words.push(w.text()!);
    }
    out.push(words.join(" "));
  }
  return out;
}

/** Go: image cut at the first `:`, then at `@` (`host:5000/x` gives `host`). */
const goRepository = (image: string) => image.split(":")[0].split("@")[0];

/** Fixed: the digest and the tag removed, a registry port kept. */
function repository(image: string): string {
  const at = image.indexOf("@");
  const name = at >= 0 ? image.slice(0, at) : image;
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/") ? name.slice(0, colon) : name;
}

function images(root: JsonNode, list: string, index: number) {
  const vs = containerValues(root, list, index, "image");
  return vs === undefined ? undefined : asStrings(vs);
}

function hostPorts(vs: Values | undefined): Result {
  if (vs === undefined) return undefined;
  const out: string[] = [];
  for (const ports of vs) {
    if (ports === null) continue;
    if (ports.kind() !== "array") return undefined;
    for (const port of ports.array()!) {
      const p = port.get("hostPort") ?? port.get("containerPort");
      if (p !== undefined) out.push(asString(p));
    }
  }
  return out;
}

/** `readFromContainerEffectively`: the container's value, else the pod's, else "0". */
function effective(
  root: JsonNode,
  list: string,
  index: number,
  key: string,
  fix: boolean,
): Result {
  const pod = fix
    ? root.get(RO, "spec", "securityContext", key)
    : root.get(RO, "spec", key);
  const podId = pod === undefined ? "0" : asString(pod);
  const vs = fix
    ? containerValues(root, list, index, "securityContext", key)
    : containerValues(root, list, index, key);
  if (vs === undefined) return undefined;
  return vs.map((v) => v === null ? podId : asString(v));
}

function subjectNames(
  root: JsonNode,
  kind: string,
  withNamespace = false,
): Result {
  const subjects = root.get(RO, "subjects");
  if (subjects === undefined) return [];
  if (subjects.kind() !== "array") return undefined;
  const out: string[] = [];
  for (const s of subjects.array()!) {
    const k = s.get("kind"), n = s.get("name");
    if (k === undefined || n === undefined) continue;
    if (asString(k) !== kind) continue;
    let name = asString(n);
    if (withNamespace) {
      const ns = s.get("namespace");
      if (ns === undefined) continue;
      name = asString(ns) + ":" + name;
    }
    out.push(name);
  }
  return out;
}

function rulesField(root: JsonNode, index: number, key: string): Result {
  const vs = valuesAt(root, index, [RO, "rules", key]);
  if (vs === undefined) return undefined;
  const out: string[] = [];
  for (const v of vs) {
    if (v !== null && v.kind() === "array") {
      for (const x of asStringsSkipNull(v.array()!)) out.push(x);
    }
  }
  return out;
}

function volumeHostPath(root: JsonNode, index: number, key: string): Result {
  const vs = valuesAt(root, index, [RO, "spec", "volumes", "hostPath", "path"]);
  if (vs === undefined) return undefined;
  const prefix = key.endsWith("*") ? key.slice(0, -1) : undefined;
  for (const p of asStringsSkipNull(vs)) {
    if ((prefix !== undefined && p.startsWith(prefix)) || p === key) {
      return "true";
    }
  }
  return "false";
}

function volumeTypes(root: JsonNode, index: number): Result {
  const vs = valuesAt(root, index, [RO, "spec", "volumes", ""]);
  if (vs === undefined) return undefined;
  const out: string[] = [];
  for (const v of vs) {
    for (const [k] of v?.entries() ?? []) if (k !== "name") out.push(k);
  }
  return out;
}

function sourceIps(root: JsonNode, index: number, fix: boolean): Result {
  if (!fix) return rulesField(root, index, "sourceIPs");
  const ips = root.get("sourceIPs")?.array();
  if (ips === undefined) return undefined;
  if (index < 0) return asStringsSkipNull(ips);
  return index < ips.length ? [asString(ips[index])] : undefined;
}

/** What an extractor gets: the parsed event, `-1` or the index, the key. */
interface Args {
  root: JsonNode;
  index: number;
  key: string;
  fix: boolean;
}

type Extractor = (a: Args) => Result;

function containerExtractors(list: string): Record<string, Extractor> {
  const sc = (key: string): Extractor => ({ root, index }) => {
    const vs = containerValues(root, list, index, "securityContext", key);
    return vs === undefined ? undefined : asStringsSkipNull(vs);
  };
  const p = `ka.req.pod.${list}.`;
  return {
    [p + "args"]: ({ root, index }) =>
      joinedArrays(containerValues(root, list, index, "args")),
    [p + "command"]: ({ root, index }) =>
      joinedArrays(containerValues(root, list, index, "command")),
    [p + "name"]: ({ root, index }) => {
      const vs = containerValues(root, list, index, "name");
      return vs === undefined ? undefined : asStrings(vs);
    },
    [p + "image"]: ({ root, index }) => images(root, list, index),
    [p + "image.repository"]: ({ root, index, fix }) =>
      images(root, list, index)?.map(fix ? repository : goRepository),
    [p + "host_port"]: ({ root, index }) =>
      hostPorts(containerValues(root, list, index, "ports")),
    [p + "privileged"]: sc("privileged"),
    [p + "allow_privilege_escalation"]: sc("allowPrivilegeEscalation"),
    [p + "read_only_fs"]: sc("readOnlyRootFilesystem"),
    [p + "run_as_user"]: sc("runAsUser"),
    [p + "eff_run_as_user"]: ({ root, index, fix }) =>
      effective(root, list, index, "runAsUser", fix),
    [p + "run_as_group"]: sc("runAsGroup"),
    [p + "eff_run_as_group"]: ({ root, index, fix }) =>
      effective(root, list, index, "runAsGroup", fix),
    [p + "proc_mount"]: sc("procMount"),
    [p + "add_capabilities"]: ({ root, index }) => {
      const vs = containerValues(
        root,
        list,
        index,
        "securityContext",
        "capabilities",
        "add",
      );
      return vs === undefined ? undefined : asStringsSkipNull(vs);
    },
  };
}

const keys = (list: boolean, ...path: string[]): Extractor => ({ root }) =>
  fromKeys(root, list, path);

const ANN = "annotations";

/** Every field's extractor, by field name. */
const EXTRACTORS: Record<string, Extractor> = {
  "ka.auditid": keys(false, "auditID"),
  "ka.stage": keys(false, "stage"),
  "ka.auth.decision": keys(false, ANN, "authorization.k8s.io/decision"),
  "ka.auth.reason": keys(false, ANN, "authorization.k8s.io/reason"),
  "ka.auth.openshift.decision": keys(
    false,
    ANN,
    "authentication.openshift.io/decision",
  ),
  "ka.validations.admission.policy.failure": keys(
    false,
    ANN,
    "validation.policy.admission.k8s.io/validation_failure",
  ),
  "ka.security.pod.violations": keys(
    false,
    ANN,
    "pod-security.kubernetes.io/audit-violations",
  ),
  "ka.auth.openshift.username": keys(
    false,
    ANN,
    "authentication.openshift.io/username",
  ),
  "ka.user.name": keys(false, "user", "username"),
  "ka.user.groups": keys(true, "user", "groups"),
  "ka.impuser.name": keys(false, "impersonatedUser", "username"),
  "ka.verb": keys(false, "verb"),
  "ka.uri": keys(false, "requestURI"),
  "ka.uri.param": ({ root, key }) => {
    const uri = root.get("requestURI");
    return uri === undefined ? undefined : goQueryParam(asString(uri), key);
  },
  "ka.target.name": keys(false, "objectRef", "name"),
  "ka.target.namespace": keys(false, "objectRef", "namespace"),
  "ka.target.resource": keys(false, "objectRef", "resource"),
  "ka.target.subresource": keys(false, "objectRef", "subresource"),
  "ka.target.pod.name": ({ root }) => {
    const ref = root.get("objectRef");
    if ((ref?.get("resource")?.text() ?? "") !== "pods") return undefined;
    if ((ref?.get("subresource")?.text() ?? "") !== "") return undefined;
    return fromKeys(root, false, ["responseObject", "metadata", "name"]);
  },
  "ka.req.binding.subjects": keys(true, RO, "subjects"),
  "ka.req.binding.subjects.user_names": ({ root }) =>
    subjectNames(root, "User"),
  "ka.req.binding.subjects.serviceaccount_names": ({ root }) =>
    subjectNames(root, "ServiceAccount"),
  "ka.req.binding.subjects.serviceaccount_ns_names": ({ root }) =>
    subjectNames(root, "ServiceAccount", true),
  "ka.req.binding.subjects.group_names": ({ root }) =>
    subjectNames(root, "Group"),
  "ka.req.binding.role": keys(false, RO, "roleRef", "name"),
  // The Go plugin documents "N/A" but returns "true".
  "ka.req.binding.subject.has_name": () => "true",
  "ka.req.configmap.name": keys(false, "objectRef", "name"),
  "ka.req.configmap.obj": keys(false, RO, "data"),
  "ka.req.container.image": ({ root }) => images(root, "containers", 0)?.[0],
  "ka.req.container.image.repository": ({ root, fix }) => {
    const image = images(root, "containers", 0)?.[0];
    return image === undefined
      ? undefined
      : (fix ? repository : goRepository)(image);
  },
  "ka.req.pod.host_ipc": keys(false, RO, "spec", "hostIPC"),
  "ka.req.pod.host_network": keys(false, RO, "spec", "hostNetwork"),
  "ka.req.container.host_network": keys(false, RO, "spec", "hostNetwork"),
  "ka.req.pod.host_pid": keys(false, RO, "spec", "hostPID"),
  "ka.req.container.privileged": ({ root }) => {
    const vs = containerValues(
      root,
      "containers",
      -1,
      "securityContext",
      "privileged",
    );
    if (vs === undefined) return undefined;
    return vs.some((v) => v !== null && v.isTrue()) ? "true" : "false";
  },
  "ka.req.pod.run_as_user": keys(
    false,
    RO,
    "spec",
    "securityContext",
    "runAsUser",
  ),
  "ka.req.pod.run_as_group": keys(
    false,
    RO,
    "spec",
    "securityContext",
    "runAsGroup",
  ),
  "ka.req.role.rules": keys(true, RO, "rules"),
  "ka.req.role.rules.apiGroups": ({ root, index }) =>
    rulesField(root, index, "apiGroups"),
  "ka.req.role.rules.nonResourceURLs": ({ root, index }) =>
    rulesField(root, index, "nonResourceURLs"),
  "ka.req.role.rules.verbs": ({ root, index }) =>
    rulesField(root, index, "verbs"),
  "ka.req.role.rules.resources": ({ root, index }) =>
    rulesField(root, index, "resources"),
  "ka.req.pod.fs_group": keys(false, RO, "spec", "securityContext", "fsGroup"),
  "ka.req.pod.supplemental_groups": keys(
    true,
    RO,
    "spec",
    "securityContext",
    "supplementalGroups",
  ),
  "ka.req.service.type": keys(false, RO, "spec", "type"),
  "ka.req.service.ports": ({ root, index }) => {
    const vs = valuesAt(root, index, [RO, "spec", "ports"]);
    return vs === undefined ? undefined : asStringsSkipNull(vs);
  },
  // Go: a key argument makes `argIndexFilter` give index 0, so only the
  // first volume is looked at.
  "ka.req.volume.hostpath": ({ root, key, fix }) =>
    volumeHostPath(root, fix ? -1 : 0, key),
  "ka.req.pod.volumes.hostpath": ({ root, index }) => {
    const vs = valuesAt(root, index, [
      RO,
      "spec",
      "volumes",
      "hostPath",
      "path",
    ]);
    return vs === undefined ? undefined : asStringsSkipNull(vs);
  },
  "ka.req.pod.volumes.flexvolume_driver": ({ root, index }) => {
    const vs = valuesAt(root, index, [
      RO,
      "spec",
      "volumes",
      "flexVolume",
      "driver",
    ]);
    return vs === undefined ? undefined : asStringsSkipNull(vs);
  },
  "ka.req.pod.volumes.volume_type": ({ root, index }) =>
    volumeTypes(root, index),
  "ka.resp.name": keys(false, "responseObject", "metadata", "name"),
  "ka.response.code": keys(false, "responseStatus", "code"),
  "ka.response.reason": keys(false, "responseStatus", "reason"),
  "ka.useragent": keys(false, "userAgent"),
  "ka.sourceips": ({ root, index, fix }) => sourceIps(root, index, fix),
  "ka.cluster.name": keys(false, ANN, "cluster_name"),
  ...containerExtractors("containers"),
  ...containerExtractors("initContainers"),
  ...containerExtractors("ephemeralContainers"),
};

/** libsinsp reads a string value as a C string: it ends at the first NUL. */
const cString = (s: string) => {
  const nul = s.indexOf("\0");
  return nul < 0 ? s : s.slice(0, nul);
};

/**
 * Extracts one field from a parsed event as the Go plugin does, with the
 * same gate (an `auditID` member). Errors and missing values give
 * `undefined`, as both end as "no value" in Falco; an empty list too.
 *
 * @param field The field name.
 * @param root The parsed event (`undefined` when it is not JSON).
 * @param index The index argument, or `undefined`.
 * @param key The key argument (`""` when none).
 * @param fix Correct the Go plugin's known bugs.
 * @returns The value, the values, or `undefined`.
 *
 * @example A user name
 * ```ts
 * import { extractField } from "./k8saudit.ts";
 * import { parseJson } from "../runtime/lossless_json.ts";
 * const root = parseJson('{"auditID":"a","user":{"username":"ana"}}');
 * console.assert(extractField("ka.user.name", root, undefined, "", false) === "ana");
 * ```
 */
export function extractField(
  field: string,
  root: JsonNode | undefined,
  index: number | undefined,
  key: string,
  fix: boolean,
): FieldResult {
  if (root === undefined || root.get("auditID") === undefined) {
    return undefined;
  }
  const r = EXTRACTORS[field]?.({ root, index: index ?? -1, key, fix });
  if (Array.isArray(r)) return r.length === 0 ? undefined : r.map(cString);
  return r === undefined ? undefined : cString(r);
}

/**
 * The parsed event for extraction, as the Go plugin's `DecodeReader`: only a
 * payload starting with `{` or `[` that parses.
 *
 * @param payload The event payload.
 * @param text The payload as text.
 * @returns The parsed event, or `undefined`.
 */
export function decodeAuditEvent(
  payload: Uint8Array,
  text: string,
): JsonNode | undefined {
  if (payload[0] !== 0x7b && payload[0] !== 0x5b) return undefined;
  try {
    return parseJsonNode(text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Fields: names, list flags, arguments and descriptions of the Go plugin

const NONE = 0, INDEX = 1, KEY = 2;

const FIELDS: [string, boolean, number, string][] = [
  ["ka.auditid", false, NONE, "The unique id of the audit event"],
  [
    "ka.stage",
    false,
    NONE,
    "Stage of the request (e.g. RequestReceived, ResponseComplete, etc.)",
  ],
  ["ka.auth.decision", false, NONE, "The authorization decision"],
  ["ka.auth.reason", false, NONE, "The authorization reason"],
  [
    "ka.auth.openshift.decision",
    false,
    NONE,
    "The authentication decision of the openshfit apiserver extention. Only available on openshift clusters",
  ],
  [
    "ka.validations.admission.policy.failure",
    false,
    NONE,
    "The validation failure reason from a Validation Admission Policy",
  ],
  [
    "ka.security.pod.violations",
    false,
    NONE,
    "The violation reason for pod security policy ",
  ],
  [
    "ka.auth.openshift.username",
    false,
    NONE,
    "The user name performing the openshift authentication operation. Only available on openshift clusters",
  ],
  ["ka.user.name", false, NONE, "The user name performing the request"],
  ["ka.user.groups", true, NONE, "The groups to which the user belongs"],
  ["ka.impuser.name", false, NONE, "The impersonated user name"],
  ["ka.verb", false, NONE, "The action being performed"],
  ["ka.uri", false, NONE, "The request URI as sent from client to server"],
  [
    "ka.uri.param",
    false,
    KEY,
    "The value of a given query parameter in the uri (e.g. when uri=/foo?key=val, ka.uri.param[key] is val).",
  ],
  ["ka.target.name", false, NONE, "The target object name"],
  ["ka.target.namespace", false, NONE, "The target object namespace"],
  ["ka.target.resource", false, NONE, "The target object resource"],
  ["ka.target.subresource", false, NONE, "The target object subresource"],
  ["ka.target.pod.name", false, NONE, "The target pod name"],
  [
    "ka.req.binding.subjects",
    true,
    NONE,
    "When the request object refers to a cluster role binding, the subject (e.g. account/users) being linked by the binding",
  ],
  [
    "ka.req.binding.subjects.user_names",
    true,
    NONE,
    "When the request object refers to a cluster role binding, the subject user names being linked by the binding",
  ],
  [
    "ka.req.binding.subjects.serviceaccount_names",
    true,
    NONE,
    "When the request object refers to a cluster role binding, the subject service account names being linked by the binding",
  ],
  [
    "ka.req.binding.subjects.serviceaccount_ns_names",
    true,
    NONE,
    "When the request object refers to a cluster role binding, the subject serviceaccount namespaced names being linked by the binding, e.g. a list containing: mynamespace:myserviceaccount",
  ],
  [
    "ka.req.binding.subjects.group_names",
    true,
    NONE,
    "When the request object refers to a cluster role binding, the subject group names being linked by the binding",
  ],
  [
    "ka.req.binding.role",
    false,
    NONE,
    "When the request object refers to a cluster role binding, the role being linked by the binding",
  ],
  [
    "ka.req.binding.subject.has_name",
    false,
    KEY,
    'Deprecated, always returns "N/A". Only provided for backwards compatibility',
  ],
  [
    "ka.req.configmap.name",
    false,
    NONE,
    "If the request object refers to a configmap, the configmap name",
  ],
  [
    "ka.req.configmap.obj",
    false,
    NONE,
    "If the request object refers to a configmap, the entire configmap object",
  ],
  [
    "ka.req.pod.containers.args",
    true,
    INDEX,
    "When the request object refers to a pod, the container's args.",
  ],
  [
    "ka.req.pod.containers.command",
    true,
    INDEX,
    "When the request object refers to a pod, the container's command.",
  ],
  [
    "ka.req.pod.containers.name",
    true,
    INDEX,
    "When the request object refers to a pod, the container's names.",
  ],
  [
    "ka.req.pod.containers.image",
    true,
    INDEX,
    "When the request object refers to a pod, the container's images.",
  ],
  [
    "ka.req.container.image",
    false,
    NONE,
    "Deprecated by ka.req.pod.containers.image. Returns the image of the first container only",
  ],
  [
    "ka.req.pod.containers.image.repository",
    true,
    INDEX,
    "The same as req.container.image, but only the repository part (e.g. falcosecurity/falco).",
  ],
  [
    "ka.req.container.image.repository",
    false,
    NONE,
    "Deprecated by ka.req.pod.containers.image.repository. Returns the repository of the first container only",
  ],
  [
    "ka.req.pod.host_ipc",
    false,
    NONE,
    "When the request object refers to a pod, the value of the hostIPC flag.",
  ],
  [
    "ka.req.pod.host_network",
    false,
    NONE,
    "When the request object refers to a pod, the value of the hostNetwork flag.",
  ],
  [
    "ka.req.container.host_network",
    false,
    NONE,
    "Deprecated alias for ka.req.pod.host_network",
  ],
  [
    "ka.req.pod.host_pid",
    false,
    NONE,
    "When the request object refers to a pod, the value of the hostPID flag.",
  ],
  [
    "ka.req.pod.containers.host_port",
    true,
    INDEX,
    "When the request object refers to a pod, all container's hostPort values.",
  ],
  [
    "ka.req.pod.containers.privileged",
    true,
    INDEX,
    "When the request object refers to a pod, the value of the privileged flag for all containers.",
  ],
  [
    "ka.req.container.privileged",
    false,
    NONE,
    "Deprecated by ka.req.pod.containers.privileged. Returns true if any container has privileged=true",
  ],
  [
    "ka.req.pod.containers.allow_privilege_escalation",
    true,
    INDEX,
    "When the request object refers to a pod, the value of the allowPrivilegeEscalation flag for all containers",
  ],
  [
    "ka.req.pod.containers.read_only_fs",
    true,
    INDEX,
    "When the request object refers to a pod, the value of the readOnlyRootFilesystem flag for all containers",
  ],
  [
    "ka.req.pod.run_as_user",
    false,
    NONE,
    "When the request object refers to a pod, the runAsUser uid specified in the security context for the pod. See ....containers.run_as_user for the runAsUser for individual containers",
  ],
  [
    "ka.req.pod.containers.run_as_user",
    true,
    INDEX,
    "When the request object refers to a pod, the runAsUser uid for all containers",
  ],
  [
    "ka.req.pod.containers.eff_run_as_user",
    true,
    INDEX,
    "When the request object refers to a pod, the initial uid that will be used for all containers. This combines information from both the pod and container security contexts and uses 0 if no uid is specified",
  ],
  [
    "ka.req.pod.run_as_group",
    false,
    NONE,
    "When the request object refers to a pod, the runAsGroup gid specified in the security context for the pod. See ....containers.run_as_group for the runAsGroup for individual containers",
  ],
  [
    "ka.req.pod.containers.run_as_group",
    true,
    INDEX,
    "When the request object refers to a pod, the runAsGroup gid for all containers",
  ],
  [
    "ka.req.pod.containers.eff_run_as_group",
    true,
    INDEX,
    "When the request object refers to a pod, the initial gid that will be used for all containers. This combines information from both the pod and container security contexts and uses 0 if no gid is specified",
  ],
  [
    "ka.req.pod.containers.proc_mount",
    true,
    INDEX,
    "When the request object refers to a pod, the procMount types for all containers",
  ],
  [
    "ka.req.role.rules",
    true,
    NONE,
    "When the request object refers to a role/cluster role, the rules associated with the role",
  ],
  [
    "ka.req.role.rules.apiGroups",
    true,
    INDEX,
    "When the request object refers to a role/cluster role, the api groups associated with the role's rules",
  ],
  [
    "ka.req.role.rules.nonResourceURLs",
    true,
    INDEX,
    "When the request object refers to a role/cluster role, the non resource urls associated with the role's rules",
  ],
  [
    "ka.req.role.rules.verbs",
    true,
    INDEX,
    "When the request object refers to a role/cluster role, the verbs associated with the role's rules",
  ],
  [
    "ka.req.role.rules.resources",
    true,
    INDEX,
    "When the request object refers to a role/cluster role, the resources associated with the role's rules",
  ],
  [
    "ka.req.pod.fs_group",
    false,
    NONE,
    "When the request object refers to a pod, the fsGroup gid specified by the security context.",
  ],
  [
    "ka.req.pod.supplemental_groups",
    true,
    NONE,
    "When the request object refers to a pod, the supplementalGroup gids specified by the security context.",
  ],
  [
    "ka.req.pod.containers.add_capabilities",
    true,
    INDEX,
    "When the request object refers to a pod, all capabilities to add when running the container.",
  ],
  [
    "ka.req.service.type",
    false,
    NONE,
    "When the request object refers to a service, the service type",
  ],
  [
    "ka.req.service.ports",
    true,
    INDEX,
    "When the request object refers to a service, the service's ports",
  ],
  [
    "ka.req.pod.volumes.hostpath",
    true,
    INDEX,
    "When the request object refers to a pod, all hostPath paths specified for all volumes",
  ],
  [
    "ka.req.volume.hostpath",
    false,
    KEY,
    "Deprecated by ka.req.pod.volumes.hostpath. Return true if the provided (host) path prefix is used by any volume",
  ],
  [
    "ka.req.pod.volumes.flexvolume_driver",
    true,
    INDEX,
    "When the request object refers to a pod, all flexvolume drivers specified for all volumes",
  ],
  [
    "ka.req.pod.volumes.volume_type",
    true,
    INDEX,
    "When the request object refers to a pod, all volume types for all volumes",
  ],
  ["ka.resp.name", false, NONE, "The response object name"],
  ["ka.response.code", false, NONE, "The response code"],
  [
    "ka.response.reason",
    false,
    NONE,
    "The response reason (usually present only for failures)",
  ],
  [
    "ka.useragent",
    false,
    NONE,
    "The useragent of the client who made the request to the apiserver",
  ],
  [
    "ka.sourceips",
    true,
    INDEX,
    "The IP addresses of the client who made the request to the apiserver",
  ],
  ["ka.cluster.name", false, NONE, "The name of the k8s cluster"],
  [
    "ka.req.pod.initContainers.name",
    true,
    INDEX,
    "When the request object refers to a pod, the init containers names.",
  ],
  [
    "ka.req.pod.initContainers.image",
    true,
    INDEX,
    "When the request object refers to a pod, the init containers images.",
  ],
  [
    "ka.req.pod.initContainers.image.repository",
    true,
    INDEX,
    "The same as ka.req.pod.initContainers.image, but only the repository part (e.g. falcosecurity/falco).",
  ],
  [
    "ka.req.pod.initContainers.command",
    true,
    INDEX,
    "When the request object refers to a pod, the init containers commands.",
  ],
  [
    "ka.req.pod.initContainers.args",
    true,
    INDEX,
    "When the request object refers to a pod, the init containers args.",
  ],
  [
    "ka.req.pod.initContainers.privileged",
    true,
    INDEX,
    "When the request object refers to a pod, the value of the privileged flag for all init containers.",
  ],
  [
    "ka.req.pod.initContainers.allow_privilege_escalation",
    true,
    INDEX,
    "When the request object refers to a pod, the value of the allowPrivilegeEscalation flag for all init containers.",
  ],
  [
    "ka.req.pod.initContainers.read_only_fs",
    true,
    INDEX,
    "When the request object refers to a pod, the value of the readOnlyRootFilesystem flag for all init containers.",
  ],
  [
    "ka.req.pod.initContainers.run_as_user",
    true,
    INDEX,
    "When the request object refers to a pod, the runAsUser uid for all init containers.",
  ],
  [
    "ka.req.pod.initContainers.eff_run_as_user",
    true,
    INDEX,
    "When the request object refers to a pod, the initial uid that will be used for all init containers. This combines information from both the pod and container security contexts and uses 0 if no uid is specified.",
  ],
  [
    "ka.req.pod.initContainers.run_as_group",
    true,
    INDEX,
    "When the request object refers to a pod, the runAsGroup gid for all init containers.",
  ],
  [
    "ka.req.pod.initContainers.eff_run_as_group",
    true,
    INDEX,
    "When the request object refers to a pod, the initial gid that will be used for all init containers. This combines information from both the pod and container security contexts and uses 0 if no gid is specified.",
  ],
  [
    "ka.req.pod.initContainers.proc_mount",
    true,
    INDEX,
    "When the request object refers to a pod, the procMount type for all init containers.",
  ],
  [
    "ka.req.pod.initContainers.add_capabilities",
    true,
    INDEX,
    "When the request object refers to a pod, the capabilities added for all init containers.",
  ],
  [
    "ka.req.pod.initContainers.host_port",
    true,
    INDEX,
    "When the request object refers to a pod, all init containers hostPort values.",
  ],
  [
    "ka.req.pod.ephemeralContainers.name",
    true,
    INDEX,
    "When the request object refers to a pod, the ephemeral containers names.",
  ],
  [
    "ka.req.pod.ephemeralContainers.image",
    true,
    INDEX,
    "When the request object refers to a pod, the ephemeral containers images.",
  ],
  [
    "ka.req.pod.ephemeralContainers.image.repository",
    true,
    INDEX,
    "The same as ka.req.pod.ephemeralContainers.image, but only the repository part (e.g. falcosecurity/falco).",
  ],
  [
    "ka.req.pod.ephemeralContainers.command",
    true,
    INDEX,
    "When the request object refers to a pod, the ephemeral containers commands.",
  ],
  [
    "ka.req.pod.ephemeralContainers.args",
    true,
    INDEX,
    "When the request object refers to a pod, the ephemeral containers args.",
  ],
  [
    "ka.req.pod.ephemeralContainers.privileged",
    true,
    INDEX,
    "When the request object refers to a pod, the value of the privileged flag for all ephemeral containers.",
  ],
  [
    "ka.req.pod.ephemeralContainers.allow_privilege_escalation",
    true,
    INDEX,
    "When the request object refers to a pod, the value of the allowPrivilegeEscalation flag for all ephemeral containers.",
  ],
  [
    "ka.req.pod.ephemeralContainers.read_only_fs",
    true,
    INDEX,
    "When the request object refers to a pod, the value of the readOnlyRootFilesystem flag for all ephemeral containers.",
  ],
  [
    "ka.req.pod.ephemeralContainers.run_as_user",
    true,
    INDEX,
    "When the request object refers to a pod, the runAsUser uid for all ephemeral containers.",
  ],
  [
    "ka.req.pod.ephemeralContainers.eff_run_as_user",
    true,
    INDEX,
    "When the request object refers to a pod, the initial uid that will be used for all ephemeral containers. This combines information from both the pod and container security contexts and uses 0 if no uid is specified.",
  ],
  [
    "ka.req.pod.ephemeralContainers.run_as_group",
    true,
    INDEX,
    "When the request object refers to a pod, the runAsGroup gid for all ephemeral containers.",
  ],
  [
    "ka.req.pod.ephemeralContainers.eff_run_as_group",
    true,
    INDEX,
    "When the request object refers to a pod, the initial gid that will be used for all ephemeral containers. This combines information from both the pod and container security contexts and uses 0 if no gid is specified.",
  ],
  [
    "ka.req.pod.ephemeralContainers.proc_mount",
    true,
    INDEX,
    "When the request object refers to a pod, the procMount type for all ephemeral containers.",
  ],
  [
    "ka.req.pod.ephemeralContainers.add_capabilities",
    true,
    INDEX,
    "When the request object refers to a pod, the capabilities added for all ephemeral containers.",
  ],
];

// ---------------------------------------------------------------------------
// Sources

/** Lines from a file, a directory's files, or a followed file. */
interface LineSource {
  nextLines(max: number): Promise<string[] | null>;
  close(): void;
}

/** A directory's regular files, oldest first, one after the other. */
class DirectoryLines implements LineSource {
  #current: FileFollower | undefined;
  #closed = false;
  constructor(readonly files: string[]) {}

  async nextLines(max: number): Promise<string[] | null> {
    while (!this.#closed) {
      if (this.#current === undefined) {
        const next = this.files.shift();
        if (next === undefined) return null;
        this.#current = followFile(next, { from: "start", follow: false });
      }
      const lines = await this.#current.nextLines(max);
      if (lines !== null) return lines;
      this.#current.close();
      this.#current = undefined;
    }
    return null;
  }

  close(): void {
    this.#closed = true;
    this.#current?.close();
  }
}

/** A file read to its end, or a directory's files; looked at on first read. */
class PathLines implements LineSource {
  #inner: LineSource | undefined;
  #closed = false;
  constructor(readonly path: string) {}

  async nextLines(max: number): Promise<string[] | null> {
    if (this.#inner === undefined) {
      const info = await Deno.stat(this.path);
      if (!info.isDirectory) {
        this.#inner = followFile(this.path, { from: "start", follow: false });
      } else {
        const files: { file: string; mtime: number }[] = [];
        for await (const e of Deno.readDir(this.path)) {
          if (e.isDirectory) continue;
          const file = `${this.path}/${e.name}`;
          const mtime = (await Deno.stat(file)).mtime?.getTime() ?? 0;
          files.push({ file, mtime });
        }
        files.sort((a, b) =>
          a.mtime - b.mtime || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)
        );
        this.#inner = new DirectoryLines(files.map((f) => f.file));
      }
      if (this.#closed) this.#inner.close();
    }
    return this.#inner.nextLines(max);
  }

  close(): void {
    this.#closed = true;
    this.#inner?.close();
  }
}

interface Webhook {
  server: Deno.HttpServer;
  bodies: string[];
  wake: (() => void) | null;
}

interface Capture {
  lines?: LineSource;
  webhook?: Webhook;
  /** Lines or bodies read and not parsed yet, from `textAt` on. */
  texts: string[];
  textAt: number;
  /** The line or body being parsed. */
  parser?: JsonParser;
  /** Event objects parsed and not yet returned, from `itemAt` on. */
  items: JsonNode[];
  itemAt: number;
  closed: boolean;
}

interface State extends K8sAuditConfig {
  log: (msg: string) => void;
}

/** The parts of `scheme://authority/path` that `open` needs. */
function splitUrl(
  params: string,
): { scheme: string; host: string; path: string } {
  const m = /^([A-Za-z][A-Za-z0-9+\-.]*):(.*)$/s.exec(params);
  if (!m) return { scheme: "", host: "", path: params };
  let rest = m[2].split("#")[0];
  rest = rest.split("?")[0];
  let host = "";
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2);
    host = slash >= 0 ? rest.slice(2, slash) : rest.slice(2);
    rest = slash >= 0 ? rest.slice(slash) : "";
  }
  let path = rest;
  try {
    path = decodeURIComponent(rest);
  } catch {
    throw new Error(`open params "${params}" has an invalid path escape`);
  }
  return { scheme: m[1].toLowerCase(), host, path };
}

function listenAddress(host: string, params: string) {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):([0-9]{1,5})$/.exec(host);
  if (!m || Number(m[3]) > 65535) {
    throw new Error(
      `open params "${params}" must name a port to listen on, as "http://:9765/k8s-audit"`,
    );
  }
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port: Number(m[3]) };
}

const reply = (status: number, text: string) =>
  new Response(text + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });

/** The path of an absolute request URL (a URL object costs more on QuickJS). */
function urlPath(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start), h = url.indexOf("#", start);
  const end = q >= 0 ? q : h >= 0 ? h : url.length;
  return url.slice(start, end);
}

/** The Go plugin's webhook: the handler for exactly `path` (a subtree when it ends in `/`). */
function openWebhook(
  state: State,
  params: string,
  host: string,
  path: string,
  tls: boolean,
): Webhook {
  if (path === "") {
    throw new Error(`open params "${params}" has no path to serve`);
  }
  const { hostname, port } = listenAddress(host, params);
  const hook: Webhook = {
    server: undefined as unknown as Deno.HttpServer,
    bodies: [],
    wake: null,
  };
  const limit = state.webhookMaxBatchSize;
  const handler = async (req: Request): Promise<Response> => {
    const at = urlPath(req.url);
    if (path.endsWith("/") ? !at.startsWith(path) : at !== path) {
      return reply(404, "404 page not found");
    }
    if (req.method !== "POST") {
      return reply(405, `${req.method} method not allowed`);
    }
    if (!(req.headers.get("content-type") ?? "").includes("application/json")) {
      return reply(400, "wrong Content Type");
    }
    const tooLarge = () => {
      state.log("bad request: http: request body too large");
      return reply(400, "bad request: http: request body too large");
    };
    if (Number(req.headers.get("content-length") ?? "0") > limit) {
      return tooLarge();
    }
    // Bytes, then one native decode: no JavaScript loop over a large body.
    const bytes = await req.arrayBuffer();
    if (bytes.byteLength > limit) return tooLarge();
    const body = new TextDecoder().decode(bytes);
    if (hook.bodies.length >= state.webhookMaxQueue) {
      state.log(
        `webhook queue full (${state.webhookMaxQueue} bodies): answered 503`,
      );
      return new Response("queue full\n", {
        status: 503,
        headers: { "retry-after": "1" },
      });
    }
    hook.bodies.push(body);
    const wake = hook.wake;
    hook.wake = null;
    wake?.();
    return new Response(null, { status: 200 });
  };
  const cert = tls ? Deno.readTextFileSync(state.sslCertificate) : undefined;
  hook.server = Deno.serve({
    hostname,
    port,
    ...(cert ? { cert, key: cert } : {}),
    // falco-deno's own server limits (refused before the handler runs).
    maxBodyBytes: limit + 1,
    maxPendingRequests: state.webhookMaxQueue + 64,
    onListen: () => {},
  } as Deno.ServeTcpOptions, handler);
  return hook;
}

/**
 * Opens a capture from the open params, as the Go plugin: `http://`,
 * `https://`, `file://`, or a file or directory path.
 */
function openCapture(state: State, params: string): Capture {
  const cap: Capture = {
    texts: [],
    textAt: 0,
    items: [],
    itemAt: 0,
    closed: false,
  };
  const { scheme, host, path } = splitUrl(params);
  switch (scheme) {
    case "http":
    case "https":
      cap.webhook = openWebhook(state, params, host, path, scheme === "https");
      return cap;
    case "file":
      if (!path.startsWith("/")) {
        throw new Error(`open params "${params}" must name an absolute path`);
      }
      cap.lines = followFile(path, { from: "end", follow: true });
      return cap;
    case "":
      // A path: stat and list it at the first batch (`open` cannot await).
      cap.lines = new PathLines(params.trim());
      return cap;
    default:
      throw new Error(`scheme "${scheme}" is not supported`);
  }
}

/** The next lines or bodies: `[]` when none came in time, `null` at the end. */
async function readTexts(cap: Capture): Promise<string[] | null> {
  const hook = cap.webhook;
  if (hook === undefined) return await cap.lines!.nextLines(BATCH);
  if (hook.bodies.length === 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        hook.wake = null;
        resolve();
      }, WAIT_MS);
      hook.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  return hook.bodies.splice(0, BATCH);
}

/**
 * The next events. Parsing runs in slices of `SLICE_MS`: a body of many
 * megabytes spans several calls (each returns what is ready, maybe
 * nothing), so no callback outlives its deadline.
 */
async function nextEvents(
  state: State,
  cap: Capture,
): Promise<EventInput[] | typeof EOF> {
  const until = Date.now() + SLICE_MS;
  const out: EventInput[] = [];
  for (;;) {
    if (cap.closed) return out.length > 0 ? out : EOF;
    while (cap.itemAt < cap.items.length && out.length < BATCH) {
      const e = toEvent(cap.items[cap.itemAt++], state.maxEventSize);
      if (typeof e === "string") state.log(e);
      else out.push(e);
    }
    if (cap.itemAt >= cap.items.length && cap.items.length > 0) {
      cap.items = [];
      cap.itemAt = 0;
    }
    if (out.length >= BATCH || Date.now() > until) return out;
    if (cap.parser !== undefined) {
      const parser = cap.parser;
      try {
        if (!parser.step(PARSE_STEP)) continue;
      } catch (e) {
        state.log(`cannot parse JSON: ${(e as Error).message}`);
        cap.parser = undefined;
        continue;
      }
      cap.parser = undefined;
      const found: JsonNode[] = [];
      const err = collectEvents(parser.result!, found);
      if (err !== undefined) state.log(err);
      else cap.items = found;
      continue;
    }
    if (cap.textAt < cap.texts.length) {
      const text = cap.texts[cap.textAt++];
      if (text.length === 0) continue;
      // Compact JSON without escapes (what the apiserver mostly writes):
      // the engine's JSON, in one go; anything else, or a large body: the
      // fastjson-model parser, in slices.
      const plain = text.length <= FAST_MAX ? tryPlainJson(text) : undefined;
      if (plain === undefined) {
        cap.parser = new JsonParser(text);
        continue;
      }
      const found: JsonNode[] = [];
      const err = collectEvents(plain, found);
      if (err !== undefined) state.log(err);
      else cap.items = found;
      continue;
    }
    cap.texts = [];
    cap.textAt = 0;
    if (out.length > 0) return out;
    const texts = await readTexts(cap);
    if (texts === null) return EOF;
    if (texts.length === 0) return out;
    cap.texts = texts;
  }
}

async function closeCapture(cap: Capture): Promise<void> {
  cap.closed = true;
  cap.lines?.close();
  if (cap.webhook) {
    cap.webhook.wake?.();
    // The port is free once the server has shut down (close is awaited).
    await cap.webhook.server.shutdown();
  }
}

// ---------------------------------------------------------------------------
// The plugin

export default definePlugin({
  name: "k8saudit",
  id: 1,
  version: "0.18.0",
  description: "Read Kubernetes Audit Events and monitor Kubernetes Clusters",
  contact: "github.com/falcosecurity/plugins",
  eventSource: "k8s_audit",
  permissions: {
    net: [
      "<the host:port of http:// or https:// open_params (0.0.0.0:port for :port)>",
    ],
    read: [
      "<the file or directory of file:// or path open_params>",
      "<sslCertificate, for https://>",
    ],
  },
  initSchema: {
    type: "object",
    properties: {
      sslCertificate: {
        type: "string",
        title: "SSL certificate",
        description:
          "The SSL Certificate to be used with the HTTPS Webhook endpoint (Default: /etc/falco/falco.pem)",
        default: "/etc/falco/falco.pem",
      },
      useAsync: {
        type: "boolean",
        title: "Use async extraction",
        description:
          "Accepted for compatibility with the Go plugin, and ignored",
        default: true,
      },
      maxEventSize: {
        type: "integer",
        title: "Maximum event size",
        description:
          "Maximum size of single audit event (Default: 262144; at most 4177920)",
        minimum: 0,
        maximum: 4177920,
        default: DEFAULT_MAX_EVENT_SIZE,
      },
      webhookMaxBatchSize: {
        type: "integer",
        title: "Maximum webhook request size",
        description:
          "Maximum size of incoming webhook POST request bodies (Default: 12582912)",
        minimum: 0,
        maximum: 1073741824,
        default: 12582912,
      },
      webhookMaxQueue: {
        type: "integer",
        title: "Webhook queue",
        description:
          "Webhook bodies waiting to be read; more are refused with 503 (Default: 1024)",
        minimum: 1,
        maximum: 1000000,
        default: 1024,
      },
      fixGoBugs: {
        type: "boolean",
        title: "Fix the Go plugin's field bugs",
        description:
          "ka.sourceips from sourceIPs, eff_run_as_user/group from the security contexts, image.repository keeping a registry port (Default: false, as the Go plugin)",
        default: false,
      },
    },
    additionalProperties: true,
  },
  openParams: [
    { value: "http://:9765/k8s-audit", desc: "Audit webhook (HTTP)" },
    { value: "https://:9765/k8s-audit", desc: "Audit webhook (HTTPS)" },
    {
      value: "file:///var/log/k8s-audit.log",
      desc: "Follow an audit log file from its end",
    },
    {
      value: "/var/log/k8s-audit",
      desc: "Read an audit log file or directory",
    },
  ],

  init: (config: K8sAuditConfig): State => ({
    ...config,
    log: (msg) => console.warn(`[k8saudit] ${msg}`),
  }),
  open: (state, params) => openCapture(state, params),
  nextBatch: (state, cap) => nextEvents(state, cap),
  close: (_state, cap) => closeCapture(cap),
  decode: (_state, event) => decodeAuditEvent(event.payload, event.text),
  eventToString: (_state, event) => event.text,

  fields: FIELDS.map(([name, list, arg, desc]) => {
    const extract = EXTRACTORS[name];
    if (extract === undefined) throw new Error(`No extractor for "${name}"`);
    const run = (
      ctx: ExtractContext<State, JsonNode | undefined>,
    ) =>
      extractField(
        name,
        ctx.decoded,
        ctx.index,
        ctx.key ?? "",
        ctx.state.fixGoBugs,
      );
    const argDef = arg === KEY
      ? { key: "required" as const }
      : arg === INDEX
      ? { index: "optional" as const }
      : {};
    return list
      ? {
        name,
        type: "string" as const,
        list: true as const,
        desc,
        ...argDef,
        extract: (ctx: ExtractContext<State, JsonNode | undefined>) =>
          run(ctx) as string[] | undefined,
      }
      : {
        name,
        type: "string" as const,
        desc,
        ...argDef,
        extract: (ctx: ExtractContext<State, JsonNode | undefined>) =>
          run(ctx) as string | undefined,
      };
  }),
});
