/**
 * `supervisor-checks file` under a real supervisord, with heartbeat writers
 * of every kind: the TypeScript helper, a NotificationFile-style shell
 * script, and shell scripts running the `heartbeat` subcommand; writers
 * that others could fake; the docs' snippets.
 */
import assert from "node:assert/strict";
import {
  DENO,
  listenerSection,
  REPO,
  RUN_MAIN,
  shq,
  Supervisord,
  waitFor,
} from "../support/supervisord.ts";

const FIXTURES = `${REPO}tests/fixtures`;
/** The heartbeat subcommand through the real entry point. */
const HEARTBEAT = [DENO, ...RUN_MAIN, "heartbeat"];

/** A [program:x] with TMPDIR pointing into the test's directory. */
function program(name: string, command: string[], dir: string): string {
  return `[program:${name}]
command=${command.map(shq).join(" ")}
environment=TMPDIR="${dir}"
startsecs=1
stopwaitsecs=2
autorestart=true
`;
}

const deno = (script: string, ...args: string[]) => [
  DENO,
  "run",
  "-A",
  "--no-prompt",
  `${FIXTURES}/${script}`,
  ...args,
];
const bash = (script: string) => ["bash", `${FIXTURES}/${script}`, ...HEARTBEAT];

/** Lines of the verbose listener log about `spec` with `status`. */
function verdicts(log: string, spec: string, status: string): string[] {
  return log.split("\n").filter((l) => l.includes(` ${spec} (pid `) && l.includes(` ${status}:`));
}

Deno.test("file: stale and missing heartbeats are restarted, every kind of writer keeps its process", async () => {
  // shell_every's script hangs in `wait` while its background `heartbeat --every 1` keeps it
  // "healthy": what the docs warn against
  const fine = ["helper", "notification", "shell_once", "shell_every"];
  await using sv = await Supervisord.start({
    sections: (dir) =>
      program("helper", deno("heartbeat_worker.ts"), dir) +
      program("hung", deno("heartbeat_worker.ts", "2"), dir) +
      program("silent", ["sleep", "600"], dir) +
      program("notification", ["bash", `${FIXTURES}/heartbeat_notification.sh`], dir) +
      program("shell_once", bash("heartbeat_loop.sh"), dir) +
      program("shell_every", bash("heartbeat_every.sh"), dir) +
      `[group:workers]\nprograms=helper,hung,silent,${fine.slice(1).join(",")}\n` +
      listenerSection(
        "hb",
        ["file", "-n", "hb", "-g", "workers", "-t", "3", "-v"],
        dir,
        `environment=TMPDIR="${dir}"\n`,
      ),
  });
  const specs = [...fine, "hung", "silent"].map((n) => `workers:${n}`);
  const before = await sv.waitRunning(specs);

  // beats for 2 s, then hangs: its heartbeat goes stale
  await sv.waitRestarted("workers:hung", before["workers:hung"]);
  // never beats: restarted once it has run longer than the timeout
  await sv.waitRestarted("workers:silent", before["workers:silent"]);

  // two more rounds in which every writer's process is judged healthy
  const seen = (await sv.listenerLog("hb")).length;
  await waitFor("two more rounds judging the writers healthy", async () => {
    const later = (await sv.listenerLog("hb")).slice(seen);
    return fine.every((n) => verdicts(later, `workers:${n}`, "file healthy").length >= 2);
  }, 40_000);

  const after = await sv.waitRunning(specs);
  for (const name of fine) {
    const spec = `workers:${name}`;
    assert.equal(after[spec], before[spec], `${spec} must keep its pid`);
  }
  const log = await sv.listenerLog("hb");
  for (const name of fine) {
    assert.deepEqual(verdicts(log, `workers:${name}`, "file unhealthy"), [], name);
    assert.doesNotMatch(log, new RegExp(`workers:${name} .*restart`));
  }
  const hung = before["workers:hung"];
  assert.match(
    log,
    new RegExp(
      `workers:hung \\(pid ${hung}\\): file unhealthy: heartbeat \\S+/workers-hung-${hung} ` +
        `last changed \\d+\\.\\ds ago, over the 3s timeout`,
    ),
  );
  assert.match(log, new RegExp(`workers:hung \\(pid ${hung}\\): restarted`));
  const silent = before["workers:silent"];
  assert.match(
    log,
    new RegExp(
      `workers:silent \\(pid ${silent}\\): file unhealthy: no heartbeat file ` +
        `\\S+/workers-silent-${silent} or \\S+/workers-silent-${silent}-\\*; running for`,
    ),
  );
  // the NotificationFile-style name, kept fresh by its ctime alone
  const notification = before["workers:notification"];
  assert.match(
    log,
    new RegExp(
      `workers:notification \\(pid ${notification}\\): file healthy: heartbeat ` +
        `\\S+/workers-notification-${notification}-\\w{8} changed`,
    ),
  );
  // the subcommand names the file after its parent, the shell script supervisord started
  for (const name of ["shell_once", "shell_every"]) {
    const pid = before[`workers:${name}`];
    assert.match(
      log,
      new RegExp(
        `workers:${name} \\(pid ${pid}\\): file healthy: heartbeat \\S+/workers-${name}-${pid} `,
      ),
    );
  }
  assert.equal((await sv.process("hb")).statename, "RUNNING");
});

/** The docs' heartbeat snippet in `lang` (docs/commands/file.md): its lines before and after "in the work loop". */
async function docsSnippet(lang: string): Promise<{ setup: string; beat: string }> {
  const page = await Deno.readTextFile(`${REPO}docs/commands/file.md`);
  const blocks = page.matchAll(new RegExp("^```" + lang + "\\n([\\s\\S]*?\\n)```$", "gm"));
  const block = blocks.find((b) => b[1].includes("in the work loop"));
  assert.ok(block, `docs/commands/file.md has a ${lang} heartbeat snippet`);
  const [setup, beat] = block[1].split(/^.*in the work loop.*\n/m);
  return { setup, beat: beat.trim() };
}

/** uid of `nobody`: another user, for a file the (root) test plants. */
const NOBODY = 65534;

Deno.test("file: other users' heartbeats do not count, exited pids' files go, the docs' snippets keep their workers", async () => {
  // guarantee: Heartbeat files
  const py = await docsSnippet("python");
  const js = await docsSnippet("js");
  const sh = await docsSnippet("sh");
  // each beats from a loop that does 0.3 s of "work" per iteration
  const snippets: Record<string, [string, string]> = {
    python: [
      "/usr/bin/python3",
      `${py.setup}import time\nwhile True:\n    time.sleep(0.3)\n    ${py.beat}\n`,
    ],
    node: ["node", `${js.setup}setInterval(() => { ${js.beat} }, 300);\n`],
    shell: ["bash", `${sh.setup}while true; do\n  sleep 0.3\n  ${sh.beat}\ndone\n`],
  };
  const writers = Object.keys(snippets);
  const dead = await (async () => {
    const child = new Deno.Command("true").spawn();
    await child.status;
    return child.pid;
  })();
  await using sv = await Supervisord.start({
    sections: (dir) =>
      Object.entries(snippets).map(([name, [interpreter, code]]) => {
        Deno.writeTextFileSync(`${dir}/${name}.snippet`, code);
        return program(name, [interpreter, `${dir}/${name}.snippet`], dir)
          .replace(/^environment=.*$/m, `$&,HEARTBEAT_DIR="${dir}"`);
      }).join("") +
      program("faked", ["sleep", "600"], dir) +
      `[group:guarded]\nprograms=${writers.join(",")},faked\n` +
      listenerSection("guard", [
        "file",
        "-n",
        "guard",
        "-g",
        "guarded",
        "-t",
        "3",
        "-d",
        dir,
        "--interval",
        "1",
        "-v",
      ], dir),
  });
  // left by an exited instance of python (the programs run as this test's user)
  const stale = `${sv.dir}/guarded-python-${dead}`;
  await Deno.writeTextFile(stale, "");
  const specs = [...writers, "faked"].map((n) => `guarded:${n}`);
  const before = await sv.waitRunning(specs);

  // another user keeps a file of the hung process's name fresh: it is not counted
  const faked = before["guarded:faked"];
  const fake = `${sv.dir}/guarded-faked-${faked}-x`;
  await Deno.writeTextFile(fake, "");
  await Deno.chown(fake, NOBODY, NOBODY);
  const keepFresh = setInterval(() => Deno.utimeSync(fake, new Date(), new Date()), 200);
  try {
    await sv.waitRestarted("guarded:faked", faked);
  } finally {
    clearInterval(keepFresh);
  }
  const log = await sv.listenerLog("guard");
  assert.match(
    log,
    new RegExp(
      `guarded:faked \\(pid ${faked}\\): file unhealthy: no heartbeat file .*; running for .* ` +
        `\\(ignored ${fake} \\(uid ${NOBODY}\\): not owned by the process's uid ${Deno.uid()}\\)`,
    ),
  );
  assert.match(
    log,
    new RegExp(
      `guarded:python \\(pid \\d+\\): file healthy: .*\\(removed files of exited pids: ${stale}\\)`,
    ),
  );
  await assert.rejects(() => Deno.lstat(stale), Deno.errors.NotFound);

  // two more rounds in which every snippet's worker is judged healthy
  const seen = log.length;
  await waitFor("two more rounds judging the snippets' workers healthy", async () => {
    const later = (await sv.listenerLog("guard")).slice(seen);
    return writers.every((n) => verdicts(later, `guarded:${n}`, "file healthy").length >= 2);
  }, 40_000);
  const after = await sv.waitRunning(specs);
  const final = await sv.listenerLog("guard");
  for (const name of writers) {
    const spec = `guarded:${name}`;
    assert.equal(after[spec], before[spec], `${spec} must keep its pid`);
    assert.deepEqual(verdicts(final, spec, "file unhealthy"), [], name);
    assert.match(
      final,
      new RegExp(
        `${spec} \\(pid ${before[spec]}\\): file healthy: heartbeat \\S+/guarded-${name}-${
          before[spec]
        } changed`,
      ),
    );
  }
});
