/**
 * SIGUSR1 opens nothing: every long-running subcommand, run through main.ts
 * under a real supervisord, ignores it. Under `deno run`, Deno 2.9.2+ would
 * otherwise open the V8 inspector on 127.0.0.1:9229 (see lib/sigusr1.ts).
 */
import assert from "node:assert/strict";
import {
  DENO,
  freePorts,
  listenerSection,
  RUN_MAIN,
  shq,
  Supervisord,
  waitFor,
} from "../support/supervisord.ts";

/** SIGUSR1's bit in /proc/<pid>/status masks. */
const SIGUSR1_BIT = 1n << 9n;

/** Whether the kernel discards SIGUSR1 for `pid` (SigIgn in /proc/<pid>/status). */
function ignoresSigusr1(pid: number): boolean {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const ignored = BigInt(`0x${status.match(/^SigIgn:\s*([0-9a-f]+)$/m)![1]}`);
  return (ignored & SIGUSR1_BIT) !== 0n;
}

/** Seconds since `pid` started, from /proc (clock ticks of 1/100 s). */
function age(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const startTicks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  const uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
  return uptime - startTicks / 100;
}

/** Lines of `ss` about TCP sockets listening on port 9229 that belong to `pid`. */
async function inspectorSockets(pid: number): Promise<string[]> {
  const out = await new Deno.Command("ss", { args: ["-ltnpH", "sport = :9229"] }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.includes(`pid=${pid},`));
}

function program(name: string, args: string[], dir: string): string {
  return `[program:${name}]
command=${[DENO, ...RUN_MAIN, ...args].map(shq).join(" ")}
stderr_logfile=${dir}/${name}.err.log
startsecs=0
autorestart=false
`;
}

Deno.test("SIGUSR1: listeners, httpok, serve and heartbeat --every ignore it and open no port", async () => {
  // guarantee: SIGUSR1 is ignored
  const [servePort, deadPort] = freePorts(2);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      `[program:sleeper]\ncommand=sleep 600\n` +
      program("serve", [
        "serve",
        "-H",
        "127.0.0.1",
        "-P",
        String(servePort),
        "--no-statsd",
        "--process",
        "sleeper",
      ], dir) +
      program("beater", ["heartbeat", "--every", "0.2", "-d", dir], dir) +
      listenerSection("filecheck", [
        "file",
        "-n",
        "filecheck",
        "-N",
        "sleeper",
        "-t",
        "600",
        "-d",
        dir,
        "--interval",
        "1",
      ], dir) +
      listenerSection("watchdog", [
        "httpok",
        "-p",
        "sleeper",
        "--dry-run",
        `http://127.0.0.1:${deadPort}/`,
      ], dir),
  });
  const names = ["filecheck", "watchdog", "serve", "beater"];
  const pids = await sv.waitRunning(["sleeper:sleeper", ...names.map((n) => `${n}:${n}`)]);
  const pid = (name: string) => pids[`${name}:${name}`];

  // past Deno's half-second grace before it arms its SIGUSR1 trigger, and SIGUSR1 ignored
  await waitFor(
    "every process older than 1 s and ignoring SIGUSR1",
    () => names.every((n) => age(pid(n)) > 1 && ignoresSigusr1(pid(n))),
    30_000,
    100,
  );
  for (const name of names) Deno.kill(pid(name), "SIGUSR1");

  // each goes on working: state dumps on SIGUSR2, an answer, fresh heartbeats
  for (const name of ["filecheck", "watchdog"]) {
    await sv.client.call("supervisor.signalProcess", [name, "USR2"]);
    await sv.waitLog(name, /state: /);
  }
  const live = await fetch(`http://127.0.0.1:${servePort}/health/live`);
  assert.equal(live.status, 200, await live.text());
  const beat = (await Array.fromAsync(Deno.readDir(sv.dir))).find((e) =>
    e.name.startsWith("beater-beater-")
  )!;
  const path = `${sv.dir}/${beat.name}`;
  const before = (await Deno.stat(path)).mtime!.getTime();
  await waitFor("another heartbeat", async () => (await Deno.stat(path)).mtime!.getTime() > before);

  for (const name of names) {
    assert.equal((await sv.process(name)).pid, pid(name), `${name} kept its pid`);
    assert.ok(ignoresSigusr1(pid(name)), name);
    assert.deepEqual(await inspectorSockets(pid(name)), [], `${name} listens on 9229`);
    const log = await sv.listenerLog(name);
    assert.doesNotMatch(log, /Debugger listening|inspector/i, name);
    assert.doesNotMatch(log, /SIGUSR1 is not ignored/, name);
  }
});
