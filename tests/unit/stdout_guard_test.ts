/**
 * In listener mode nothing but protocol tokens reaches stdout: after
 * guardStdout, every console method and node's process.stdout write to
 * stderr (lib/listener.ts).
 */
import assert from "node:assert/strict";
import { DENO, REPO } from "../support/supervisord.ts";

Deno.test("guardStdout: console's every method and process.stdout.write go to stderr", async () => {
  // guarantee: Protocol
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/noisy.ts`;
    await Deno.writeTextFile(
      script,
      `import process from "node:process";
import { guardStdout } from "${REPO}lib/listener.ts";
guardStdout();
console.log("log"); console.info("info"); console.debug("debug"); console.table([1]);
console.dir({ a: 1 }); console.dirxml("dirxml"); console.count("count"); console.countReset("count");
console.time("time"); console.timeLog("time"); console.timeEnd("time"); console.group("group");
console.groupEnd();
process.stdout.write("node\\n");
`,
    );
    const out = await new Deno.Command(DENO, { args: ["run", "-A", script], stdin: "null" })
      .output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(stdout, "");
    for (const word of ["log", "info", "debug", "dirxml", "count", "time", "node"]) {
      assert.match(stderr, new RegExp(word));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
