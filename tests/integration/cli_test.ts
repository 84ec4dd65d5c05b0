/**
 * The real entry point's start-up behaviour: --version, --help, and bad
 * input rejected with a non-zero exit and a message naming the flag.
 */
import assert from "node:assert/strict";
import { CHECKS } from "../../checks/mod.ts";
import { SUBCOMMANDS } from "../../commands/mod.ts";
import { BEHAVIOUR, LISTENER } from "../../lib/cli.ts";
import { configKeys, helpRows } from "../../lib/option.ts";
import { CONFIG_REFERENCE } from "../../lib/check_config.ts";
import { LOG } from "../../lib/settings.ts";
import { DENO, MAIN, RUN_MAIN, waitFor } from "../support/supervisord.ts";
import { anchors, readDoc } from "../support/docs.ts";
import config from "../../deno.json" with { type: "json" };

async function run(args: string[], env: Record<string, string> = {}, signal?: AbortSignal) {
  const out = await new Deno.Command(DENO, {
    args: [...RUN_MAIN, ...args],
    env: { SUPERVISOR_SERVER_URL: "unix:///nonexistent.sock", ...env },
    stdin: "null",
    signal,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("--version prints the version from deno.json", async () => {
  const r = await run(["--version"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), `supervisor-checks ${config.version}`);
});

/**
 * The --help entry of the flag `label`: its line and the description lines
 * under it (wrapped, or all of it below a long flag), joined by spaces.
 */
function helpEntry(help: string, label: string): string | undefined {
  const lines = help.split("\n");
  const start = lines.findIndex((l) => /^ {2,4}\S/.test(l) && l.trimStart().startsWith(label));
  if (start < 0) return undefined;
  const rest = lines.slice(start + 1);
  // descriptions start at column 30
  const end = rest.findIndex((l) => !/^ {30}\S/.test(l));
  return [lines[start], ...rest.slice(0, end < 0 ? rest.length : end)]
    .map((l) => l.trim()).join(" ");
}

Deno.test("--help of every listener subcommand lists every flag with its default", async () => {
  for (const definition of Object.values(CHECKS)) {
    const r = await run([definition.name, "--help"]);
    assert.equal(r.code, 0, definition.name);
    // every option of the check and of the listener, as the declarations spell them
    for (const row of helpRows([definition.options.spec, LISTENER.spec]).flat()) {
      const label = row.left.split(" ")[0].replace(/,$/, "");
      const line = helpEntry(r.stdout, label);
      assert.ok(line, `${definition.name} --help lacks ${label}`);
      const shown = /Default: (.*)$/.exec(row.text)?.[1];
      if (shown !== undefined) {
        assert.ok(
          line.includes(`Default: ${shown}`),
          `${definition.name} --help: ${label} without its default ${shown}`,
        );
      }
    }
  }
  const http = (await run(["http", "--help"])).stdout;
  assert.match(helpEntry(http, "-t/--timeout") ?? "", /^-t\/--timeout SECONDS .*Default: 15/);
  assert.match(
    helpEntry(http, "--interval") ?? "",
    /^--interval, --check-interval SECONDS .*Default: off/,
  );
  for (const command of SUBCOMMANDS.filter((s) => !(s in CHECKS))) {
    const r = await run([command, "--help"]);
    assert.equal(r.code, 0, `${command} --help`);
    assert.match(r.stdout, /Usage: /, command);
  }
  // the ways to try before deploying, where each applies
  const tries: [string, string[]][] = [
    ["run", ["--once", "--validate"]],
    ["httpok", ["--once", "--validate"]],
    ["memmon", ["--once", "--validate"]],
  ];
  for (const [command, flags] of tries) {
    const r = await run([command, "--help"]);
    for (const flag of flags) assert.match(r.stdout, new RegExp(`^ {2}${flag} `, "m"), command);
  }
  assert.match((await run(["serve", "--help"])).stdout, /^ {2}--validate /m);
  assert.match((await run(["validate", "--help"])).stdout, /^ {2}--kind KIND /m);
  const top = await run(["--help"]);
  for (const name of SUBCOMMANDS) {
    assert.match(top.stdout, new RegExp(`^  ${name} `, "m"), `top-level --help lacks ${name}`);
  }
});

Deno.test("--help fits 80 columns and has Examples (and Environment where supervisord is called)", async () => {
  // guarantee: Help and config errors
  const talksToSupervisord = [
    ...Object.keys(CHECKS),
    "complex",
    "run",
    "httpok",
    "memmon",
    "serve",
  ];
  for (const command of [...SUBCOMMANDS, undefined]) {
    const r = await run(command ? [command, "--help"] : ["--help"]);
    assert.equal(r.code, 0, `${command} --help`);
    for (const line of r.stdout.split("\n")) {
      assert.ok([...line].length <= 80, `${command ?? "top-level"} --help: too wide: '${line}'`);
    }
    if (command === undefined) continue;
    const examples = r.stdout.split(/^Examples:$/m)[1];
    assert.ok(examples, `${command} --help has no Examples section`);
    assert.match(examples, new RegExp(`^ {2}supervisor-checks ${command}\\b`, "m"), command);
    if (talksToSupervisord.includes(command)) {
      const environment = r.stdout.split(/^Environment:$/m)[1] ?? "";
      for (const name of ["SUPERVISOR_SERVER_URL", "SUPERVISOR_USERNAME", "SUPERVISOR_PASSWORD"]) {
        assert.match(environment, new RegExp(`^ {2}${name} `, "m"), `${command}: ${name}`);
      }
    }
  }
  // every *-env flag names its variable in Environment
  const http = (await run(["http", "--help"])).stdout.split(/^Environment:$/m)[1];
  for (const flag of ["--password-env", "--headers-env", "--webhook-env"]) {
    assert.match(http, new RegExp(`the variable you name with ${flag}$`, "m"), flag);
  }
  const serve = (await run(["serve", "--help"])).stdout.split(/^Environment:$/m)[1];
  assert.match(serve, /the variable you name with --application-health-ready-url-env$/m);
  assert.match((await run(["httpok", "--help"])).stdout, /the variable you name with --url-env$/m);
  // a flag too long for the column: its description starts on the next line, aligned
  assert.match(http, /^ {2}the variable you name with --headers-env\n {30}\S/m);
});

Deno.test("run --help lists the config keys: top level, per entry and per check kind", async () => {
  // guarantee: Help and config errors
  const help = (await run(["run", "--help"])).stdout;
  const keys = (label: string) => {
    const text = helpEntry(help.split(/^Config file keys.*$/m)[1], label);
    assert.ok(text, `run --help: no '${label}' keys`);
    return new Set(text.slice(label.length).split(/[\s,.:]+/).filter(Boolean));
  };
  const behaviour = configKeys(BEHAVIOUR.spec);
  const top = keys("top level");
  for (const key of ["checks", ...behaviour, ...configKeys(LOG.spec)]) {
    assert.ok(top.has(key), `top level lacks ${key}`);
  }
  const entry = keys("each entry of checks");
  for (const key of ["name", "group", "process", "any", ...behaviour, ...Object.keys(CHECKS)]) {
    assert.ok(entry.has(key), `entry lacks ${key}`);
  }
  for (const definition of Object.values(CHECKS)) {
    const own = keys(definition.name);
    for (const key of configKeys(definition.options.spec)) {
      assert.ok(own.has(key), `${definition.name}.${key}`);
    }
  }
});

Deno.test("config file errors point to the config reference; a YAML error quotes its line", async () => {
  // guarantee: Help and config errors
  const dir = await Deno.makeTempDir();
  try {
    const badYaml = `${dir}/syntax.yaml`;
    await Deno.writeTextFile(badYaml, "checks:\n  - name: web\n    group: web: web\n");
    const unknown = `${dir}/unknown.yaml`;
    await Deno.writeTextFile(unknown, "checks:\n  - name: web\n    group: web\n    htp: {}\n");
    const complex = `${dir}/complex.yaml`;
    await Deno.writeTextFile(complex, "htp: {port: 80}\n");
    const serve = `${dir}/serve.yaml`;
    await Deno.writeTextFile(serve, "healthcheck: {success_ttl: -1}\n");
    const cases: [string[], RegExp, string][] = [
      [
        ["run", "--config", badYaml],
        /not valid YAML: .* at line 3, column 12:/,
        CONFIG_REFERENCE.run,
      ],
      [["run", "--config", unknown], /unknown key 'htp'/, CONFIG_REFERENCE.run],
      [["complex", "-n", "c", "-g", "w", "--config", complex], /'htp'/, CONFIG_REFERENCE.complex],
      [["serve", "--config", serve], /success_ttl/, CONFIG_REFERENCE.serve],
      [["validate", badYaml], /not valid YAML/, CONFIG_REFERENCE.any],
      [["validate", "--kind", "run", unknown], /unknown key 'htp'/, CONFIG_REFERENCE.run],
    ];
    for (const [args, message, reference] of cases) {
      const r = await run(args);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.stderr, message, args.join(" "));
      assert.ok(r.stderr.includes(`See ${reference} for the config keys.`), r.stderr);
      assert.doesNotMatch(r.stderr, /--help/, args.join(" "));
    }
    // the offending line itself, with a caret under the column
    const r = await run(["run", "--config", badYaml]);
    assert.match(r.stderr, /^ {8}group: web: web\n {4} {11}\^$/m, r.stderr);
    // a flag's error still points to --help
    assert.match((await run(["run"])).stderr, /Try 'supervisor-checks run --help'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every config reference pointer names a heading of docs/configuration.md", () => {
  // guarantee: Help and config errors
  const headings = anchors(readDoc("docs/configuration.md"));
  for (const pointer of Object.values(CONFIG_REFERENCE)) {
    const [file, anchor] = pointer.split("#");
    assert.equal(file, "docs/configuration.md");
    assert.ok(headings.has(anchor), `docs/configuration.md has no heading for #${anchor}`);
  }
});

const BAD: [string[], RegExp][] = [
  [["http", "-g", "web", "-p", "80"], /-n\/--check-name: is required/],
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
    ["http", "-n", "c", "-g", "w", "-p", "80", "--password-file", "/dev/zero"],
    /--password-file: cannot read \/dev\/zero: not a regular file/,
  ],
  [
    ["httpok", "-p", "web", "--url-file", "/dev/urandom"],
    /--url-file: cannot read \/dev\/urandom: not a regular file/,
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
  [
    ["tcp", "-n", "c", "-g", "w", "-p", "80", "--smtp-host", "m:0"],
    /--smtp-host: '0' is not a port/,
  ],
  [
    ["tcp", "-n", "c", "-g", "w", "-p", "80", "--smtp-host", "m", "--smtp-user", "u"],
    /--smtp-user: needs a password/,
  ],
  [
    [
      "httpok",
      "--smtp-host=m",
      "--smtp-user=u",
      "--smtp-password-file=/nonexistent/pw",
      "http://x/",
    ],
    /--smtp-password-file: cannot read \/nonexistent\/pw/,
  ],
  [
    ["tcp", "-n", "c", "-g", "w", "-p", "80", "--smtp-ca-file", "/dev/null"],
    /--smtp-ca-file: needs/,
  ],
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

Deno.test("--config files that are not regular files or exceed 1 MiB are refused at start-up", async () => {
  // guarantee: Limits
  // guarantee: Start-up errors
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/fifo.yaml`;
    assert.equal((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
    const big = `${dir}/big.yaml`;
    await Deno.writeTextFile(big, `# ${"x".repeat(1024 * 1024)}\n`);
    const commands = [["run"], ["complex", "-n", "c", "-g", "w"], ["serve", "-P", "0"]];
    for (const command of commands) {
      for (
        const [file, message] of [
          ["/dev/zero", /--config \/dev\/zero: not a regular file/],
          [dir, /: not a regular file/],
          [fifo, /fifo\.yaml: not a regular file/],
          [big, /big\.yaml: larger than 1 MiB/],
        ] as const
      ) {
        const r = await run([...command, "--config", file]);
        assert.equal(r.code, 2, `${command[0]} --config ${file}: exit code`);
        assert.match(r.stderr, message, `${command[0]} --config ${file}`);
        assert.equal(r.stdout, "");
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Base arguments of each listener subcommand, valid on their own. */
const LISTENERS: Record<string, string[]> = {
  http: ["http", "-n", "c", "-g", "w", "-p", "8080"],
  tcp: ["tcp", "-n", "c", "-g", "w", "-p", "8080"],
  xmlrpc: ["xmlrpc", "-n", "c", "-g", "w", "-p", "8080"],
  memory: ["memory", "-n", "c", "-g", "w", "-m", "100MB"],
  cpu: ["cpu", "-n", "c", "-g", "w", "-p", "90", "-i", "10"],
  file: ["file", "-n", "c", "-g", "w", "-t", "10"],
  exec: ["exec", "-n", "c", "-g", "w", "--command", "true"],
  complex: ["complex", "-n", "c", "-g", "w", "-c", '{"tcp":{"port":8080}}'],
};

/** Runs `cases` through the entry point, a few at a time. */
async function expectUsageErrors(cases: [string[], RegExp][]) {
  const failures: string[] = [];
  const queue = [...cases];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const [args, message] = c;
      // a command that wrongly starts (serve does not stop at the end of stdin) is killed
      const r = await run(args, {}, AbortSignal.timeout(20_000));
      const line = r.stderr.split("\n")[0];
      if (r.code !== 2 || !message.test(line) || r.stdout !== "") {
        failures.push(`${args.join(" ")}\n  exit ${r.code}, stderr: ${line}\n  wanted ${message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  assert.deepEqual(failures, []);
}

Deno.test("values the runtime cannot honour exit 2 naming the flag or key, in every subcommand", async () => {
  // guarantee: Start-up errors
  const dir = await Deno.makeTempDir();
  try {
    const junk = `${dir}/junk.pem`;
    await Deno.writeTextFile(junk, "not a certificate\n");
    const corrupt = `${dir}/corrupt.pem`;
    await Deno.writeTextFile(
      corrupt,
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    const file = async (name: string, text: string) => {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      return `${dir}/${name}`;
    };
    const atMost = (label: string) =>
      new RegExp(`${label}: must be at most 604800 seconds \\(7 days\\)`);
    const cases: [string[], RegExp][] = [];
    // the listener flags every listener subcommand shares (cpu: --check-interval)
    for (const [name, base] of Object.entries(LISTENERS)) {
      const interval = name === "cpu" ? "--check-interval" : "--interval";
      cases.push(
        [[...base, interval, "3000000"], atMost(interval)],
        [[...base, interval, "0.1"], new RegExp(`${interval}: .*at least 0.5`)],
        [[...base, "--start-grace", "1e9"], atMost("--start-grace")],
        [[...base, "--restart-window", "3000000"], atMost("--restart-window")],
        [[...base, "--failure-threshold", "1.5"], /--failure-threshold: must be a whole number/],
        [[...base, "--max-restarts", "2000000"], /--max-restarts: must be at most 1000000/],
        [[...base, "--max-parallel-restarts", "0"], /--max-parallel-restarts: must be 1 or more/],
      );
    }
    // timeouts and retries of the checks that take them
    for (const name of ["http", "tcp", "xmlrpc", "exec"]) {
      const base = LISTENERS[name];
      cases.push(
        [[...base, "-t", "3000000"], atMost("-t/--timeout")],
        [[...base, "-t", "0"], /-t\/--timeout: must be greater than 0/],
        [[...base, "-t", "0.0001"], /-t\/--timeout: must be at least 0.001/],
        [[...base, "-r", "2000000"], /-r\/--num-retries: must be at most 1000000/],
        [[...base, "-r", "1.5"], /-r\/--num-retries: must be a whole number/],
      );
    }
    const { http, tcp, xmlrpc, cpu, file: fileCheck, complex } = LISTENERS;
    cases.push(
      [[...http, "-H", '{"Bad Name":"1"}'], /-H\/--headers: header name "Bad Name" is not/],
      [[...http, "-H", '{"X":"a\\r\\nb"}'], /-H\/--headers: header X: .*CR, LF or NUL/],
      [[...http, "-H", '{"X":"a\\u0000b"}'], /-H\/--headers: header X: .*CR, LF or NUL/],
      [[...http, "-H", '{"X":"\\u65e5"}'], /-H\/--headers: header X: .*Latin-1/],
      [[...http, "--ca-file", junk], /--ca-file: .* holds no PEM certificate/],
      [[...http, "--ca-file", corrupt], /--ca-file: .*certificate 1 does not parse/],
      [[...http, "-m", "HEAD", "--expect-body", "x"], /--expect-body: a HEAD response has no/],
      [[...http, "-m", "TRACE"], /-m\/--method: fetch cannot send/],
      [[...http.slice(0, 5), "-p", "6665"], /-p\/--port: fetch refuses port 6665/],
      [
        [...http.slice(0, 5), "-u", "http://127.0.0.1:6000/x"],
        /-u\/--url: fetch refuses port 6000/,
      ],
      [[...http, "-U", "a:b", "-P", "x"], /-U\/--username: must not contain ':'/],
      [[...http, "--host", "a b"], /--host: 'a b' is not a host name/],
      [[...tcp, "--host", "a/b"], /--host: 'a\/b' is not a host name/],
      [[...xmlrpc, "--host", "a b"], /--host: 'a b' is not a host name/],
      [
        [...xmlrpc.slice(0, 5), "-s", `/tmp/${"x".repeat(110)}.sock`],
        /-s\/--socket-path: .* longer than the 107 bytes/,
      ],
      [[...cpu.slice(0, 7), "-i", "3000000"], atMost("-i/--interval")],
      [[...fileCheck.slice(0, 5), "-t", "3000000"], atMost("-t/--timeout")],
      [
        [...complex.slice(0, 5), "-c", '{"http":{"port":80,"timeout":3000000}}'],
        /-c\/--check-config: http\.timeout: must be at most 604800/,
      ],
      [
        [...complex.slice(0, 5), "-c", '{"http":{"port":80,"headers":{"Bad Name":"1"}}}'],
        /-c\/--check-config: http\.headers: header name "Bad Name"/,
      ],
      [
        [
          "run",
          "--config",
          await file(
            "r1.yaml",
            "interval: 3000000\nchecks: [{name: a, group: w, tcp: {port: 80}}]\n",
          ),
        ],
        /r1\.yaml: interval: must be at most 604800/,
      ],
      [
        [
          "run",
          "--config",
          await file("r2.yaml", "checks: [{name: a, group: w, tcp: {port: 80, timeout: 1e7}}]\n"),
        ],
        /r2\.yaml: checks\[0\]\.tcp\.timeout: must be at most 604800/,
      ],
      [
        [
          "run",
          "--config",
          await file(
            "r3.yaml",
            `checks: [{name: a, group: w, http: {port: 80, ca_file: ${junk}}}]\n`,
          ),
        ],
        /r3\.yaml: checks\[0\]\.http\.ca_file: .* holds no PEM certificate/,
      ],
      [
        [
          "run",
          "--config",
          await file(
            "r4.yaml",
            "checks: [{name: a, group: w, tcp: {port: 80}, max_restarts: 1.5}]\n",
          ),
        ],
        /r4\.yaml: checks\[0\]\.max_restarts: must be a whole number/,
      ],
      [
        [
          "run",
          "--config",
          await file(
            "r5.yaml",
            "webhook: http://127.0.0.1:6697/\nchecks: [{name: a, group: w, tcp: {port: 80}}]\n",
          ),
        ],
        /r5\.yaml: webhook: fetch refuses port 6697/,
      ],
      [
        ["serve", "--application-health-ready-timeout", "3000000"],
        atMost("--application-health-ready-timeout"),
      ],
      [["serve", "--workers-ttl", "3000000"], atMost("--workers-ttl")],
      [
        ["serve", "--application-health-ready-url", "http://127.0.0.1:10080/"],
        /--application-health-ready-url: fetch refuses port 10080/,
      ],
      [
        ["serve", "--config", await file("s1.yaml", "healthcheck: {success_ttl: 1e12}\n")],
        /s1\.yaml: healthcheck\.success_ttl: must be at most 604800/,
      ],
      [
        [
          "serve",
          "--config",
          await file("s2.yaml", 'healthcheck: {failed_headers: {"X": "a\\r\\nb"}}\n'),
        ],
        /s2\.yaml: healthcheck\.failed_headers: header X: .*CR, LF or NUL/,
      ],
      [
        [
          "serve",
          "--config",
          await file("s3.yaml", "checks: [{name: a, url: 'http://127.0.0.1:6667/'}]\n"),
        ],
        /s3\.yaml: checks\[0\]\.url: fetch refuses port 6667/,
      ],
      [
        [
          "serve",
          "--config",
          await file(
            "s4.yaml",
            "checks: [{name: a, address: '127.0.0.1:80', tcp: {timeout: 3000000}}]\n",
          ),
        ],
        /s4\.yaml: checks\[0\]\.tcp\.timeout: must be at most 604800/,
      ],
      [["httpok", "-t", "3000000", "http://127.0.0.1:8080/"], atMost("-t/--timeout")],
      [["httpok", "--interval", "3000000", "http://127.0.0.1:8080/"], atMost("--interval")],
      [
        ["httpok", "--max-restarts", "1.5", "http://127.0.0.1:8080/"],
        /--max-restarts: must be a whole/,
      ],
      [["httpok", "http://127.0.0.1:6666/"], /URL: fetch refuses port 6666/],
      [[...tcp, "--webhook", "http://127.0.0.1:6697/"], /--webhook: fetch refuses port 6697/],
      [
        ["httpok", "--webhook", "https://127.0.0.1:6697/", "http://127.0.0.1:8080/"],
        /--webhook: fetch refuses port 6697/,
      ],
      [["heartbeat", "--every", "1e9"], /--every: must be at most 604800 seconds/],
      [["heartbeat", "--every", "5", "--pid", "999999999"], /--pid: no process 999999999/],
    );
    await expectUsageErrors(cases);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
