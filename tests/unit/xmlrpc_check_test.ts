/**
 * The xmlrpc check and the shared XML-RPC transport (lib/xmlrpc.ts) against
 * real servers on 127.0.0.1 and on unix sockets.
 */
import assert from "node:assert/strict";
import { xmlrpcCheck } from "../../checks/xmlrpc.ts";
import type { ProcessInfo, Verdict } from "../../lib/check.ts";
import { configureCheck } from "../../lib/cli.ts";
import { SupervisorClient } from "../../lib/supervisor.ts";
import { faultResponse, methodName, methodResponse } from "../fixtures/xmlrpc_service.ts";

function proc(name: string): ProcessInfo {
  return { name, group: "rpc", pid: 1, state: 20, statename: "RUNNING", start: 0 };
}

async function check(
  raw: Record<string, unknown>,
  name = "rpc",
  signal = new AbortController().signal,
): Promise<Verdict> {
  const { options } = configureCheck(xmlrpcCheck, raw);
  // deno-lint-ignore no-explicit-any
  return await xmlrpcCheck.run(proc(name), options as any, {
    signal,
    attempt: 1,
    state: new Map(),
  });
}

function usageError(raw: Record<string, unknown>, naming: "flag" | "key" = "flag"): string {
  try {
    configureCheck(xmlrpcCheck, raw, naming);
  } catch (e) {
    assert.equal((e as Error).name, "UsageError");
    return (e as Error).message;
  }
  assert.fail(`accepted ${JSON.stringify(raw)}`);
}

interface Seen {
  path: string;
  method: string;
  authorization: string | null;
}

type Handler = (req: Request, method: string) => Response | Promise<Response>;

/** The usual answers: `status` → "OK", anything else → fault 1 as supervisord gives it. */
const standard: Handler = (_req, method) =>
  xml(
    method === "status"
      ? methodResponse("<string>OK</string>")
      : faultResponse(1, `UNKNOWN_METHOD ${method}`),
  );

function xml(body: string, status = 200): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/xml" } });
}

/** Answers held back by `hanging`/`stalling`, released when their server shuts down. */
const held = new Set<() => void>();

/** A server that never answers (until shut down). */
const hanging: Handler = () => new Promise((resolve) => held.add(() => resolve(xml(""))));

/** A server that sends its headers and the start of a body, then stalls. */
const stalling: Handler = () => {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('<?xml version="1.0"?><methodResponse>'));
      held.add(() => controller.close());
    },
  });
  return new Response(body, { headers: { "Content-Type": "text/xml" } });
};

async function withServer(
  handler: Handler,
  fn: (where: { port: number; socket: string; dir: string }, seen: Seen[]) => Promise<void>,
  socketName = "rpc.sock",
) {
  const seen: Seen[] = [];
  const serve = async (req: Request) => {
    const method = methodName(await req.text());
    seen.push({
      path: new URL(req.url).pathname,
      method,
      authorization: req.headers.get("authorization"),
    });
    return handler(req, method);
  };
  const dir = await Deno.makeTempDir({ prefix: "xmlrpc-check-" });
  const socket = `${dir}/${socketName}`;
  const tcp = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, serve);
  const unix = Deno.serve({ path: socket, onListen() {} }, serve);
  try {
    await fn({ port: tcp.addr.port, socket, dir }, seen);
  } finally {
    for (const release of held) release();
    held.clear();
    await Promise.all([tcp.shutdown(), unix.shutdown()]);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("xmlrpc: a returned value is healthy; the message names method and endpoint", async () => {
  await withServer(standard, async ({ port }, seen) => {
    const v = await check({ port: String(port) });
    assert.equal(v.status, "healthy", v.message);
    assert.match(v.message, new RegExp(`^status\\(\\) at http://127\\.0\\.0\\.1:${port}/RPC2: `));
    assert.match(v.message, /answered in \d+ ms: "OK"$/);
    assert.deepEqual(seen[0], { path: "/RPC2", method: "status", authorization: null });
  });
});

Deno.test("xmlrpc: -u gives the path, -m the method, -p a regex on the process name", async () => {
  await withServer(
    () => xml(methodResponse("<int>7</int>")),
    async ({ port }, seen) => {
      const v = await check(
        { port: ".+_(\\d+)", url: "/status", method: "get_status" },
        `rpc_${port}`,
      );
      assert.equal(v.status, "healthy", v.message);
      assert.match(
        v.message,
        new RegExp(`^get_status\\(\\) at http://127\\.0\\.0\\.1:${port}/status`),
      );
      assert.deepEqual(seen.map((s) => [s.path, s.method]), [["/status", "get_status"]]);
    },
  );
});

Deno.test("xmlrpc: a full URL on its own; -p replaces its port", async () => {
  await withServer(standard, async ({ port }, seen) => {
    const alone = await check({ url: `http://127.0.0.1:${port}/api/RPC2?x=1` });
    assert.equal(alone.status, "healthy", alone.message);
    assert.match(alone.message, new RegExp(`at http://127\\.0\\.0\\.1:${port}/api/RPC2\\?x=1:`));
    const derived = await check(
      { url: "http://127.0.0.1:1/RPC2", port: ".+_(\\d+)" },
      `rpc_${port}`,
    );
    assert.equal(derived.status, "healthy", derived.message);
    assert.deepEqual(seen.map((s) => s.path), ["/api/RPC2", "/RPC2"]);
  });
});

Deno.test("xmlrpc: a fault is unhealthy with its code and string", async () => {
  await withServer(() => xml(faultResponse(42, "database is gone")), async ({ port }) => {
    const v = await check({ port: String(port) });
    assert.equal(v.status, "unhealthy");
    assert.equal(
      v.message,
      `status() at http://127.0.0.1:${port}/RPC2: fault 42: database is gone`,
    );
  });
});

Deno.test("xmlrpc: an unknown method (supervisord's UNKNOWN_METHOD fault) is unhealthy", async () => {
  await withServer(standard, async ({ port }) => {
    const v = await check({ port: String(port), method: "no_such_method" });
    assert.equal(v.status, "unhealthy");
    assert.match(v.message, /^no_such_method\(\) at .*: fault 1: UNKNOWN_METHOD no_such_method$/);
  });
});

Deno.test("xmlrpc: HTTP 401 is unhealthy, names the user, never the password", async () => {
  const handler: Handler = (req, method) =>
    req.headers.get("authorization") === `Basic ${btoa("ops:s3cret")}`
      ? standard(req, method)
      : new Response("<html>no</html>", { status: 401 });
  await withServer(handler, async ({ port }, seen) => {
    const good = await check({ port: String(port), username: "ops", password: "s3cret" });
    assert.equal(good.status, "healthy", good.message);

    Deno.env.set("XMLRPC_TEST_PASSWORD", "wrong-pass");
    try {
      const wrong = await check({
        port: String(port),
        username: "ops",
        password_env: "XMLRPC_TEST_PASSWORD",
      });
      assert.equal(wrong.status, "unhealthy");
      assert.match(wrong.message, /HTTP 401 Unauthorized: the server refused user 'ops'; check/);
      assert.doesNotMatch(wrong.message, /wrong-pass|s3cret/);
    } finally {
      Deno.env.delete("XMLRPC_TEST_PASSWORD");
    }

    const none = await check({ port: String(port) });
    assert.equal(none.status, "unhealthy");
    assert.match(none.message, /HTTP 401 Unauthorized: the server wants credentials; give -U/);
    assert.deepEqual(seen.map((s) => s.authorization), [
      `Basic ${btoa("ops:s3cret")}`,
      `Basic ${btoa("ops:wrong-pass")}`,
      null,
    ]);
  });
});

Deno.test("xmlrpc: a server that never answers is unhealthy after -t", async () => {
  await withServer(hanging, async ({ port, socket }) => {
    const tcp = await check({ port: String(port), timeout: "0.3" });
    assert.equal(tcp.status, "unhealthy");
    assert.equal(tcp.message, `status() at http://127.0.0.1:${port}/RPC2: no answer within 0.3s`);
    const unix = await check({ sock_path: socket, timeout: 0.3 });
    assert.equal(unix.status, "unhealthy");
    assert.equal(unix.message, `status() at unix://${socket}: no answer within 0.3s`);
  });
  await withServer(stalling, async ({ port }) => {
    const v = await check({ port: String(port), timeout: "0.3" });
    assert.equal(v.status, "unhealthy");
    assert.match(v.message, /: no answer within 0\.3s$/);
  });
});

Deno.test("xmlrpc: the listener stopping makes the verdict unknown", async () => {
  await withServer(hanging, async ({ port }) => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const v = await check({ port: String(port), timeout: "10" }, "rpc", ac.signal);
    assert.equal(v.status, "unknown");
    assert.match(v.message, /: aborted$/);
  });
});

Deno.test("xmlrpc: transport errors are unhealthy and say what happened", async () => {
  await withServer((req, method) => {
    const path = new URL(req.url).pathname;
    if (path === "/missing") return new Response("nope", { status: 404 });
    if (path === "/html") return new Response("<html><body>hi</body></html>");
    return standard(req, method);
  }, async ({ port, dir }) => {
    const notFound = await check({ port: String(port), url: "/missing" });
    assert.equal(notFound.status, "unhealthy");
    assert.match(notFound.message, /\/missing: HTTP 404/);
    const html = await check({ port: String(port), url: "/html" });
    assert.equal(html.status, "unhealthy");
    assert.match(html.message, /\/html: not an XML-RPC response: /);
    const noSocket = await check({ sock_path: `${dir}/absent.sock` });
    assert.equal(noSocket.status, "unhealthy");
    assert.equal(
      noSocket.message,
      `status() at unix://${dir}/absent.sock: no such socket file (ENOENT)`,
    );
  });
  const [closed] = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    return [port];
  })();
  const refused = await check({ port: String(closed) });
  assert.equal(refused.status, "unhealthy");
  assert.equal(
    refused.message,
    `status() at http://127.0.0.1:${closed}/RPC2: connection refused (ECONNREFUSED)`,
  );
});

Deno.test("xmlrpc: -s takes a socket path (unix:// optional), -S a directory of <name>.sock", async () => {
  await withServer(standard, async ({ socket, dir }, seen) => {
    for (const raw of [{ sock_path: socket }, { sock_path: `unix://${socket}` }]) {
      const v = await check(raw);
      assert.equal(v.status, "healthy", v.message);
      assert.match(v.message, new RegExp(`^status\\(\\) at unix://${socket}: answered`));
    }
    const byName = await check({ sock_dir: `${dir}/`, url: "/status" }, "rpc_a");
    assert.equal(byName.status, "healthy", byName.message);
    assert.match(byName.message, new RegExp(`at unix://${dir}/rpc_a\\.sock \\(path /status\\):`));
    assert.deepEqual(seen.map((s) => s.path), ["/RPC2", "/RPC2", "/status"]);
  }, "rpc_a.sock");
});

Deno.test("xmlrpc: start-up errors name the flags", () => {
  assert.match(
    usageError({}),
    /^options: no XML-RPC endpoint: give -p\/--port .*-S\/--socket-dir$/,
  );
  assert.match(usageError({ url: "/RPC2" }), /^options: no XML-RPC endpoint/);
  assert.equal(
    usageError({ sock_path: "/a.sock", sock_dir: "/run" }),
    "-S/--socket-dir: give only one of -s/--socket-path, -S/--socket-dir",
  );
  assert.equal(
    usageError({ sock_dir: "/run", port: "8080" }),
    "-p/--port: not used with -S/--socket-dir",
  );
  assert.equal(
    usageError({ sock_path: "/a.sock", host: "10.0.0.1" }),
    "--host: not used with -s/--socket-path",
  );
  assert.equal(
    usageError({ sock_path: "/a.sock", url: "http://127.0.0.1:1/RPC2" }),
    "-u/--url: with -s/--socket-path, give only the HTTP path (/RPC2), not a full URL",
  );
  assert.equal(
    usageError({ port: "8080", url: "status" }),
    "-u/--url: 'status' must be a path starting with / or a full http(s):// URL",
  );
  assert.match(
    usageError({ url: "http://ops:pw@127.0.0.1:1/RPC2" }),
    /^-u\/--url: must not carry credentials/,
  );
  assert.match(
    usageError({ url: "http://127.0.0.1:1/RPC2", host: "::1" }),
    /^--host: not used with a full -u\/--url/,
  );
  assert.match(
    usageError({ port: "8080", method: "status()" }),
    /^-m\/--method: must be an XML-RPC/,
  );
  assert.match(usageError({ port: "99999" }), /^-p\/--port: port 99999 is out of range/);
  assert.match(
    usageError({ port: "8080", timeout: "0" }),
    /^-t\/--timeout: must be greater than 0/,
  );
  assert.match(
    usageError({ port: "8080", password_env: "XMLRPC_TEST_UNSET_VARIABLE" }),
    /^--password-env: environment variable XMLRPC_TEST_UNSET_VARIABLE is not set/,
  );
  assert.match(usageError({ port: "8080", bogus: "1" }), /bogus/);
});

Deno.test("xmlrpc: the original's JSON keys and JSON values configure it (complex check)", () => {
  const { options } = configureCheck(xmlrpcCheck, {
    url: "/status",
    port: 8080,
    method: "get_status",
    num_retries: 3,
    timeout: 2,
    username: "ops",
    password: "pw",
  }, "key");
  assert.equal(xmlrpcCheck.retries?.(options as never), 3);
  assert.deepEqual(
    usageError({ sock_path: "/a.sock", sock_dir: "/run" }, "key"),
    "sock_dir: give only one of sock_path, sock_dir",
  );
  const defaults = configureCheck(xmlrpcCheck, { sock_dir: "/run" }).options;
  assert.equal(xmlrpcCheck.retries?.(defaults as never), 2);
});

// supervisord's own faults (BAD_NAME, …): tests/integration/restart_test.ts, from the real one
Deno.test("supervisord client over the shared transport: unusable answers", async () => {
  await withServer((req, method) => {
    const path = new URL(req.url).pathname;
    if (path === "/hang/RPC2") return hanging(req, method);
    return new Response("gone", { status: 404 });
  }, async ({ port }) => {
    const hung = new SupervisorClient(`http://127.0.0.1:${port}/hang/RPC2`);
    await assert.rejects(hung.call("supervisor.getState", [], 200), {
      name: "SupervisorUnavailable",
      message:
        `supervisord at http://127.0.0.1:${port} did not answer supervisor.getState within 0.2s`,
    });
    const wrongPath = new SupervisorClient(`http://127.0.0.1:${port}/elsewhere/RPC2`);
    await assert.rejects(wrongPath.call("supervisor.getState", []), {
      name: "SupervisorUnavailable",
      message: `supervisord at http://127.0.0.1:${port} answered supervisor.getState with HTTP ` +
        "404: is SUPERVISOR_SERVER_URL supervisord's RPC address?",
    });
  });
});

Deno.test("xmlrpc: a socket path -S makes too long for the kernel is unknown, never unhealthy", async () => {
  // start-up accepts /tmp; the name of this process makes the path 130 bytes
  const v = await check({ sock_dir: "/tmp" }, "x".repeat(120));
  assert.equal(v.status, "unknown", v.message);
  assert.match(v.message, /: configuration error: .*\(EINVAL\)$/);
  assert.match(
    usageError({ sock_dir: `/tmp/${"d".repeat(100)}` }),
    /^-S\/--socket-dir: '\/tmp\/d+\/x\.sock' is longer than the 107 bytes/,
  );
});
