import assert from "node:assert/strict";
import { CHECKS } from "../../checks/mod.ts";
import { checksFromConfig, parseJsonConfig, readConfigFile } from "../../lib/check_config.ts";
import { UsageError } from "../../lib/errors.ts";

const KINDS = Object.values(CHECKS);
const README_EXAMPLE =
  '{"memory":{"cumulative":true,"max_rss":4194304},"http":{"timeout":15,"port":8090,"url":"\\/ping","num_retries":3}}';

Deno.test("complex: the original README's example is accepted as written", () => {
  const checks = checksFromConfig(parseJsonConfig(README_EXAMPLE, "-c"), KINDS, "-c");
  assert.deepEqual(checks.map((c) => c.definition.name).sort(), ["http", "memory"]);
  const http = checks.find((c) => c.definition.name === "http")!;
  assert.equal(http.definition.retries?.(http.options), 3);
});

function rejects(config: unknown, message: RegExp) {
  assert.throws(
    () => checksFromConfig(config, KINDS, "--config x.yaml"),
    (e: Error) => e instanceof UsageError && message.test(e.message),
    String(message),
  );
}

Deno.test("complex: errors name the source and the key path", () => {
  rejects({ htp: {} }, /^--config x\.yaml: unknown key 'htp' \(check kinds: http, tcp, .*\)$/);
  rejects({ http: { port: 80, url2: "/" } }, /http: unknown key 'url2'/);
  rejects({ tcp: {} }, /^--config x\.yaml: tcp\.port: is required$/);
  rejects(
    { http: { url: "/ping" } },
    /^--config x\.yaml: http\.port: is required when http\.url is a path$/,
  );
  rejects({ tcp: { port: 80, timeout: "soon" } }, /tcp\.timeout: expected a number of seconds/);
  rejects({ tcp: { port: "(x" } }, /tcp\.port: '\(x' is not a valid regular expression/);
  rejects({}, /names no check; use one or more of http, tcp/);
  rejects(
    [1],
    /^--config x\.yaml: expected an object naming check kinds \(http, .*\), got a list$/,
  );
  assert.throws(
    () => parseJsonConfig("{nope", "-c/--check-config"),
    /^.*-c\/--check-config: not valid JSON/,
  );
});

Deno.test("complex: --config reads YAML, and JSON by extension", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/checks.yaml`,
      "# checks for the web group\nhttp:\n  port: '.+_(\\d+)'\n  url: /ping\n  timeout: 2\ntcp:\n  port: 8080\n",
    );
    const yaml = checksFromConfig(await readConfigFile(`${dir}/checks.yaml`), KINDS, "--config");
    assert.deepEqual(yaml.map((c) => c.definition.name), ["http", "tcp"]);
    await Deno.writeTextFile(`${dir}/checks.json`, '{"tcp": {"port": 80}}');
    assert.equal(
      checksFromConfig(await readConfigFile(`${dir}/checks.json`), KINDS, "--config").length,
      1,
    );
    await Deno.writeTextFile(`${dir}/bad.yaml`, "http: [unclosed\n");
    await assert.rejects(
      () => readConfigFile(`${dir}/bad.yaml`),
      /--config .*bad\.yaml: not valid YAML/,
    );
    await assert.rejects(
      () => readConfigFile(`${dir}/none.yaml`),
      /--config .*none\.yaml: cannot read/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
