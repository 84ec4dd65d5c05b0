/**
 * `supervisor-checks http` under a real supervisord.
 */
import assert from "node:assert/strict";
import {
  freePorts,
  listenerSection,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";
import { PEAK_RSS_LIMIT_MB, peakRssMb } from "../support/memory.ts";

Deno.test("http: a frozen service of a port-named group is restarted, the others keep their pids", async () => {
  const ports = freePorts(3);
  const names = ports.map((p) => `web_${p}`);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      names.map((n, i) => webProgram(n, ports[i])).join("\n") +
      // a member whose name yields no port: a configuration error, never restarted
      `[program:web_admin]
command=sleep 600
startsecs=0
stopwaitsecs=1
` +
      `[group:web]\nprograms=${names.join(",")},web_admin\n` +
      listenerSection("checker", [
        "http",
        "-n",
        "checker",
        "-g",
        "web",
        "-p",
        ".+_(\\d+)",
        "-u",
        "/ping",
        "-t",
        "3",
        "-r",
        "1",
      ], dir),
  });
  const specs = [...names, "web_admin"].map((n) => `web:${n}`);
  const before = await sv.waitRunning(specs);
  // one healthy round first: nothing may be restarted
  await waitFor(
    "a round with the configuration error logged",
    async () => (await sv.listenerLog("checker")).includes("configuration error"),
  );

  const frozen = specs[1];
  await sv.kill(frozen, "SIGSTOP");
  const newPid = await sv.waitRestarted(frozen, before[frozen]);
  assert.notEqual(newPid, before[frozen]);

  const after = await sv.waitRunning(specs);
  for (const spec of specs) {
    if (spec !== frozen) assert.equal(after[spec], before[spec], `${spec} must keep its pid`);
  }
  const log = await sv.listenerLog("checker");
  assert.match(log, new RegExp(`\\[checker\\] ${frozen} \\(pid ${before[frozen]}\\): restarting`));
  assert.match(
    log,
    /web:web_admin .*port regex '\.\+_\(\\d\+\)' does not match process name 'web_admin'; not restarting/,
  );
  // the round on the frozen service outlasts TICK_5 (3 s + back-off + 3 s): that TICK is skipped
  assert.match(log, /skipping TICK_5: the previous round is still running/);
  assert.equal((await sv.process("checker")).statename, "RUNNING");
  assert.doesNotMatch(await sv.supervisordLog(), /UNKNOWN|bad result/);
});

Deno.test("http and httpok: huge, endless and stalled bodies keep the listener under 150 MB; the timeout runs to the last byte", async () => {
  const [port] = freePorts(1);
  const name = `web_${port}`;
  const spec = `web:${name}`;
  const http = (check: string, path: string, extra: string[]) =>
    listenerSection(check, [
      "http",
      "-n",
      check,
      "-g",
      "web",
      "-p",
      String(port),
      "-u",
      path,
      "-r",
      "0",
      "-v",
      "--dry-run",
      ...extra,
    ], svDir);
  let svDir = "";
  await using sv = await Supervisord.start({
    sections: (dir) => {
      svDir = dir;
      return webProgram(name, port) + `[group:web]\nprograms=${name}\n` +
        // 500 MB ending in the text looked for: found, the body never held whole
        http("huge", "/huge", ["--expect-body", '"status":"ready"', "-t", "60"]) +
        // a body that never ends: not complete within the timeout
        http("endless", "/endless", ["--expect-body", "ready", "-t", "2"]) +
        // headers, then a stall, and no --expect-body: the timeout still covers the body
        http("stall", "/stall", ["-t", "1"]) +
        listenerSection("httpok", [
          "httpok",
          "-p",
          name,
          "-b",
          '"status":"ready"',
          "-t",
          "60",
          "--dry-run",
          "-v",
          `http://127.0.0.1:${port}/huge`,
        ], dir);
    },
  });
  const { [spec]: pid } = await sv.waitRunning([spec]);
  const huge = await sv.waitLog(
    "huge",
    /http healthy: GET http:\/\/127\.0\.0\.1:\d+\/huge: HTTP 200/,
    90_000,
  );
  const endless = await sv.waitLog(
    "endless",
    /http unhealthy: GET .*\/endless: HTTP 200 but the body was not complete within 2s/,
  );
  const stall = await sv.waitLog(
    "stall",
    /http unhealthy: GET .*\/stall: HTTP 200 but the body was not complete within 1s/,
  );
  const httpok = await sv.waitLog("httpok", /status contacting .*\/huge: 200 OK/, 90_000);
  for (const [check, log] of [["huge", huge], ["endless", endless], ["stall", stall]]) {
    const peak = await peakRssMb((await sv.process(check)).pid);
    assert.ok(peak < PEAK_RSS_LIMIT_MB, `${check}: peak RSS ${peak} MB`);
    assert.doesNotMatch(log, /ERROR/);
  }
  assert.doesNotMatch(httpok, /bad body|failed/);
  const peak = await peakRssMb((await sv.process("httpok")).pid);
  assert.ok(peak < PEAK_RSS_LIMIT_MB, `httpok: peak RSS ${peak} MB`);
  assert.equal((await sv.process(spec)).pid, pid, "dry runs: nothing restarted");
});
