/**
 * Falco rules files as Falco's rule loader reads them: lists, macros and
 * rules, with `append` and `override`, and each rule's condition with its
 * macros and lists expanded into one filter that libsinsp compiles as it
 * is. Also the fields a condition or an output names, and how a condition
 * uses each one.
 *
 * Expansion follows Falco's rule loader:
 * - a list's items may name other lists, replaced by their items;
 * - in a condition, a value inside the value list of `in`, `intersects` or
 *   `pmatch` that names a list is replaced by the list's items (quoted or
 *   not: Falco's list resolver compares the parsed values);
 * - a bare word standing where a condition is expected (first, or after
 *   `(`, `and`, `or`, `not`) that names a macro is replaced by the macro's
 *   own expanded condition in parentheses.
 *
 * `exceptions` are not supported: a file that has them is refused rather
 * than read wrong.
 *
 * @module
 */

import { parse } from "yaml";

/** A rule as loaded, before expansion. */
export interface FalcoRule {
  name: string;
  condition: string;
  output: string;
  priority: string;
  source: string;
  enabled: boolean;
}

/** A rules file, or several loaded in order (later ones append or override). */
export interface FalcoRuleset {
  /** List name to items, in definition order (not yet expanded). */
  lists: Map<string, string[]>;
  /** Macro name to condition, in definition order. */
  macros: Map<string, string>;
  /** Rule name to rule, in definition order. */
  rules: Map<string, FalcoRule>;
  /** `required_plugin_versions`: plugin name to version. */
  requiredPluginVersions: Map<string, string>;
  /** `required_engine_version`, when given. */
  requiredEngineVersion?: string;
}

type Entry = Record<string, unknown>;

const RULE_KEYS = ["condition", "output", "priority", "source", "enabled"];

function text(value: unknown, what: string): string {
  if (typeof value === "string") return value.trim();
  if (typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  throw new Error(`Expected text for ${what}, got ${JSON.stringify(value)}`);
}

/** `override: {key: append|replace}`, or `append: true` for `appendKeys`. */
function overrides(
  entry: Entry,
  appendKeys: string[],
  what: string,
): Map<string, "append" | "replace"> | undefined {
  if (entry.append === true) {
    if (entry.override !== undefined) {
      throw new Error(`${what} has both "append" and "override"`);
    }
    return new Map(
      appendKeys.filter((k) => k in entry).map((k) => [k, "append"]),
    );
  }
  if (entry.override === undefined) return undefined;
  const o = entry.override as Record<string, string>;
  const m = new Map<string, "append" | "replace">();
  for (const [k, v] of Object.entries(o)) {
    if (v !== "append" && v !== "replace") {
      throw new Error(`${what}: override of "${k}" must be append or replace`);
    }
    if (!(k in entry)) {
      throw new Error(`${what}: override of "${k}" without it`);
    }
    m.set(k, v);
  }
  return m;
}

/**
 * Loads rules files in order, as Falco loads its `rules_files`.
 *
 * @param files The YAML texts.
 * @returns The lists, macros and rules after every append and override.
 *
 * @example
 * ```ts
 * import { loadRules } from "./falco_rules.ts";
 * const r = loadRules([
 *   "- list: l\n  items: [a]\n- list: l\n  items: [b]\n  append: true",
 * ]);
 * console.assert(r.lists.get("l")!.join() === "a,b");
 * ```
 */
export function loadRules(files: string[]): FalcoRuleset {
  const set: FalcoRuleset = {
    lists: new Map(),
    macros: new Map(),
    rules: new Map(),
    requiredPluginVersions: new Map(),
  };
  for (const file of files) {
    const doc = parse(file) ?? [];
    if (!Array.isArray(doc)) throw new Error("A rules file must be a list");
    for (const entry of doc as Entry[]) {
      if ("required_engine_version" in entry) {
        set.requiredEngineVersion = text(
          entry.required_engine_version,
          "required_engine_version",
        );
      } else if ("required_plugin_versions" in entry) {
        for (const p of entry.required_plugin_versions as Entry[]) {
          set.requiredPluginVersions.set(
            text(p.name, "a plugin name"),
            text(p.version, "a plugin version"),
          );
        }
      } else if ("list" in entry) {
        loadList(set, entry);
      } else if ("macro" in entry) {
        loadMacro(set, entry);
      } else if ("rule" in entry) {
        loadRule(set, entry);
      } else {
        throw new Error(`Unknown rules file entry ${JSON.stringify(entry)}`);
      }
    }
  }
  return set;
}

function loadList(set: FalcoRuleset, entry: Entry) {
  const name = text(entry.list, "a list name");
  const what = `list "${name}"`;
  const items = ((entry.items ?? []) as unknown[]).map((i) => text(i, what));
  const o = overrides(entry, ["items"], what);
  if (o === undefined) {
    set.lists.set(name, items);
    return;
  }
  const old = set.lists.get(name);
  if (old === undefined) throw new Error(`${what} appends to no list`);
  set.lists.set(name, o.get("items") === "append" ? [...old, ...items] : items);
}

function loadMacro(set: FalcoRuleset, entry: Entry) {
  const name = text(entry.macro, "a macro name");
  const what = `macro "${name}"`;
  const condition = text(entry.condition, what);
  const o = overrides(entry, ["condition"], what);
  if (o === undefined) {
    set.macros.set(name, condition);
    return;
  }
  const old = set.macros.get(name);
  if (old === undefined) throw new Error(`${what} appends to no macro`);
  // Falco appends the text with one space between.
  set.macros.set(
    name,
    o.get("condition") === "append" ? `${old} ${condition}` : condition,
  );
}

function loadRule(set: FalcoRuleset, entry: Entry) {
  const name = text(entry.rule, "a rule name");
  const what = `rule "${name}"`;
  if ("exceptions" in entry) {
    throw new Error(`${what}: exceptions are not supported`);
  }
  const o = overrides(entry, ["condition", "output", "desc"], what);
  const old = set.rules.get(name);
  if (o === undefined) {
    // `enabled` alone switches an existing rule on or off.
    if (
      old && Object.keys(entry).every((k) => k === "rule" || k === "enabled")
    ) {
      set.rules.set(name, { ...old, enabled: entry.enabled === true });
      return;
    }
    set.rules.set(name, {
      name,
      condition: text(entry.condition, `${what} condition`),
      output: text(entry.output, `${what} output`),
      priority: text(entry.priority, `${what} priority`),
      source: entry.source === undefined
        ? "syscall"
        : text(entry.source, `${what} source`),
      enabled: entry.enabled === undefined ? true : entry.enabled === true,
    });
    return;
  }
  if (old === undefined) throw new Error(`${what} appends to no rule`);
  const next: FalcoRule = { ...old };
  for (const [key, how] of o) {
    if (!RULE_KEYS.includes(key)) continue;
    const value = key === "enabled"
      ? entry.enabled === true
      : text(entry[key], `${what} ${key}`);
    const record = next as unknown as Record<string, unknown>;
    record[key] = how === "append" ? `${record[key]} ${value}` : value;
  }
  set.rules.set(name, next);
}

/** One token of a condition, with where it starts in the text. */
export interface Token {
  kind: "(" | ")" | "," | "string" | "op" | "word";
  text: string;
  at: number;
}

const SYMBOL_OPS = ["==", "!=", "<=", ">=", "=", "<", ">"];

/**
 * Splits a condition into tokens: parentheses, commas, quoted strings,
 * comparison symbols and words (a field with its `[argument]` is one word).
 *
 * @param condition A condition.
 * @returns Its tokens, each with its offset in the text.
 *
 * @example
 * ```ts
 * import { tokenize } from "./falco_rules.ts";
 * console.assert(tokenize("a.b[x y]=1").map((t) => t.text).join(" ") === "a.b[x y] = 1");
 * ```
 */
export function tokenize(condition: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < condition.length) {
    const c = condition[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "(" || c === ")" || c === ",") {
      tokens.push({ kind: c, text: c, at: i });
      i++;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < condition.length && condition[j] !== c) {
        j += condition[j] === "\\" ? 2 : 1;
      }
      if (j >= condition.length) {
        throw new Error(`Unterminated string at ${i} in "${condition}"`);
      }
      tokens.push({ kind: "string", text: condition.slice(i, j + 1), at: i });
      i = j + 1;
    } else {
      const op = SYMBOL_OPS.find((o) => condition.startsWith(o, i));
      if (op) {
        tokens.push({ kind: "op", text: op, at: i });
        i += op.length;
        continue;
      }
      let j = i;
      while (j < condition.length && !/[\s(),"'=<>!]/.test(condition[j])) {
        if (condition[j] === "[") {
          const close = condition.indexOf("]", j);
          j = close < 0 ? condition.length : close + 1;
        } else j++;
      }
      // A lone "!" that does not start "!=".
      if (j === i) j++;
      tokens.push({ kind: "word", text: condition.slice(i, j), at: i });
      i = j;
    }
  }
  return tokens;
}

/** Operators whose right side is a parenthesized list of values. */
const LIST_OPERATORS = new Set(["in", "intersects", "pmatch"]);
/** Words that join conditions. */
const JOINERS = new Set(["and", "or", "not"]);

/** The value a word or a quoted string stands for. */
function valueOf(t: Token): string | undefined {
  if (t.kind === "word") return t.text;
  if (t.kind !== "string") return undefined;
  return t.text.slice(1, -1).replace(/\\(.)/g, "$1");
}

/** A list item as libsinsp's parser reads one value of a value list. */
function listValue(item: string): string {
  return item !== "" && !/[\s(),"'\\]/.test(item)
    ? item
    : `"${item.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * A list's items with the lists they name replaced by their items.
 *
 * @param set The ruleset.
 * @param name The list.
 * @returns The items.
 *
 * @example
 * ```ts
 * import { expandList, loadRules } from "./falco_rules.ts";
 * const r = loadRules(["- list: a\n  items: [x]\n- list: b\n  items: [a, y]"]);
 * console.assert(expandList(r, "b").join() === "x,y");
 * ```
 */
export function expandList(
  set: FalcoRuleset,
  name: string,
  seen: string[] = [],
): string[] {
  if (seen.includes(name)) {
    throw new Error(`List "${name}" refers to itself: ${seen.join(" > ")}`);
  }
  const items = set.lists.get(name);
  if (items === undefined) throw new Error(`No list "${name}"`);
  return items.flatMap((i) =>
    set.lists.has(i) ? expandList(set, i, [...seen, name]) : [i]
  );
}

/** Where a word stands: a field or macro, a value, or inside a call. */
type Place = "condition" | "value" | "call";

/** Kinds of parentheses: a group, a value list, or call arguments. */
type Paren = "group" | "values" | "call";

/**
 * Walks a condition's tokens: the place of each word, the kind of each
 * opening parenthesis.
 */
function walk(
  tokens: Token[],
  visit: (i: number, place: Place | Paren) => void,
) {
  const stack: Paren[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const previous = tokens[i - 1];
    const inside = stack[stack.length - 1];
    if (t.kind === "(") {
      const kind: Paren = previous?.kind === "word" &&
          LIST_OPERATORS.has(previous.text)
        ? "values"
        : previous?.kind === "word" && !JOINERS.has(previous.text)
        ? "call"
        : "group";
      stack.push(kind);
      visit(i, kind);
    } else if (t.kind === ")") {
      stack.pop();
    } else if (t.kind === "word") {
      const afterJoin = previous === undefined || previous.kind === "(" ||
        (previous.kind === "word" && JOINERS.has(previous.text));
      visit(
        i,
        inside === "values"
          ? "value"
          : inside === "call"
          ? "call"
          : afterJoin && !JOINERS.has(t.text)
          ? "condition"
          : "value",
      );
    }
  }
}

/**
 * A condition with its macros and lists expanded, as libsinsp compiles it.
 *
 * @param set The ruleset.
 * @param condition A rule's or macro's condition.
 * @returns The condition with every macro and list replaced.
 *
 * @example
 * ```ts
 * import { expandCondition, loadRules } from "./falco_rules.ts";
 * const r = loadRules([
 *   "- list: ok\n  items: [a, b]\n- macro: m\n  condition: x.y in (ok)",
 * ]);
 * console.assert(expandCondition(r, "m and not z.w=1") === "(x.y in (a, b)) and not z.w=1");
 * ```
 */
export function expandCondition(
  set: FalcoRuleset,
  condition: string,
  seen: string[] = [],
): string {
  const tokens = tokenize(condition);
  const edits: { from: number; to: number; text: string }[] = [];
  walk(tokens, (i, place) => {
    const t = tokens[i];
    if (place === "values") {
      // The whole value list is written anew: a list may expand to no
      // items, and its commas with it.
      let j = i + 1;
      const items: string[] = [];
      let item: Token[] = [];
      const flush = () => {
        const value = item.length === 1 ? valueOf(item[0]) : undefined;
        if (value !== undefined && set.lists.has(value)) {
          items.push(...expandList(set, value).map(listValue));
        } else if (item.length) {
          items.push(
            condition.slice(
              item[0].at,
              item[item.length - 1].at + item[item.length - 1].text.length,
            ),
          );
        }
        item = [];
      };
      for (; j < tokens.length && tokens[j].kind !== ")"; j++) {
        if (tokens[j].kind === ",") flush();
        else item.push(tokens[j]);
      }
      flush();
      if (j >= tokens.length) {
        throw new Error(`Unclosed value list at ${t.at} in "${condition}"`);
      }
      edits.push({
        from: t.at,
        to: tokens[j].at + 1,
        text: `(${items.join(", ")})`,
      });
    } else if (place === "condition" && set.macros.has(t.text)) {
      if (seen.includes(t.text)) {
        throw new Error(
          `Macro "${t.text}" refers to itself: ${
            [...seen, t.text].join(" > ")
          }`,
        );
      }
      const body = expandCondition(set, set.macros.get(t.text)!, [
        ...seen,
        t.text,
      ]);
      edits.push({ from: t.at, to: t.at + t.text.length, text: `(${body})` });
    }
  });
  let out = condition;
  for (const e of edits.reverse()) {
    out = out.slice(0, e.from) + e.text + out.slice(e.to);
  }
  return out.trim();
}

/** How a condition uses a field. */
export interface FieldUse {
  /** The field name, without argument. */
  field: string;
  /** The argument in brackets, if any. */
  arg?: string;
  /** The operator after it (`exists`, `=`, `in`...), or `call` inside one. */
  operator: string;
}

/**
 * The fields an (expanded) condition compares, with their arguments and
 * operators.
 *
 * @param condition An expanded condition.
 * @returns One use per field occurrence.
 *
 * @example
 * ```ts
 * import { conditionFields } from "./falco_rules.ts";
 * const uses = conditionFields("not a.b[1] in (x) and c.d exists");
 * console.assert(uses.map((u) => u.field + u.operator).join() === "a.bin,c.dexists");
 * ```
 */
export function conditionFields(condition: string): FieldUse[] {
  const tokens = tokenize(condition);
  const uses: FieldUse[] = [];
  walk(tokens, (i, place) => {
    const t = tokens[i];
    if (t.kind !== "word" || (place !== "condition" && place !== "call")) {
      return;
    }
    const next = tokens[i + 1];
    // A transformer (`tolower(...)`): its arguments are the fields.
    if (next?.kind === "(") return;
    const m = /^([^[\]]+)(?:\[(.*)\])?$/.exec(t.text);
    if (!m) throw new Error(`Cannot read the field "${t.text}"`);
    uses.push({
      field: m[1],
      ...(m[2] !== undefined ? { arg: m[2] } : {}),
      operator: place === "call" ? "call" : next?.text ?? "",
    });
  });
  return uses;
}

/**
 * The fields an output format prints (`%field`, `%field[arg]`).
 *
 * @param output An output format.
 * @returns One use per occurrence, operator `output`.
 *
 * @example
 * ```ts
 * import { outputFields } from "./falco_rules.ts";
 * console.assert(outputFields("u=%a.b x=%c.d[/e]")[1].arg === "/e");
 * ```
 */
export function outputFields(output: string): FieldUse[] {
  return [...output.matchAll(/%([A-Za-z0-9_.]+)(?:\[([^\]]*)\])?/g)].map((
    m,
  ) => ({
    field: m[1],
    ...(m[2] !== undefined ? { arg: m[2] } : {}),
    operator: "output",
  }));
}
