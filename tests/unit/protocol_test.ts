import assert from "node:assert/strict";
import { EventParser, parseHeaderLine, ProtocolError } from "../../lib/protocol.ts";

const enc = new TextEncoder();

/** An envelope as supervisord builds it: len is the payload's code-point count. */
function envelope(payload: string, name = "PROCESS_LOG_STDOUT", serial = 1): string {
  const len = [...payload].length;
  return `ver:3.0 server:supervisor serial:${serial} pool:checker poolserial:${serial} ` +
    `eventname:${name} len:${len}\n${payload}`;
}

const MULTIBYTE = [
  "when:1201063880",
  "processname:web groupname:web pid:12 channel:stdout\nhéllo wörld",
  "processname:x groupname:x pid:1 channel:stdout\n日本語のテキスト",
  "processname:x groupname:x pid:1 channel:stdout\nemoji 🚀🔥 𝄞 and READY\nRESULT 2\nOK",
  "",
  "ver:3.0 len:999 looks like a header but is payload\n",
];

Deno.test("parser: one event per chunk", () => {
  const parser = new EventParser();
  const events = parser.push(enc.encode(envelope("when:1201063880", "TICK_5")));
  assert.equal(events.length, 1);
  assert.equal(events[0].eventName, "TICK_5");
  assert.equal(events[0].payload, "when:1201063880");
  assert.equal(events[0].headers.pool, "checker");
  assert.equal(parser.pending, 0);
});

Deno.test("parser: several events merged in one read, multi-byte payloads", () => {
  const stream = MULTIBYTE.map((p, i) => envelope(p, "PROCESS_LOG_STDOUT", i)).join("");
  const events = new EventParser().push(enc.encode(stream));
  assert.deepEqual(events.map((e) => e.payload), MULTIBYTE);
  assert.deepEqual(events.map((e) => e.headers.serial), MULTIBYTE.map((_, i) => String(i)));
});

Deno.test("parser: events split at every byte boundary", () => {
  const bytes = enc.encode(MULTIBYTE.map((p) => envelope(p)).join(""));
  for (let cut = 0; cut <= bytes.length; cut++) {
    const parser = new EventParser();
    const events = [...parser.push(bytes.subarray(0, cut)), ...parser.push(bytes.subarray(cut))];
    assert.deepEqual(events.map((e) => e.payload), MULTIBYTE, `cut at ${cut}`);
    assert.equal(parser.pending, 0);
  }
});

Deno.test("parser: byte by byte yields each event exactly when its last byte arrives", () => {
  const first = enc.encode(envelope("ab🚀"));
  const parser = new EventParser();
  for (let i = 0; i < first.length - 1; i++) {
    assert.deepEqual(parser.push(first.subarray(i, i + 1)), [], `byte ${i}`);
  }
  const done = parser.push(first.subarray(first.length - 1));
  assert.equal(done.length, 1);
  assert.equal(done[0].payload, "ab🚀");
});

Deno.test("parser: len counts code points, not bytes or UTF-16 units", () => {
  // guarantee: Protocol
  // 🚀 is 4 bytes in UTF-8, 2 UTF-16 units, 1 code point (Python's len)
  const header = "ver:3.0 server:supervisor serial:1 pool:p poolserial:1 eventname:TICK_5 len:1\n";
  const events = new EventParser().push(enc.encode(`${header}🚀${header}x`));
  assert.deepEqual(events.map((e) => e.payload), ["🚀", "x"]);
});

Deno.test("parser: unknown header keys are kept, order does not matter", () => {
  const events = new EventParser().push(enc.encode("len:2 future:yes eventname:TICK_60\nok"));
  assert.equal(events[0].headers.future, "yes");
  assert.equal(events[0].eventName, "TICK_60");
});

Deno.test("parser: a header without len, or garbage, is a ProtocolError", () => {
  assert.throws(
    () => new EventParser().push(enc.encode("ver:3.0 eventname:TICK_5\n")),
    ProtocolError,
  );
  assert.throws(() => new EventParser().push(enc.encode("garbage\n")), ProtocolError);
  assert.throws(() => parseHeaderLine("len:x:1 :oops"), ProtocolError);
});
