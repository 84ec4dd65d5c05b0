/** examples/not_frozen_check.ts: a user-written check under a real supervisord. */
import assert from "node:assert/strict";
import { DENO, REPO, shq, Supervisord } from "../support/supervisord.ts";

Deno.test("custom check example: a stopped worker is restarted, a running one is not", async () => {
  await using sv = await Supervisord.start({
    sections: (dir) =>
      `[program:w1]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n` +
      `[program:w2]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n` +
      `[group:workers]\nprograms=w1,w2\n` +
      `[eventlistener:not_frozen]
command=${shq(DENO)} run -A ${shq(`${REPO}examples/not_frozen_check.ts`)} workers
events=TICK_5
stderr_logfile=${dir}/not_frozen.err.log
startsecs=0
`,
  });
  const before = await sv.waitRunning(["workers:w1", "workers:w2"]);
  await sv.kill("workers:w2", "SIGSTOP");
  await sv.waitRestarted("workers:w2", before["workers:w2"]);
  assert.equal((await sv.process("workers:w1")).pid, before["workers:w1"]);
  const log = await sv.waitLog("not_frozen", /restarted/);
  assert.match(log, /workers:w2 \(pid \d+\): not_frozen unhealthy: process state is T \(stopped\)/);
  assert.match(log, /workers:w2 \(pid \d+\): restarted/);
});
