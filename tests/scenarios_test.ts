import assert from "node:assert/strict";
import { runScenario, scenarios } from "./scenarios.ts";

Deno.test("scenarios have unique names and valid shapes", () => {
  const names = new Set(scenarios.map((s) => s.name));
  assert.equal(names.size, scenarios.length);
  for (const s of scenarios) {
    assert.ok(s.maxEvents > 0 && s.fields.length > 0, s.name);
  }
});

for (const s of scenarios) {
  Deno.test(`scenario ${s.name} runs through the harness`, async () => {
    const r = await runScenario(s);
    assert.ok(r.events.length > 0 && r.events.length <= s.maxEvents);
    r.events.forEach((e, i) => {
      assert.equal(e.num, i + 1);
      assert.deepEqual(Object.keys(e.fields), s.fields);
    });
  });
}

Deno.test("scenario dummy_jitter0 gives the Go plugin's values", async () => {
  const r = await runScenario(scenarios[0]);
  assert.equal(r.events.length, 10);
  assert.deepEqual(r.events[0], {
    num: 1,
    payload_hex: "32",
    fields: {
      "dummy.value": ["2"],
      "dummy.strvalue": ["2"],
      "dummy.divisible[2]": ["1"],
      "dummy.divisible[3]": ["0"],
    },
  });
  assert.deepEqual(r.events[9].payload_hex, "3131");
  assert.deepEqual(r.events[9].fields["dummy.divisible[3]"], ["0"]);
  assert.deepEqual(r.events[7].fields["dummy.divisible[3]"], ["1"]);
});

Deno.test("scenario showcase_every_type canonical text", async () => {
  const s = scenarios.find((x) => x.name === "showcase_every_type")!;
  const r = await runScenario(s);
  assert.equal(r.events.length, 6);
  assert.deepEqual(r.events[2].fields, {
    "showcase.id": ["3"],
    "showcase.ok": ["false"],
    "showcase.src": ["10.0.0.3"],
    "showcase.dst": ["2001:db8::3"],
    "showcase.net": ["192.168.3.0"],
    "showcase.duration": ["4500"],
    "showcase.time": ["1700000000000000003"],
    "showcase.ports": null,
    "showcase.tags": ["conn", "odd"],
    "showcase.tag": ["conn"],
    "showcase.tag[1]": ["odd"],
    "showcase.tag[5]": null,
    "showcase.label[env]": ["dev"],
    "showcase.label[team]": ["t3"],
    "showcase.label[none]": null,
    "showcase.addrs": ["10.0.0.3", "2001:db8::3"],
    "showcase.flags": ["false", "false"],
  });
});
