/**
 * The http check against real servers on 127.0.0.1 (a check needs no
 * supervisord: it judges one process given its name and pid).
 */
import assert from "node:assert/strict";
import { httpCheck } from "../../checks/http.ts";
import type { ProcessInfo, Verdict } from "../../lib/check.ts";
import { configureCheck } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import { parse, parseConfig } from "../../lib/option.ts";
import { makeCertificates } from "../support/certs.ts";

function proc(name: string): ProcessInfo {
  return { name, group: "web", pid: 1, state: 20, statename: "RUNNING", start: 0 };
}

async function check(raw: Record<string, unknown>, name = "web"): Promise<Verdict> {
  const { options } = configureCheck(httpCheck, raw);
  const ac = new AbortController();
  // deno-lint-ignore no-explicit-any
  return await httpCheck.run(proc(name), options as any, {
    signal: ac.signal,
    attempt: 1,
    state: new Map(),
  });
}

interface Seen {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

async function withServer(
  handler: (req: Request) => Response | Promise<Response>,
  fn: (port: number, seen: Seen[]) => Promise<void>,
) {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push({
      method: req.method,
      path: new URL(req.url).pathname,
      headers: req.headers,
      body: await req.text(),
    });
    return handler(req);
  });
  try {
    await fn(server.addr.port, seen);
  } finally {
    await server.shutdown();
  }
}

Deno.test("http: status lists and ranges decide health", async () => {
  await withServer(
    (req) => {
      const status = Number(new URL(req.url).searchParams.get("s"));
      return new Response(status === 204 ? null : "x", { status });
    },
    async (port) => {
      const at = (s: number, expect?: string) =>
        check({
          port: String(port),
          url: `/ping?s=${s}`,
          ...(expect ? { expect_status: expect } : {}),
        });
      assert.equal((await at(200)).status, "healthy");
      const bad = await at(500);
      assert.equal(bad.status, "unhealthy");
      assert.match(bad.message, /HTTP 500 in \d+ ms, expected 200/);
      assert.equal((await at(204, "200-299,301")).status, "healthy");
      assert.equal((await at(301, "200-299,301")).status, "healthy");
      assert.equal((await at(302, "200-299,301")).status, "unhealthy");
    },
  );
});

Deno.test("http: redirects are not followed, so they can be expected or refused", async () => {
  await withServer(() => Response.redirect("http://127.0.0.1:1/elsewhere", 302), async (port) => {
    assert.equal((await check({ port: String(port) })).status, "unhealthy");
    assert.equal((await check({ port: String(port), expect_status: "302" })).status, "healthy");
  });
});

Deno.test("http: --expect-body must be contained in the body", async () => {
  await withServer(() => new Response("status: all good"), async (port) => {
    assert.equal((await check({ port: String(port), expect_body: "all good" })).status, "healthy");
    const v = await check({ port: String(port), expect_body: "ready" });
    assert.equal(v.status, "unhealthy");
    assert.match(v.message, /body lacks "ready"/);
  });
});

Deno.test("http: method, JSON body, headers and basic auth from a file reach the server", async () => {
  const file = await Deno.makeTempFile();
  await Deno.writeTextFile(file, "pässword\n");
  try {
    await withServer(() => new Response("ok"), async (port, seen) => {
      const v = await check({
        port: String(port),
        url: "/health",
        method: "post",
        json: '{"deep":true}',
        headers: '{"X-Probe":"yes"}',
        username: "ops",
        password_file: file,
      });
      assert.equal(v.status, "healthy", v.message);
      const [req] = seen;
      assert.equal(req.method, "POST");
      assert.equal(req.path, "/health");
      assert.equal(req.body, '{"deep":true}');
      assert.equal(req.headers.get("content-type"), "application/json");
      assert.equal(req.headers.get("x-probe"), "yes");
      const decoded = new TextDecoder().decode(
        Uint8Array.from(atob(req.headers.get("authorization")!.slice(6)), (c) => c.charCodeAt(0)),
      );
      assert.equal(decoded, "ops:pässword", "the file's trailing newline is dropped");
      assert.ok(!v.message.includes("pässword"), "the password is not in the verdict");
    });
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("http: the port comes from the process name; -b body with PUT", async () => {
  await withServer(() => new Response("ok"), async (port, seen) => {
    const v = await check({ port: ".+_(\\d+)", method: "PUT", body: "hello" }, `web_${port}`);
    assert.equal(v.status, "healthy");
    assert.equal(seen[0].body, "hello");
  });
});

Deno.test("http: a server that never answers fails within the timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) held.push(conn); // accept, never answer
  })().catch(() => {});
  try {
    const v = await check({ port: String(listener.addr.port), timeout: "0.5" });
    assert.equal(v.status, "unhealthy");
    assert.match(v.message, /no answer within 0\.5s/, "ended by the timeout, not by the server");
    assert.equal(held.length, 1, "the request reached the server");
  } finally {
    listener.close();
    for (const c of held) c.close();
  }
});

Deno.test("http: connection refused is unhealthy", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const v = await check({ port: String(port) });
  assert.equal(v.status, "unhealthy");
  assert.match(v.message, /connection refused/);
});

Deno.test("http: https with a self-signed certificate trusted through --ca-file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = await makeCertificates(dir);
    const cert = await Deno.readTextFile(files.cert);
    const key = await Deno.readTextFile(files.key);
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
      () => new Response("secure pong"),
    );
    try {
      const url = `https://127.0.0.1:${server.addr.port}/ping`;
      const trusted = await check({ url, ca_file: files.ca, expect_body: "pong" });
      assert.equal(trusted.status, "healthy", trusted.message);
      assert.match(trusted.message, /GET https:\/\/127\.0\.0\.1:\d+\/ping: HTTP 200/);
      const untrusted = await check({ url });
      assert.equal(untrusted.status, "unhealthy", "an unknown issuer is a failure");
      // a CA file that loads but does not vouch for the server: the service's identity is wrong
      const otherCa = await check({ url, ca_file: `${dir}/cert.pem` });
      assert.equal(otherCa.status, "unhealthy", otherCa.message);
    } finally {
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("http: a process whose name yields no port is a configuration error, not a failure", async () => {
  await assert.rejects(
    () => check({ port: ".+_(\\d+)" }, "web_admin"),
    /does not match process name 'web_admin'/,
  );
});

Deno.test("http: headers from --headers-env and --headers-file reach the server, never a message", async () => {
  const file = await Deno.makeTempFile();
  await Deno.writeTextFile(file, '{"X-From-File":"f-secret"}\n');
  Deno.env.set("SC_TEST_HEADERS", '{"Authorization":"Bearer env-secret-token"}');
  try {
    await withServer(() => new Response("ok", { status: 500 }), async (port, seen) => {
      const fromEnv = await check({ port: String(port), headers_env: "SC_TEST_HEADERS" });
      const fromFile = await check({
        port: String(port),
        headers: '{"X-Inline":"1"}',
        headers_file: file,
      });
      assert.equal(seen[0].headers.get("authorization"), "Bearer env-secret-token");
      assert.equal(seen[1].headers.get("x-from-file"), "f-secret");
      assert.equal(seen[1].headers.get("x-inline"), "1");
      for (const v of [fromEnv, fromFile]) {
        assert.ok(!/secret/.test(v.message), v.message);
      }
    });
    const error = (raw: Record<string, unknown>) => {
      try {
        configureCheck(httpCheck, { port: "80", ...raw });
      } catch (e) {
        return (e as Error).message;
      }
      return "no error";
    };
    assert.equal(
      error({ headers_env: "SC_TEST_NO_SUCH" }),
      "--headers-env: environment variable SC_TEST_NO_SUCH is not set",
    );
    Deno.env.set("SC_TEST_HEADERS", "Authorization: Bearer not-json-secret");
    assert.equal(error({ headers_env: "SC_TEST_HEADERS" }), "--headers-env: not valid JSON");
    assert.equal(
      error({ headers_env: "SC_TEST_HEADERS", headers_file: file }),
      "--headers-file: give only one of --headers-env, --headers-file",
    );
  } finally {
    Deno.env.delete("SC_TEST_HEADERS");
    await Deno.remove(file);
  }
});

Deno.test("http: a password in -u is sent as basic auth and masked in the verdict", async () => {
  await withServer(() => new Response("no", { status: 503 }), async (port, seen) => {
    const v = await check({ url: `http://monitor:url-pw@127.0.0.1:${port}/health` });
    assert.equal(seen[0].headers.get("authorization"), `Basic ${btoa("monitor:url-pw")}`);
    assert.match(v.message, /^GET http:\/\/monitor:\*{8}@127\.0\.0\.1:\d+\/health: HTTP 503/);
  });
});

Deno.test("http: a rule across options names the flags on a command line, the keys in a file", () => {
  // guarantee: Help and config errors
  const fails = (f: () => unknown, message: string) =>
    assert.throws(f, (e) => e instanceof UsageError && e.message === message, message);
  fails(
    () => parse(httpCheck.options, ["-u", "/ping"]),
    "-p/--port: is required when -u/--url is a path",
  );
  fails(
    () => parse(httpCheck.options, ["-p", "80", "-b", "x"]),
    "-m/--method: GET requests carry no body; give -m/--method POST (or PUT, …) with " +
      "-j/--json or -b/--body",
  );
  fails(
    () => parseConfig(httpCheck.options, { port: 80, body: "x" }, "checks[2].http"),
    "checks[2].http.method: GET requests carry no body; give checks[2].http.method POST " +
      "(or PUT, …) with checks[2].http.json or checks[2].http.body",
  );
});
