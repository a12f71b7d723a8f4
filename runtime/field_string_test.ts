import assert from "node:assert/strict";
import { parseFieldString, parseIndexArg } from "./field_string.ts";

Deno.test("parseFieldString splits names and arguments", () => {
  assert.deepEqual(parseFieldString("dummy.value"), { name: "dummy.value" });
  assert.deepEqual(parseFieldString("dummy.divisible[3]"), {
    name: "dummy.divisible",
    arg: "3",
  });
  assert.deepEqual(parseFieldString("json.value[/user/name]"), {
    name: "json.value",
    arg: "/user/name",
  });
  assert.deepEqual(parseFieldString('m.k["a b]"]'), {
    name: "m.k",
    arg: "a b]",
  });
  assert.throws(
    () => parseFieldString("nodot"),
    /Field string "nodot" is malformed/,
  );
  assert.throws(() => parseFieldString("a.b[]"), /empty argument/);
  assert.equal(parseIndexArg("0"), 0n);
  assert.equal(parseIndexArg("012"), undefined);
  assert.equal(parseIndexArg("18446744073709551616"), undefined);
});
