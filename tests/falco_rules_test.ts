import assert from "node:assert/strict";
import {
  conditionFields,
  expandCondition,
  expandList,
  loadRules,
  outputFields,
  tokenize,
} from "./falco_rules.ts";

const rule = (name: string, condition: string, more = "") =>
  `- rule: ${name}\n  desc: d\n  condition: ${condition}\n  output: o\n  priority: INFO\n  source: k8s_audit\n${more}`;

Deno.test("tokenize keeps a field's argument and quoted text whole", () => {
  const t = tokenize(
    `jevt.value[/a b/c]=x and ka.u startswith "sys tem:" or y!=1`,
  );
  assert.deepEqual(t.map((x) => x.text), [
    "jevt.value[/a b/c]",
    "=",
    "x",
    "and",
    "ka.u",
    "startswith",
    '"sys tem:"',
    "or",
    "y",
    "!=",
    "1",
  ]);
});

Deno.test("lists substitute only inside value lists, nested lists flattened", () => {
  const r = loadRules([
    [
      "- list: inner\n  items: [a, 'b c']",
      "- list: outer\n  items: [inner, d]",
      "- list: none\n  items: []",
      "- macro: outer\n  condition: m.x=1",
    ].join("\n"),
  ]);
  assert.deepEqual(expandList(r, "outer"), ["a", "b c", "d"]);
  assert.equal(
    expandCondition(r, 'f.x in (outer, "inner", none, e) and f.y = inner'),
    'f.x in (a, "b c", d, a, "b c", e) and f.y = inner',
  );
  // An empty list takes its comma with it.
  assert.equal(expandCondition(r, "f.x in (none, none)"), "f.x in ()");
  assert.equal(
    expandCondition(r, "f.x intersects (none, a) or f.y pmatch (inner)"),
    'f.x intersects (a) or f.y pmatch (a, "b c")',
  );
});

Deno.test("macros expand recursively in parentheses, only where a condition stands", () => {
  const r = loadRules([
    [
      "- macro: pod\n  condition: k.r=pods",
      "- macro: create\n  condition: k.v=create",
      "- macro: both\n  condition: pod and not create",
      "- list: vals\n  items: [pod]",
    ].join("\n"),
  ]);
  assert.equal(
    expandCondition(r, "both or (pod) and k.x=pod and k.y in (pod, vals)"),
    "((k.r=pods) and not (k.v=create)) or ((k.r=pods)) and k.x=pod and k.y in (pod, pod)",
  );
  // A word before "(" is a call, its arguments are fields.
  assert.equal(expandCondition(r, "tolower(pod) = x"), "tolower(pod) = x");
});

Deno.test("append and override, as Falco's loader", () => {
  const r = loadRules([
    [
      "- list: l\n  items: [a]",
      "- macro: m\n  condition: f.a=1",
      rule("R", "m"),
    ].join("\n"),
    [
      "- list: l\n  items: [b]\n  append: true",
      "- macro: m\n  condition: or f.b=2\n  append: true",
      "- list: l\n  items: [c]\n  override:\n    items: append",
      rule("R", "and f.c in (l)", "  override:\n    condition: append\n"),
      "- rule: R\n  enabled: false",
    ].join("\n"),
  ]);
  assert.deepEqual(r.lists.get("l"), ["a", "b", "c"]);
  assert.equal(r.macros.get("m"), "f.a=1 or f.b=2");
  assert.equal(r.rules.get("R")!.enabled, false);
  assert.equal(
    expandCondition(r, r.rules.get("R")!.condition),
    "(f.a=1 or f.b=2) and f.c in (a, b, c)",
  );
  const replaced = loadRules([
    "- macro: m\n  condition: f.a=1\n- macro: m\n  condition: f.z=0\n  override:\n    condition: replace",
  ]);
  assert.equal(replaced.macros.get("m"), "f.z=0");
  // A redefinition without append replaces.
  assert.deepEqual(
    loadRules(["- list: l\n  items: [a]\n- list: l\n  items: [z]"]).lists
      .get("l"),
    ["z"],
  );
});

Deno.test("what the loader refuses", () => {
  assert.throws(
    () => loadRules(["- list: l\n  items: [a]\n  append: true"]),
    /appends to no list/,
  );
  assert.throws(
    () => loadRules([rule("R", "x.y=1", "  exceptions: []\n")]),
    /exceptions are not supported/,
  );
  const loop = loadRules([
    "- macro: a\n  condition: b\n- macro: b\n  condition: not a",
  ]);
  assert.throws(() => expandCondition(loop, "a"), /refers to itself/);
  const listLoop = loadRules([
    "- list: a\n  items: [b]\n- list: b\n  items: [a]",
  ]);
  assert.throws(() => expandList(listLoop, "a"), /refers to itself/);
});

Deno.test("fields of a condition and of an output", () => {
  assert.deepEqual(
    conditionFields(
      "not (j.v[/stage] in (x)) and k.a exists and tolower(k.b) = val(k.c)",
    ),
    [
      { field: "j.v", arg: "/stage", operator: "in" },
      { field: "k.a", operator: "exists" },
      { field: "k.b", operator: "call" },
      { field: "k.c", operator: "call" },
    ],
  );
  assert.deepEqual(outputFields("x=%k.a/%k.b[0] (%j.v[/a/b])"), [
    { field: "k.a", operator: "output" },
    { field: "k.b", arg: "0", operator: "output" },
    { field: "j.v", arg: "/a/b", operator: "output" },
  ]);
});
