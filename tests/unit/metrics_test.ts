/**
 * The metrics registry and the --metrics-listen endpoint: what they render
 * passes `promtool check metrics`; the address rules; HEAD, 404 and 405.
 */
import assert from "node:assert/strict";
import {
  Counter,
  Histogram,
  ListenerMetrics,
  processFamilies,
  renderMetrics,
} from "../../lib/metrics.ts";
import { metricsHandler, parseMetricsListen } from "../../lib/metrics_server.ts";
import { UsageError } from "../../lib/errors.ts";
import { assertPromtoolValid, parseSamples, sampleValue } from "../support/metrics.ts";

Deno.test("metrics: counters, histograms and process states render as promtool accepts them", async () => {
  // guarantee: Metrics
  const m = new ListenerMetrics();
  m.restarts.inc({ check: "web", group: "web", name: "web_1", outcome: "restarted" });
  m.restarts.inc({ check: "web", group: "web", name: "web_1", outcome: "restarted" });
  m.restarts.inc({ check: "web", group: "web", name: 'odd"name\\', outcome: "dry-run" });
  m.checkDuration.observe(0.3, { kind: "http" });
  m.checkDuration.observe(120, { kind: "http" });
  m.rounds.inc({ check: "web" });
  m.sawProcesses([
    { group: "web", name: "web_1", state: 20, statename: "RUNNING", start: 1700000000 },
    { group: "web", name: "web_2", state: 200, statename: "FATAL", start: 0, exitstatus: 1 },
  ]);
  const text = renderMetrics(m.families());
  await assertPromtoolValid(text);
  const samples = parseSamples(text);
  const restarted = { check: "web", group: "web", name: "web_1", outcome: "restarted" };
  assert.equal(sampleValue(samples, "supervisor_checks_restarts_total", restarted), 2);
  assert.match(text, /name="odd\\"name\\\\"/);
  const bucket = (le: string) =>
    sampleValue(samples, "supervisor_checks_probe_duration_seconds_bucket", { kind: "http", le });
  assert.equal(bucket("0.25"), 0);
  assert.equal(bucket("0.5"), 1);
  assert.equal(bucket("60"), 1);
  assert.equal(bucket("300"), 2);
  assert.equal(bucket("+Inf"), 2);
  assert.equal(
    sampleValue(samples, "supervisor_checks_probe_duration_seconds_sum", { kind: "http" }),
    120.3,
  );
  assert.equal(sampleValue(samples, "supervisor_checks_supervisord_up"), 1);
  assert.equal(sampleValue(samples, "supervisord_process_up", { group: "web", name: "web_2" }), 0);
  assert.equal(sampleValue(samples, "supervisord_process_exit_status", { name: "web_2" }), 1);
  assert.equal(sampleValue(samples, "supervisord_process_state", { name: "web_2" }), 200);
  const states = samples.filter((s) =>
    s.name === "supervisord_process_in_state" && s.labels.name === "web_2"
  );
  assert.equal(states.length, 8, "one series per supervisord state");
  assert.deepEqual(states.filter((s) => s.value === 1).map((s) => s.labels.state), ["FATAL"]);

  // supervisord did not answer: no stale process states
  m.sawProcesses(undefined);
  const down = parseSamples(renderMetrics(m.families()));
  assert.equal(sampleValue(down, "supervisor_checks_supervisord_up"), 0);
  assert.equal(down.filter((s) => s.name.startsWith("supervisord_process_")).length, 0);
});

Deno.test("metrics: a counter starts where first counted; an unknown state gets a series of its own", async () => {
  const c = new Counter("x_total", "x");
  assert.equal(c.get({ a: "1" }), 0);
  c.inc({ a: "1" }, 0);
  assert.deepEqual(c.family().samples, [{ labels: { a: "1" }, value: 0 }]);
  const h = new Histogram("h_seconds", "h", [1]);
  h.observe(1);
  assert.deepEqual(h.family().samples.map((s) => [s.suffix, s.labels?.le, s.value]), [
    ["_bucket", "1", 1],
    ["_bucket", "+Inf", 1],
    ["_sum", undefined, 1],
    ["_count", undefined, 1],
  ]);
  const text = renderMetrics(
    processFamilies([{ group: "g", name: "n", state: 5, statename: "NEW", start: 0 }]),
  );
  await assertPromtoolValid(text);
  assert.match(text, /supervisord_process_in_state\{group="g",name="n",state="NEW"\} 1/);
});

Deno.test("metrics: --metrics-listen takes a loopback HOST:PORT, anything else only when allowed", () => {
  // guarantee: Start-up errors
  assert.equal(parseMetricsListen(undefined, undefined), undefined);
  assert.deepEqual(parseMetricsListen("127.0.0.1:9864", undefined), {
    hostname: "127.0.0.1",
    port: 9864,
    label: "--metrics-listen",
  });
  assert.equal(parseMetricsListen("[::1]:9864", false)?.hostname, "::1");
  assert.equal(parseMetricsListen("localhost:1", undefined)?.port, 1);
  assert.equal(parseMetricsListen("10.0.0.5:9864", true)?.hostname, "10.0.0.5");
  assert.equal(parseMetricsListen("[::]:9864", "true")?.hostname, "::");
  for (const bad of ["9864", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "::1:9864", ":9864"]) {
    assert.throws(
      () => parseMetricsListen(bad, undefined),
      (e) => e instanceof UsageError && /^--metrics-listen: '.*' is not HOST:PORT/.test(e.message),
      bad,
    );
  }
  for (const remote of ["0.0.0.0:9864", "10.0.0.5:9864", "[::]:9864", "host.example:9864"]) {
    assert.throws(
      () => parseMetricsListen(remote, undefined),
      /is not a loopback address; .* only with --metrics-allow-remote/,
      remote,
    );
  }
  assert.throws(
    () => parseMetricsListen("0.0.0.0:1", "yes", "metrics_listen", "metrics_allow_remote"),
    /metrics_allow_remote: expected true or false, got 'yes'/,
  );
});

Deno.test("metrics: the endpoint answers GET and HEAD on /metrics, 404 elsewhere, 405 otherwise", async () => {
  // guarantee: Metrics
  const handle = metricsHandler(() => "a_total 1\n");
  const get = await handle(new Request("http://x/metrics"));
  assert.equal(get.status, 200);
  assert.equal(await get.text(), "a_total 1\n");
  const head = await handle(new Request("http://x/metrics", { method: "HEAD" }));
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), "10");
  assert.equal(head.body, null);
  const post = await handle(new Request("http://x/metrics", { method: "POST" }));
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
  const other = await handle(new Request("http://x/metrics/x?a"));
  assert.equal(other.status, 404);
  assert.equal(await other.text(), "no endpoint /metrics/x; try /metrics\n");
});
