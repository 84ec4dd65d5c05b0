/**
 * The real entry point's start-up behaviour: --version, --help, and bad
 * input rejected with a non-zero exit and a message naming the flag.
 */
import assert from "node:assert/strict";
import { CHECKS } from "../../checks/mod.ts";
import { listenerOptionsFor } from "../../lib/cli.ts";
import { flagLabel } from "../../lib/options.ts";
import { DENO, MAIN, RUN_MAIN, waitFor } from "../support/supervisord.ts";
import config from "../../deno.json" with { type: "json" };

async function run(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(DENO, {
    args: [...RUN_MAIN, ...args],
    env: { SUPERVISOR_SERVER_URL: "unix:///nonexistent.sock", ...env },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("--version prints the version from deno.json", async () => {
  const r = await run(["--version"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), `supervisor-checks ${config.version}`);
});

Deno.test("--help of every listener subcommand lists every flag with its default", async () => {
  for (const definition of Object.values(CHECKS)) {
    const r = await run([definition.name, "--help"]);
    assert.equal(r.code, 0, definition.name);
    for (const spec of [...listenerOptionsFor(definition.options), ...definition.options]) {
      const label = flagLabel(spec);
      const line = r.stdout.split("\n").find((l) => l.trimStart().startsWith(label));
      assert.ok(line, `${definition.name} --help lacks ${label}`);
      if (spec.defaultText !== undefined) {
        assert.ok(
          line.includes(`Default: ${spec.defaultText}`),
          `${definition.name} --help: ${label} without its default ${spec.defaultText}`,
        );
      }
    }
  }
  const http = await run(["http", "--help"]);
  assert.match(http.stdout, /-t\/--timeout SECONDS .*Default: 15/);
  assert.match(http.stdout, /--interval, --check-interval SECONDS .*Default: off/);
  for (const command of ["complex", "run", "httpok", "serve", "heartbeat", "install-compat"]) {
    const r = await run([command, "--help"]);
    assert.equal(r.code, 0, `${command} --help`);
    assert.match(r.stdout, /Usage: /, command);
  }
  const top = await run(["--help"]);
  for (
    const name of [
      ...Object.keys(CHECKS),
      "complex",
      "run",
      "httpok",
      "serve",
      "heartbeat",
      "install-compat",
    ]
  ) {
    assert.match(top.stdout, new RegExp(`^  ${name} `, "m"), `top-level --help lacks ${name}`);
  }
});

const BAD: [string[], RegExp][] = [
  [["http", "-g", "web", "-p", "80"], /-n\/--check-name is required/],
  [["http", "-n", "c", "-p", "80"], /one of -g\/--process-group or -N\/--process-name is required/],
  [
    ["http", "-n", "c", "-g", "w", "-p", "(\\d+"],
    /-p\/--port: '\(\\d\+' is not a valid regular expression/,
  ],
  [
    ["http", "-n", "c", "-g", "w", "-p", ".+_\\d+"],
    /-p\/--port: .*exactly one capture group.*has 0/,
  ],
  [
    ["tcp", "-n", "c", "-g", "w", "-p", "(.+)_(\\d+)"],
    /-p\/--port: .*exactly one capture group.*has 2/,
  ],
  [["tcp", "-n", "c", "-g", "w", "-p", "70000"], /-p\/--port: port 70000 is out of range 1-65535/],
  [["tcp", "-n", "c", "-g", "w"], /-p\/--port: is required/],
  [["http", "-n", "c", "-g", "w", "-p", "80", "-H", "{nope"], /-H\/--headers: not valid JSON/],
  [
    ["http", "-n", "c", "-g", "w", "-p", "80", "-H", "[1,2]"],
    /-H\/--headers: must be a JSON object/,
  ],
  [
    ["http", "-n", "c", "-g", "w", "-p", "80", "-m", "POST", "-j", "{x"],
    /-j\/--json: not valid JSON/,
  ],
  [
    ["http", "-n", "c", "-g", "w", "-p", "80", "-t", "soon"],
    /-t\/--timeout: expected a number of seconds, got 'soon'/,
  ],
  [
    ["http", "-n", "c", "-g", "w", "-p", "80", "--num-retries=-1"],
    /-r\/--num-retries: must be a whole number/,
  ],
  [["http", "-n", "c", "-g", "w", "-p", "80", "-r", "-1"], /Option '-r' argument is ambiguous/],
  [
    ["http", "-n", "c", "-g", "w", "-p", "80", "--expect-status", "2xx"],
    /--expect-status: '2xx' is not a status code/,
  ],
  [
    ["http", "-n", "c", "-g", "w", "-p", "80", "--password-env", "NO_SUCH_VAR_X"],
    /--password-env: environment variable NO_SUCH_VAR_X is not set/,
  ],
  [
    ["http", "-n", "c", "-g", "w", "-p", "80", "--password-file", "/no/such/file"],
    /--password-file: cannot read \/no\/such\/file/,
  ],
  [
    ["http", "-n", "c", "-g", "w", "-p", "80", "-P", "x", "--password-env", "HOME"],
    /give only one of -P\/--password, --password-env, --password-file/,
  ],
  [
    ["http", "-n", "c", "-g", "w", "-u", "ping"],
    /-u\/--url: 'ping' must be a path starting with \//,
  ],
  [
    ["http", "-n", "c", "-g", "w", "-p", "80", "-j", "{}"],
    /-m\/--method: GET requests carry no body/,
  ],
  [
    ["http", "-n", "c", "-N", "a:b:c", "-p", "80"],
    /-N\/--process-name: 'a:b:c' is not a process name/,
  ],
  [["tcp", "-n", "c", "-g", "w", "-p", "80", "--bogus"], /Unknown option '--bogus'/],
  [["nosuch"], /unknown subcommand 'nosuch'/],
];

Deno.test("bad flags exit 2 at start-up naming the flag, before touching supervisord", async () => {
  // guarantee: Start-up errors
  for (const [args, message] of BAD) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit code`);
    assert.match(r.stderr, message, args.join(" "));
    assert.equal(r.stdout, "", `${args.join(" ")}: nothing on stdout`);
  }
});

Deno.test("missing or malformed SUPERVISOR_SERVER_URL is a start-up error", async () => {
  // guarantee: Start-up errors
  const args = ["tcp", "-n", "c", "-g", "w", "-p", "80"];
  const missing = await run(args, { SUPERVISOR_SERVER_URL: "" });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /SUPERVISOR_SERVER_URL is not set/);
  const bad = await run(args, { SUPERVISOR_SERVER_URL: "ftp://x" });
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /SUPERVISOR_SERVER_URL 'ftp:\/\/x' has scheme ftp:; use unix:\/\/ or http:\/\//,
  );
});

Deno.test("the password from --password-env never shows in ps", async () => {
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      "-A",
      "--no-prompt",
      MAIN,
      "http",
      "-n",
      "c",
      "-g",
      "w",
      "-p",
      "80",
      "--password-env",
      "CHECK_PW",
    ],
    env: { SUPERVISOR_SERVER_URL: "unix:///nonexistent.sock", CHECK_PW: "s3cr3t-value" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    // until exec, /proc shows the parent's command line
    const cmdline = await waitFor(
      "the child's own command line",
      async () => {
        const text = await Deno.readTextFile(`/proc/${child.pid}/cmdline`);
        return text.includes(MAIN) ? text : undefined;
      },
      5_000,
      10,
    );
    assert.ok(cmdline.includes("--password-env"));
    assert.ok(!cmdline.includes("s3cr3t-value"));
  } finally {
    await child.stdin.close();
    const out = await child.output();
    assert.ok(!new TextDecoder().decode(out.stderr).includes("s3cr3t-value"));
  }
});
