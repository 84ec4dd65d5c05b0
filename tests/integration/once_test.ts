/**
 * --once under a real supervisord: one round now, the verdicts on stdout
 * (summary with perfdata first), the Nagios exit code, nothing restarted.
 */
import assert from "node:assert/strict";
import { DENO, freePorts, MAIN, Supervisord, webProgram } from "../support/supervisord.ts";

async function run(sv: Supervisord | undefined, args: string[]) {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", "--no-prompt", MAIN, ...args],
    env: { SUPERVISOR_SERVER_URL: sv?.url ?? "unix:///nonexistent.sock" },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const PERF = (h: number, u: number, k: number, n: number, total: number) =>
  `healthy=${h};;;0;${total} unhealthy=${u};;;0;${total} unknown=${k};;;0;${total} ` +
  `not_running=${n};;;0;${total} time=\\d+\\.\\d\\ds`;

Deno.test("--once: OK, CRITICAL (nothing restarted), UNKNOWN, WARNING, JSON, run --config and httpok, with Nagios exit codes", async () => {
  // guarantee: Trying out
  const [a, b, spare] = freePorts(3);
  const cfg = { path: "" };
  await using sv = await Supervisord.start({
    sections: (dir) => {
      cfg.path = `${dir}/checks.yaml`;
      Deno.writeTextFileSync(
        cfg.path,
        `checks:
  - name: web
    group: web
    http: { port: ".+_(\\\\d+)", url: /ping, timeout: 1, num_retries: 0 }
  - name: spare
    group: spare
    tcp: { port: ${spare}, timeout: 1 }
`,
      );
      return webProgram(`web_${a}`, a) + webProgram(`web_${b}`, b) +
        `[group:web]\nprograms=web_${a},web_${b}\n` +
        `[program:admin]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n` +
        webProgram("spare", spare, "autostart=false\n");
    },
  });
  const specs = [`web:web_${a}`, `web:web_${b}`];
  const pids = await sv.waitRunning([...specs, "admin:admin"]);
  const http = ["http", "-n", "probe", "-p", ".+_(\\d+)", "-u", "/ping", "-t", "1", "-r", "0"];

  const ok = await run(sv, [...http, "-g", "web", "--once"]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const okLines = ok.stdout.trimEnd().split("\n");
  assert.match(
    okLines[0],
    new RegExp(`^SUPERVISOR-CHECKS OK - all 2 processes healthy \\| ${PERF(2, 0, 0, 0, 2)}$`),
  );
  for (const spec of specs) {
    assert.ok(
      okLines.some((l) =>
        new RegExp(`^OK ${spec} \\(pid ${pids[spec]}\\): http healthy: .*200`).test(l)
      ),
      ok.stdout,
    );
  }
  assert.equal(okLines.length, 3);
  assert.doesNotMatch(ok.stderr, /listening|INFO/, "the log keeps quiet when all is well");

  // a hung service: CRITICAL, named in the summary; not restarted
  const hung = specs[0];
  Deno.kill(pids[hung], "SIGSTOP");
  try {
    const bad = await run(sv, [...http, "-g", "web", "--once"]);
    assert.equal(bad.code, 2, bad.stdout + bad.stderr);
    assert.match(
      bad.stdout.split("\n")[0],
      new RegExp(
        `^SUPERVISOR-CHECKS CRITICAL - 1 of 2 unhealthy \\(${hung}: http: GET .*no answer within 1s\\) \\| ${
          PERF(1, 1, 0, 0, 2)
        }$`,
      ),
    );
    assert.match(
      bad.stdout,
      new RegExp(`^CRITICAL ${hung} \\(pid ${pids[hung]}\\): http unhealthy`, "m"),
    );
    assert.match(bad.stdout, new RegExp(`^OK ${specs[1]} `, "m"));

    const json = await run(sv, [...http, "-g", "web", "--once", "--log-format", "json"]);
    assert.equal(json.code, 2);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.status, "CRITICAL");
    assert.equal(doc.code, 2);
    assert.deepEqual(doc.counts, {
      healthy: 1,
      unhealthy: 1,
      unknown: 0,
      not_running: 0,
      total: 2,
    });
    const row = doc.processes.find((p: { process: string }) => p.process === hung);
    assert.equal(row.pid, pids[hung]);
    assert.equal(row.verdict, "unhealthy");
    assert.equal(row.results[0].check, "http");
    assert.match(row.results[0].message, /no answer within 1s/);
    assert.equal(json.stdout.trimEnd().split("\n").length, 1, "one JSON document");

    // nothing was restarted: same pid, and supervisord never stopped it
    const after = await sv.process(hung);
    assert.equal(after.pid, pids[hung]);
    assert.equal(after.statename, "RUNNING");
    assert.doesNotMatch(await sv.supervisordLog(), new RegExp(`stopped: ${hung.split(":")[1]}`));
  } finally {
    Deno.kill(pids[hung], "SIGCONT");
  }

  // a process whose name yields no port: UNKNOWN
  const unknown = await run(sv, [...http, "-N", "admin:admin", "--once"]);
  assert.equal(unknown.code, 3, unknown.stdout + unknown.stderr);
  assert.match(
    unknown.stdout,
    /^SUPERVISOR-CHECKS UNKNOWN - 1 of 1 unknown \(admin:admin: http: configuration error: .*does not match/,
  );
  // a selection that matches nothing: UNKNOWN too
  const none = await run(sv, [...http, "-g", "nosuchgroup", "--once"]);
  assert.equal(none.code, 3);
  assert.match(
    none.stdout,
    /^SUPERVISOR-CHECKS UNKNOWN - nothing checked \(no process matches group 'nosuchgroup'\)/,
  );

  // run --config: one entry healthy, one STOPPED (autostart=false): WARNING
  const multi = await run(sv, ["run", "--config", cfg.path, "--once"]);
  assert.equal(multi.code, 1, multi.stdout + multi.stderr);
  assert.match(
    multi.stdout.split("\n")[0],
    new RegExp(
      `^SUPERVISOR-CHECKS WARNING - 1 of 3 not RUNNING \\(spare:spare: STOPPED\\) \\| ${
        PERF(2, 0, 0, 1, 3)
      }$`,
    ),
  );
  assert.match(multi.stdout, /^WARNING \[spare\] spare:spare: STOPPED, not checked$/m);
  assert.match(multi.stdout, new RegExp(`^OK \\[web\\] ${specs[1]} `, "m"));

  // httpok: the URL's verdict for each program
  const good = await run(sv, ["httpok", "-p", `web_${b}`, "--once", `http://127.0.0.1:${b}/ping`]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /^SUPERVISOR-CHECKS OK - 1 process healthy \| /);
  assert.match(
    good.stdout,
    new RegExp(`^OK ${specs[1]} \\(pid \\d+\\): url healthy: status contacting .*: 200`, "m"),
  );
  const dead = await run(sv, [
    "httpok",
    "-p",
    `web_${b}`,
    "-t",
    "1",
    "--once",
    `http://127.0.0.1:${spare}/ping`,
  ]);
  assert.equal(dead.code, 2, dead.stdout + dead.stderr);
  assert.match(
    dead.stdout,
    /^SUPERVISOR-CHECKS CRITICAL - 1 of 1 unhealthy \(web:web_\d+: url: error contacting/,
  );
  assert.equal((await sv.process(specs[1])).pid, pids[specs[1]], "httpok --once restarts nothing");
});

Deno.test("--once: supervisord unreachable is UNKNOWN (3), for listeners and httpok", async () => {
  // guarantee: Trying out
  const r = await run(undefined, ["tcp", "-n", "t", "-g", "g", "-p", "1", "--once"]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /^SUPERVISOR-CHECKS UNKNOWN - nothing checked \(cannot reach supervisord at unix:\/\/\/nonexistent\.sock/,
  );
  const h = await run(undefined, ["httpok", "-a", "--once", "http://127.0.0.1:8/"]);
  assert.equal(h.code, 3, h.stdout + h.stderr);
  assert.match(h.stdout, /^SUPERVISOR-CHECKS UNKNOWN - /);
});
