/**
 * Options are validated from their one declaration (lib/option.ts), without
 * a schema library: zod (about 6 MB per process that loads it) is left only
 * to httpok, through lib/legacy_options.ts, until it too is converted. A
 * listener, run, complex, validate, serve and heartbeat never load it.
 */
import assert from "node:assert/strict";
import { REPO } from "../support/supervisord.ts";

/** Until httpok is declared with lib/option.ts. */
const LEGACY_USERS = ["commands/httpok.ts"];

Deno.test("zod: imported by lib/legacy_options.ts only; the legacy module by httpok only", async () => {
  const offenders: string[] = [];
  for (const dir of ["commands", "lib", "checks", "."]) {
    for await (const e of Deno.readDir(`${REPO}${dir}`)) {
      if (!e.isFile || !e.name.endsWith(".ts")) continue;
      const file = dir === "." ? e.name : `${dir}/${e.name}`;
      const text = await Deno.readTextFile(`${REPO}${file}`);
      const zod = /from\s+["']zod["']|import\(\s*["']zod["']/.test(text);
      const legacy = /["'][./]+(?:lib\/)?legacy_options\.ts["']/.test(text);
      const mayZod = file === "lib/legacy_options.ts";
      if (zod && !mayZod) offenders.push(`${file} imports zod`);
      if (legacy && !LEGACY_USERS.includes(file)) offenders.push(`${file} imports legacy_options`);
    }
  }
  assert.deepEqual(offenders, []);
});
