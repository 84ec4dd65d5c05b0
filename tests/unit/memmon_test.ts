/**
 * memmon's parts in-process: sizes and uptimes as memmon writes them, the
 * limit a process gets when several flags match it, the verdict, and
 * memmon's mail (-n, -u).
 */
import assert from "node:assert/strict";
import {
  limitFor,
  MEMMON_OPTIONS,
  memmonCheck,
  type MemmonLimits,
  parseByteSize,
} from "../../checks/memmon.ts";
import { asctime, memmonMail, parseUptime } from "../../commands/memmon.ts";
import { Logger } from "../../lib/log.ts";
import { Notifier, type RestartReport } from "../../lib/notify.ts";
import { parse } from "../../lib/option.ts";
import { ProcessSelector } from "../../lib/select.ts";

const limits = (...argv: string[]): MemmonLimits => parse(MEMMON_OPTIONS, argv).values;
const MB = 1024 * 1024;

Deno.test("memmon: sizes are bytes, or KB/MB/GB in any case (powers of 1024), as memmon's", () => {
  assert.equal(parseByteSize("1048576"), 1048576);
  assert.equal(parseByteSize("512KB"), 512 * 1024);
  assert.equal(parseByteSize("200MB"), 200 * MB);
  assert.equal(parseByteSize("200mb"), 200 * MB);
  assert.equal(parseByteSize("2Gb"), 2 * 1024 * MB);
  for (const bad of ["1.5GB", "200M", "12XB", "", "MB", "-1"]) {
    assert.throws(() => parseByteSize(bad), /expected a size in bytes/, bad);
  }
  assert.throws(() => parseByteSize("0KB"), /greater than 0/);
});

Deno.test("memmon: -u is seconds, or with s, m, h or d, as memmon's", () => {
  assert.equal(parseUptime("3600"), 3600);
  assert.equal(parseUptime("30s"), 30);
  assert.equal(parseUptime("60m"), 3600);
  assert.equal(parseUptime("2H"), 7200);
  assert.equal(parseUptime("2d"), 172800);
  for (const bad of ["2w", "1.5h", "", "h"]) {
    assert.throws(() => parseUptime(bad), /expected seconds/, bad);
  }
});

Deno.test("memmon: one limit per process: -p group:name, then -p name, then -g, then -a", () => {
  // guarantee: memmon's limits
  const all = limits(
    "-p",
    "web:api=1GB",
    "-p",
    "api=500MB",
    "-g",
    "web=300MB",
    "-a",
    "100MB",
  );
  const at = (group: string, name: string) => limitFor({ group, name }, all)?.by;
  assert.equal(at("web", "api"), "-p/--program web:api=1GB");
  assert.equal(at("batch", "api"), "-p/--program api=500MB");
  assert.equal(at("web", "worker"), "-g/--groupname web=300MB");
  assert.equal(at("batch", "worker"), "-a/--any 100MB");
  // a per-program limit below the group's and -a's wins too: it is the program's, whatever its size
  const lower = limits("-p", "api=10MB", "--group", "web=1GB", "--any", "2GB");
  assert.equal(limitFor({ group: "web", name: "api" }, lower)?.bytes, 10 * MB);
  assert.equal(limitFor({ group: "x", name: "y" }, lower)?.bytes, 2 * 1024 * MB);
  // without -a, a process no flag names has no limit
  assert.equal(limitFor({ group: "batch", name: "worker" }, limits("-g", "web=1MB")), undefined);
});

Deno.test("memmon: the selection is the processes with a limit; with -a the listeners are left out", () => {
  const set = limits("-p", "api=1MB", "-g", "batch=1MB");
  const selector = ProcessSelector.where("memmon's", (p) => limitFor(p, set) !== undefined);
  assert.ok(selector.matches({ group: "web", name: "api" }));
  assert.ok(selector.matches({ group: "batch", name: "x" }));
  assert.ok(!selector.matches({ group: "web", name: "x" }));
  assert.equal(selector.any, false);
  assert.equal(selector.describe(), "memmon's");
  assert.equal(ProcessSelector.where("all", () => true, true).any, true);
});

const info = (pid: number) => ({
  name: "x",
  group: "g",
  pid,
  state: 20,
  statename: "RUNNING",
  start: 0,
});
const context = () => ({ signal: new AbortController().signal, attempt: 1, state: new Map() });

Deno.test("memmon check: RSS in bytes against the limit that applies; exited: unknown", async () => {
  const tight = await memmonCheck.run(info(Deno.pid), limits("-g", "g=1MB"), context());
  assert.equal(tight.status, "unhealthy");
  assert.match(
    tight.message,
    /^\d+ bytes RSS \([\d.]+ MB\) exceeds 1048576 bytes \(-g\/--groupname g=1MB\)$/,
  );
  const generous = await memmonCheck.run(
    info(Deno.pid),
    limits("-p", "g:x=8GB", "-g", "g=1MB", "-c"),
    context(),
  );
  assert.equal(generous.status, "healthy");
  assert.match(
    generous.message,
    /cumulative over \d+ process(es)?\), limit 8589934592 bytes \(-p\/--program g:x=8GB\)$/,
  );
  const child = new Deno.Command("true").spawn();
  await child.status;
  const gone = await memmonCheck.run(info(child.pid), limits("-a", "1MB"), context());
  assert.equal(gone.status, "unknown");
});

function report(outcome: string, uptime?: number): RestartReport {
  return {
    check: "mm",
    process: "web:api",
    group: "web",
    name: "api",
    pid: 42,
    reason: "memmon",
    time: "2026-11-30T08:29:24.000Z",
    host: "h",
    outcome,
    detail: "memmon: 314572800 bytes RSS (300 MB) exceeds 209715200 bytes (-p/--program " +
      "api=200MB). stopped, started",
    uptime,
  };
}

Deno.test("memmon mail: memmon's subject (with -n) and sentence, then the report", () => {
  const mail = memmonMail(undefined, undefined)(report("restarted"));
  assert.ok(!("skip" in mail));
  assert.equal(mail.subject, "memmon: process web:api restarted");
  const [sentence, blank, ...fields] = mail.body.split("\n");
  assert.equal(
    sentence,
    `memmon.py restarted the process named web:api at ${asctime(new Date(report("").time))} ` +
      "because it was consuming too much memory (314572800 bytes RSS)",
  );
  assert.equal(blank, "");
  assert.ok(fields.includes("outcome: restarted"), fields.join("\n"));
  const named = memmonMail("site1", undefined)(report("failed"));
  assert.ok(!("skip" in named));
  assert.equal(named.subject, "memmon [site1]: failed to restart process web:api");
  assert.match(asctime(new Date(2026, 0, 5, 7, 8, 9)), /^Mon Jan {2}5 07:08:09 2026( \S+)?$/);
});

Deno.test("memmon mail: -u mails a restart only when the process had been up at most that long", () => {
  // guarantee: memmon's limits
  const mail = memmonMail(undefined, 3600);
  assert.ok(!("skip" in mail(report("restarted", 3600))), "at the limit: mailed");
  assert.ok(!("skip" in mail(report("restarted", 12))));
  const skipped = mail(report("restarted", 3601));
  assert.ok("skip" in skipped);
  assert.equal(skipped.skip, "it had been running 3601s, more than -u/--uptime 3600s");
  assert.ok(!("skip" in mail(report("failed", 99999))), "a failure is always mailed");
});

Deno.test("notify: a report whose mail is skipped is not mailed, says why, and is still POSTed", async () => {
  const dir = await Deno.makeTempDir();
  const posted: unknown[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    posted.push(await req.json());
    return new Response("ok");
  });
  try {
    await Deno.writeTextFile(`${dir}/sendmail`, `#!/bin/sh\ncat > ${dir}/mail.txt\n`, {
      mode: 0o755,
    });
    const lines: string[] = [];
    const logger = new Logger("mm", "debug", (line) => lines.push(line));
    const notifier = new Notifier({
      email: ["ops@example.com"],
      sendmail: `${dir}/sendmail`,
      webhook: [`http://127.0.0.1:${server.addr.port}/hook`],
      compose: memmonMail(undefined, 10),
    }, logger);
    await notifier.notify(report("restarted", 11));
    await assert.rejects(Deno.stat(`${dir}/mail.txt`), Deno.errors.NotFound);
    assert.ok(lines.some((l) => l.includes("not mailed: it had been running 11s")), lines.join());
    assert.equal(posted.length, 1);
    await notifier.notify(report("restarted", 9));
    assert.match(
      await Deno.readTextFile(`${dir}/mail.txt`),
      /^Subject: memmon: process web:api restarted$/m,
    );
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
