/**
 * Options are validated from their one declaration (lib/option.ts), without
 * a schema library: zod (about 6 MB per process that loads it) is left only
 * to serve and httpok, through lib/legacy_options.ts, until they too are
 * converted. A listener, run, complex, validate and heartbeat never load it.
 */
import assert from "node:assert/strict";
import { REPO } from "../support/supervisord.ts";

/** Until serve and httpok are declared with lib/option.ts. */
const LEGACY_USERS = ["commands/httpok.ts", "commands/serve.ts", "lib/serve_config.ts"];

Deno.test("zod: imported by lib/legacy_options.ts and serve's config only; the legacy module by serve and httpok only", async () => {
  const offenders: string[] = [];
  for (const dir of ["commands", "lib", "checks", "."]) {
    for await (const e of Deno.readDir(`${REPO}${dir}`)) {
      if (!e.isFile || !e.name.endsWith(".ts")) continue;
      const file = dir === "." ? e.name : `${dir}/${e.name}`;
      const text = await Deno.readTextFile(`${REPO}${file}`);
      const zod = /from\s+["']zod["']|import\(\s*["']zod["']/.test(text);
      const legacy = /["'][./]+(?:lib\/)?legacy_options\.ts["']/.test(text);
      const mayZod = [...LEGACY_USERS, "lib/legacy_options.ts"].includes(file);
      if (zod && !mayZod) offenders.push(`${file} imports zod`);
      if (legacy && !LEGACY_USERS.includes(file)) offenders.push(`${file} imports legacy_options`);
    }
  }
  assert.deepEqual(offenders, []);
});
