/**
 * Benchmark: a crash storm. 20 programs that crash every 2 s or so under
 * autorestart (startsecs=0) give about 500 unexpected exits a minute; the
 * storm is stopped after STORM_CRASHES. Two listeners watch it, as users
 * would run them, through the real entry point:
 *
 * - `crashmail -a` (one mail per crash, rate-limited to 10 a minute) mailing
 *   through a sendmail script that files each message;
 * - `crashmailbatch` (TICK_5, 15 s batches) to a real SMTP server (aiosmtpd).
 *
 * Printed per listener: the crashes it alerted on (its log), the mails it
 * sent and the alerts they list, the alerts given details (exit status and
 * stderr tail: calls to supervisord), its CPU time over the storm (utime +
 * stime from /proc) and its peak RSS (VmHWM). Targets: bounded mail (at most
 * 10 crashmail mails a minute; one crashmailbatch message per batch) and a
 * peak RSS under 150 MB.
 *
 * Run:  deno run -A bench/crash_storm.ts
 */
import { readCpuTime } from "../lib/proc.ts";
import { SmtpServer } from "../tests/support/smtp.ts";
import {
  countMatches,
  freePorts,
  listenerSection,
  Supervisord,
  waitFor,
} from "../tests/support/supervisord.ts";

const PROGRAMS = 20;
const STORM_CRASHES = 500;
const TARGET_RSS_MB = 150;

async function peakRssKb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

const [smtpPort] = freePorts(1);
await using smtp = await SmtpServer.start({ port: smtpPort });
await using sv = await Supervisord.start({
  sections: (dir) =>
    `[program:storm]
command=/bin/sh -c 'echo "worker %(process_num)d: fatal error" >&2; sleep 2.%(process_num)02d; exit 1'
numprocs=${PROGRAMS}
process_name=%(program_name)s_%(process_num)02d
startsecs=0
autorestart=true
stderr_logfile=%(here)s/%(program_name)s_%(process_num)02d.err.log
` +
    listenerSection(
      "crashmail",
      ["crashmail", "-a", "-m", "ops@example.com", "-s", `${dir}/sendmail.sh`],
      dir,
      "events=PROCESS_STATE_EXITED\nbuffer_size=1000",
    ) +
    listenerSection(
      "batch",
      [
        "crashmailbatch",
        "-t",
        "ops@example.com",
        "-f",
        "alerts@example.com",
        "-H",
        `127.0.0.1:${smtpPort}`,
        "-e",
        "TICK_5",
        "-i",
        "0.25",
      ],
      dir,
      "events=PROCESS_STATE,TICK_5\nbuffer_size=1000",
    ),
});
await Deno.mkdir(`${sv.dir}/mail`);
await Deno.writeTextFile(
  `${sv.dir}/sendmail.sh`,
  `#!/bin/sh\ncat > "${sv.dir}/mail/$$.eml"\n`,
);
await Deno.chmod(`${sv.dir}/sendmail.sh`, 0o755);

const pids = {
  crashmail: (await sv.process("crashmail")).pid,
  batch: (await sv.process("batch")).pid,
};
const cpuBefore = {
  crashmail: (await readCpuTime(pids.crashmail))!.cpuSeconds,
  batch: (await readCpuTime(pids.batch))!.cpuSeconds,
};
const crashes = async () =>
  countMatches(await sv.supervisordLog(), /exited: storm_\d+ .*not expected/);
const started = performance.now();
await waitFor(`${STORM_CRASHES} crashes`, async () => (await crashes()) >= STORM_CRASHES, 180_000);
const stormSeconds = (performance.now() - started) / 1000;
await sv.client.call("supervisor.stopProcessGroup", ["storm", true]);
const total = await crashes();
console.log(`storm: ${total} unexpected exits in ${stormSeconds.toFixed(1)} s`);

// the last batch goes out with the next 15 s interval
await new Promise((r) => setTimeout(r, 20_000));

for (const name of ["crashmail", "batch"] as const) {
  const log = await sv.listenerLog(name);
  const cpu = (await readCpuTime(pids[name]))!.cpuSeconds - cpuBefore[name];
  const rss = await peakRssKb(pids[name]);
  let mails: string[];
  if (name === "crashmail") {
    mails = await Promise.all(
      [...Deno.readDirSync(`${sv.dir}/mail`)].map((e) =>
        Deno.readTextFile(`${sv.dir}/mail/${e.name}`)
      ),
    );
  } else mails = (await smtp.messages()).map((m) => m.data);
  const alerted = name === "crashmail"
    ? countMatches(
      log,
      /exited unexpectedly \(pid \d+\) from state RUNNING(, mailing|: NOT mailed)/,
    )
    : countMatches(log, /-- Process storm:storm_\d+ \(pid \d+\) died unexpectedly/);
  const listed = mails.reduce(
    (n, m) => n + countMatches(m, /(died|exited) unexpectedly/),
    0,
  );
  const detailed = mails.reduce((n, m) => n + countMatches(m, /exit: /), 0);
  const dropped = countMatches(log, /NOT mailed \(rate limit/);
  console.log(
    `${name.padEnd(9)}  alerted ${alerted}  mails ${mails.length}  alerts in mails ${listed}` +
      `${name === "crashmail" ? `  dropped (logged) ${dropped}` : ""}  with details ${detailed}  ` +
      `CPU ${cpu.toFixed(2)} s (${((cpu * 1000) / Math.max(alerted, 1)).toFixed(2)} ms/alert)  ` +
      `peak RSS ${(rss / 1024).toFixed(1)} MB ` +
      (rss / 1024 < TARGET_RSS_MB ? "PASS" : "MISS") + ` (< ${TARGET_RSS_MB} MB)`,
  );
}
