/**
 * The StatsD parser and workers gauge, and the UDP listener receiving real
 * datagrams on 127.0.0.1, garbage included.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { Logger } from "../../lib/log.ts";
import {
  parseDatagram,
  parseLine,
  StatsdListener,
  type StatsdMetric,
  WorkersGauge,
} from "../../lib/statsd.ts";
import { waitFor } from "../support/supervisord.ts";

const enc = new TextEncoder();
const gauge = (name: string, value: number, delta = false): StatsdMetric => ({
  name,
  type: "g",
  value,
  delta,
});

Deno.test("statsd: lines are name:value|type with optional rate and tags", () => {
  assert.deepEqual(parseLine("workers:3|g"), gauge("workers", 3));
  assert.deepEqual(parseLine("gunicorn.workers:+2|g"), gauge("gunicorn.workers", 2, true));
  assert.deepEqual(parseLine("workers:-1|g"), gauge("workers", -1, true));
  assert.deepEqual(parseLine("workers:2.5|g|@0.5|#env:prod"), gauge("workers", 2.5));
  assert.deepEqual(parseLine("gunicorn.requests:1|c"), {
    name: "gunicorn.requests",
    type: "c",
    value: 1,
    delta: false,
  });
  assert.deepEqual(parseLine("users:alice|s"), { name: "users", type: "s", delta: false });
  for (
    const [line, why] of [
      ["workers", /not name:value\|type/],
      ["workers:3", /not name:value\|type/],
      [":3|g", /not name:value\|type/],
      ["workers:3|x", /unknown metric type 'x'/],
      ["workers:three|g", /value 'three' is not a number/],
      ["workers:|g", /value '' is not a number/],
      ["workers:1e999|g", /is not a number/],
      ["workers:NaN|g", /is not a number/],
      ["workers:3|g|@2", /sample rate '@2'/],
    ] as const
  ) {
    const parsed = parseLine(line);
    assert.equal(typeof parsed, "string", line);
    assert.match(parsed as string, why, line);
  }
});

Deno.test("statsd: a datagram holds several lines; bad ones make it malformed, good ones count", () => {
  const ok = parseDatagram(enc.encode("workers:3|g\ngunicorn.requests:1|c\r\n\n"));
  assert.equal(ok.malformed, undefined);
  assert.deepEqual(ok.metrics.map((m) => m.name), ["workers", "gunicorn.requests"]);

  const mixed = parseDatagram(enc.encode("garbage\nworkers:4|g"));
  assert.match(mixed.malformed!, /not name:value\|type: "garbage"/);
  assert.deepEqual(mixed.metrics, [gauge("workers", 4)]);

  assert.match(parseDatagram(new Uint8Array([0xff, 0xfe, 0x00])).malformed!, /not UTF-8/);
  assert.match(parseDatagram(new Uint8Array()).malformed!, /no metric/);
  assert.match(parseDatagram(enc.encode("\n\n")).malformed!, /no metric/);
  const long = parseDatagram(enc.encode("x".repeat(5000)));
  assert.ok(long.malformed!.length < 200, "the quoted line is shortened");
  assert.match(
    parseDatagram(enc.encode("wörkers:3|g💥")).malformed!,
    /unknown metric type|not name/,
  );
  assert.equal(parseDatagram(enc.encode("wörkers.✓:3|g")).malformed, undefined);
});

Deno.test("statsd: the workers gauge takes values and deltas from both names only", () => {
  const g = new WorkersGauge();
  assert.equal(g.value(), 0);
  assert.equal(g.updatedAt, undefined);
  assert.equal(g.apply(gauge("workers", 1, true)), true, "a delta before any value starts at 0");
  assert.equal(g.value(), 1);
  g.apply(gauge("gunicorn.workers", 4));
  assert.equal(g.value(), 4);
  g.apply(gauge("workers", -3, true));
  assert.equal(g.value(), 1);
  assert.equal(g.apply(gauge("other.workers", 9)), false);
  assert.equal(g.apply({ name: "workers", type: "c", value: 9, delta: false }), false);
  assert.equal(g.value(), 1);
  g.apply(gauge("workers", -5, true));
  assert.equal(g.value(), -4, "deltas may go below zero, which is no workers");
});

Deno.test("statsd: a change whose result is not finite is refused and the gauge kept", () => {
  const g = new WorkersGauge();
  assert.equal(g.apply(gauge("workers", 1e308, true)), true);
  const refused = g.apply(gauge("workers", 1e308, true));
  assert.equal(typeof refused, "object", "+1e308 twice overflows to Infinity");
  assert.match((refused as { refused: string }).refused, /overflows/);
  assert.equal(g.value(), 1e308);
  assert.equal(typeof g.apply(gauge("workers", -1e308, true)), "boolean");
  assert.equal(g.value(), 0, "a later change applies to the kept value");
});

Deno.test("statsd: with a TTL a gauge not updated in time counts as 0", () => {
  let now = 1_000_000;
  const g = new WorkersGauge(5, () => now);
  g.apply(gauge("workers", 3));
  now += 5_000;
  assert.equal(g.value(), 3);
  assert.equal(g.expired(), false);
  now += 1;
  assert.equal(g.value(), 0);
  assert.equal(g.expired(), true);
  g.apply(gauge("workers", 2, true));
  assert.equal(g.value(), 2, "a delta after expiry starts from 0");
  assert.equal(g.expired(), false);
});

Deno.test("statsd listener: real datagrams, garbage of every kind, and it keeps working", async () => {
  const lines: string[] = [];
  const logger = new Logger("test", "debug", (line) => lines.push(line));
  let notified = 0;
  const g = new WorkersGauge();
  const listener = await StatsdListener.listen("127.0.0.1", 0, g, logger, () => notified++);
  const client = dgram.createSocket("udp4");
  const send = (bytes: Uint8Array) =>
    new Promise<void>((resolve, reject) =>
      client.send(bytes, listener.address.port, "127.0.0.1", (e) => e ? reject(e) : resolve())
    );
  try {
    const random = new Uint8Array(1024);
    crypto.getRandomValues(random);
    random[0] = 0xff; // never valid UTF-8
    const garbage = [
      random,
      new Uint8Array(60_000).fill(0x80),
      enc.encode("x".repeat(60_000)),
      enc.encode("💥🚀 ünïcödé:∞|g\n☃"),
      enc.encode("workers:NaN|g"),
      enc.encode(":|\n|:"),
      new Uint8Array(),
    ];
    for (const bytes of garbage) await send(bytes);
    await send(enc.encode("workers:2|g\ngunicorn.requests:1|c"));
    await waitFor("the datagrams to arrive", () => listener.counters.datagrams === 8, 15_000, 50);
    assert.equal(listener.counters.malformed, garbage.length);
    assert.equal(g.value(), 2);
    assert.equal(notified, 1, "only the datagram that updated the gauge notifies");
    await send(enc.encode("gunicorn.workers:+1|g"));
    await waitFor("the delta", () => g.value() === 3, 15_000, 50);
    await send(enc.encode("workers:+1e308|g"));
    await send(enc.encode("workers:+1e308|g"));
    await waitFor("the overflow", () => listener.counters.datagrams === 11, 15_000, 50);
    assert.equal(g.value(), 3 + 1e308, "the second +1e308 is refused, not Infinity");
    assert.equal(listener.counters.malformed, garbage.length + 1);
    assert.ok(lines.some((l) => l.includes("malformed StatsD datagram (1024 bytes): not UTF-8")));
    assert.ok(lines.every((l) => l.length < 400), "log lines quote only a short preview");
  } finally {
    client.close();
    await listener.close();
  }
});

Deno.test("statsd listener: a port in use is refused at start", async () => {
  const logger = new Logger("test", "error", () => {});
  const first = await StatsdListener.listen("127.0.0.1", 0, new WorkersGauge(), logger);
  try {
    await assert.rejects(
      StatsdListener.listen("127.0.0.1", first.address.port, new WorkersGauge(), logger),
      /EADDRINUSE|in use/i,
    );
  } finally {
    await first.close();
  }
});
