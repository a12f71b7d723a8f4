/**
 * Kubernetes audit events for the benchmarks, modelled on the records a
 * kube-apiserver writes with `--audit-log-path` (`audit.k8s.io/v1`,
 * `kind: Event`, stage `ResponseComplete`): read verbs at `Metadata` level,
 * writes at `RequestResponse` level with their `requestObject`. Deterministic
 * (event `i` is always the same text), about 1 KiB a line on average.
 *
 * One file shape serves both readers: one JSON `Event` per line. That is
 * what `plugins/jsonl.ts` reads, and what the official Go `k8saudit` plugin
 * reads when its open params are a plain file path (`OpenReader`: a
 * `bufio.Scanner` over lines, each line an `Event`, an `EventList` or an
 * array of them; lines over 64 KiB are an error there).
 *
 *   deno run -A tests/bench/gen_k8s_audit.ts --events N --out FILE
 *
 * @module
 */

const VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"];
const RESOURCES: [resource: string, group: string, version: string][] = [
  ["pods", "", "v1"],
  ["secrets", "", "v1"],
  ["configmaps", "", "v1"],
  ["deployments", "apps", "v1"],
  ["services", "", "v1"],
  ["serviceaccounts", "", "v1"],
  ["leases", "coordination.k8s.io", "v1"],
];
const USERS = [
  "system:serviceaccount:kube-system:replicaset-controller",
  "kubernetes-admin",
  "alice@example.com",
  "system:kube-scheduler",
  "system:node:worker-3",
];
const AGENTS = [
  "kube-controller-manager/v1.29.2 (linux/amd64) kubernetes/4b8e819/system:serviceaccount:kube-system:replicaset-controller",
  "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
  "kube-scheduler/v1.29.2 (linux/amd64) kubernetes/4b8e819/scheduler",
  "kubelet/v1.29.2 (linux/amd64) kubernetes/4b8e819",
];
/** 2024-05-01T12:00:00Z in microseconds: events are 250 µs apart. */
const T0_US = Date.UTC(2024, 4, 1, 12) * 1000;

/** `2024-05-01T12:00:00.123456Z`: the microsecond RFC 3339 of the apiserver. */
function stamp(us: number): string {
  const iso = new Date(Math.floor(us / 1000)).toISOString(); // ...SS.mmmZ
  return `${iso.slice(0, 19)}.${String(us % 1_000_000).padStart(6, "0")}Z`;
}

/** Audit event number `i`, as one line of JSON (no newline). */
export function auditEvent(i: number): string {
  const verb = VERBS[i % VERBS.length];
  const [resource, group, version] = RESOURCES[i % RESOURCES.length];
  const ns = `ns-${i % 17}`;
  const name = `${resource.replace(/s$/, "")}-${(i * 7919) % 100000}`;
  const write = ["create", "update", "patch"].includes(verb);
  const list = verb === "list" || verb === "watch";
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const uri = list
    ? `${prefix}/namespaces/${ns}/${resource}?limit=500&resourceVersion=0`
    : verb === "create"
    ? `${prefix}/namespaces/${ns}/${resource}`
    : `${prefix}/namespaces/${ns}/${resource}/${name}`;
  const code = i % 23 === 5
    ? 403
    : i % 19 === 3
    ? 404
    : verb === "create"
    ? 201
    : 200;
  const received = T0_US + i * 250;
  const e: Record<string, unknown> = {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: write ? "RequestResponse" : "Metadata",
    auditID: `6a1e6c3e-${
      (i * 7919 % 65536).toString(16).padStart(4, "0")
    }-4b1f-9d2c-${(1000000 + i).toString(16).padStart(12, "0")}`,
    stage: "ResponseComplete",
    requestURI: uri,
    verb,
    user: {
      username: USERS[i % USERS.length],
      uid: `0f6b8d2e-${
        (i % 97).toString(16).padStart(4, "0")
      }-4c57-9a51-3d0e5a1c7b42`,
      groups: ["system:authenticated", `team-${i % 5}`],
    },
    sourceIPs: [`10.${i % 256}.${(i >> 8) % 256}.${(i * 13) % 256}`],
    userAgent: AGENTS[i % AGENTS.length],
    objectRef: {
      resource,
      namespace: ns,
      ...(list || verb === "create" ? {} : { name }),
      ...(group ? { apiGroup: group } : {}),
      apiVersion: version,
    },
    responseStatus: code >= 400
      ? {
        metadata: {},
        status: "Failure",
        reason: code === 403 ? "Forbidden" : "NotFound",
        code,
      }
      : { metadata: {}, code },
  };
  if (write) {
    // The body of the write, as the apiserver logs it at RequestResponse
    // level: the object's metadata is most of a real record's size.
    const labels: Record<string, string> = {
      "app.kubernetes.io/name": `app-${i % 31}`,
      "app.kubernetes.io/instance": `app-${i % 31}-${i % 3}`,
      "app.kubernetes.io/version": `1.${i % 9}.${i % 4}`,
      "app.kubernetes.io/component": ["api", "worker", "cache"][i % 3],
      "app.kubernetes.io/part-of": "shop",
      "app.kubernetes.io/managed-by": "helm",
      "pod-template-hash": (i * 40503 % 0xffffff).toString(16),
    };
    e.requestObject = {
      kind: resource === "deployments"
        ? "Deployment"
        : resource[0].toUpperCase() + resource.slice(1, -1),
      apiVersion: group ? `${group}/${version}` : version,
      metadata: {
        name,
        namespace: ns,
        labels,
        annotations: {
          "meta.helm.sh/release-name": `app-${i % 31}`,
          "meta.helm.sh/release-namespace": ns,
        },
      },
    };
  }
  e.requestReceivedTimestamp = stamp(received);
  e.stageTimestamp = stamp(received + 900 + (i * 37) % 4000);
  e.annotations = {
    "authorization.k8s.io/decision": code === 403 ? "forbid" : "allow",
    "authorization.k8s.io/reason": code === 403
      ? ""
      : `RBAC: allowed by ClusterRoleBinding "system:controller:${resource}" of ClusterRole "system:controller:${resource}" to ServiceAccount "${resource}-controller/kube-system"`,
  };
  return JSON.stringify(e);
}

/** Writes events `0..n-1`, one a line; returns the file's size in bytes. */
export async function writeAuditFile(path: string, n: number): Promise<number> {
  const enc = new TextEncoder();
  const file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  let size = 0;
  try {
    // In chunks: a million events would be a string too long to build at once.
    for (let i = 0; i < n; i += 10000) {
      const lines: string[] = [];
      for (let j = i; j < Math.min(n, i + 10000); j++) {
        lines.push(auditEvent(j));
      }
      const bytes = enc.encode(lines.join("\n") + "\n");
      size += bytes.length;
      let off = 0;
      while (off < bytes.length) off += await file.write(bytes.subarray(off));
    }
  } finally {
    file.close();
  }
  return size;
}

if (import.meta.main) {
  const { parseArgs } = await import("node:util");
  const { values } = parseArgs({
    args: Deno.args,
    options: { events: { type: "string" }, out: { type: "string" } },
  });
  if (!values.out) {
    console.error(
      "usage: deno run -A tests/bench/gen_k8s_audit.ts --events N --out FILE",
    );
    Deno.exit(2);
  }
  const n = Number(values.events ?? 10000);
  const size = await writeAuditFile(values.out, n);
  console.log(
    `${values.out}: ${n} events, ${size} bytes (${
      Math.round(size / n)
    } B/event)`,
  );
}
