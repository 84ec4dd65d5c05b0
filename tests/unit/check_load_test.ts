import assert from "node:assert/strict";
import { CHECK_NAMES, loadCheck } from "../../checks/load.ts";
import { CHECKS } from "../../checks/mod.ts";

Deno.test("a single check kind loads on its own: the same kinds and definitions as checks/mod.ts", async () => {
  assert.deepEqual([...CHECK_NAMES].sort(), Object.keys(CHECKS).sort());
  for (const name of CHECK_NAMES) assert.equal(await loadCheck(name), CHECKS[name], name);
  for (const name of ["complex", "toString", "__proto__", ""]) {
    assert.equal(loadCheck(name), undefined, name);
  }
});
