import assert from "node:assert/strict";
import { CheckConfigError } from "../../lib/check.ts";
import { parsePortSpec, resolvePort } from "../../lib/ports.ts";

Deno.test("port spec: integers within 1-65535", () => {
  assert.equal(resolvePort(parsePortSpec("8080"), "anything"), 8080);
  assert.equal(resolvePort(parsePortSpec(443), "anything"), 443);
  assert.equal(resolvePort(parsePortSpec("65535"), "x"), 65535);
  assert.throws(() => parsePortSpec("0"), /out of range/);
  assert.throws(() => parsePortSpec("65536"), /out of range/);
  assert.throws(() => parsePortSpec("-1"), /out of range/);
  assert.throws(() => parsePortSpec(""), /port number or a regular expression/);
});

Deno.test("port spec: regex with one group extracts the port from the name", () => {
  const spec = parsePortSpec(".+_(\\d+)");
  assert.equal(resolvePort(spec, "web_8081"), 8081);
  assert.equal(resolvePort(spec, "api_v2_9000"), 9000);
});

Deno.test("port spec: anchored at the start like Python's re.match", () => {
  const spec = parsePortSpec("web_(\\d+)");
  assert.equal(resolvePort(spec, "web_8081"), 8081);
  assert.throws(() => resolvePort(spec, "old_web_8081"), CheckConfigError);
});

Deno.test("port spec: Python named groups and non-capturing groups", () => {
  assert.equal(resolvePort(parsePortSpec("(?:svc|api)-(?P<port>\\d+)"), "api-7000"), 7000);
});

Deno.test("port spec: bad regexes and group counts are rejected at parse time", () => {
  assert.throws(() => parsePortSpec("(\\d+"), /not a valid regular expression/);
  assert.throws(() => parsePortSpec(".+_\\d+"), /exactly one capture group.*has 0/);
  assert.throws(() => parsePortSpec("(.+)_(\\d+)"), /exactly one capture group.*has 2/);
});

Deno.test("port spec: no match or no port in the capture is a CheckConfigError naming the process", () => {
  const spec = parsePortSpec(".+_(\\d+)");
  assert.throws(
    () => resolvePort(spec, "web_admin"),
    (e: Error) =>
      e instanceof CheckConfigError && /does not match process name 'web_admin'/.test(e.message),
  );
  assert.throws(
    () => resolvePort(parsePortSpec("web_(\\w+)"), "web_admin"),
    (e: Error) => e instanceof CheckConfigError && /captured 'admin'/.test(e.message),
  );
  assert.throws(() => resolvePort(spec, "web_99999"), /not a port 1-65535/);
});
