/**
 * Benchmark: peak memory of listeners and serve when what they read is
 * hostile.
 *
 * One supervisord runs the fixture web service and the fixture XML-RPC
 * service, and these listeners (all with --dry-run, so nothing restarts):
 *
 * - `http --expect-body` on a 500 MB body (default -t 15);
 * - `http` on a chunked body that never ends (default -t 15);
 * - `httpok -b` on the 500 MB body;
 * - `xmlrpc -m giant` (a 100 MB answer) and `-m nested` (3 MB nested 70,000 deep);
 * - `tcp` on the same service: the baseline of an idle listener.
 *
 * Then `serve` relays the application's readiness answer: 200 MB, three
 * probes at once, three times; and a body that never ends.
 *
 * Each figure is VmHWM (peak RSS) from /proc/<pid>/status once the verdict
 * was logged. Target: under 150 MB each.
 *
 * Run:  deno run -A bench/hostile_memory.ts
 *
 * Prints figures with PASS/MISS; exits 0 whatever they are, 1 only when the
 * benchmark itself broke.
 */
import { Sidecar } from "../tests/fixtures/serve_sidecar.ts";
import { PEAK_RSS_LIMIT_MB, peakRssMb } from "../tests/support/memory.ts";
import {
  DENO,
  freePorts,
  listenerSection,
  REPO,
  shq,
  Supervisord,
  webProgram,
} from "../tests/support/supervisord.ts";

const VERDICT_TIMEOUT_MS = 120_000;

function progress(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 23)}] ${message}`);
}

const rows: [string, number, string][] = [];

function figure(what: string, mb: number, verdict: string) {
  rows.push([what, mb, verdict]);
  progress(`${what}: ${mb} MB`);
}

async function main() {
  const [webPort, rpcPort] = freePorts(2);
  const web = `http://127.0.0.1:${webPort}`;
  const listener = (name: string, args: string[], dir: string) =>
    listenerSection(name, [...args, "-n", name, "--dry-run", "-v"], dir);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("web", webPort) +
      `[program:rpc]
command=${shq(DENO)} run -A ${shq(`${REPO}tests/fixtures/xmlrpc_service.ts`)} ${rpcPort}
startsecs=1
` +
      listener("baseline", ["tcp", "-g", "web", "-p", String(webPort)], dir) +
      listener("huge", [
        "http",
        "-g",
        "web",
        "-p",
        String(webPort),
        "-u",
        "/huge",
        "--expect-body",
        '"status":"ready"',
      ], dir) +
      listener("endless", [
        "http",
        "-g",
        "web",
        "-p",
        String(webPort),
        "-u",
        "/endless",
        "-r",
        "0",
      ], dir) +
      listenerSection("httpok", [
        "httpok",
        "-p",
        "web",
        "-b",
        '"status":"ready"',
        "--dry-run",
        "-v",
        `${web}/huge`,
      ], dir) +
      listener("giant", ["xmlrpc", "-g", "rpc", "-p", String(rpcPort), "-m", "giant"], dir) +
      listener("nested", ["xmlrpc", "-g", "rpc", "-p", String(rpcPort), "-m", "nested"], dir),
  });
  await sv.waitRunning(["web:web", "rpc:rpc"]);
  const cases: [string, RegExp, string][] = [
    ["baseline", /tcp healthy/, "tcp listener, idle (baseline)"],
    ["huge", /http healthy: .*\/huge/, "http --expect-body, 500 MB body"],
    ["endless", /http unhealthy: .*not complete within 15s/, "http, endless body (-t 15)"],
    ["httpok", /status contacting .*\/huge: 200 OK/, "httpok -b, 500 MB body"],
    ["giant", /xmlrpc unknown: .*larger than 4 MiB/, "xmlrpc, 100 MB answer"],
    ["nested", /xmlrpc unknown: .*nested deeper/, "xmlrpc, 3 MB nested 70,000 deep"],
  ];
  for (const [name, verdict, what] of cases) {
    const log = await sv.waitLog(name, verdict, VERDICT_TIMEOUT_MS);
    const line = log.split("\n").find((l) => verdict.test(l)) ?? "";
    const mb = await peakRssMb((await sv.process(name)).pid);
    figure(what, mb, line.replace(/^.*?(healthy|unhealthy|unknown|status contacting)/, "$1"));
  }

  for (const [path, label] of [["/huge?mb=200", "200 MB"], ["/endless", "endless"]]) {
    await using sidecar = await Sidecar.start([
      "--application-health-ready-url",
      `${web}${path}`,
    ]);
    await sidecar.send("workers:1|g");
    let status = 0;
    for (let i = 0; i < 3; i++) {
      const answers = await Promise.all([1, 2, 3].map(() => sidecar.ask("/health/ready")));
      status = answers[0].status;
    }
    figure(
      `serve /health/ready, ${label} answer, 3×3 probes`,
      await peakRssMb(sidecar.pid),
      `${status}`,
    );
  }

  console.log(`\n${"case".padEnd(52)} ${"peak RSS".padStart(9)}  target    verdict`);
  for (const [what, mb, verdict] of rows) {
    const pass = mb < PEAK_RSS_LIMIT_MB ? "PASS" : "MISS";
    console.log(
      `${what.padEnd(52)} ${`${mb} MB`.padStart(9)}  < ${PEAK_RSS_LIMIT_MB} ${pass}  ${
        verdict.slice(0, 90)
      }`,
    );
  }
}

try {
  await main();
} catch (e) {
  console.error(`benchmark broke: ${(e as Error).stack ?? e}`);
  Deno.exit(1);
}
