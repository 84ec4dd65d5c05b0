/** -N/--process-name selection, and signals ending the listener cleanly. */
import assert from "node:assert/strict";
import {
  freePorts,
  listenerSection,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

Deno.test("-N group:name checks only that process; SIGHUP ends the listener with status 0", async () => {
  // guarantee: Signals
  const [a, b] = freePorts(2);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("api_a", a) + webProgram("api_b", b) +
      `[group:api]\nprograms=api_a,api_b\n` +
      listenerSection("only_a", [
        "http",
        "-n",
        "only_a",
        "-N",
        "api:api_a",
        "-p",
        String(a),
        "-u",
        "/ping",
        "-t",
        "1",
        "-r",
        "0",
        "-v",
      ], dir),
  });
  const before = await sv.waitRunning(["api:api_a", "api:api_b"]);
  // both freeze; only the selected one may be restarted
  await sv.kill("api:api_b", "SIGSTOP");
  await sv.kill("api:api_a", "SIGSTOP");
  await sv.waitRestarted("api:api_a", before["api:api_a"]);
  const b_now = await sv.process("api:api_b");
  assert.equal(b_now.pid, before["api:api_b"], "api_b is not selected and must be left alone");
  Deno.kill(b_now.pid, "SIGCONT");
  const log = await sv.listenerLog("only_a");
  assert.doesNotMatch(log, /api:api_b/);

  await sv.client.call("supervisor.signalProcess", ["only_a", "HUP"]);
  await waitFor(
    "listener to exit",
    async () => (await sv.process("only_a")).statename === "EXITED",
  );
  assert.match(await sv.listenerLog("only_a"), /received SIGHUP, stopping/);
  assert.match(await sv.supervisordLog(), /exited: only_a \(exit status 0; expected\)/);

  // started again, SIGINT ends it the same way
  await sv.client.startProcess("only_a");
  await waitFor(
    "the listener up again",
    async () => ((await sv.listenerLog("only_a")).match(/listening: /g) ?? []).length === 2,
  );
  await sv.client.call("supervisor.signalProcess", ["only_a", "INT"]);
  await waitFor(
    "listener to exit",
    async () => (await sv.process("only_a")).statename === "EXITED",
  );
  assert.match(await sv.listenerLog("only_a"), /received SIGINT, stopping/);
  assert.equal(
    (await sv.supervisordLog()).match(/exited: only_a \(exit status 0; expected\)/g)?.length,
    2,
  );
});

Deno.test("-N name (without group) and SIGTERM from supervisord's stopProcess", async () => {
  // guarantee: Signals
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("solo", port) +
      listenerSection("solo_check", [
        "http",
        "-n",
        "solo_check",
        "-N",
        "solo",
        "-p",
        String(port),
        "-u",
        "/ping",
        "-v",
      ], dir),
  });
  const before = await sv.waitRunning(["solo:solo"]);
  await waitFor(
    "a healthy verdict",
    async () =>
      /solo:solo \(pid \d+\): http healthy: GET http:\/\/127\.0\.0\.1:\d+\/ping: HTTP 200/.test(
        await sv.listenerLog("solo_check"),
      ),
  );
  await sv.client.stopProcess("solo_check");
  assert.match(await sv.listenerLog("solo_check"), /received SIGTERM, stopping/);
  assert.match(await sv.supervisordLog(), /stopped: solo_check \(exit status 0\)/);
  assert.equal((await sv.process("solo:solo")).pid, before["solo:solo"]);
});
