/**
 * Benchmark: requests per second and p99 latency of `serve`'s GET
 * /health/live, with wrk on loopback, side by side with nginx answering a
 * static 200 `{}` in the same run.
 *
 * - the sidecar: `supervisor-checks serve` (deno run, as the tests start
 *   it) on 127.0.0.1, made live by one `workers:1|g` datagram;
 * - nginx: a private config in a temp dir, `worker_processes 1` (the
 *   sidecar's JavaScript runs on one thread too), access log off,
 *   `return 200 '{}'` on 127.0.0.1;
 * - wrk: one thread, CONNECTIONS connections; a warm-up run, then the
 *   measured run, for each server in turn.
 *
 * Run:  deno run -A bench/serve_live.ts   (needs wrk and nginx on PATH)
 *
 * Prints the figures, the ratio and PASS/MISS against the targets (at
 * least half of nginx's rate, p99 under 5 ms); asserts nothing. Exits 0
 * whatever the figures, 1 only when the benchmark itself broke.
 */
import { Sidecar } from "../tests/fixtures/serve_sidecar.ts";
import { freePorts, waitFor } from "../tests/support/supervisord.ts";

const CONNECTIONS = 32;
const WARMUP_SECONDS = 3;
const MEASURE_SECONDS = 10;
const TARGET_RATIO = 0.5;
const TARGET_P99_MS = 5;

interface WrkFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx/3xx answers and socket errors, as wrk reports them. */
  problems: string[];
}

/** `512.00us`, `1.23ms`, `2.00s` → milliseconds. */
function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) throw new Error(`unexpected wrk duration '${text}'`);
  const factor = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2]]!;
  return Number(m[1]) * factor;
}

async function wrk(url: string, seconds: number): Promise<WrkFigures> {
  const out = await new Deno.Command("wrk", {
    args: ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency", url],
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p50 = /^\s+50%\s+(\S+)/m.exec(text);
  const p99 = /^\s+99%\s+(\S+)/m.exec(text);
  const total = /(\d+) requests in/.exec(text);
  if (!rps || !p50 || !p99 || !total) throw new Error(`unexpected wrk output:\n${text}`);
  const problems = [
    ...text.matchAll(/^\s*(Non-2xx or 3xx responses: \d+|Socket errors: .*)$/gm),
  ].map((m) => m[1]);
  return {
    requestsPerSecond: Number(rps[1]),
    p50Ms: toMs(p50[1]),
    p99Ms: toMs(p99[1]),
    requests: Number(total[1]),
    problems,
  };
}

/** nginx from a private config in `dir`, serving a static 200 on 127.0.0.1:`port`. */
async function startNginx(dir: string, port: number): Promise<Deno.ChildProcess> {
  await Deno.mkdir(`${dir}/tmp`);
  const conf = `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      default_type application/json;
      return 200 '{}';
    }
  }
}
`;
  await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
  const child = new Deno.Command("nginx", {
    args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitFor(
    "nginx to answer",
    async () => {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      await r.body?.cancel();
      return r.status === 200;
    },
    30_000,
    100,
  );
  return child;
}

async function measure(name: string, url: string): Promise<WrkFigures> {
  await wrk(url, WARMUP_SECONDS);
  const figures = await wrk(url, MEASURE_SECONDS);
  console.log(
    `${name.padEnd(22)} ${figures.requestsPerSecond.toFixed(0).padStart(8)} req/s   ` +
      `p50 ${figures.p50Ms.toFixed(3)} ms   p99 ${figures.p99Ms.toFixed(3)} ms   ` +
      `(${figures.requests} requests${
        figures.problems.length ? `; ${figures.problems.join("; ")}` : ""
      })`,
  );
  return figures;
}

async function main(): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "serve-bench-" });
  let nginx: Deno.ChildProcess | undefined;
  let sidecar: Sidecar | undefined;
  try {
    console.log(
      `wrk -t1 -c${CONNECTIONS}, ${WARMUP_SECONDS}s warm-up + ${MEASURE_SECONDS}s measured, ` +
        `on ${navigator.hardwareConcurrency} cores\n`,
    );
    sidecar = await Sidecar.start([]);
    await sidecar.send("workers:1|g");
    const live = `${sidecar.url}/health/live`;
    await waitFor("the sidecar to be live", async () => {
      const r = await fetch(live);
      await r.body?.cancel();
      return r.status === 200;
    });
    const ours = await measure("serve /health/live", live);
    await sidecar.stop();
    sidecar = undefined;

    const [port] = freePorts(1);
    nginx = await startNginx(dir, port);
    const theirs = await measure("nginx static 200", `http://127.0.0.1:${port}/`);

    const ratio = ours.requestsPerSecond / theirs.requestsPerSecond;
    const verdict = (ok: boolean) => ok ? "PASS" : "MISS";
    console.log("");
    console.log(
      `ratio serve/nginx        ${ratio.toFixed(2)}   target >= ${TARGET_RATIO}   ` +
        verdict(ratio >= TARGET_RATIO),
    );
    console.log(
      `serve p99                ${ours.p99Ms.toFixed(3)} ms   target < ${TARGET_P99_MS} ms   ` +
        verdict(ours.p99Ms < TARGET_P99_MS),
    );
    console.log(`nginx p99                ${theirs.p99Ms.toFixed(3)} ms`);
    if (ours.problems.length) console.log(`serve answered badly: ${ours.problems.join("; ")} MISS`);
    return 0;
  } catch (e) {
    console.error(`benchmark broke: ${(e as Error).stack ?? e}`);
    return 1;
  } finally {
    await sidecar?.stop();
    if (nginx) {
      nginx.kill("SIGQUIT"); // nginx's graceful stop
      await nginx.status;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.exit(await main());
