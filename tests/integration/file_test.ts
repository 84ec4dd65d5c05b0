/**
 * `supervisor-checks file` under a real supervisord, with heartbeat writers
 * of every kind: the TypeScript helper, a NotificationFile-style shell
 * script, and shell scripts running the `heartbeat` subcommand.
 */
import assert from "node:assert/strict";
import { DENO, listenerSection, REPO, shq, Supervisord, waitFor } from "../support/supervisord.ts";

const FIXTURES = `${REPO}tests/fixtures`;
const HEARTBEAT_CLI = `${FIXTURES}/heartbeat_cli.ts`;

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
const bash = (script: string) => ["bash", `${FIXTURES}/${script}`, DENO, HEARTBEAT_CLI];

/** Lines of the verbose listener log about `spec` with `status`. */
function verdicts(log: string, spec: string, status: string): string[] {
  return log.split("\n").filter((l) => l.includes(` ${spec} (pid `) && l.includes(` ${status}:`));
}

Deno.test("file: stale and missing heartbeats are restarted, every kind of writer keeps its process", async () => {
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
