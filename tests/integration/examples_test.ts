/**
 * examples/ never rots: every config file loads with `validate`; every
 * supervisord section parses with supervisord's own parser, and each of its
 * supervisor-checks command lines passes `--validate` of the real entry point
 * (httpok, which has no --validate, passes its own argument parser), and so
 * does each example of --help; the gunicorn hook never sends a workers count
 * of 0.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseHttpokArgs } from "../../commands/httpok.ts";
import { HELP_EXAMPLES } from "../../commands/examples.ts";
import { DENO, listenerCommand, MAIN, Supervisord, waitFor } from "../support/supervisord.ts";

const EXAMPLES = fileURLToPath(new URL("../../examples/", import.meta.url));
/** Where the examples' command lines expect the files of examples/. */
const INSTALLED = "/etc/supervisor-checks/";
const BINARY = "/usr/local/bin/supervisor-checks";
const PYTHON = "/usr/bin/python3";

async function output(command: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(command, { args, env, stdin: "null" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function filesOf(dir: string, suffix: string): string[] {
  return [...Deno.readDirSync(dir)]
    .filter((e) => e.isFile && e.name.endsWith(suffix))
    .map((e) => `${dir}${e.name}`)
    .sort();
}

Deno.test("examples: every YAML/JSON config is valid for `validate`", async () => {
  // guarantee: Examples stay true
  const files = [...filesOf(EXAMPLES, ".yaml"), ...filesOf(EXAMPLES, ".json")];
  assert.ok(files.length >= 3, "examples/ has run.yaml, serve.yaml, complex.yaml");
  const expected: Record<string, string> = {
    "run.yaml": "run",
    "serve.yaml": "serve",
    "complex.yaml": "complex",
  };
  for (const file of files) {
    const r = await output(DENO, ["run", "-A", "--no-prompt", MAIN, "validate", file]);
    assert.equal(r.code, 0, `${file}: ${r.stderr}`);
    const kind = expected[file.slice(EXAMPLES.length)];
    if (kind) assert.match(r.stdout, new RegExp(`: valid ${kind} config$`, "m"), file);
  }
  // the run example has the three groups docs/configuration.md promises
  const run = await output(DENO, [
    "run",
    "-A",
    "--no-prompt",
    MAIN,
    "validate",
    `${EXAMPLES}run.yaml`,
  ]);
  assert.equal(
    run.stdout.split("\n").filter((l) => / on (group|process) '/.test(l)).length,
    3,
    run.stdout,
  );
});

/** Command lines → argv, split as supervisord splits `command=` (Python's shlex). */
async function shellSplit(lines: string[]): Promise<string[][]> {
  const child = new Deno.Command(PYTHON, {
    args: [
      "-c",
      "import json, shlex, sys; print(json.dumps([shlex.split(l) for l in json.load(sys.stdin)]))",
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(lines)));
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/**
 * Checks one `supervisor-checks …` argv (without the program) as it would
 * start: `--validate` of the real entry point, or httpok's parser; paths
 * under /etc/supervisor-checks/ are the files of examples/.
 */
async function validateArgv(argv: string[], env: Record<string, string>, what: string) {
  // --once and --validate are what --validate replaces
  const args = argv.filter((a) => a !== "--once" && a !== "--validate").map((a) =>
    a.startsWith(INSTALLED) ? `${EXAMPLES}${a.slice(INSTALLED.length)}` : a
  );
  if (args[0] === "httpok") {
    for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
    try {
      assert.notEqual(parseHttpokArgs(args.slice(1)), "help", what);
    } finally {
      for (const k of Object.keys(env)) Deno.env.delete(k);
    }
    return;
  }
  const r = await output(DENO, ["run", "-A", "--no-prompt", MAIN, ...args, "--validate"], {
    SUPERVISOR_SERVER_URL: "unix:///nonexistent.sock",
    ...env,
  });
  assert.equal(r.code, 0, `${what}: ${args.join(" ")}: ${r.stderr}`);
}

/** What supervisord makes of a conf file: its programs and their argv (shlex, as it spawns). */
const PARSE = `
import json, shlex, sys
from supervisor.options import ServerOptions
options = ServerOptions()
options.realize(args=["-c", sys.argv[1]])
print(json.dumps([
    {"group": g.name, "name": p.name, "listener": type(g).__name__ == "EventListenerPoolConfig",
     "argv": shlex.split(p.command), "environment": p.environment or {}}
    for g in options.process_group_configs for p in g.process_configs]))
`;

interface Program {
  group: string;
  name: string;
  listener: boolean;
  argv: string[];
  environment: Record<string, string>;
}

Deno.test("examples: supervisord sections parse in supervisord and their command lines validate", async () => {
  // guarantee: Examples stay true
  const confs = filesOf(`${EXAMPLES}supervisord/`, ".conf");
  const subcommands = new Set<string>();
  const dir = await Deno.makeTempDir({ prefix: "examples-" });
  try {
    for (const conf of confs) {
      const main = `${dir}/supervisord.conf`;
      await Deno.writeTextFile(
        main,
        `[supervisord]\nlogfile=${dir}/supervisord.log\npidfile=${dir}/supervisord.pid\n` +
          `childlogdir=${dir}\n[unix_http_server]\nfile=${dir}/supervisor.sock\n` +
          "[rpcinterface:supervisor]\n" +
          "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n" +
          `[supervisorctl]\nserverurl=unix://${dir}/supervisor.sock\n` +
          `[include]\nfiles=${conf}\n`,
      );
      const parsed = await output(PYTHON, ["-c", PARSE, main]);
      assert.equal(parsed.code, 0, `${conf}: supervisord cannot parse it: ${parsed.stderr}`);
      const programs = JSON.parse(parsed.stdout) as Program[];
      const ours = programs.filter((p) => p.argv[0] === BINARY);
      assert.ok(ours.length > 0, `${conf}: no ${BINARY} command line`);
      // every listener in the examples is ours
      for (const p of programs.filter((p) => p.listener)) {
        assert.equal(p.argv[0], BINARY, `${conf}: ${p.name}`);
      }
      for (const { name, argv, environment } of ours) {
        subcommands.add(argv[1]);
        await validateArgv(argv.slice(1), environment, `${conf}: ${name}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  for (
    const sub of [
      "http",
      "tcp",
      "xmlrpc",
      "memory",
      "cpu",
      "file",
      "exec",
      "complex",
      "run",
      "httpok",
      "memmon",
      "serve",
      "crashmail",
      "crashmailbatch",
      "fatalmailbatch",
      "crashsms",
    ]
  ) {
    assert.ok(subcommands.has(sub), `no example runs supervisor-checks ${sub}`);
  }
});

Deno.test("examples: the command lines of every listener's and serve's --help validate", async () => {
  // guarantee: Examples stay true
  const commands = Object.entries(HELP_EXAMPLES)
    .filter(([sub]) => !["heartbeat", "install-compat", "validate"].includes(sub))
    .flatMap(([, lines]) => lines.filter((l) => !l.startsWith("#")));
  assert.ok(commands.length >= 20);
  for (const argv of await shellSplit(commands)) {
    assert.equal(argv[0], "supervisor-checks");
    // the variables the examples name with *-env flags
    await validateArgv(argv.slice(1), {
      WEB_URL: "http://127.0.0.1:8080/",
      ADMIN_PASS: "secret",
      SMTP_PASSWORD: "secret",
    }, argv.join(" "));
  }
});

Deno.test("examples: run.conf and file.conf run under the real supervisord: the workers beat, the listeners listen", async () => {
  // guarantee: Examples stay true
  const sections = (dir: string) =>
    ["run.conf", "file.conf"]
      .map((f) => Deno.readTextFileSync(`${EXAMPLES}supervisord/${f}`))
      .join("\n")
      .replaceAll(BINARY, listenerCommand([]))
      .replaceAll(INSTALLED, EXAMPLES)
      // logs where the harness reads them; heartbeat files in the test's directory
      .replace(/^stderr_logfile=.*\n/gm, "")
      .replace(
        /^\[(eventlistener|program):(\w+)\]$/gm,
        (header, kind, name) =>
          `${header}\nenvironment=TMPDIR="${dir}"` +
          (kind === "eventlistener" ? `\nstderr_logfile=${dir}/${name}.err.log` : ""),
      );
  await using sv = await Supervisord.start({ sections });
  const pids = await sv.waitRunning(["worker:worker_0", "worker:worker_1"]);
  await sv.waitLog("worker_heartbeat", /listening: file check of group 'worker'/);
  const log = await sv.waitLog("checks", /listening: .*file check of group 'workers'/);
  assert.match(log, /listening: http\+memory check of group 'web'/);
  assert.match(log, /listening: tcp check of process 'cache:redis'/);
  // each worker touches the file the file check reads
  await waitFor("both heartbeat files", () => {
    const names = [...Deno.readDirSync(sv.dir)].map((e) => e.name);
    return Object.values(pids).every((pid) => names.some((n) => n.endsWith(`-${pid}`)));
  });
});

/**
 * The gunicorn hook's loop, run by Python with a stand-in server whose
 * workers appear after the first beat (as gunicorn's when_ready runs before
 * it spawns them), and a time.sleep that counts beats.
 */
const HOOK = `
import importlib.util, json, sys, threading
spec = importlib.util.spec_from_file_location("conf", sys.argv[1])
conf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conf)
sent, done = [], threading.Event()
class Log:
    def gauge(self, name, value): sent.append([name, value])
class Server:
    WORKERS = {}
    log = Log()
server = Server()
beats = [0]
class Time:
    @staticmethod
    def sleep(seconds):
        beats[0] += 1
        if beats[0] == 2: server.WORKERS = {101: None, 102: None}
        if beats[0] == 4:
            done.set()
            threading.Event().wait()
conf.time = Time
conf.when_ready(server)
assert done.wait(10)
print(json.dumps(sent))
`;

Deno.test("examples: the gunicorn hook repeats the workers gauge and never sends 0", async () => {
  // guarantee: Examples stay true
  const r = await output(PYTHON, ["-c", HOOK, `${EXAMPLES}gunicorn_conf.py`]);
  assert.equal(r.code, 0, r.stderr);
  // two beats before the workers exist (nothing sent), two after
  assert.deepEqual(JSON.parse(r.stdout), [["gunicorn.workers", 2], ["gunicorn.workers", 2]]);
});
