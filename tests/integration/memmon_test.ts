/**
 * `supervisor-checks memmon` under a real supervisord, through the real
 * entry point: restarts over the limit, the precedence of -p over -g over
 * -a, -c, memmon's mail through a -s script, -u; and its flag errors.
 */
import assert from "node:assert/strict";
import {
  DENO,
  denoProgram,
  listenerSection,
  REPO,
  RUN_MAIN,
  runMain,
  Supervisord,
  waitFor,
} from "../support/supervisord.ts";

const HOG = `${REPO}tests/fixtures/memory_hog.ts`;
const PARENT = `${REPO}tests/fixtures/memory_parent.ts`;

/** A sendmail (-s) that files each message it reads as DIR/mail/N.eml. */
function sendmailScript(dir: string): string {
  Deno.mkdirSync(`${dir}/mail`);
  Deno.writeTextFileSync(
    `${dir}/sendmail`,
    `#!/bin/sh\ncat > ${dir}/mail/$$.tmp && mv ${dir}/mail/$$.tmp ${dir}/mail/$$.eml\n`,
    { mode: 0o755 },
  );
  return `${dir}/sendmail -t -i`;
}

async function mails(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/mail`)) {
    if (e.name.endsWith(".eml")) out.push(await Deno.readTextFile(`${dir}/mail/${e.name}`));
  }
  return out;
}

/** The memmon verdict lines of the log for `spec` with `pid`: [healthy?, bytes, limit text]. */
function verdicts(log: string, spec: string, pid: number): [string, number, string][] {
  const re = new RegExp(
    `${spec} \\(pid ${pid}\\): memmon (healthy|unhealthy): (\\d+) bytes RSS .*?` +
      `(?:, limit|exceeds) \\d+ bytes \\(([^)]*)\\)`,
    "g",
  );
  return [...log.matchAll(re)].map((m) => [m[1], Number(m[2]), m[3]]);
}

const MB = 1024 * 1024;

Deno.test("memmon: over its limit restarted, others left; -p beats -g and -a, -g beats -a; memmon's mail", async () => {
  // guarantee: memmon's limits
  let sendmail = "";
  await using sv = await Supervisord.start({
    sections: (dir) => {
      sendmail = sendmailScript(dir);
      return denoProgram("big", HOG, ["200", "--now"]) + denoProgram("hog", HOG, ["200"]) +
        "[group:web]\nprograms=big,hog\n" +
        denoProgram("job", HOG, ["200", "--now"]) + "[group:batch]\nprograms=job\n" +
        denoProgram("leaky", HOG, ["200"]) + denoProgram("calm", HOG, ["0"]) +
        listenerSection("mm", [
          "memmon",
          // big: its own 1GB, not web's or any's 120MB; job: batch's 1GB, not any's
          "-p",
          "big=1GB",
          "-p",
          "web:hog=120MB",
          "-g",
          "web=120MB",
          "--groupname",
          "batch=1GB",
          "-a",
          "120MB",
          "-m",
          "ops@example.com",
          "-s",
          sendmail,
          "-u",
          "1h",
          "-n",
          "mm",
          "-v",
          "--interval",
          "1",
        ], dir);
    },
  });
  const specs = ["web:big", "web:hog", "batch:job", "leaky:leaky", "calm:calm"];
  const before = await sv.waitRunning(specs);
  // big and job, both far over 120MB, judged against their own limits and healthy
  const judged = await waitFor("big and job judged at their full size", async () => {
    const log = await sv.listenerLog("mm");
    const big = verdicts(log, "web:big", before["web:big"]).find(([, b]) => b > 200 * MB);
    const job = verdicts(log, "batch:job", before["batch:job"]).find(([, b]) => b > 200 * MB);
    return big && job && [big, job];
  });
  assert.deepEqual(judged.map(([status, , by]) => [status, by]), [
    ["healthy", "-p/--program big=1GB"],
    ["healthy", "-g/--groupname batch=1GB"],
  ]);

  await sv.kill("web:hog", "SIGUSR2"); // grows by 200 MB: over its -p 120MB
  await sv.kill("leaky:leaky", "SIGUSR2"); // over -a 120MB
  const hogPid = await sv.waitRestarted("web:hog", before["web:hog"]);
  await sv.waitRestarted("leaky:leaky", before["leaky:leaky"]);
  await sv.waitLog("mm", /leaky:leaky \(pid \d+\): restarted /);
  const log = await sv.waitLog("mm", new RegExp(`web:hog \\(pid \\d+\\): restarted .*${hogPid}`));
  assert.match(
    log,
    new RegExp(
      `web:hog \\(pid ${before["web:hog"]}\\): memmon unhealthy: \\d+ bytes RSS .* exceeds ` +
        `125829120 bytes \\(-p/--program web:hog=120MB\\)`,
    ),
  );
  assert.match(log, /leaky:leaky \(pid \d+\): memmon unhealthy: .*\(-a\/--any 120MB\)/);
  // a round after the restarts: the others were judged again, and kept their pids
  const after = (await sv.listenerLog("mm")).length;
  await sv.waitLogAfter("mm", after, /calm:calm \(pid \d+\): memmon healthy/);
  for (const spec of ["web:big", "batch:job", "calm:calm"]) {
    assert.equal((await sv.process(spec)).pid, before[spec], `${spec} keeps its pid`);
  }
  assert.doesNotMatch(await sv.listenerLog("mm"), /(big|job|calm) .*(unhealthy|restart)/);
  // -a leaves the event listeners out: this one is never measured
  assert.doesNotMatch(await sv.listenerLog("mm"), /mm:mm \(pid \d+\): memmon/);

  const hogMail = await waitFor(
    "the mail about web:hog",
    async () => (await mails(sv.dir)).find((m) => m.includes("web:hog")),
  );
  assert.match(hogMail, /^To: ops@example\.com$/m);
  assert.match(hogMail, /^Subject: memmon \[mm\]: process web:hog restarted$/m);
  assert.match(
    hogMail,
    /^memmon\.py restarted the process named web:hog at \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\b.* because it was consuming too much memory \(\d{9,} bytes RSS\)$/m,
  );
  assert.match(hogMail, /^outcome: +restarted$/m);
});

Deno.test("memmon -c: a child over the limit gets its parent restarted; -u: not mailed when up longer", async () => {
  // guarantee: memmon's limits
  let sendmail = "";
  await using sv = await Supervisord.start({
    sections: (dir) => {
      sendmail = sendmailScript(dir);
      const common = ["-p", "fam:parent=120MB", "-m", "ops@example.com", "-s", sendmail];
      return denoProgram("parent", PARENT, ["200"]) + "[group:fam]\nprograms=parent\n" +
        listenerSection("cum", ["memmon", ...common, "-c", "-u", "1", "-n", "cum", "-v"], dir) +
        listenerSection("own", ["memmon", ...common, "-n", "own", "-v", "--interval", "1"], dir);
    },
  });
  const parent = "fam:parent";
  const { [parent]: pid } = await sv.waitRunning([parent]);
  await waitFor(
    "a cumulative round counting the parent and its child",
    async () =>
      (await sv.listenerLog("cum")).includes("cumulative over 2 processes), limit 125829120 bytes"),
  );
  // the parent has been up more than -u's 1 second before it grows
  await waitFor(
    "parent up 2 s",
    async () => Date.now() / 1000 - (await sv.process(parent)).start > 2,
  );

  // --once: one round, judged and printed, nothing restarted
  const once = await new Deno.Command(DENO, {
    args: [...RUN_MAIN, "memmon", "-p", "fam:parent=1MB", "-a", "1GB", "--once"],
    env: { SUPERVISOR_SERVER_URL: sv.url },
    stdin: "null",
  }).output();
  const printed = new TextDecoder().decode(once.stdout);
  assert.equal(once.code, 2, printed);
  assert.match(printed, /^SUPERVISOR-CHECKS CRITICAL - 1 of 1 unhealthy/);
  assert.match(
    printed,
    new RegExp(
      `^CRITICAL ${parent} \\(pid ${pid}\\): memmon unhealthy: .* exceeds 1048576 bytes`,
      "m",
    ),
  );
  assert.equal((await sv.process(parent)).pid, pid, "--once restarts nothing");

  await sv.kill(parent, "SIGUSR2"); // the child grows by 200 MB
  const newPid = await sv.waitRestarted(parent, pid);
  const cum = await sv.waitLog(
    "cum",
    /not mailed: it had been running \d+s, more than -u\/--uptime 1s/,
  );
  assert.match(
    cum,
    new RegExp(
      `${parent} \\(pid ${pid}\\): memmon unhealthy: \\d+ bytes RSS \\([\\d.]+ MB, ` +
        `cumulative over 2 processes\\) exceeds 125829120 bytes`,
    ),
  );
  assert.match(cum, new RegExp(`${parent} \\(pid ${pid}\\): restarted .*new pid ${newPid}`));
  assert.deepEqual(await mails(sv.dir), [], "-u 1: no mail for a process up longer");
  const own = await sv.listenerLog("own");
  assert.ok(verdicts(own, parent, pid).length > 0, own);
  assert.doesNotMatch(own, /unhealthy|restarting/, "the parent alone never exceeded the limit");
});

Deno.test("memmon: bad flags are refused at start-up with exit 2, naming the flag", async () => {
  const cases: [string[], RegExp][] = [
    [[], /-p\/--program: give at least one limit: -p\/--program, -g\/--groupname or -a\/--any/],
    [["-p", "web"], /-p\/--program: expected NAME=SIZE .*got 'web'/],
    [["-p", "web=1.5GB"], /-p\/--program: expected a size in bytes .*got '1.5GB'/],
    [["-g", "web:api=1MB"], /-g\/--groupname: expected GROUP=SIZE .*got 'web:api=1MB'/],
    [["-a", "0"], /-a\/--any: must be greater than 0/],
    [["-a", "1MB", "-u", "2w"], /-u\/--uptime: expected seconds .*got '2w'/],
    [["-a", "1MB", "-m", "ops"], /-m\/--email: 'ops' is not a mail address/],
    [["-a", "1MB", "-s", "'unterminated"], /-s\/--sendmail_program: unterminated/],
    [["-p", "a=1MB", "--program", "a=2MB"], /-p\/--program: 'a' is given twice/],
    [["-a", "1MB", "--failure-threshold", "0"], /--failure-threshold: must be 1 or more/],
    [["-a", "1MB", "-x"], /Unknown option '-x'/],
  ];
  for (const [args, expected] of cases) {
    const { code, stderr } = await runMain(["memmon", ...args]);
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, expected);
  }
});

Deno.test("memmon --help lists memmon's flags, their spellings and the shared long flags", async () => {
  const { code, stdout } = await new Deno.Command(DENO, {
    args: [...RUN_MAIN, "memmon", "--help"],
    stdin: "null",
  }).output();
  assert.equal(code, 0);
  const help = new TextDecoder().decode(stdout);
  for (
    const flag of [
      "-p/--program NAME=SIZE",
      "-g/--groupname, --group GROUP=SIZE",
      "-a/--any SIZE",
      "-c/--cumulative",
      "-s/--sendmail_program, --sendmail CMD",
      "-m/--email ADDR",
      "-u/--uptime SECONDS",
      "-n/--name NAME",
      "--once",
      "--validate",
      "--interval, --check-interval SECONDS",
      "--failure-threshold N",
      "--max-restarts N",
      "--dry-run",
      "--metrics-listen HOST:PORT",
      "--webhook-env NAME",
      "--smtp-host HOST[:PORT]",
    ]
  ) {
    assert.ok(help.includes(`\n  ${flag}`), `memmon --help lacks ${flag}`);
  }
  assert.match(help, /-u\/--uptime SECONDS +Mail only .*\n(.*\n)*? +Default: no limit/);
});
