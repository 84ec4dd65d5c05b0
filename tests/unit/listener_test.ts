/**
 * The event-listener loop over in-memory streams: what it writes, when.
 */
import assert from "node:assert/strict";
import { runEventListener } from "../../lib/listener.ts";
import { Logger } from "../../lib/log.ts";
import type { ListenerEvent } from "../../lib/protocol.ts";

const enc = new TextEncoder();

function envelope(name: string, payload: string, serial: number): string {
  return `ver:3.0 server:supervisor serial:${serial} pool:t poolserial:${serial} eventname:${name} len:${
    [...payload].length
  }\n${payload}`;
}

function harness() {
  let feed!: ReadableStreamDefaultController<Uint8Array>;
  const input = new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) });
  const output: string[] = [];
  const logs: string[] = [];
  const logger = new Logger("t", "debug", (line) => logs.push(line));
  return { input, feed, output, logs, logger };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("listener: READY first, each event acknowledged at once while its work goes on", async () => {
  // guarantee: Rounds
  // guarantee: Signals (end of stdin: the work in flight ends first)
  const h = harness();
  const seen: ListenerEvent[] = [];
  // each event starts work (a round) that lasts until released; the handler hands it back,
  // so a listener that waited for it would never acknowledge
  const pending = new Set<Promise<void>>();
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let stopped = false;
  const done = runEventListener(
    {
      onEvent: (e) => {
        seen.push(e);
        const work = released.then(() => void pending.delete(work));
        pending.add(work);
        return work;
      },
      stop: async () => {
        await Promise.all(pending);
        stopped = true;
      },
    },
    h.logger,
    { input: h.input, output: (t) => h.output.push(t) },
    [],
  );

  await tick();
  assert.deepEqual(h.output, ["READY\n"]);
  h.feed.enqueue(enc.encode(envelope("TICK_5", "when:1", 1)));
  await tick();
  assert.deepEqual(h.output, ["READY\n", "RESULT 2\nOKREADY\n"], "acknowledged before work ends");
  assert.equal(pending.size, 1, "its work is still going on");
  // two events in one read, one multi-byte, then one split across reads
  h.feed.enqueue(
    enc.encode(envelope("PROCESS_LOG_STDOUT", "x ✓ 🚀", 2) + envelope("TICK_5", "when:2", 3)),
  );
  const third = enc.encode(envelope("TICK_60", "when:3 ü", 4));
  h.feed.enqueue(third.subarray(0, 70));
  await tick();
  assert.equal(h.output.length, 4);
  h.feed.enqueue(third.subarray(70));
  await tick();
  assert.equal(h.output.length, 5);
  assert.equal(pending.size, 4, "every event acknowledged while all the work goes on");
  assert.deepEqual(seen.map((e) => [e.eventName, e.payload]), [
    ["TICK_5", "when:1"],
    ["PROCESS_LOG_STDOUT", "x ✓ 🚀"],
    ["TICK_5", "when:2"],
    ["TICK_60", "when:3 ü"],
  ]);
  // only protocol tokens were written
  assert.match(h.output.join(""), /^READY\n(RESULT 2\nOKREADY\n)+$/);

  h.feed.close(); // supervisord went away
  await tick();
  assert.equal(stopped, false, "stop waits for the work in flight");
  release();
  assert.equal(await done, 0);
  assert.equal(stopped, true);
  assert.ok(h.logs.some((l) => l.includes("supervisord closed our stdin")));
});

Deno.test("listener: a corrupt stream ends the listener with status 1 and a log line", async () => {
  const h = harness();
  const done = runEventListener(
    { onEvent() {}, stop: async () => {} },
    h.logger,
    { input: h.input, output: (t) => h.output.push(t) },
    [],
  );
  h.feed.enqueue(enc.encode("this is not a header\n"));
  assert.equal(await done, 1);
  assert.deepEqual(h.output, ["READY\n"]);
  assert.ok(h.logs.some((l) => /ERROR \[t\] event stream unusable/.test(l)));
});
