/**
 * `supervisor-checks xmlrpc` under a real supervisord: XML-RPC servers on
 * TCP ports derived from the process names, and on per-process unix sockets.
 */
import assert from "node:assert/strict";
import {
  DENO,
  freePorts,
  listenerSection,
  REPO,
  shq,
  Supervisord,
  waitFor,
} from "../support/supervisord.ts";

const XMLRPC_SERVICE = `${REPO}tests/fixtures/xmlrpc_service.ts`;

/** A [program:x] running the fixture XML-RPC server on a port or a socket path. */
function rpcProgram(name: string, where: string | number): string {
  return `[program:${name}]
command=${shq(DENO)} run -A ${shq(XMLRPC_SERVICE)} ${shq(String(where))}
startsecs=1
stopwaitsecs=2
autorestart=true
`;
}

Deno.test("xmlrpc: a frozen server (port from the name) is restarted, a healthy one is not", async () => {
  const ports = freePorts(2);
  const names = ports.map((p) => `rpc_${p}`);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      names.map((n, i) => rpcProgram(n, ports[i])).join("\n") +
      `[group:rpcsvc]\nprograms=${names.join(",")}\n` +
      listenerSection("rpc", [
        "xmlrpc",
        "-n",
        "rpc",
        "-g",
        "rpcsvc",
        "-p",
        ".+_(\\d+)",
        "-u",
        "/RPC2",
        "-m",
        "status",
        "-t",
        "1",
        "-r",
        "0",
        "-v",
      ], dir),
  });
  const specs = names.map((n) => `rpcsvc:${n}`);
  const before = await sv.waitRunning(specs);
  // a round that finds both healthy, restarting nothing
  await waitFor("a healthy round", async () => {
    const log = await sv.listenerLog("rpc");
    return specs.every((s) => new RegExp(`${s} .*xmlrpc healthy: status\\(\\) at`).test(log));
  });
  assert.deepEqual(await sv.waitRunning(specs), before);

  const [frozen, healthy] = specs;
  await sv.kill(frozen, "SIGSTOP");
  const newPid = await sv.waitRestarted(frozen, before[frozen]);
  assert.notEqual(newPid, before[frozen]);
  assert.equal((await sv.process(healthy)).pid, before[healthy], `${healthy} must keep its pid`);

  const log = await sv.listenerLog("rpc");
  assert.match(
    log,
    new RegExp(
      `${frozen} \\(pid ${before[frozen]}\\): xmlrpc unhealthy: status\\(\\) at ` +
        `http://127\\.0\\.0\\.1:${ports[0]}/RPC2: no answer within 1s`,
    ),
  );
  assert.match(log, new RegExp(`${frozen} \\(pid ${before[frozen]}\\): restarting`));
  assert.doesNotMatch(log, new RegExp(`${healthy} .*restarting`));
  assert.equal((await sv.process("rpc")).statename, "RUNNING");
  assert.doesNotMatch(await sv.supervisordLog(), /UNKNOWN|bad result/);
});

Deno.test("xmlrpc -S: a frozen server on its unix socket <dir>/<name>.sock is restarted", async () => {
  const names = ["rpc_a", "rpc_b"];
  await using sv = await Supervisord.start({
    sections: (dir) =>
      names.map((n) => rpcProgram(n, `${dir}/${n}.sock`)).join("\n") +
      `[group:rpcsock]\nprograms=${names.join(",")}\n` +
      listenerSection("sockcheck", [
        "xmlrpc",
        "-n",
        "sockcheck",
        "-g",
        "rpcsock",
        "-S",
        `${dir}/`,
        "-t",
        "1",
        "-r",
        "0",
        "-v",
      ], dir),
  });
  const specs = names.map((n) => `rpcsock:${n}`);
  const before = await sv.waitRunning(specs);
  await waitFor("a healthy round", async () => {
    const log = await sv.listenerLog("sockcheck");
    return specs.every((s) =>
      new RegExp(`${s} .*xmlrpc healthy: status\\(\\) at unix://`).test(log)
    );
  });

  assert.deepEqual(await sv.waitRunning(specs), before);

  const [healthy, frozen] = specs;
  await sv.kill(frozen, "SIGSTOP");
  await sv.waitRestarted(frozen, before[frozen]);
  assert.equal((await sv.process(healthy)).pid, before[healthy], `${healthy} must keep its pid`);

  const log = await sv.listenerLog("sockcheck");
  assert.match(
    log,
    new RegExp(
      `${frozen} \\(pid ${before[frozen]}\\): xmlrpc unhealthy: status\\(\\) at ` +
        `unix://${sv.dir}/rpc_b\\.sock: no answer within 1s`,
    ),
  );
  assert.doesNotMatch(await sv.supervisordLog(), /UNKNOWN|bad result/);
});
