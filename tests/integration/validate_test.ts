/**
 * `validate FILE…` and `--validate`: config files and command lines checked
 * with the loaders the commands use, without supervisord; every example in
 * README.md and docs/ passes.
 */
import assert from "node:assert/strict";
import { splitCommandLine } from "../../lib/subprocess.ts";
import { DENO, MAIN, REPO } from "../support/supervisord.ts";
import { allDocs } from "../support/docs.ts";
import { SUBCOMMANDS } from "../../commands/mod.ts";

async function run(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", "--no-prompt", MAIN, ...args],
    // no SUPERVISOR_SERVER_URL: nothing here may need supervisord
    env: { SUPERVISOR_SERVER_URL: "", ...env },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function tempFile(name: string, text: string): string {
  const dir = Deno.makeTempDirSync({ prefix: "validate-" });
  Deno.writeTextFileSync(`${dir}/${name}`, text);
  return `${dir}/${name}`;
}

const DOCS = allDocs();
const YAML_BLOCKS = [...DOCS.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
/** Where the docs' command lines expect the files of examples/. */
const INSTALLED = "/etc/supervisor-checks/";

Deno.test("validate: every YAML example of the docs is valid, as the kind it documents", async () => {
  const blocks = YAML_BLOCKS;
  assert.ok(blocks.length >= 3, "the docs have complex, run and serve examples");
  const kinds: string[] = [];
  for (const [i, block] of blocks.entries()) {
    const file = tempFile(`example${i}.yaml`, block);
    const r = await run(["validate", file]);
    assert.equal(r.code, 0, `${block}\n${r.stderr}`);
    kinds.push(/valid (\w+) config/.exec(r.stdout)![1]);
  }
  assert.deepEqual([...new Set(kinds)].sort(), ["complex", "run", "serve"]);
});

Deno.test("--validate: every command line of the docs is valid", async () => {
  const lines = [...DOCS.matchAll(/^command=(?:\/usr\/local\/bin\/)?supervisor-checks (.+)$/gm)]
    .map((m) => splitCommandLine(m[1]));
  assert.ok(lines.length >= 20, `${lines.length} command lines`);
  // every subcommand that has --validate is exercised (all but these)
  const without = ["heartbeat", "install-compat", "validate"];
  assert.deepEqual(
    [...new Set(lines.map((argv) => argv[0]))].sort(),
    SUBCOMMANDS.filter((name) => !without.includes(name)).sort(),
  );
  // the CA file of the example is the host's: a fresh self-signed one stands in for it
  const dir = Deno.makeTempDirSync({ prefix: "validate-ca-" });
  const ca = `${dir}/ca.pem`;
  const made = await new Deno.Command("openssl", {
    args: ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${dir}/key.pem`, "-out"]
      .concat([ca, "-subj", "/CN=127.0.0.1", "-days", "1"]),
    stdout: "null",
    stderr: "null",
  }).output();
  assert.ok(made.success, "openssl made a CA");
  // /etc/supervisor-checks.yaml is the docs' run config example (docs/configuration.md#run-config)
  const runExample = tempFile(
    "run.yaml",
    YAML_BLOCKS.find((b) => /^checks:/m.test(b) && !/^(healthcheck|environment):/m.test(b))!,
  );
  for (const line of lines) {
    // the host's files: the CA, the heartbeat directory, config files installed from examples/
    const argv = line.map((a) =>
      a === "/etc/ssl/internal-ca.pem"
        ? ca
        : a === "/run/workers/heartbeats"
        ? dir
        : a === "/etc/supervisor-checks.yaml"
        ? runExample
        : a.startsWith(INSTALLED)
        ? `${REPO}examples/${a.slice(INSTALLED.length)}`
        : a
    );
    // each variable an example names with a --*-env flag is the host's: a stand-in value
    const env: Record<string, string> = {};
    argv.forEach((a, i) => {
      if (/^--[\w-]+-env$/.test(a) && argv[i + 1]) env[argv[i + 1]] = "secret";
    });
    const r = await run([...argv, "--validate"], env);
    assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
    assert.match(
      r.stdout,
      argv[0] === "run"
        ? /^OK: \d+ check sets?, valid$/m
        : ["serve", "crashmail", "crashmailbatch", "fatalmailbatch", "crashsms"].includes(argv[0])
        ? /^OK: valid$/m
        : /^OK: 1 check set, valid$/m,
    );
  }
});

Deno.test("validate: good and bad files; errors name the file and the key; exit 0 or 2", async () => {
  const good = tempFile(
    "run.yaml",
    `interval: 5
checks:
  - name: web
    group: web
    http: { port: ".+_(\\\\d+)", url: /ping, timeout: 2 }
    failure_threshold: 2
    max_restarts: 3
    restart_window: 600
  - name: all
    any: true
    memory: { max_rss: 512MB }
`,
  );
  const ok = await run(["validate", good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(
    ok.stdout,
    `${good}: valid run config\n` +
      "  web: http on group 'web', every 5s, restart after 2 failed rounds in a row, at most 3 " +
      "restarts per process in 600s\n" +
      "  all: memory on every process but the event listeners, every 5s, restart after 1 failed " +
      "round in a row\n",
  );

  const badRun = tempFile(
    "bad.yaml",
    "checks:\n  - name: web\n    group: web\n  - name: cache\n    process: cache:redis\n    tcp: {}\n",
  );
  const badComplex = tempFile("bad.json", '{"memory": {"max_rs": 5}}');
  const badServe = tempFile(
    "serve.yaml",
    "healthcheck: { success_status: 200 }\nchecks:\n  - name: api\n    url: ftp://x\n",
  );
  const r = await run(["validate", badRun, good, badComplex, badServe]);
  assert.equal(r.code, 2);
  assert.match(
    r.stdout,
    new RegExp(`^${good}: valid run config$`, "m"),
    "the others still checked",
  );
  assert.match(
    r.stderr,
    new RegExp(`validate: error: ${badRun}: checks\\[0\\] \\(web\\): .*names no check`),
  );
  assert.match(
    r.stderr,
    new RegExp(`validate: error: ${badComplex}: .*memory: unknown key 'max_rs'`),
  );
  assert.match(r.stderr, new RegExp(`validate: error: ${badServe}: checks\\[0\\]\\.url: `));

  const forced = await run(["validate", "--kind", "serve", good]);
  assert.equal(forced.code, 2, "a run config is no serve config");
  assert.match(forced.stderr, /unknown key/);
  const kind = await run(["validate", "--kind", "cron", good]);
  assert.equal(kind.code, 2);
  assert.match(kind.stderr, /--kind: expected one of complex, run, serve, got 'cron'/);
  const none = await run(["validate"]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /give one or more config FILEs/);
});

Deno.test("--validate on run, complex and serve: no supervisord needed; exit 0 or 2 naming the key", async () => {
  // guarantee: Trying out
  const runFile = tempFile(
    "run.yaml",
    "checks:\n  - name: web\n    group: web\n    tcp: { port: 80 }\n    max_parallel_restarts: 1\n",
  );
  const r = await run(["run", "--config", runFile, "--validate"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^web: tcp on group 'web', on every TICK event, .*at most 1 restarting/m);
  const badRun = tempFile(
    "bad.yaml",
    "checks:\n  - name: web\n    group: web\n    tcp: { port: x }\n",
  );
  const b = await run(["run", "--config", badRun, "--validate"]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, new RegExp(`--config ${badRun}: checks\\[0\\]\\.tcp\\.port: `));

  const complexFile = tempFile("c.yaml", "http: { port: 8080, url: /ping }\n");
  const c = await run(["complex", "-n", "c", "-a", "--config", complexFile, "--validate"]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /^c: http on every process but the event listeners/m);

  const serveFile = tempFile(
    "s.yaml",
    "checks:\n  - name: web\n    group: web\n    tcp: { port: 80 }\n",
  );
  const s = await run(["serve", "--config", serveFile, "--validate"]);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /^web: tcp on group 'web', on each GET \/healthcheck$/m);
  const badServe = tempFile(
    "bs.yaml",
    "checks:\n  - name: web\n    group: web\n    tcp: { porx: 80 }\n",
  );
  const bs = await run(["serve", "--config", badServe, "--validate"]);
  assert.equal(bs.code, 2);
  assert.match(
    bs.stderr,
    new RegExp(`--config ${badServe}: .*checks\\[0\\]\\.tcp: unknown key 'porx'`),
  );

  const both = await run(["http", "-n", "x", "-g", "w", "-p", "80", "--once", "--validate"]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /give only one of --once and --validate/);
});

Deno.test("--validate on httpok: prints the GET, the programs and the policy without supervisord; exit 2 naming the flag", async () => {
  // guarantee: Trying out
  const ok = await run([
    "httpok",
    "-p",
    "web",
    "-c",
    "200-299",
    "-b",
    "pong",
    "--failure-threshold",
    "2",
    "--url-env",
    "SC_TEST_URL",
    "--validate",
  ], { SC_TEST_URL: "http://user:pw@127.0.0.1:8080/ping" });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(
    ok.stdout,
    'httpok: GET http://user:********@127.0.0.1:8080/ping expecting status 200-299, body containing "pong" ' +
      "within 10s on programs web, on every TICK event, restart after 2 failed rounds in a row\n" +
      "OK: 1 check set, valid\n",
  );
  for (
    const [argv, message] of [
      [["-t", "0"], /^supervisor-checks httpok: error: -t\/--timeout: must be greater than 0$/m],
      [["-p", "a:b:c"], /^supervisor-checks httpok: error: -p\/--program: 'a:b:c' is not a/m],
      [["--once"], /: --validate: give only one of --once and --validate$/m],
    ] as [string[], RegExp][]
  ) {
    const bad = await run(["httpok", ...argv, "--validate", "http://127.0.0.1:8080/"]);
    assert.equal(bad.code, 2, argv.join(" "));
    assert.equal(bad.stdout, "");
    assert.match(bad.stderr, message);
  }
});

Deno.test("-a/--any: the original's group-less line has an equivalent; the missing-selection error suggests it", async () => {
  const missing = await run(["file", "-n", "example_check", "-t", "30"]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /one of -g\/--process-group or -N\/--process-name is required, or -a\/--any for every process but the event listeners/,
  );
  const any = await run(["file", "-n", "example_check", "-t", "30", "-a", "--validate"]);
  assert.equal(any.code, 0, any.stderr);
  assert.match(any.stdout, /example_check: file on every process but the event listeners/);
  const clash = await run(["file", "-n", "x", "-t", "30", "-a", "-g", "web"]);
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /-a\/--any selects every process: leave out -g\/--process-group/);
});
