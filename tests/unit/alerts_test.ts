import assert from "node:assert/strict";
import {
  type Alert,
  AlertClassifier,
  AlertSelection,
  Batch,
  BATCH_LINES,
  lastLines,
  RateLimiter,
  SingleSender,
  STDERR_LINE_CHARS,
} from "../../lib/alerts.ts";
import { Logger } from "../../lib/log.ts";
import { Notifier } from "../../lib/notify.ts";
import { asctime, parseProcessStateEvent } from "../../lib/process_events.ts";

Deno.test("process events: supervisord's PROCESS_STATE payloads", () => {
  assert.deepEqual(
    parseProcessStateEvent(
      "PROCESS_STATE_EXITED",
      "processname:web_1 groupname:web from_state:RUNNING expected:0 pid:4242",
    ),
    {
      state: "EXITED",
      name: "web_1",
      group: "web",
      process: "web:web_1",
      fromState: "RUNNING",
      expected: false,
      pid: 4242,
    },
  );
  const backoff = parseProcessStateEvent(
    "PROCESS_STATE_BACKOFF",
    "processname:x groupname:x from_state:STARTING tries:3",
  );
  assert.equal(backoff?.tries, 3);
  assert.equal(parseProcessStateEvent("TICK_5", "when:1"), undefined);
  assert.throws(() => parseProcessStateEvent("PROCESS_STATE_FATAL", "garbage"), /unreadable/);
  assert.throws(() => parseProcessStateEvent("PROCESS_STATE_FATAL", "groupname:x"), /processname/);
});

Deno.test("process events: asctime as superlance writes it, local time with milliseconds", () => {
  const d = new Date(2026, 10, 30, 8, 4, 5, 7);
  assert.equal(asctime(d), "2026-11-30 08:04:05,007");
});

function event(state: string, fields: Record<string, string | number>) {
  const payload = Object.entries({ processname: "w", groupname: "g", from_state: "X", ...fields })
    .map(([k, v]) => `${k}:${v}`).join(" ");
  return parseProcessStateEvent(`PROCESS_STATE_${state}`, payload)!;
}

Deno.test("alerts: unexpected exits, FATAL, and one BACKOFF alert per loop", () => {
  const c = new AlertClassifier({ crash: true, fatal: false, backoffTries: 2 });
  assert.equal(c.classify(event("EXITED", { expected: 0, pid: 1 })), "crash");
  assert.equal(c.classify(event("EXITED", { expected: 1, pid: 1 })), undefined);
  assert.equal(c.classify(event("FATAL", {})), undefined);
  const tries = [1, 2, 3, 4].map((t) => c.classify(event("BACKOFF", { tries: t })));
  assert.deepEqual(tries, [undefined, "backoff", undefined, undefined]);
  // it ran: a new loop alerts again
  c.classify(event("RUNNING", { pid: 2 }));
  assert.equal(c.classify(event("BACKOFF", { tries: 2 })), "backoff");
  // a loop whose RUNNING event was not seen: tries start over
  assert.equal(c.classify(event("BACKOFF", { tries: 2 })), "backoff");
  assert.equal(
    new AlertClassifier({ crash: false, fatal: true }).classify(event("FATAL", {})),
    "fatal",
  );
});

Deno.test("alerts: selection by name in any group, group:name, group, or everything", () => {
  const e = event("EXITED", { expected: 0 });
  assert.ok(new AlertSelection([], [], false).matches(e));
  assert.ok(new AlertSelection(["w"], [], false).matches(e));
  assert.ok(new AlertSelection(["g:w"], [], false).matches(e));
  assert.ok(!new AlertSelection(["h:w"], [], false).matches(e));
  assert.ok(new AlertSelection(["other"], ["g"], false).matches(e));
  assert.ok(!new AlertSelection(["other"], ["h"], false).matches(e));
  assert.ok(new AlertSelection(["other"], [], true).matches(e));
});

Deno.test("alerts: the rate limit lets N a window through, then again once the window moves", () => {
  let now = 0;
  const r = new RateLimiter(2, 60_000, () => now);
  assert.deepEqual([r.take(), r.take(), r.take()], [true, true, false]);
  now = 59_999;
  assert.equal(r.take(), false);
  now = 60_000;
  assert.equal(r.take(), true);
});

Deno.test("alerts: a batch lists BATCH_LINES alerts, then counts the rest per process", () => {
  // guarantee: Crash and fatal alerts
  const b = new Batch();
  const alert = (name: string): Alert => ({
    kind: "crash",
    time: new Date(),
    event: event("EXITED", { expected: 0, processname: name }),
  });
  for (let i = 0; i < 500; i++) b.add(alert(i % 2 ? "odd" : "even"));
  assert.equal(b.alerts.length, BATCH_LINES);
  assert.equal(b.total, 500);
  assert.equal(
    b.overflowLine(),
    `… and 300 more alerts not listed (limit ${BATCH_LINES} a message): g:even ×150, g:odd ×150`,
  );
});

Deno.test("alerts: stderr lines are the last ones, escaped, masked and cut", () => {
  // guarantee: Crash and fatal alerts
  const tail = "half a line\nok\nkey=AKIAABCDEFGHIJKLMNOP token=s3cr3t\n\x1b[31mred\n" +
    "x".repeat(1000) + "\n";
  const lines = lastLines(tail, 3, true);
  assert.equal(lines.length, 3);
  assert.match(lines[0], /token=\*{8}/);
  assert.equal(lines[1], "\\x1b[31mred");
  assert.ok(lines[2].length <= STDERR_LINE_CHARS, String(lines[2].length));
  assert.deepEqual(lastLines("first\nsecond\n", 5, false), ["first", "second"]);
  assert.deepEqual(lastLines("cut\nsecond\n", 5, true), ["second"]);
});

Deno.test("alerts: one message per alert within the rate limit; the next message counts those not sent", async () => {
  // guarantee: Crash and fatal alerts
  const dir = await Deno.makeTempDir({ prefix: "single-" });
  try {
    const lines: string[] = [];
    const logger = new Logger("test", "info", (l) => lines.push(l));
    const notifier = new Notifier({
      email: ["ops@example.com"],
      sendmail: `/bin/sh -c 'cat > "$(mktemp ${dir}/mail.XXXXXX)"'`,
    }, logger);
    let now = 0;
    const sender = new SingleSender(
      notifier,
      {
        line: (a) => `${a.event.process} crashed`,
        message: (a, dropped) => ({
          subject: `${a.event.process} crashed`,
          body: `dropped before: ${dropped}`,
          reports: [],
        }),
      },
      undefined,
      logger,
      { limiter: new RateLimiter(1, 60_000, () => now), label: "--limit 1" },
    );
    const crash = (name: string): Alert => ({
      kind: "crash",
      time: new Date(),
      event: event("EXITED", { expected: 0, processname: name }),
    });
    for (const name of ["a", "b", "c"]) sender.add(crash(name));
    now = 60_000;
    sender.add(crash("d"));
    await sender.stop();
    const mails = await Promise.all(
      [...Deno.readDirSync(dir)].map((e) => Deno.readTextFile(`${dir}/${e.name}`)),
    );
    assert.deepEqual(
      mails.map((m) => m.split("\n\n")[1].trim()).sort(),
      ["dropped before: 0", "dropped before: 2"],
    );
    const log = lines.join("");
    assert.match(log, /g:b crashed: NOT mailed \(rate limit: 1 in the last 60s, --limit 1; 1 not/);
    assert.match(log, /g:c crashed: NOT mailed \(rate limit: 1 in the last 60s, --limit 1; 2 not/);
    assert.match(log, /g:d crashed, mailing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
