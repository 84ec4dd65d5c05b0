/**
 * Options are validated from their one declaration (lib/option.ts), without
 * a schema library: zod (about 6 MB per process that loads it) is gone, and
 * so is httpok's former flag table (lib/legacy_options.ts). Nothing may
 * bring either back, as an import or as a dependency.
 */
import assert from "node:assert/strict";
import { REPO } from "../support/supervisord.ts";

/** Every .ts file of the project but the tests (which may mention the names, as this one does). */
async function sources(dir = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(`${REPO}${dir}`)) {
    const path = `${dir}${e.name}`;
    if (e.isDirectory && !e.name.startsWith(".") && !["tests", "dist"].includes(e.name)) {
      files.push(...await sources(`${path}/`));
    } else if (e.isFile && e.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

/** A zod import or an import of the legacy module, in a file's text. */
export function forbiddenImport(text: string): string | undefined {
  if (/(?:\bfrom\s+|\bimport\s*\(?\s*)["'](?:npm:)?zod(?:@[^/"']*)?(?:\/[^"']*)?["']/.test(text)) {
    return "imports zod";
  }
  if (/["'][^"']*legacy_options(?:\.ts)?["']/.test(text)) return "imports legacy_options";
}

Deno.test("schema-free: the import pattern catches each way of writing the imports", () => {
  for (
    const text of [
      'import { z } from "zod";',
      "import { z } from 'npm:zod@4.6.7';",
      'const { z } = await import("zod/mini");',
      'import "zod";',
      'import { parseFlags } from "../lib/legacy_options.ts";',
    ]
  ) assert.ok(forbiddenImport(text), text);
  assert.equal(forbiddenImport('import { parse } from "./option.ts"; // zod was here'), undefined);
});

Deno.test("schema-free: no file imports zod or lib/legacy_options.ts, which is gone", async () => {
  const files = await sources();
  assert.ok(files.includes("commands/httpok.ts") && files.includes("lib/option.ts"), "walked");
  const offenders: string[] = [];
  for (const file of files) {
    const problem = forbiddenImport(await Deno.readTextFile(`${REPO}${file}`));
    if (problem) offenders.push(`${file} ${problem}`);
  }
  assert.deepEqual(offenders, []);
  assert.ok(!files.includes("lib/legacy_options.ts"), "lib/legacy_options.ts is deleted");
});

Deno.test("schema-free: zod is no dependency (deno.json, deno.lock)", async () => {
  for (const file of ["deno.json", "deno.lock"]) {
    const text = await Deno.readTextFile(`${REPO}${file}`);
    assert.doesNotMatch(text, /["'](?:npm:)?zod[@"']/, `${file} names zod`);
  }
});
