/**
 * The shared bounded readers: a byte cap that cancels the source, and a
 * needle scan that keeps only a window however long the text.
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import {
  DeadlineError,
  formatBytes,
  readAtMost,
  readSmallFile,
  scanFor,
  smallFileProblem,
  TooLargeError,
} from "../../lib/bounded_read.ts";

import { waitFor } from "../support/supervisord.ts";

const enc = new TextEncoder();

/** A web stream of `chunks`, then endless "x" chunks if `endless`; counts pulls and cancels. */
function source(chunks: Uint8Array[], endless = false) {
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks[state.pulled++];
      if (next) controller.enqueue(next);
      else if (endless) controller.enqueue(enc.encode("x".repeat(1024)));
      else controller.close();
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

Deno.test("readAtMost: returns everything up to the cap, exactly the cap included", async () => {
  const { stream } = source([enc.encode("abc"), enc.encode("de")]);
  assert.deepEqual(await readAtMost(stream, 5), enc.encode("abcde"));
  assert.deepEqual(await readAtMost(null, 5), new Uint8Array());
});

Deno.test("readAtMost: one byte over the cap throws and cancels an endless source", async () => {
  const { stream, state } = source([], true);
  await assert.rejects(
    readAtMost(stream, 10 * 1024),
    (e: Error) => e instanceof TooLargeError && e.message === "larger than 10 KiB",
  );
  assert.equal(state.cancelled, true, "the source is cancelled");
  assert.ok(state.pulled <= 12, `read no more than the cap and a chunk (pulled ${state.pulled})`);
  const over = source([enc.encode("abcdef")]);
  await assert.rejects(readAtMost(over.stream, 5), TooLargeError);
});

Deno.test("readAtMost: a node stream is destroyed once over the cap", async () => {
  let produced = 0;
  const node = new Readable({
    highWaterMark: 1024,
    read() {
      produced++;
      this.push(new Uint8Array(1024));
    },
  });
  await assert.rejects(readAtMost(node, 4096), TooLargeError);
  assert.equal(node.destroyed, true);
  assert.ok(produced < 16, `stopped reading (${produced} chunks)`);
});

Deno.test("scanFor: finds needles split across chunks and multi-byte characters", async () => {
  const bytes = enc.encode("…status: ready… ünïcödé");
  // one byte per chunk: every needle and every character is split
  const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
  const found = await scanFor(source(chunks).stream, ["ready", "ünïcödé", "absent", "…"]);
  assert.deepEqual([...found].sort(), ["ready", "…", "ünïcödé"].sort());
});

Deno.test("scanFor: a needle at the very end of a long body is found; reads to the end", async () => {
  const chunks = Array.from({ length: 2000 }, () => enc.encode("x".repeat(1000)));
  chunks.push(enc.encode("xxready"));
  const { stream, state } = source(chunks);
  assert.deepEqual(await scanFor(stream, ["ready"]), new Set(["ready"]));
  assert.equal(state.pulled, chunks.length + 1, "read to the end");
  // chunks larger than the window, a needle across them
  const large = source([
    enc.encode("x".repeat(200_000) + "rea"),
    enc.encode("dy" + "x".repeat(100_000)),
  ]);
  assert.deepEqual(await scanFor(large.stream, ["ready", "xr"]), new Set(["ready", "xr"]));
  const none = source([enc.encode("abc")]);
  assert.deepEqual(await scanFor(none.stream, []), new Set());
  assert.deepEqual(await scanFor(null, ["x"]), new Set());
});

Deno.test("scanFor and readAtMost: a fetch body that never ends stops at the deadline, cancelled", async () => {
  // an endless body that is always ready: it starves timers, so only the deadline ends it
  const chunk = new Uint8Array(64 * 1024).fill(0x78);
  let cancelled = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
    new Response(
      new ReadableStream({
        pull: (c) => c.enqueue(chunk),
        cancel: () => void cancelled++,
      }, { highWaterMark: 0 }),
    ));
  try {
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const body = (await fetch(url)).body;
    await assert.rejects(scanFor(body, ["absent"], performance.now() + 300), DeadlineError);
    const capped = (await fetch(url)).body;
    await assert.rejects(readAtMost(capped, 1e12, performance.now() + 300), DeadlineError);
    // a byte stream ending in time is read whole through the reused buffer
    const small = new Response("x".repeat(200_000) + "ready").body;
    assert.deepEqual(
      await scanFor(small, ["ready"], performance.now() + 60_000),
      new Set(["ready"]),
    );
    await waitFor("the server to see both bodies cancelled", () => cancelled === 2, 10_000, 20);
  } finally {
    await server.shutdown();
  }
});

/** A byte stream (as a fetch body is) of `chunks`, one per pull, each after a macrotask. */
function byteSource(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    type: "bytes",
    async pull(controller) {
      await new Promise((r) => setTimeout(r, 0));
      if (i < chunks.length) controller.enqueue(chunks[i++].slice());
      else {
        controller.close();
        controller.byobRequest?.respond(0); // the read waiting for a byte learns of the end
      }
    },
  });
}

Deno.test("scanFor and readAtMost: read buffers handed from read to read never mix bodies read at once", async () => {
  // many bodies at once and one after another: each is read into a buffer another read had
  for (let round = 0; round < 3; round++) {
    const bodies = Array.from({ length: 12 }, (_, b) =>
      Array.from(
        { length: 4 },
        (_, c) => enc.encode(`${String.fromCharCode(97 + b).repeat(20_000)}|b${b}c${c}|`),
      ));
    const [found, whole] = await Promise.all([
      Promise.all(
        bodies.map((chunks, b) =>
          scanFor(byteSource(chunks), [`|b${b}c3|`, `|b${(b + 1) % 12}c0|`])
        ),
      ),
      Promise.all(bodies.map((chunks) => readAtMost(byteSource(chunks), 1_000_000))),
    ]);
    found.forEach((f, b) => assert.deepEqual([...f], [`|b${b}c3|`], `body ${b}`));
    whole.forEach((bytes, b) => {
      const expected = bodies[b].map((c) => new TextDecoder().decode(c)).join("");
      assert.equal(new TextDecoder().decode(bytes), expected, `body ${b}`);
    });
  }
});

Deno.test("formatBytes: binary units", () => {
  assert.equal(formatBytes(4 * 1024 * 1024), "4 MiB");
  assert.equal(formatBytes(64 * 1024), "64 KiB");
  assert.equal(formatBytes(1000), "1000 bytes");
});

Deno.test("readSmallFile: a regular file up to the limit; devices, FIFOs and larger files refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ok`, "x".repeat(1024));
    assert.equal(readSmallFile(`${dir}/ok`, 1024).length, 1024);
    assert.throws(() => readSmallFile(`${dir}/ok`, 1023), /larger than 1023 bytes, the most read/);
    assert.throws(() => readSmallFile("/dev/zero", 1024), /not a regular file/);
    assert.throws(() => readSmallFile(dir, 1024), /not a regular file/);
    assert.throws(() => readSmallFile(`${dir}/none`, 1024), /cannot read: /);
    assert.equal(
      smallFileProblem("/dev/zero", new Error("not a regular file")),
      "cannot read /dev/zero: not a regular file",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
