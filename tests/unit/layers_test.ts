/**
 * The tree's layers: main.ts → commands/ → lib/ → (nothing above it), and
 * checks/ on lib/'s check-facing modules only. Imports run one way and
 * never in a cycle (docs/development.md, Architecture).
 */
import assert from "node:assert/strict";
import { REPO } from "../support/supervisord.ts";

const ROOT = REPO.replace(/\/$/, "");

/** Every project module of the product (not tests, benchmarks, demo or examples). */
async function modules(): Promise<string[]> {
  const files = ["main.ts", "mod.ts"];
  for (const dir of ["commands", "lib", "checks"]) {
    for await (const e of Deno.readDir(`${ROOT}/${dir}`)) {
      if (e.isFile && e.name.endsWith(".ts")) files.push(`${dir}/${e.name}`);
    }
  }
  return files.sort();
}

/** The project files `file` imports (static, dynamic and type imports; re-exports). */
async function importsOf(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(`${ROOT}/${file}`);
  const specifiers = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^"']*?from\s+["']([^"']+)["']/g),
    ...text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g),
    ...text.matchAll(/(?:^|\n)\s*import\s+["']([^"']+)["']/g),
  ].map((m) => m[1]);
  return specifiers.filter((s) => s.startsWith(".")).map((s) =>
    new URL(s, `file://${ROOT}/${file}`).pathname.slice(ROOT.length + 1)
  );
}

/** What the checks may use from lib/: the contract and I/O helpers, nothing of supervisord or restarts. */
const SUPERVISORD_SIDE = [
  "cli",
  "finisher",
  "listen",
  "listener",
  "notify",
  "policy",
  "protocol",
  "restart",
  "runner",
  "schedule",
  "select",
  "supervisor",
].map((m) => `lib/${m}.ts`);

/** Why `file` must not import `target`, or undefined when it may. */
export function layerProblem(file: string, target: string): string | undefined {
  const layer = file.split("/")[0];
  if (layer === "lib" && /^(commands|checks)\//.test(target)) {
    return "lib/ knows no subcommand and no check kind";
  }
  if (layer === "checks" && target.startsWith("commands/")) return "a check knows no subcommand";
  if (layer === "checks" && SUPERVISORD_SIDE.includes(target)) {
    return "a check knows nothing of supervisord, policy or restarts";
  }
  if (["lib", "checks", "commands"].includes(layer) && ["main.ts", "mod.ts"].includes(target)) {
    return "nothing imports the entry points";
  }
  return undefined;
}

Deno.test("layers: the rule refuses upward imports and allows downward ones", () => {
  assert.ok(layerProblem("lib/runner.ts", "checks/http.ts"));
  assert.ok(layerProblem("lib/listen.ts", "commands/run.ts"));
  assert.ok(layerProblem("checks/http.ts", "lib/restart.ts"));
  assert.ok(layerProblem("checks/http.ts", "commands/httpok.ts"));
  assert.ok(layerProblem("commands/run.ts", "main.ts"));
  assert.equal(layerProblem("commands/httpok.ts", "checks/http.ts"), undefined);
  assert.equal(layerProblem("checks/http.ts", "lib/check.ts"), undefined);
  assert.equal(layerProblem("main.ts", "commands/mod.ts"), undefined);
});

Deno.test("layers: imports only run downward (main → commands → lib; checks see lib's check side)", async () => {
  const problems: string[] = [];
  for (const file of await modules()) {
    for (const target of await importsOf(file)) {
      const problem = layerProblem(file, target);
      if (problem) problems.push(`${file} imports ${target}: ${problem}`);
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("layers: no import cycles among the product's modules", async () => {
  const graph = new Map<string, string[]>();
  for (const file of await modules()) graph.set(file, await importsOf(file));
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      cycles.push([...path.slice(path.indexOf(file)), file].join(" → "));
      return;
    }
    state.set(file, "open");
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, "done");
  };
  for (const file of graph.keys()) visit(file, []);
  assert.deepEqual(cycles, []);
});

/**
 * The modules that talk to supervisord or act on processes; whatever
 * imports one of them, directly or not, is on the supervisord side.
 */
const SUPERVISORD_ROOTS = ["lib/supervisor.ts", "lib/restart.ts", "lib/listener.ts"];

/** Every module `file` reaches through its imports. */
function reach(graph: Map<string, string[]>, file: string): Set<string> {
  const seen = new Set<string>();
  const todo = [file];
  while (todo.length) {
    for (const next of graph.get(todo.pop()!) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

Deno.test("layers: no check reaches the supervisord side, even through another module", async () => {
  const graph = new Map<string, string[]>();
  for (const file of await modules()) graph.set(file, await importsOf(file));
  // the rule itself: a module importing the runner reaches supervisor.ts
  assert.ok(reach(graph, "lib/runner.ts").has("lib/supervisor.ts"));
  const problems = [...graph.keys()].filter((f) => f.startsWith("checks/")).flatMap((f) =>
    [...reach(graph, f)].filter((m) => SUPERVISORD_ROOTS.includes(m)).map((m) => `${f} → ${m}`)
  );
  assert.deepEqual(problems, []);
});
