/**
 * checks/url.ts, httpok's verdict, against real servers on 127.0.0.1: the
 * original's wording, which part of the answer was wrong (the mail's
 * subject), and `unknown` where fetch refuses the request.
 */
import assert from "node:assert/strict";
import { checkUrl, type UrlOptions } from "../../checks/url.ts";
import { parseStatusList } from "../../checks/http.ts";
import { displayUrl } from "../../lib/notify.ts";
import { freePorts } from "../support/supervisord.ts";

function options(url: string, extra: Partial<UrlOptions> = {}): UrlOptions {
  const parsed = new URL(url);
  return {
    url: parsed,
    display: displayUrl(parsed),
    timeout: 1,
    codes: parseStatusList("200"),
    failBody: [],
    ...extra,
  };
}

Deno.test("url: status, -b and --fail-body in superlance's words, with the part that was wrong", async () => {
  const agents: (string | null)[] = [];
  const release: (() => void)[] = [];
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    agents.push(req.headers.get("user-agent"));
    const path = new URL(req.url).pathname;
    if (path === "/broken") return new Response("no\n", { status: 500 });
    if (path === "/hang") {
      return new Promise<Response>((resolve) => release.push(() => resolve(new Response("late"))));
    }
    return new Response("ready, but DEGRADED\n");
  });
  const base = `http://monitor:s3cret@127.0.0.1:${server.addr.port}`;
  const signal = new AbortController().signal;
  const shown = `http://monitor:********@127.0.0.1:${server.addr.port}`;

  let v = await checkUrl(options(`${base}/ok`, { body: "ready" }), signal);
  assert.deepEqual(v, {
    status: "healthy",
    message: `status contacting ${shown}/ok: 200 OK`,
    bad: "status",
  });
  assert.match(agents[0]!, /^httpok \(supervisor-checks\//);

  v = await checkUrl(options(`${base}/broken`, { codes: parseStatusList("200-299") }), signal);
  assert.deepEqual([v.status, v.bad, v.message], [
    "unhealthy",
    "status",
    `status contacting ${shown}/broken: 500 Internal Server Error (expected 200-299)`,
  ]);

  v = await checkUrl(options(`${base}/ok`, { body: "something-else" }), signal);
  assert.deepEqual([v.status, v.bad, v.message], [
    "unhealthy",
    "body",
    `status contacting ${shown}/ok: 200 OK, but the body lacks "something-else"`,
  ]);

  v = await checkUrl(options(`${base}/ok`, { failBody: ["DEGRADED"] }), signal);
  assert.deepEqual([v.status, v.bad, v.message], [
    "unhealthy",
    "body",
    `status contacting ${shown}/ok: 200 OK, but the body contains "DEGRADED"`,
  ]);

  v = await checkUrl(options(`${base}/hang`), signal);
  assert.deepEqual([v.status, v.bad, v.message], [
    "unhealthy",
    "status",
    `error contacting ${shown}/hang: no answer within 1s`,
  ]);
  release.forEach((r) => r());
});

Deno.test("url: a refused connection is unhealthy, a port fetch refuses is unknown", async () => {
  const [closed] = freePorts(1);
  const signal = new AbortController().signal;
  const refused = await checkUrl(options(`http://127.0.0.1:${closed}/`), signal);
  assert.equal(refused.status, "unhealthy");
  assert.match(
    refused.message,
    new RegExp(`^error contacting http://127\\.0\\.0\\.1:${closed}/: `),
  );
  const blocked = await checkUrl(options("http://127.0.0.1:6666/"), signal);
  assert.equal(blocked.status, "unknown");
  assert.match(blocked.message, /^configuration error: GET http:\/\/127\.0\.0\.1:6666\/ refused: /);
});
