import assert from "node:assert/strict";
import { CHECKS } from "../../checks/mod.ts";
import { UsageError } from "../../lib/errors.ts";
import { jobsFromRunConfig } from "../../lib/run_config.ts";

const KINDS = Object.values(CHECKS);
const jobs = (config: unknown) => jobsFromRunConfig(config, KINDS, "--config x.yaml");

function rejects(config: unknown, message: RegExp) {
  assert.throws(
    () => jobs(config),
    (e: Error) => e instanceof UsageError && message.test(e.message),
    String(message),
  );
}

Deno.test("run --config: one job per entry, top-level keys as defaults, entries override", () => {
  const [web, cache] = jobs({
    interval: 5,
    failure_threshold: 2,
    webhook: "http://127.0.0.1:8/hook",
    log_format: "json",
    checks: [
      {
        name: "web",
        group: "web",
        http: { port: ".+_(\\d+)", url: "/ping" },
        memory: { max_rss: "512MB" },
      },
      { name: "cache", process: "cache:redis", tcp: { port: 6379 }, interval: 1, dry_run: true },
    ],
  });
  assert.equal(web.settings.checkName, "web");
  assert.deepEqual(web.checks.map((c) => c.definition.name), ["http", "memory"]);
  assert.equal(web.settings.interval, 5);
  assert.equal(web.settings.policy.failureThreshold, 2);
  assert.equal(web.settings.dryRun, false);
  assert.deepEqual(web.settings.notify.webhook, ["http://127.0.0.1:8/hook"]);
  assert.equal(web.settings.log.format, "json");
  assert.equal(cache.settings.interval, 1);
  assert.equal(cache.settings.dryRun, true);
  assert.equal(cache.settings.policy.failureThreshold, 2);
  assert.ok(cache.settings.selector.matches({ group: "cache", name: "redis" }));
  assert.ok(!cache.settings.selector.matches({ group: "other", name: "redis" }));
});

Deno.test("run --config: errors name the entry and the key", () => {
  rejects({ checks: [] }, /^--config x\.yaml: checks: must list at least one entry$/);
  rejects({ chex: 1 }, /unknown key 'chex' \(top level: checks, interval/);
  rejects({ checks: [{ group: "web", http: { port: 80 } }] }, /checks\[0\]: name is required/);
  rejects(
    { checks: [{ name: "a", http: { port: 80 } }] },
    /checks\[0\] \(a\): one of group or process is required/,
  );
  rejects({ checks: [{ name: "a", group: "w", htp: {} }] }, /checks\[0\] \(a\): unknown key 'htp'/);
  rejects({ checks: [{ name: "a", group: "w" }] }, /checks\[0\] \(a\): names no check/);
  rejects(
    { checks: [{ name: "a", group: "w", tcp: { port: "(x" } }] },
    /^--config x\.yaml: checks\[0\]\.tcp\.port: '\(x' is not a valid regular expression/,
  );
  rejects(
    { checks: [{ name: "a", group: "w", tcp: { port: 1 }, log_format: "json" }] },
    /checks\[0\] \(a\): log_format can be set at the top level only/,
  );
  rejects(
    {
      checks: [{ name: "a", group: "w", tcp: { port: 1 } }, {
        name: "b",
        group: "w",
        http: { url: "/ping" },
      }],
    },
    /^--config x\.yaml: checks\[1\]\.http\.port: is required when checks\[1\]\.http\.url is a path$/,
  );
  rejects(
    { checks: [{ name: "a", group: "w", tcp: { port: 1 }, failure_threshold: 0 }] },
    /^--config x\.yaml: checks\[0\]\.failure_threshold: must be 1 or more$/,
  );
  rejects(
    { interval: 0.1, checks: [{ name: "a", group: "w", tcp: { port: 1 } }] },
    /^--config x\.yaml: interval: expected a number of seconds of at least 0\.5/,
  );
  rejects(
    {
      checks: [{ name: "a", group: "w", tcp: { port: 1 } }, {
        name: "a",
        group: "v",
        tcp: { port: 2 },
      }],
    },
    /checks\[1\] \(a\): name 'a' is used twice/,
  );
});

Deno.test("run --config: webhook_env and webhook_file; http headers_env", () => {
  Deno.env.set("SC_TEST_RUN_HOOK", "http://127.0.0.1:8/hook?token=t");
  Deno.env.set("SC_TEST_RUN_HEADERS", '{"Authorization":"Bearer b"}');
  try {
    const [web] = jobs({
      webhook_env: "SC_TEST_RUN_HOOK",
      checks: [{
        name: "web",
        group: "web",
        http: { port: 80, headers_env: "SC_TEST_RUN_HEADERS" },
      }],
    });
    assert.deepEqual(web.settings.notify.webhook, ["http://127.0.0.1:8/hook?token=t"]);
    const http = web.checks[0].options as { headers: Record<string, string> };
    assert.equal(http.headers.Authorization, "Bearer b");
    rejects(
      { webhook_file: "/nonexistent/hook", checks: [{ name: "a", group: "w", tcp: { port: 1 } }] },
      /^--config x\.yaml: webhook_file: cannot read \/nonexistent\/hook/,
    );
  } finally {
    Deno.env.delete("SC_TEST_RUN_HOOK");
    Deno.env.delete("SC_TEST_RUN_HEADERS");
  }
});
