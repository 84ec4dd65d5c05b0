/**
 * Hostile senders: whatever a checked service, the application behind
 * serve's readiness URL, or supervisord's API sends (a body of 500 MB, one
 * that never ends or stalls after the headers, a giant or deeply nested
 * XML-RPC answer), the verdict is sound and the listener or serve stays
 * under 150 MB of peak RSS (VmHWM from /proc).
 */
import assert from "node:assert/strict";
import { RpcProxy } from "../fixtures/robust_rpc_proxy.ts";
import { Sidecar, waitStatus } from "../fixtures/serve_sidecar.ts";
import { PEAK_RSS_LIMIT_MB, peakRssMb } from "../support/memory.ts";
import {
  DENO,
  freePorts,
  listenerSection,
  proxiedListener,
  REPO,
  shq,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

/** A [program:x] running the fixture XML-RPC server on `port`. */
function rpcProgram(name: string, port: number): string {
  return `[program:${name}]
command=${shq(DENO)} run -A ${shq(`${REPO}tests/fixtures/xmlrpc_service.ts`)} ${port}
startsecs=1
stopwaitsecs=2
`;
}

/** Asserts the peak RSS of a process supervisord runs. */
async function assertPeakBounded(sv: Supervisord, name: string) {
  const peak = await peakRssMb((await sv.process(name)).pid);
  assert.ok(peak < PEAK_RSS_LIMIT_MB, `${name}: peak RSS ${peak} MB`);
}

Deno.test("http and httpok: huge, endless and stalled bodies keep the listener under 150 MB; the timeout runs to the last byte", async () => {
  // guarantee: Limits
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
    await assertPeakBounded(sv, check);
    assert.doesNotMatch(log, /ERROR/);
  }
  assert.doesNotMatch(httpok, /bad body|failed/);
  await assertPeakBounded(sv, "httpok");
  assert.equal((await sv.process(spec)).pid, pid, "dry runs: nothing restarted");
});

Deno.test("serve: /health/ready relays at most 64 KiB; a huge or endless answer is 422 and serve stays under 150 MB", async () => {
  // guarantee: Limits
  const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
  const body = (chunks: number) => {
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < chunks) controller.enqueue(chunk);
        else controller.close();
      },
    }, { highWaterMark: 0 });
  };
  // 200 MB of JSON at /ready, endless at /endless, exactly 64 KiB of JSON at /limit
  const app = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/limit") return new Response(`"${"x".repeat(64 * 1024 - 2)}"`);
    return new Response(body(path === "/endless" ? Infinity : 200 * 16));
  });
  const where = (path: string) => `http://127.0.0.1:${app.addr.port}${path}`;
  try {
    for (const path of ["/ready", "/endless"]) {
      await using sidecar = await Sidecar.start([
        "--application-health-ready-url",
        where(path),
        "--application-health-ready-timeout",
        "30",
      ]);
      await sidecar.send("workers:1|g");
      await waitFor(
        "the workers gauge",
        async () => (await sidecar.ask("/health/live")).status === 200,
      );
      // three probes at once, as in the issue
      const answers = await Promise.all([1, 2, 3].map(() => sidecar.ask("/health/ready")));
      for (const r of answers) {
        assert.equal(r.status, 422, path);
        assert.deepEqual(r.json, {
          code: "ServiceNotReady",
          description: `GET ${where(path)}: HTTP 200 but the body is larger than 64 KiB ` +
            "(the limit for a readiness answer)",
        });
      }
      const peak = await peakRssMb(sidecar.pid);
      assert.ok(peak < PEAK_RSS_LIMIT_MB, `${path}: serve's peak RSS ${peak} MB`);
    }
    await using sidecar = await Sidecar.start(["--application-health-ready-url", where("/limit")]);
    await sidecar.send("workers:1|g");
    const limit = await waitStatus(`${sidecar.url}/health/ready`, 200);
    assert.equal((limit.json as string).length, 64 * 1024 - 2, "64 KiB exactly is relayed");
  } finally {
    await app.shutdown();
  }
});

Deno.test("xmlrpc: a giant or deeply nested answer is not judged, nothing is restarted, the listener stays under 150 MB", async () => {
  // guarantee: Limits
  const [port] = freePorts(1);
  const name = `rpc_${port}`;
  const spec = `rpcsvc:${name}`;
  const check = (listener: string, method: string, dir: string) =>
    listenerSection(listener, [
      "xmlrpc",
      "-n",
      listener,
      "-g",
      "rpcsvc",
      "-p",
      String(port),
      "-m",
      method,
      "-t",
      "30",
      "-r",
      "0",
      "-v",
    ], dir);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      rpcProgram(name, port) + `[group:rpcsvc]\nprograms=${name}\n` +
      check("giant", "giant", dir) + check("nested", "nested", dir),
  });
  const { [spec]: pid } = await sv.waitRunning([spec]);
  const where = `at http://127\\.0\\.0\\.1:${port}/RPC2`;
  await sv.waitLog(
    "giant",
    new RegExp(
      `${spec} .*xmlrpc unknown: giant\\(\\) ${where}: an answer larger than 4 MiB, not read: ` +
        "call a method with a smaller answer \\(-m\\); not restarting",
    ),
    60_000,
  );
  await sv.waitLog(
    "nested",
    new RegExp(
      `${spec} .*xmlrpc unknown: nested\\(\\) ${where}: an answer with arrays and structs ` +
        "nested deeper than 32 levels, not read",
    ),
    60_000,
  );
  for (const listener of ["giant", "nested"]) {
    await assertPeakBounded(sv, listener);
    assert.doesNotMatch(await sv.listenerLog(listener), /\): restarting/);
  }
  assert.equal((await sv.process(spec)).pid, pid, "still answering: not restarted");
});

Deno.test("supervisord's API sending a giant answer: that round is skipped like an unreachable API, nothing restarted, under 150 MB", async () => {
  // guarantee: Limits
  const proxyDir = await Deno.makeTempDir({ prefix: "hostile-proxy-" });
  let upstream: string | undefined;
  try {
    await using proxy = new RpcProxy(`${proxyDir}/rpc.sock`, () => upstream);
    await proxy.set("forward");
    const [port] = freePorts(1);
    await using sv = await Supervisord.start({
      sections: (dir) =>
        webProgram("web", port) +
        proxiedListener("giantapi", port, dir, proxy.path),
    });
    upstream = sv.url.slice("unix://".length);
    const { "web:web": pid } = await sv.waitRunning(["web:web"]);
    await sv.waitLog("giantapi", /web:web \(pid \d+\): http healthy/);
    await proxy.set("giant");
    const log = await sv.waitLog(
      "giantapi",
      /ERROR \[giantapi\] supervisord at unix:\/\/\S+ sent an answer larger than 4 MiB for supervisor\.getAllProcessInfo, not read further; nothing checked this round/,
    );
    await waitFor("a second giant round", () => proxy.served.giant >= 2);
    await assertPeakBounded(sv, "giantapi");
    assert.doesNotMatch(log, /restarting/);
    assert.equal((await sv.process("web:web")).pid, pid);
    assert.equal((await sv.process("giantapi")).statename, "RUNNING");
  } finally {
    await Deno.remove(proxyDir, { recursive: true }).catch(() => {});
  }
});
