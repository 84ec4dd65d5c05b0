/**
 * `serve` fed by a real gunicorn (Debian's package) whose --statsd-host
 * points at the sidecar: gunicorn's own `gunicorn.workers` gauge makes it
 * live, and stopping gunicorn makes it not live again (with --workers-ttl
 * and examples/gunicorn_conf.py, see there why).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ask, Sidecar, waitStatus } from "../fixtures/serve_sidecar.ts";
import { freePorts, waitFor } from "../support/supervisord.ts";

const HEARTBEAT_CONF = fileURLToPath(
  new URL("../../examples/gunicorn_conf.py", import.meta.url),
);

/** The WSGI application: JSON on every path, which /health/ready passes through. */
const WSGI_APP = `import json


def application(environ, start_response):
    body = json.dumps({"ready": True, "path": environ.get("PATH_INFO", "/")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
`;

class Gunicorn implements AsyncDisposable {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly child: Deno.ChildProcess,
  ) {}

  /** Starts gunicorn with 2 workers on 127.0.0.1:`port`, gauges to the sidecar. */
  static async start(statsdPort: number, port: number, extra: string[] = []): Promise<Gunicorn> {
    const dir = await Deno.makeTempDir({ prefix: "serve-gunicorn-" });
    await Deno.writeTextFile(`${dir}/app.py`, WSGI_APP);
    const child = new Deno.Command("gunicorn", {
      args: [
        "--bind",
        `127.0.0.1:${port}`,
        "--workers",
        "2",
        "--statsd-host",
        `127.0.0.1:${statsdPort}`,
        "--error-logfile",
        `${dir}/gunicorn.log`,
        "--chdir",
        dir,
        ...extra,
        "app:application",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return new Gunicorn(dir, port, child);
  }

  log(): Promise<string> {
    return Deno.readTextFile(`${this.dir}/gunicorn.log`).catch(() => "");
  }

  /** SIGTERM (gunicorn's graceful stop); returns the exit code. May be called again. */
  async stop(): Promise<number> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      this.child.status,
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), 60_000)),
    ]);
    clearTimeout(timer);
    if (!status) {
      this.child.kill("SIGKILL");
      return (await this.child.status).code;
    }
    return status.code;
  }

  async [Symbol.asyncDispose]() {
    await this.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("serve + gunicorn: its own gauge turns /health/live 200; with --workers-ttl and the heartbeat config it stays live until gunicorn stops", async () => {
  const [port] = freePorts(1);
  await using sidecar = await Sidecar.start([
    "--workers-ttl",
    "2",
    "--application-health-ready-url",
    `http://127.0.0.1:${port}/ready`,
  ]);
  assert.equal((await sidecar.ask("/health/live")).status, 422);

  await using gunicorn = await Gunicorn.start(sidecar.statsdPort, port, ["-c", HEARTBEAT_CONF]);
  await waitStatus(`${sidecar.url}/health/live`, 200, 60_000).catch(async (e) => {
    throw new Error(`${e.message}\ngunicorn: ${await gunicorn.log()}\nserve: ${sidecar.log}`);
  });
  const ready = await waitStatus(`${sidecar.url}/health/ready`, 200, 60_000);
  assert.deepEqual(ready.json, { ready: true, path: "/ready" });
  assert.match((await sidecar.ask("/metrics")).text, /^supervisor_checks_workers 2$/m);

  // an idle gunicorn stays live well past the TTL: the heartbeat re-sends the gauge
  const until = Date.now() + 3 * 2_000;
  while (Date.now() < until) {
    const live = await sidecar.ask("/health/live");
    assert.equal(live.status, 200, `went not live while gunicorn runs: ${live.text}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(await gunicorn.stop(), 0, await gunicorn.log());

  const dead = await waitStatus(`${sidecar.url}/health/live`, 422, 60_000);
  assert.equal((dead.json as { code: string }).code, "NoWorkers");
  assert.match((dead.json as { description: string }).description, /--workers-ttl 2s/);
  const notReady = await sidecar.ask("/health/ready");
  assert.equal(notReady.status, 422);
  assert.equal((notReady.json as { code: string }).code, "NoWorkers");
});

Deno.test("serve + gunicorn: without a TTL gunicorn turns /health/live 200 by itself, and its last report outlives it", async () => {
  const [port] = freePorts(1);
  await using sidecar = await Sidecar.start([]);
  assert.equal((await sidecar.ask("/health/live")).status, 422);
  await using gunicorn = await Gunicorn.start(sidecar.statsdPort, port);
  await waitStatus(`${sidecar.url}/health/live`, 200, 60_000).catch(async (e) => {
    throw new Error(`${e.message}\ngunicorn: ${await gunicorn.log()}\nserve: ${sidecar.log}`);
  });
  assert.equal((await ask(`http://127.0.0.1:${port}/`)).status, 200, "gunicorn serves");
  assert.equal(await gunicorn.stop(), 0, await gunicorn.log());
  // gunicorn sends `gunicorn.workers` only when the number of workers changes, and
  // never a 0: without --workers-ttl (as in the original sidecar) nothing says it died
  await waitFor("gunicorn's port to close", async () => {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return false;
    } catch {
      return true;
    }
  });
  assert.equal((await sidecar.ask("/health/live")).status, 200);
});
