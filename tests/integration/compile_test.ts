/**
 * `deno compile` must accept the entry point: no dynamic imports of files,
 * no reading sources at run time. denort (the base binary) cannot be
 * downloaded here, so the deno binary stands in for it through DENORT_BIN:
 * the module graph is built and bundled exactly as for a release, only the
 * runtime prefix differs (the result is not run).
 */
import assert from "node:assert/strict";
import { DENO, MAIN, REPO } from "../support/supervisord.ts";

for (const entry of [MAIN, `${REPO}examples/not_frozen_check.ts`]) {
  Deno.test(`deno compile bundles ${entry.slice(REPO.length)} (DENORT_BIN stand-in)`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const out = await new Deno.Command(DENO, {
        args: ["compile", "-A", "--output", `${dir}/supervisor-checks`, entry],
        env: { DENORT_BIN: DENO },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stderr);
      assert.ok(out.success, text);
      assert.ok((await Deno.stat(`${dir}/supervisor-checks`)).size > 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
