/**
 * The supervisord client's connections (lib/xmlrpc.ts, lib/supervisor.ts):
 * reads share one kept-open connection, stop/start get one of their own, and
 * a connection the server closes never loses or doubles a call. Against a
 * raw HTTP/1.1 server on 127.0.0.1 that records every request on every
 * connection and can close a connection instead of answering.
 */
import assert from "node:assert/strict";
import { SupervisorClient } from "../../lib/supervisor.ts";
import { methodName, methodResponse } from "../fixtures/xmlrpc_service.ts";

/**
 * What the server does with the n-th request (0-based) on connection `c`
 * (0-based): answer it, close the connection without an answer, or answer
 * it and then close the connection.
 */
type Policy = (c: number, n: number, method: string) => "answer" | "close" | "answer, close";

interface Request {
  connection: number;
  method: string;
  /** the request's Connection header, lower-case ("" when absent) */
  connectionHeader: string;
}

const enc = new TextEncoder();

function close(conn: Deno.Conn) {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** Reads one request off `conn` (headers and Content-Length body); undefined at its end. */
async function readRequest(
  conn: Deno.Conn,
  pending: { text: string },
): Promise<{ head: string; body: string } | undefined> {
  const buffer = new Uint8Array(16 * 1024);
  const decoder = new TextDecoder();
  for (;;) {
    const end = pending.text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const head = pending.text.slice(0, end);
      const length = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
      // ASCII XML: characters and bytes agree
      if (pending.text.length - (end + 4) >= length) {
        const body = pending.text.slice(end + 4, end + 4 + length);
        pending.text = pending.text.slice(end + 4 + length);
        return { head, body };
      }
    }
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return undefined;
    pending.text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
}

async function withRawServer(
  policy: Policy,
  fn: (client: SupervisorClient, seen: Request[]) => Promise<void>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: Request[] = [];
  const open = new Set<Deno.Conn>();
  const handlers: Promise<void>[] = [];
  const serve = async (conn: Deno.Conn, c: number) => {
    const pending = { text: "" };
    try {
      for (let n = 0;; n++) {
        const request = await readRequest(conn, pending);
        if (!request) return;
        const method = methodName(request.body);
        const connectionHeader = /^connection:\s*(\S+)/im.exec(request.head)?.[1] ?? "";
        seen.push({ connection: c, method, connectionHeader: connectionHeader.toLowerCase() });
        const action = policy(c, n, method);
        if (action === "close") return;
        const body = enc.encode(methodResponse(`<string>${method} ${c}.${n}</string>`));
        await conn.write(enc.encode(
          "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n" +
            `Content-Length: ${body.length}\r\n\r\n`,
        ));
        await conn.write(body);
        if (action === "answer, close" || connectionHeader.toLowerCase() === "close") return;
      }
    } catch {
      // the client went away
    } finally {
      open.delete(conn);
      close(conn);
    }
  };
  const accepting = (async () => {
    let c = 0;
    for await (const conn of listener) {
      open.add(conn);
      handlers.push(serve(conn, c++));
    }
  })().catch(() => {});
  const client = new SupervisorClient(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
  try {
    await fn(client, seen);
  } finally {
    client.close();
    listener.close();
    await accepting;
    for (const conn of open) close(conn);
    await Promise.all(handlers);
  }
}

const answerAll: Policy = () => "answer";

Deno.test("supervisord client: reads share one kept-open connection; stop and start get one each", async () => {
  // guarantee: Connections to supervisord
  await withRawServer(answerAll, async (client, seen) => {
    for (let i = 0; i < 3; i++) {
      assert.equal(await client.call("supervisor.getState", []), `supervisor.getState 0.${i}`);
    }
    await client.call("supervisor.readProcessStdoutLog", ["web:a", 0, 64]);
    assert.deepEqual(seen.map((r) => r.connection), [0, 0, 0, 0], "four reads, one connection");
    assert.ok(seen.every((r) => r.connectionHeader !== "close"));

    await client.stopProcess("web:a");
    await client.startProcess("web:a");
    assert.deepEqual(seen.slice(4), [
      { connection: 1, method: "supervisor.stopProcess", connectionHeader: "close" },
      { connection: 2, method: "supervisor.startProcess", connectionHeader: "close" },
    ]);
    // the kept connection still serves reads
    assert.equal(await client.call("supervisor.getState", []), "supervisor.getState 0.4");
  });
});

Deno.test("supervisord client: a read whose kept connection closes before its answer is sent once more, on a new connection", async () => {
  // guarantee: Connections to supervisord
  // the second request on the first connection is read, then the connection closes unanswered;
  // Deno's node:http resends it (lib/xmlrpc.ts relies on this, and so keeps stop/start apart)
  await withRawServer((c, n) => c === 0 && n === 1 ? "close" : "answer", async (client, seen) => {
    assert.equal(await client.call("supervisor.getState", []), "supervisor.getState 0.0");
    assert.equal(
      await client.call("supervisor.getAllProcessInfo", []).then(String),
      "supervisor.getAllProcessInfo 1.0",
    );
    assert.deepEqual(seen.map((r) => [r.connection, r.method]), [
      [0, "supervisor.getState"],
      [0, "supervisor.getAllProcessInfo"],
      [1, "supervisor.getAllProcessInfo"],
    ]);
  });
});

Deno.test("supervisord client: a stop whose connection closes unanswered fails once, never sent again", async () => {
  // guarantee: Connections to supervisord
  await withRawServer(
    (_, __, method) => method === "supervisor.stopProcess" ? "close" : "answer",
    async (client, seen) => {
      await client.call("supervisor.getState", []);
      await assert.rejects(client.stopProcess("web:a"), { name: "SupervisorUnavailable" });
      assert.equal(seen.filter((r) => r.method === "supervisor.stopProcess").length, 1);
    },
  );
});

Deno.test("supervisord client: the server closing the kept connection after each answer loses and doubles nothing", async () => {
  // guarantee: Connections to supervisord
  await withRawServer(() => "answer, close", async (client, seen) => {
    for (let i = 0; i < 5; i++) {
      assert.equal(await client.call("supervisor.getState", [i]), `supervisor.getState ${i}.0`);
    }
    // a connection closed by the server cannot have received the next call: each was seen once
    assert.deepEqual(seen.map((r) => r.connection), [0, 1, 2, 3, 4]);
  });
});
