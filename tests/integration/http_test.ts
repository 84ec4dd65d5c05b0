/**
 * `supervisor-checks http` under a real supervisord.
 */
import assert from "node:assert/strict";
import {
  freePorts,
  listenerSection,
  pingArgs,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

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
      listenerSection(
        "checker",
        pingArgs("checker", "web", ".+_(\\d+)", "-t", "3", "-r", "1"),
        dir,
      ),
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
  // the round on the frozen service outlasts TICK_5 (3 s + back-off + 3 s): said once, naming it
  assert.match(
    log,
    new RegExp(`WARN \\[checker\\] round overran its 5s period: .*waiting for ${frozen}`),
  );
  assert.doesNotMatch(log, /INFO .*skipping TICK_5/);
  assert.equal((await sv.process("checker")).statename, "RUNNING");
  assert.doesNotMatch(await sv.supervisordLog(), /UNKNOWN|bad result/);
});
