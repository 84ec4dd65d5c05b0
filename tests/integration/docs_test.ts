/**
 * The docs follow the product: every subcommand has a page under
 * docs/commands/ naming every long flag its --help prints (the flags every
 * listener shares may be left to docs/configuration.md), and every relative
 * link in README.md and docs/ reaches a file and, for a page, a heading;
 * the Architecture tree of docs/development.md names every module.
 */
import assert from "node:assert/strict";
import { dirname, join, normalize } from "node:path";
import { SUBCOMMANDS } from "../../commands/mod.ts";
import { CHECK_NAMES } from "../../checks/load.ts";
import { DENO, REPO, RUN_MAIN } from "../support/supervisord.ts";
import { anchors, DOC_FILES, readDoc, withoutCode } from "../support/docs.ts";

/** The long flags `<subcommand> --help` declares: those on its option lines, not in the prose. */
async function helpFlags(subcommand: string): Promise<Set<string>> {
  const out = await new Deno.Command(DENO, {
    args: [...RUN_MAIN, subcommand, "--help"],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const help = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `${subcommand} --help: ${new TextDecoder().decode(out.stderr)}`);
  // an option line: two spaces, a flag, then two spaces and its description (or nothing)
  const specs = [...help.matchAll(/^ {2}(-.*?)(?: {2,}|$)/gm)].map((m) => m[1]);
  return new Set(specs.flatMap((spec) => spec.match(/--[A-Za-z][\w-]*/g) ?? []));
}

/** Whether a page names `flag` as a whole word (`--config` is not in `--config-x`). */
function names(page: string, flag: string): boolean {
  return new RegExp(`(?<![\\w-])${flag}(?![\\w-])`).test(page);
}

Deno.test("docs: every subcommand has a page naming every long flag of its --help", async () => {
  // guarantee: Docs follow the code
  const flags = new Map(
    await Promise.all(SUBCOMMANDS.map(async (s) => [s, await helpFlags(s)] as const)),
  );
  // the flags every single-check listener prints: documented once, in docs/configuration.md
  const shared = new Set(
    [...flags.get(CHECK_NAMES[0])!].filter((f) => CHECK_NAMES.every((c) => flags.get(c)!.has(f))),
  );
  assert.ok(shared.has("--failure-threshold") && shared.has("--help"), [...shared].join(" "));
  const configuration = readDoc("docs/configuration.md");
  const missing: string[] = [];
  for (const [subcommand, declared] of flags) {
    const path = `docs/commands/${subcommand}.md`;
    assert.ok(DOC_FILES.includes(path), `${subcommand} has no page ${path}`);
    assert.ok(declared.size >= 2, `${subcommand} --help declares ${[...declared]}`);
    const page = readDoc(path);
    for (const flag of declared) {
      if (!names(page, flag) && !(shared.has(flag) && names(configuration, flag))) {
        missing.push(`${path}: ${flag}`);
      }
    }
  }
  assert.deepEqual(missing, [], "flags of --help missing from the docs");
  // and no page for a subcommand that does not exist
  const pages = DOC_FILES.filter((f) => f.startsWith("docs/commands/"));
  assert.deepEqual(pages, SUBCOMMANDS.map((s) => `docs/commands/${s}.md`).sort());
});

Deno.test("docs: every relative link in README.md and docs/ reaches a file, and a heading", () => {
  // guarantee: Docs follow the code
  const broken: string[] = [];
  let checked = 0;
  for (const file of DOC_FILES) {
    // links outside code: inline code is dropped too, so `a](b)` in it is no link
    const text = withoutCode(readDoc(file)).replace(/`[^`\n]*`/g, "");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, mailto:
      checked++;
      const [path, anchor] = target.split("#");
      const resolved = path === "" ? file : normalize(join(dirname(file), path));
      let isFile = false;
      try {
        isFile = Deno.statSync(`${REPO}${resolved}`).isFile;
      } catch {
        broken.push(`${file}: ${target}: no ${resolved}`);
        continue;
      }
      if (anchor !== undefined && !(isFile && anchors(readDoc(resolved)).has(anchor))) {
        broken.push(`${file}: ${target}: no heading #${anchor} in ${resolved}`);
      }
    }
  }
  assert.ok(checked > 100, `only ${checked} links checked`);
  assert.deepEqual(broken, []);
});

Deno.test("docs: the Architecture tree names every module of commands/, checks/ and lib/", async () => {
  const page = readDoc("docs/development.md");
  const block = page.slice(
    page.indexOf("## Architecture"),
    page.indexOf("\n## ", page.indexOf("## Architecture") + 1),
  );
  assert.ok(block.includes("```"), "the Architecture section holds the tree");
  const missing: string[] = [];
  for (const dir of ["commands", "checks", "lib"]) {
    for await (const e of Deno.readDir(`${REPO}${dir}`)) {
      if (!e.isFile || !e.name.endsWith(".ts")) continue;
      if (!new RegExp(`(?<![\\w.])${e.name.replace(".", "\\.")}(?![\\w])`).test(block)) {
        missing.push(`${dir}/${e.name}`);
      }
    }
  }
  assert.deepEqual(missing.sort(), []);
});
