/**
 * Parsing of field strings as written in Falco rules: `dummy.value`,
 * `dummy.divisible[3]`, `json.value[/user/name]`.
 *
 * @module
 */

/** A parsed field string. */
export interface FieldRef {
  /** The field name. */
  name: string;
  /** The argument text between the brackets, if any (quotes removed). */
  arg?: string;
}

const FIELD_REF =
  /^([a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+)(?:\[(.*)\])?$/s;

/**
 * Parses a field string.
 *
 * @example Field strings
 * ```ts
 * import { parseFieldString } from "./field_string.ts";
 * const ref = parseFieldString("json.value[/user/name]");
 * console.assert(ref.name === "json.value" && ref.arg === "/user/name");
 * ```
 *
 * @param text `name` or `name[arg]`; the argument may be quoted.
 * @returns The name and the argument.
 */
export function parseFieldString(text: string): FieldRef {
  const m = FIELD_REF.exec(text);
  if (m === null) {
    throw new SyntaxError(
      `Field string "${text}" is malformed: expected "name" or "name[arg]"`,
    );
  }
  const [, name, rawArg] = m;
  if (rawArg === undefined) return { name };
  let arg = rawArg;
  if (
    arg.length >= 2 &&
    ((arg.startsWith('"') && arg.endsWith('"')) ||
      (arg.startsWith("'") && arg.endsWith("'")))
  ) {
    arg = arg.slice(1, -1);
  }
  if (arg === "") {
    throw new SyntaxError(`Field string "${text}" has an empty argument`);
  }
  return { name, arg };
}

/**
 * Parses an index argument as libsinsp does: digits only, no leading zero.
 * Returns `undefined` when the text is not a valid index.
 */
export function parseIndexArg(text: string): bigint | undefined {
  if (!/^(0|[1-9][0-9]*)$/.test(text)) return undefined;
  const v = BigInt(text);
  return v <= 0xffff_ffff_ffff_ffffn ? v : undefined;
}
