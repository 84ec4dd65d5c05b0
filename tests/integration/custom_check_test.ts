/**
 * A user's binary with a check kind of its own (examples/not_frozen_check.ts),
 * run as a user would: copied to a directory outside the checkout, importing
 * mod.ts by absolute path, started by deno with no config file (no import
 * map) and from the cache only (no network), under a real supervisord.
 */
import assert from "node:assert/strict";
import { defineCheck, main } from "../../mod.ts";
import type { ExtraKinds } from "../../commands/mod.ts";
import { notFrozenCheck } from "../../examples/not_frozen_check.ts";
import { DENO, REPO, shq, Supervisord } from "../support/supervisord.ts";

/** The example, copied into `dir` with its import of mod.ts made absolute; its path. */
async function copyExample(dir: string): Promise<string> {
  const source = await Deno.readTextFile(`${REPO}examples/not_frozen_check.ts`);
  assert.match(source, /from "\.\.\/mod\.ts"/);
  const file = `${dir}/my_binary.ts`;
  await Deno.writeTextFile(file, source.replace(`"../mod.ts"`, JSON.stringify(`${REPO}mod.ts`)));
  return file;
}

/** `deno run` of the copy: no deno.json, no import map, npm packages from the cache only. */
const runArgs = (file: string) => ["run", "-A", "--no-config", "--cached-only", file];

async function runOutside(dir: string, file: string, args: string[]) {
  const out = await new Deno.Command(DENO, {
    args: [...runArgs(file), ...args],
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

const RUN_YAML = `interval: 1
checks:
  - name: b_frozen
    group: b
    not_frozen: { states: T }
`;

Deno.test("custom kind from outside the checkout: complex -c, run --config and its own subcommand restart a frozen process, not a running one", async () => {
  // guarantee: Custom kinds
  const dir = await Deno.makeTempDir({ prefix: "my-binary-" });
  try {
    assert.ok(!dir.startsWith(REPO));
    const file = await copyExample(dir);
    await Deno.writeTextFile(`${dir}/checks.yaml`, RUN_YAML);
    const interval = ["--interval", "1"];
    // group → the listener that checks it with the user's kind, and how
    const listeners: Record<string, [string, string[]]> = {
      a: ["complex_frozen", [
        "complex",
        "-n",
        "a_frozen",
        "-g",
        "a",
        ...interval,
        "-c",
        '{"not_frozen":{}}',
      ]],
      b: ["run_frozen", ["run", "--config", `${dir}/checks.yaml`]],
      c: ["own_frozen", ["not_frozen", "-n", "c_frozen", "-g", "c", ...interval]],
    };
    const groups = Object.keys(listeners);
    await using sv = await Supervisord.start({
      sections: (logs) =>
        groups.map((g) =>
          [1, 2].map((i) => `[program:${g}${i}]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n`)
            .join("") +
          `[group:${g}]\nprograms=${g}1,${g}2\n` +
          `[eventlistener:${listeners[g][0]}]
command=${[DENO, ...runArgs(file), ...listeners[g][1]].map(shq).join(" ")}
directory=${dir}
events=TICK_5
stderr_logfile=${logs}/${listeners[g][0]}.err.log
startsecs=0
`
        ).join(""),
    });
    const before = await sv.waitRunning(groups.flatMap((g) => [`${g}:${g}1`, `${g}:${g}2`]));
    for (const g of groups) await sv.kill(`${g}:${g}2`, "SIGSTOP");
    for (const g of groups) {
      const frozen = `${g}:${g}2`;
      await sv.waitRestarted(frozen, before[frozen]);
      const log = await sv.waitLog(
        listeners[g][0],
        new RegExp(`${frozen} \\(pid \\d+\\): restarted`),
      );
      assert.match(
        log,
        new RegExp(
          `${frozen} \\(pid \\d+\\): not_frozen unhealthy: process state is T \\(stopped\\)`,
        ),
      );
    }
    for (const g of groups) {
      assert.equal((await sv.process(`${g}:${g}1`)).pid, before[`${g}:${g}1`]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("custom kind from outside the checkout: validate and --validate accept it by name, an unknown kind is named", async () => {
  // guarantee: Custom kinds
  const dir = await Deno.makeTempDir({ prefix: "my-binary-" });
  try {
    const file = await copyExample(dir);
    await Deno.writeTextFile(`${dir}/checks.yaml`, RUN_YAML);
    await Deno.writeTextFile(`${dir}/typo.yaml`, RUN_YAML.replace("not_frozen:", "not_frozn:"));
    const select = ["-n", "x", "-g", "w", "--validate"];

    for (
      const args of [
        ["complex", ...select, "-c", '{"not_frozen":{},"memory":{"max_rss":"1GB"}}'],
        ["run", "--config", "checks.yaml", "--validate"],
        ["not_frozen", ...select, "--states", "T"],
        ["validate", "checks.yaml"],
      ]
    ) {
      const out = await runOutside(dir, file, args);
      assert.equal(out.code, 0, `${args.join(" ")}: ${out.stderr}`);
      assert.match(out.stdout, /: (memory \+ )?not_frozen on group '(w|b)'/);
    }

    const typo = await runOutside(dir, file, ["complex", ...select, "-c", '{"not_frozn":{}}']);
    assert.equal(typo.code, 2);
    assert.match(
      typo.stderr,
      /-c\/--check-config: unknown key 'not_frozn' \(check kinds: .*not_frozen\)/,
    );
    const typoRun = await runOutside(dir, file, ["run", "--config", "typo.yaml", "--validate"]);
    assert.equal(typoRun.code, 2);
    assert.match(typoRun.stderr, /checks\[0\] \(b_frozen\): unknown key 'not_frozn'/);
    const typoFile = await runOutside(dir, file, ["validate", "typo.yaml"]);
    assert.equal(typoFile.code, 2);
    assert.match(typoFile.stderr, /typo\.yaml: checks\[0\] \(b_frozen\): unknown key 'not_frozn'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main: a kind of one's own may not shadow a subcommand, a config key or another kind", async () => {
  // guarantee: Custom kinds
  const kind = (name: string) => defineCheck({ name, run: () => true });
  const errors: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => errors.push(args.join(" "));
  try {
    for (
      const checks of [[kind("http")], [kind("run")], [kind("group")], [kind("url")], [
        kind("x"),
        kind("x"),
      ], [kind("1x")]]
    ) {
      assert.equal(await main(["--version"], { checks }), 2);
    }
  } finally {
    console.error = error;
  }
  assert.deepEqual(errors, [
    "supervisor-checks: check kind 'http' would shadow the subcommand http",
    "supervisor-checks: check kind 'run' would shadow the subcommand run",
    "supervisor-checks: check kind 'group' would shadow the run config key group",
    "supervisor-checks: check kind 'url' would shadow the serve config key url",
    "supervisor-checks: check kind 'x' is given twice",
    "supervisor-checks: check kind '1x': a name is a letter, then letters, digits, _ or -",
  ]);
  assert.equal(await main(["--version"], { checks: [kind("mine")] }), 0);
});

/** main's exit status and what it printed to stdout, in this process. */
async function mainOutput(argv: string[], checks: ExtraKinds): Promise<[number, string]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    return [await main(argv, { checks }), lines.join("\n")];
  } finally {
    console.log = log;
  }
}

Deno.test("main: validate and serve --validate take a config naming one's own kind", async () => {
  // guarantee: Custom kinds
  const dir = await Deno.makeTempDir({ prefix: "my-binary-" });
  try {
    const serveYaml = `${dir}/serve.yaml`;
    await Deno.writeTextFile(`${dir}/run.yaml`, RUN_YAML);
    await Deno.writeTextFile(
      serveYaml,
      "checks:\n  - name: w\n    group: w\n    not_frozen: {}\nhealthcheck: { success_ttl: 5 }\n",
    );
    const [code, out] = await mainOutput(
      ["validate", `${dir}/run.yaml`, serveYaml],
      [notFrozenCheck],
    );
    assert.equal(code, 0, out);
    assert.match(out, /run\.yaml: valid run config\n {2}b_frozen: not_frozen on group 'b'/);
    assert.match(out, /serve\.yaml: valid serve config\n {2}w: not_frozen on group 'w'/);
    const [serveCode, serveOut] = await mainOutput(
      ["serve", "--config", serveYaml, "--validate"],
      [notFrozenCheck],
    );
    assert.equal(serveCode, 0, serveOut);
    assert.match(serveOut, /w: not_frozen on group 'w'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
