/**
 * `supervisor-checks serve` as a real process: HTTP on 127.0.0.1, real
 * StatsD datagrams, a real application behind the readiness URL, promtool
 * reading /metrics, and a real supervisord running it as a [program:x].
 */
import assert from "node:assert/strict";
import { CHECKS } from "../../checks/mod.ts";
import { type CheckDefinition, defineCheck, healthy, type ProcessInfo } from "../../lib/check.ts";
import { UsageError } from "../../lib/errors.ts";
import { Logger } from "../../lib/log.ts";
import { CheckSuite } from "../../lib/serve_checks.ts";
import { serveConfigFrom } from "../../lib/serve_config.ts";
import { ask, runServe, Sidecar, waitStatus } from "../fixtures/serve_sidecar.ts";
import { promtool } from "../support/metrics.ts";
import {
  freePorts,
  listenerCommand,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

interface CheckResultJson {
  checker: string;
  output: string;
  passed: boolean;
  timestamp: number;
  expires: number | null;
  response_time: number;
}

interface HealthcheckJson {
  hostname: string;
  status: string;
  timestamp: number;
  results: CheckResultJson[];
}

/** A port nothing listens on right now. */
function closedPort(): number {
  return freePorts(1)[0];
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "serve-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A tiny application on 127.0.0.1 whose readiness answer the test switches. */
function startApp() {
  const state = {
    mode: "ok" as "ok" | "down" | "text" | "notjson" | "hang",
    hits: 0,
    seen: [] as { url: string; authorization: string | null }[],
  };
  const hung: (() => void)[] = [];
  let closed: Promise<void> | undefined;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    state.hits++;
    state.seen.push({ url: req.url, authorization: req.headers.get("authorization") });
    const path = new URL(req.url).pathname;
    if (path === "/ping") return new Response("pong");
    switch (state.mode) {
      case "ok":
        return Response.json({ db: "up" });
      case "down":
        return Response.json({ db: "down", queue: ["stuck"] }, { status: 503 });
      case "text":
        return new Response("database exploded\n", { status: 500 });
      case "notjson":
        return new Response("OK");
      case "hang":
        await new Promise<void>((resolve) => hung.push(resolve));
        return new Response("too late");
    }
  });
  return {
    state,
    port: server.addr.port,
    /** Releases held requests and stops; may be called again. */
    close(): Promise<void> {
      for (const release of hung) release();
      return closed ??= server.shutdown();
    },
  };
}

Deno.test("serve: --help lists every flag with its default", async () => {
  const r = await runServe(["--help"]);
  assert.equal(r.code, 0);
  for (
    const flag of [
      "-H/--host HOST",
      "-P/--port PORT",
      "--statsd-host HOST",
      "--statsd-port PORT",
      "--no-statsd",
      "--workers-ttl SECONDS",
      "--application-health-ready-url URL",
      "--application-health-ready-url-env NAME",
      "--application-health-ready-url-file PATH",
      "--application-health-ready-timeout SECONDS",
      "--group GROUP",
      "--process NAME",
      "--config FILE",
      "--environment",
      "-v/--verbose",
    ]
  ) assert.ok(r.stdout.includes(flag), flag);
  for (const d of ["Default: localhost", "Default: 8000", "Default: 8125", "Default: 5"]) {
    assert.ok(r.stdout.includes(d), d);
  }
  // the config keys, from the declarations the loader validates with
  const keys = r.stdout.split(/^Config file keys.*$/m)[1]?.split(/^Examples:$/m)[0] ?? "";
  assert.match(keys, /^ {2}top level +checks, healthcheck, environment$/m);
  for (
    const key of ["success_ttl", "failed_headers", "include_os", "sections", "address", "exec"]
  ) assert.match(keys, new RegExp(`\\b${key}\\b`), key);
});

Deno.test("serve: start-up errors name the flag or config key and exit 2", async () => {
  await withTempDir(async (dir) => {
    const bad = `${dir}/bad.yaml`;
    await Deno.writeTextFile(
      bad,
      "checks:\n  - name: web\n    group: web\n    http: {url: /ping}\n" +
        "healthcheck:\n  success_ttl: -1\n",
    );
    const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const env = { SUPERVISOR_SERVER_URL: "" };
      const cases: [string[], RegExp][] = [
        [["-P", "70000"], /-P\/--port: '70000' is not a port number 0-65535/],
        [["--statsd-port", "x"], /--statsd-port: 'x' is not a port number/],
        [["--workers-ttl", "0"], /--workers-ttl: must be greater than 0/],
        [["--no-statsd"], /--no-statsd: give --group or --process/],
        [["--no-statsd", "--process", "web", "--workers-ttl", "3"], /--workers-ttl: has no effect/],
        [["--application-health-ready-url", "ftp://x/"], /--application-health-ready-url: must be/],
        [
          ["--application-health-ready-url-env", "SC_TEST_NO_SUCH"],
          /--application-health-ready-url-env: environment variable SC_TEST_NO_SUCH is not set/,
        ],
        [["--process", "a:b:c"], /--process: 'a:b:c' is not a process name/],
        [
          ["--group", "web"],
          /--group: needs supervisord's API, but SUPERVISOR_SERVER_URL is not set/,
        ],
        [["--config", `${dir}/missing.yaml`], /--config .*missing\.yaml: cannot read/],
        [
          ["--config", bad],
          /--config .*bad\.yaml: checks\[0\]\.http\.port: is required when checks\[0\]\.http\.url is a path; healthcheck\.success_ttl: must be 0 or more seconds/,
        ],
        [
          ["-H", "127.0.0.1", "-P", String(busy.addr.port), "--statsd-port", "0"],
          /-H\/--host\/-P\/--port: cannot listen on 127\.0\.0\.1:\d+: .*in use/i,
        ],
      ];
      for (const [args, message] of cases) {
        const r = await runServe(args, env);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message);
        // a config file's error points to the config reference, a flag's to --help
        assert.match(
          r.stderr,
          args[0] === "--config"
            ? /^See docs\/configuration\.md#serve-config for the config keys\.$/m
            : /Try 'supervisor-checks serve --help'/,
        );
      }
    } finally {
      busy.close();
    }
  });
});

Deno.test("serve config: every problem is reported at once, by key path", () => {
  const kinds = Object.values(CHECKS);
  const error = (config: unknown) => {
    try {
      serveConfigFrom(config, kinds, "--config x.yaml");
    } catch (e) {
      assert.ok(e instanceof UsageError);
      return e.message;
    }
    assert.fail("accepted");
  };
  const message = error({
    checks: [
      { name: "a", url: "ftp://x/" },
      { name: "a", address: "no-port" },
      { name: "c" },
      { name: "d", group: "g", url: "http://x/" },
      { name: "e", group: "web" },
      { name: "f", url: "http://x/", memory: {}, http: { url: "/y" } },
      { name: "g", group: "web", http: { port: "(x" } },
      { name: "h", process: "a:b:c", tcp: { port: 1 } },
      { name: "i", address: "127.0.0.1:99999" },
      { name: "j", group: "web", tcp: { port: 1, bogus: true } },
      { name: "k", url: "http://u:p@x/", http: { password: "z" } },
      { name: "l", group: "web", htp: {} },
      { group: "web", tcp: { port: 1 } },
    ],
    healthcheck: { failed_status: 700, success_headers: { "bad header": "x" } },
    environment: { sections: { os: {} }, include_os: "no" },
  });
  for (
    const part of [
      "checks[0].url: 'ftp://x/' is not an http:// or https:// URL",
      "checks[1].name: 'a' is also the name of checks[0]",
      "checks[1].address: 'no-port' is not host:port",
      "checks[2] (c): give exactly one target of group, process, url, address, command",
      "checks[3] (d): give exactly one target of group, process, url, address, command (got group, url)",
      "checks[4] (e): names no check; add one or more of http, tcp",
      "checks[5].memory: a url target takes http options only",
      "checks[5].http.url: comes from checks[5].url; leave it out",
      "checks[6].http.port: '(x' is not a valid regular expression",
      "checks[7].process: 'a:b:c' is not a process name",
      "checks[8].address: port 99999 is out of range",
      "checks[9].tcp: unknown key 'bogus'",
      "checks[10].http.password: comes from checks[10].url; leave it out",
      "checks[11] (l): unknown key 'htp' (known: name, group, process, url, address, command, http, tcp,",
      "checks[12].name: is required",
    ]
  ) assert.ok(message.includes(part), `${part}\n in: ${message}`);
  assert.match(
    error({
      healthcheck: { failed_status: 700, success_headers: { "bad header": "x" } },
      environment: { sections: { os: {} }, include_os: "no" },
      extra: 1,
    }),
    /healthcheck\.failed_status: must be an HTTP status 200-599; healthcheck\.success_headers: header name "bad header" is not an HTTP token.*; environment\.include_os: expected true or false, got 'no'; environment\.sections: 'os' is a built-in section; switch it with include_os; unknown key 'extra' \(top level: checks, healthcheck, environment\)/,
  );
  assert.match(error(null), /--config x\.yaml: is empty/);

  const ok = serveConfigFrom(
    {
      checks: [
        {
          name: "web",
          group: "web",
          http: { port: ".+_(\\d+)", url: "/ping" },
          tcp: { port: ".+_(\\d+)" },
        },
        { name: "api", url: "https://api.example/health", http: null },
        { name: "db", address: "[::1]:5432" },
      ],
      healthcheck: { success_ttl: null, failed_ttl: 0 },
    },
    kinds,
    "--config x.yaml",
  );
  assert.deepEqual(
    ok.checks.map((c) => [c.name, c.target.kind, c.checks.map((k) => k.definition.name)]),
    [
      ["web", "supervisord", ["http", "tcp"]],
      ["api", "plain", ["http"]],
      ["db", "plain", ["tcp"]],
    ],
  );
  assert.equal(ok.healthcheck.successTtl, null);
  assert.equal(ok.healthcheck.failedTtl, 0);
  assert.equal(ok.healthcheck.successStatus, 200);
  assert.equal(ok.healthcheck.failedStatus, 500);
  assert.deepEqual((ok.checks[2].checks[0].options as { host: string }).host, "::1");
  const defaults = serveConfigFrom({}, kinds, "x");
  assert.equal(defaults.healthcheck.successTtl, 27);
  assert.equal(defaults.healthcheck.failedTtl, 9);
  assert.equal(defaults.environment.os, true);
});

Deno.test("serve: /health/live follows the StatsD workers gauge; garbage never stops it", async () => {
  await using sidecar = await Sidecar.start([]);
  const live = await sidecar.ask("/health/live");
  assert.equal(live.status, 422);
  assert.equal(live.headers.get("content-type"), "application/json");
  assert.deepEqual(Object.keys(live.json as object), ["code", "description"]);
  assert.equal((live.json as { code: string }).code, "NoWorkers");

  await sidecar.send("workers:2|g");
  assert.equal((await waitStatus(`${sidecar.url}/health/live`, 200)).text, "{}");
  assert.equal((await sidecar.ask("/health/ready")).text, "{}", "no ready URL: the gate alone");

  await sidecar.send("workers:-2|g");
  const none = await waitStatus(`${sidecar.url}/health/live`, 422);
  assert.match((none.json as { description: string }).description, /the workers gauge is 0/);
  assert.equal((await sidecar.ask("/health/ready")).status, 422);

  const random = new Uint8Array(2048);
  crypto.getRandomValues(random);
  random[0] = 0xc0; // never valid UTF-8
  const garbage = [
    random,
    new Uint8Array(65_000).fill(0xff),
    "workers:".repeat(8_000),
    "💣 wörkers:∞|g\n\u0000\u0007",
    "workers:1|q\n:|\n",
    new Uint8Array(),
  ];
  for (const g of garbage) await sidecar.send(g);
  await sidecar.send("gunicorn.requests:1|c\ngunicorn.workers:+3|g");
  await waitStatus(`${sidecar.url}/health/live`, 200);

  const metrics = await waitFor("all datagrams counted", async () => {
    const text = (await sidecar.ask("/metrics")).text;
    return text.includes("supervisor_checks_statsd_datagrams_total 9") ? text : undefined;
  });
  assert.match(metrics, /^supervisor_checks_statsd_malformed_datagrams_total 6$/m);
  assert.match(metrics, /^supervisor_checks_workers 3$/m);
  const lint = await promtool(metrics);
  assert.ok(lint.success, lint.output);

  assert.equal((await sidecar.ask("/environment")).status, 404, "off without --environment");
  const missing = await sidecar.ask("/nope");
  assert.equal(missing.status, 404);
  assert.equal((missing.json as { code: string }).code, "NotFound");
  const post = await sidecar.ask("/health/live", { method: "POST" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  assert.equal(await sidecar.stop("SIGINT"), 0);
  assert.match(sidecar.log, /SIGINT: stopping/);
});

Deno.test("serve: with --workers-ttl a gauge that stops arriving counts as no workers", async () => {
  await using sidecar = await Sidecar.start(["--workers-ttl", "1"]);
  // keep reporting until the sidecar has seen it, then go quiet like a dead master
  await waitFor("live while the gauge arrives", async () => {
    await sidecar.send("gunicorn.workers:4|g");
    return (await sidecar.ask("/health/live")).status === 200;
  });
  const dead = await waitStatus(`${sidecar.url}/health/live`, 422);
  assert.deepEqual((dead.json as { code: string }).code, "NoWorkers");
  assert.match(
    (dead.json as { description: string }).description,
    /the workers gauge was last updated [\d.]+s ago \(--workers-ttl 1s\)/,
  );
  assert.match((await sidecar.ask("/metrics")).text, /^supervisor_checks_workers 0$/m);
  await waitFor(
    "the transitions to be logged",
    () => /WARN \[serve\] no workers/.test(sidecar.log),
  );
  assert.match(sidecar.log, /INFO \[serve\] workers: 4 reported over StatsD/);
});

Deno.test("serve: the readiness URL, credentials included, can come from a file", async () => {
  const app = startApp();
  try {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(
        `${dir}/ready-url`,
        `http://probe:file-pw@127.0.0.1:${app.port}/ready\n`,
      );
      await using sidecar = await Sidecar.start([
        "--application-health-ready-url-file",
        `${dir}/ready-url`,
      ]);
      await sidecar.send("workers:1|g");
      await waitStatus(`${sidecar.url}/health/ready`, 200);
      assert.equal(app.state.seen.at(-1)!.authorization, `Basic ${btoa("probe:file-pw")}`);
    });
  } finally {
    await app.close();
  }
});

Deno.test("serve: /health/ready proxies the application's JSON; anything else is 422 ServiceNotReady", async () => {
  const app = startApp();
  try {
    await using sidecar = await Sidecar.start([
      "--application-health-ready-url",
      `http://probe:s3cr3t-pw@127.0.0.1:${app.port}/ready?token=t0k3n`,
      "--application-health-ready-timeout",
      "1",
      "-v",
    ]);
    const gated = await sidecar.ask("/health/ready");
    assert.equal(gated.status, 422);
    assert.equal((gated.json as { code: string }).code, "NoWorkers", "the worker gate comes first");
    assert.equal(app.state.hits, 0);

    await sidecar.send("workers:1|g");
    const ready = await waitStatus(`${sidecar.url}/health/ready`, 200);
    assert.deepEqual(ready.json, { db: "up" });
    const seen = app.state.seen.at(-1)!;
    assert.equal(seen.authorization, `Basic ${btoa("probe:s3cr3t-pw")}`);
    assert.match(seen.url, /\/ready\?token=t0k3n$/);

    const cases: [typeof app.state.mode, Record<string, unknown>][] = [
      ["down", { fields: { db: "down", queue: ["stuck"] } }],
      ["text", { non_field_errors: ["database exploded"] }],
      ["notjson", { non_field_errors: ["OK"] }],
    ];
    for (const [mode, extra] of cases) {
      app.state.mode = mode;
      const r = await sidecar.ask("/health/ready");
      assert.equal(r.status, 422, mode);
      const body = r.json as Record<string, unknown>;
      assert.equal(body.code, "ServiceNotReady");
      assert.match(
        String(body.description),
        new RegExp(`^GET http://127\\.0\\.0\\.1:${app.port}/ready: HTTP`),
      );
      for (const [k, v] of Object.entries(extra)) assert.deepEqual(body[k], v, `${mode} ${k}`);
    }

    app.state.mode = "hang";
    const hung = await sidecar.ask("/health/ready");
    assert.equal(hung.status, 422);
    assert.deepEqual(hung.json, {
      code: "ServiceNotReady",
      description: `GET http://127.0.0.1:${app.port}/ready: no complete answer within 1s`,
    });
    assert.equal((await sidecar.ask("/health/live")).status, 200, "liveness ignores the app");

    await sidecar.stop();
    for (const secret of ["s3cr3t-pw", "t0k3n"]) {
      assert.ok(!sidecar.log.includes(secret), `${secret} leaked into the log:\n${sidecar.log}`);
    }
  } finally {
    await app.close();
  }
});

Deno.test("serve: /healthcheck runs the config's checks, caches each result and answers as configured", async () => {
  const app = startApp();
  try {
    await withTempDir(async (dir) => {
      const config = `${dir}/serve.yaml`;
      await Deno.writeTextFile(
        config,
        `checks:
  - name: app
    url: http://probe:pw-in-url@127.0.0.1:${app.port}/ping?api_token=qt-1
    http: {timeout: 10, num_retries: 0, expect_body: pong}
  - name: closed
    address: 127.0.0.1:${closedPort()}
    tcp: {timeout: 10, num_retries: 0}
  - name: queue
    command: [/bin/sh, -c, 'echo "$SUPERVISOR_CHECK_PROCESS_NAME drained"']
  - name: disk
    command: echo disk full >&2; exit 3
    exec: {timeout: 10}
healthcheck:
  failed_status: 503
  success_headers: {X-Health: ok}
  failed_headers: {X-Health: failing, Cache-Control: no-store}
`,
      );
      await using sidecar = await Sidecar.start(["--config", config, "-v"]);
      const first = await sidecar.ask("/healthcheck");
      assert.equal(first.status, 503);
      assert.equal(first.headers.get("x-health"), "failing");
      assert.equal(first.headers.get("cache-control"), "no-store");
      const body = first.json as HealthcheckJson;
      assert.equal(body.hostname, Deno.hostname());
      assert.equal(body.status, "failure");
      assert.equal(typeof body.timestamp, "number");
      assert.deepEqual(body.results.map((r) => [r.checker, r.passed]), [
        ["app", true],
        ["closed", false],
        ["queue", true],
        ["disk", false],
      ]);
      const [appResult, closed, queue, disk] = body.results;
      assert.deepEqual(Object.keys(appResult), [
        "checker",
        "output",
        "passed",
        "timestamp",
        "expires",
        "response_time",
      ]);
      assert.equal(appResult.checker, "app");
      assert.equal(appResult.passed, true);
      assert.match(
        appResult.output,
        /GET http:\/\/127\.0\.0\.1:\d+\/ping\?api_token=\*{8}: HTTP 200/,
      );
      assert.equal(app.state.seen[0].authorization, `Basic ${btoa("probe:pw-in-url")}`);
      assert.equal(Math.round(appResult.expires! - appResult.timestamp), 27);
      assert.ok(appResult.response_time >= 0);
      assert.equal(closed.checker, "closed");
      assert.equal(closed.passed, false);
      assert.match(closed.output, /connection refused/);
      assert.equal(Math.round(closed.expires! - closed.timestamp), 9);
      assert.match(queue.output, /queue drained/);
      assert.match(disk.output, /disk full/);
      assert.equal(app.state.hits, 1);

      // cached: concurrent requests reuse both results, the app is not asked again
      const again = await Promise.all(
        Array.from({ length: 5 }, () => sidecar.ask("/healthcheck")),
      );
      for (const r of again) {
        assert.equal(r.status, 503);
        assert.deepEqual((r.json as HealthcheckJson).results, body.results);
      }
      assert.equal(app.state.hits, 1);

      const metrics = (await sidecar.ask("/metrics")).text;
      assert.match(metrics, /^supervisor_checks_check_passed\{checker="app"\} 1$/m);
      assert.match(metrics, /^supervisor_checks_check_passed\{checker="closed"\} 0$/m);
      assert.match(metrics, /^supervisor_checks_check_passed\{checker="disk"\} 0$/m);
      assert.match(
        metrics,
        /^supervisor_checks_check_duration_seconds\{checker="app"\} [\d.e-]+$/m,
      );
      const lint = await promtool(metrics);
      assert.ok(lint.success, lint.output);
      await sidecar.stop();
      for (const secret of ["pw-in-url", "qt-1"]) {
        assert.ok(!first.text.includes(secret), `${secret} in /healthcheck`);
        assert.ok(!sidecar.log.includes(secret), `${secret} in the log:\n${sidecar.log}`);
      }
    });
  } finally {
    await app.close();
  }
});

Deno.test("serve: with the cache off every request runs the checks, and concurrent ones share a run", async () => {
  const app = startApp();
  try {
    await withTempDir(async (dir) => {
      const config = `${dir}/serve.json`;
      await Deno.writeTextFile(
        config,
        JSON.stringify({
          checks: [{
            name: "app",
            url: `http://127.0.0.1:${app.port}/ready`,
            http: { timeout: 60 },
          }],
          healthcheck: { success_ttl: null, failed_ttl: null, success_status: 299 },
        }),
      );
      await using sidecar = await Sidecar.start(["--config", config, "-v"]);
      const one = await sidecar.ask("/healthcheck");
      assert.equal(one.status, 299);
      assert.equal((one.json as HealthcheckJson).status, "success");
      assert.equal((one.json as HealthcheckJson).results[0].expires, null);
      await sidecar.ask("/healthcheck");
      assert.equal(app.state.hits, 2, "no caching: each request asked the app");

      app.state.mode = "hang";
      const requests = Array.from({ length: 3 }, () => sidecar.ask("/healthcheck"));
      // all three reached the sidecar while the app holds the first check's request
      await waitFor(
        "three requests logged",
        () => (sidecar.log.match(/GET \/healthcheck/g) ?? []).length === 5 && app.state.hits === 3,
      );
      app.state.mode = "ok";
      await app.close(); // releases the held request: "too late" is not JSON but 200
      const answers = await Promise.all(requests);
      assert.equal(app.state.hits, 3, "one run for the three concurrent requests");
      const results = answers.map((a) => (a.json as HealthcheckJson).results[0]);
      assert.ok(results.every((r) => r.timestamp === results[0].timestamp), "the same result");
      assert.equal(results[0].passed, true);
    });
  } finally {
    await app.close();
  }
});

Deno.test("serve: a check that throws is a failed result carrying the error text", async () => {
  const boom: CheckDefinition = defineCheck({
    name: "boom",
    description: "throws",
    run: () => Promise.reject(new TypeError("kaboom: cannot read 'explode' of undefined")),
  });
  const fine: CheckDefinition = defineCheck({
    name: "fine",
    run: () => Promise.resolve(healthy("all good")),
  });
  const process: ProcessInfo = {
    name: "x",
    group: "x",
    pid: 0,
    state: 20,
    statename: "RUNNING",
    start: 0,
  };
  const suite = new CheckSuite(
    [
      {
        name: "throws",
        target: { kind: "plain", process },
        checks: [{ definition: boom, options: {} }],
      },
      {
        name: "fine",
        target: { kind: "plain", process },
        checks: [{ definition: fine, options: {} }],
      },
    ],
    {
      successTtl: 27,
      failedTtl: 9,
      successStatus: 200,
      failedStatus: 500,
      successHeaders: {},
      failedHeaders: {},
    },
    undefined,
    new AbortController().signal,
    new Logger("test", "error", () => {}),
  );
  const report = await suite.run();
  assert.equal(report.passed, false);
  assert.equal(report.results[0].passed, false);
  assert.match(report.results[0].output, /kaboom: cannot read 'explode' of undefined/);
  assert.equal(report.results[1].passed, true);
  assert.equal(report.results[1].output, "all good");
  assert.deepEqual([...suite.latest.keys()], ["throws", "fine"]);
});

Deno.test("serve: /environment with --environment: sections from the config, secrets masked", async () => {
  await withTempDir(async (dir) => {
    const config = `${dir}/serve.yaml`;
    await Deno.writeTextFile(
      config,
      `checks:
  - name: app
    url: http://127.0.0.1:${closedPort()}/ping
    http: {username: ops, password: pw-in-config}
environment:
  include_os: false
  sections:
    application: {maintainer: ops@example.com, deploy_key: dk-123, nested: {Api_Token: tk-9}}
`,
    );
    await using sidecar = await Sidecar.start(["--config", config, "--environment"], {
      SC_TEST_SERVICE_PASSWORD: "env-pw-1",
      SC_TEST_VISIBLE: "shown",
      SC_TEST_DSN: "postgres://app:dsn-pw-2@db/prod",
    });
    const r = await sidecar.ask("/environment");
    assert.equal(r.status, 200);
    const dump = r.json as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(dump), ["process", "runtime", "config", "application"]);
    const env = dump.process.environment as Record<string, string>;
    assert.equal(env.SC_TEST_SERVICE_PASSWORD, "********");
    assert.equal(env.SC_TEST_VISIBLE, "shown");
    assert.equal(env.SC_TEST_DSN, "********", "a *DSN* variable is hidden whole");
    assert.equal(dump.runtime.deno, Deno.version.deno);
    assert.equal(dump.runtime.typescript, Deno.version.typescript);
    const file = dump.config.file as { checks: { http: Record<string, string> }[] };
    assert.equal(file.checks[0].http.password, "********");
    assert.equal(file.checks[0].http.username, "ops");
    assert.equal((dump.config.flags as Record<string, unknown>).environment, true);
    assert.deepEqual(dump.application, {
      maintainer: "ops@example.com",
      deploy_key: "********",
      nested: { Api_Token: "********" },
    });
    for (const secret of ["env-pw-1", "dsn-pw-2", "pw-in-config", "dk-123", "tk-9"]) {
      assert.ok(!r.text.includes(secret), secret);
    }
  });
});

Deno.test("serve: /environment, /healthcheck and the log show none of an attacker's favourite secrets", async () => {
  await withTempDir(async (dir) => {
    const config = `${dir}/serve.yaml`;
    await Deno.writeTextFile(
      config,
      `checks:
  - name: db
    command: "echo connecting to postgres://app:cmd-out-pw@db/x >&2; exit 1 # mysql -uroot -pcmd-line-pw"
`,
    );
    const secrets = {
      MYSQL_PWD: "mysql-pwd-1",
      SENTRY_DSN: "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/1",
      SC_TEST_ERRORS: "https://5f4e3d2c1b0a99887766554433221100@o2.ingest.sentry.io/2",
      SC_TEST_DB: "mysql://app:at@in@pw@db:3306/shop",
    };
    await using sidecar = await Sidecar.start(["--config", config, "--environment"], secrets);
    const environment = await sidecar.ask("/environment");
    const healthcheck = await sidecar.ask("/healthcheck");
    assert.equal(healthcheck.status, 500);
    const output = (healthcheck.json as { results: { output: string }[] }).results[0].output;
    assert.match(output, /connecting to postgres:\/\/app:\*{8}@db\/x/);
    const log = await waitFor(
      "the failed check's log line",
      () => /check db failed: .*connecting to postgres/.test(sidecar.log) ? sidecar.log : undefined,
    );
    const env = (environment.json as { process: { environment: Record<string, string> } })
      .process.environment;
    assert.equal(env.SC_TEST_DB, "mysql://app:********@db:3306/shop");
    assert.equal(env.SC_TEST_ERRORS, "https://********@o2.ingest.sentry.io/2");
    for (
      const leak of [
        "mysql-pwd-1",
        "0123456789abcdef",
        "5f4e3d2c1b0a",
        "at@in@pw",
        "in@pw",
        "cmd-out-pw",
        "cmd-line-pw",
      ]
    ) {
      assert.ok(!environment.text.includes(leak), `/environment shows ${leak}`);
      assert.ok(!healthcheck.text.includes(leak), `/healthcheck shows ${leak}`);
      assert.ok(!log.includes(leak), `the log shows ${leak}`);
    }
  });
});

Deno.test("serve: config environment settings without --environment are flagged at start-up", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/serve.yaml`, "environment:\n  include_os: false\n");
    await using sidecar = await Sidecar.start(["--config", `${dir}/serve.yaml`]);
    assert.match(sidecar.log, /no effect without --environment/);
    assert.equal((await sidecar.ask("/environment")).status, 404);
  });
});

Deno.test("serve: supervisord unreachable: /health/live is 422 SupervisorUnavailable, /healthcheck fails", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/serve.yaml`,
      "checks:\n  - name: web\n    group: web\n    tcp: {port: 8080}\n",
    );
    await using sidecar = await Sidecar.start(
      ["--no-statsd", "--group", "web", "--config", `${dir}/serve.yaml`],
      { SUPERVISOR_SERVER_URL: `unix://${dir}/no-such.sock` },
    );
    const live = await sidecar.ask("/health/live");
    assert.equal(live.status, 422);
    const body = live.json as { code: string; description: string };
    assert.equal(body.code, "SupervisorUnavailable");
    assert.match(body.description, /cannot reach supervisord at unix:\/\/.*no-such\.sock/);
    const check = await sidecar.ask("/healthcheck");
    assert.equal(check.status, 500);
    const [result] = (check.json as HealthcheckJson).results;
    assert.equal(result.checker, "web");
    assert.equal(result.passed, false);
    assert.match(result.output, /cannot reach supervisord/);
    assert.doesNotMatch((await sidecar.ask("/metrics")).text, /statsd/, "no StatsD, no counters");

    // without --group/--process, liveness never asks supervisord
    await using workers = await Sidecar.start(["--config", `${dir}/serve.yaml`], {
      SUPERVISOR_SERVER_URL: `unix://${dir}/no-such.sock`,
    });
    await workers.send("workers:1|g");
    await waitStatus(`${workers.url}/health/live`, 200);
    assert.equal((await workers.ask("/healthcheck")).status, 500);
  });
});

Deno.test("serve as a supervisord [program:x]: processes decide liveness, checks run on a group, SIGTERM stops it cleanly", async () => {
  const ports = freePorts(2);
  const names = ports.map((p) => `web_${p}`);
  await using sv = await Supervisord.start({
    sections: (dir) => {
      Deno.writeTextFileSync(
        `${dir}/serve.yaml`,
        `checks:
  - name: web
    group: web
    http: {port: '.+_(\\d+)', url: /ping, timeout: 5, num_retries: 0}
healthcheck: {success_ttl: null, failed_ttl: null}
`,
      );
      return names.map((n, i) => webProgram(n, ports[i])).join("\n") +
        // a member whose name yields no port: the http check throws for it
        `[program:web_admin]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n` +
        `[group:web]\nprograms=${names.join(",")},web_admin\n` +
        `[program:sidecar]
command=${
          listenerCommand([
            "serve",
            "-H",
            "127.0.0.1",
            "-P",
            "0",
            "--no-statsd",
            "--process",
            `web:${names[0]}`,
            "--group",
            "web",
            "--config",
            `${dir}/serve.yaml`,
          ])
        }
stderr_logfile=${dir}/sidecar.err.log
startsecs=1
stopwaitsecs=20
autorestart=false
`;
    },
  });
  const specs = [...names.map((n) => `web:${n}`), "web:web_admin"];
  await sv.waitRunning([...specs, "sidecar:sidecar"], 60_000);
  const url = await waitFor("the sidecar's address", async () => {
    return /HTTP listening on (http:\/\/\S+)/.exec(await sv.listenerLog("sidecar"))?.[1];
  }, 60_000);

  await waitStatus(`${url}/health/live`, 200);
  const all = await ask(`${url}/healthcheck`);
  assert.equal(all.status, 500, "web_admin has no port: its check throws");
  const results = (all.json as HealthcheckJson).results;
  const checkers = [...specs].sort((a, b) => a.localeCompare(b)).map((s) => `web/http/${s}`);
  assert.deepEqual(results.map((r) => r.checker), checkers);
  const byChecker = (list: CheckResultJson[], spec: string) =>
    list.find((r) => r.checker === `web/http/${spec}`)!;
  assert.equal(byChecker(results, specs[0]).passed, true);
  assert.equal(byChecker(results, specs[1]).passed, true);
  const admin = byChecker(results, "web:web_admin");
  assert.equal(admin.passed, false);
  assert.match(admin.output, /configuration error: .*does not match process name 'web_admin'/);

  await sv.client.stopProcess(`web:${names[1]}`);
  const stopped = await waitStatus(`${url}/health/live`, 422);
  assert.deepEqual(stopped.json, {
    code: "ProcessNotRunning",
    description: `web:${names[1]} is STOPPED`,
  });
  const after = (await ask(`${url}/healthcheck`)).json as HealthcheckJson;
  const skipped = byChecker(after.results, specs[1]);
  assert.equal(skipped.passed, false);
  assert.equal(skipped.output, "not checked: STOPPED");

  await sv.client.startProcess(`web:${names[1]}`);
  await waitStatus(`${url}/health/live`, 200);

  await sv.client.stopProcess("sidecar:sidecar");
  const log = await sv.listenerLog("sidecar");
  assert.match(log, /INFO \[serve\] SIGTERM: stopping/);
  assert.match(log, /INFO \[serve\] stopped/);
  assert.match(await sv.supervisordLog(), /stopped: sidecar \(exit status 0\)/);
});
