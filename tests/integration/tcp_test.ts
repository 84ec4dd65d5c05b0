/** `supervisor-checks tcp` under a real supervisord. */
import assert from "node:assert/strict";
import { freePorts, listenerSection, Supervisord, webProgram } from "../support/supervisord.ts";

Deno.test("tcp: a service whose port stopped listening is restarted; a healthy one is not", async () => {
  // guarantee: Logs
  const [deaf, fine] = freePorts(2);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram(`svc_${deaf}`, deaf) + webProgram(`svc_${fine}`, fine) +
      `[group:svc]\nprograms=svc_${deaf},svc_${fine}\n` +
      listenerSection("tcpcheck", [
        "tcp",
        "-n",
        "tcpcheck",
        "-g",
        "svc",
        "-p",
        "svc_(\\d+)",
        "-t",
        "2",
        "-r",
        "1",
      ], dir),
  });
  const deafSpec = `svc:svc_${deaf}`;
  const fineSpec = `svc:svc_${fine}`;
  const before = await sv.waitRunning([deafSpec, fineSpec]);
  await sv.kill(deafSpec, "SIGHUP"); // closes its listening socket, stays alive
  await sv.waitRestarted(deafSpec, before[deafSpec]);
  const after = await sv.waitRunning([deafSpec, fineSpec]);
  assert.equal(after[fineSpec], before[fineSpec]);
  const log = await sv.waitLog("tcpcheck", /restarted/);
  assert.match(
    log,
    new RegExp(
      `${deafSpec} \\(pid ${
        before[deafSpec]
      }\\): tcp unhealthy: connect 127\\.0\\.0\\.1:${deaf}: connection refused \\(after 2 attempts\\)`,
    ),
  );
  assert.match(
    log,
    new RegExp(
      `${deafSpec} \\(pid ${before[deafSpec]}\\): restarted \\(stopped, started\\): new pid ${
        after[deafSpec]
      }`,
    ),
  );
  assert.doesNotMatch(log, new RegExp(`${fineSpec}.*restart`));
});
