import assert from "node:assert/strict";
import {
  type Alert,
  AlertClassifier,
  AlertDetails,
  AlertSelection,
  Batch,
  BATCH_LINES,
  BatchChannel,
  DETAILS_CONCURRENCY,
  DETAILS_WAITING,
  detailsOf,
  lastLines,
  PENDING_BATCHES,
  RateLimiter,
  SINGLE_IN_FLIGHT,
  SINGLE_WAITING,
  SingleSender,
  STDERR_LINE_CHARS,
} from "../../lib/alerts.ts";
import { Logger } from "../../lib/log.ts";
import { Notifier } from "../../lib/notify.ts";
import { asctime, parseProcessStateEvent } from "../../lib/process_events.ts";
import { SupervisorClient } from "../../lib/supervisor.ts";

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

/** A notifier whose sendmail writes each mail to a file of its own in `dir`. */
function mailingTo(dir: string, logger: Logger): Notifier {
  return new Notifier({
    email: ["ops@example.com"],
    sendmail: `/bin/sh -c 'cat > "$(mktemp ${dir}/mail.XXXXXX)"'`,
  }, logger);
}

/** One mail per crash, its body saying how many were dropped before it. */
function crashSender(
  notifier: Notifier,
  logger: Logger,
  limit?: ConstructorParameters<typeof SingleSender>[4],
): SingleSender {
  return new SingleSender(
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
    limit,
  );
}

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
    const notifier = mailingTo(dir, logger);
    let now = 0;
    const sender = crashSender(notifier, logger, {
      limiter: new RateLimiter(1, 60_000, () => now),
      label: "--limit 1",
    });
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

function crash(name: string): Alert {
  return {
    kind: "crash",
    time: new Date(),
    event: event("EXITED", { expected: 0, processname: name }),
  };
}

/** The bodies of the mails a filing sendmail left in `dir`. */
async function mailBodies(dir: string): Promise<string[]> {
  const files = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("mail."));
  const mails = await Promise.all(files.map((e) => Deno.readTextFile(`${dir}/${e.name}`)));
  return mails.map((m) => m.split("\n\n").slice(1).join("\n\n").trim());
}

Deno.test("alerts: one message per alert, 4 under way and 20 waiting at most without a rate limit; the rest counted in the next", async () => {
  // guarantee: Crash and fatal alerts
  const dir = await Deno.makeTempDir({ prefix: "single-cap-" });
  try {
    const lines: string[] = [];
    const logger = new Logger("test", "info", (l) => lines.push(l));
    const notifier = mailingTo(dir, logger);
    const sender = crashSender(notifier, logger);
    const storm = SINGLE_IN_FLIGHT + SINGLE_WAITING + 6;
    for (let i = 0; i < storm; i++) sender.add(crash(`p${i}`));
    await sender.stop();
    assert.equal((await mailBodies(dir)).length, SINGLE_IN_FLIGHT + SINGLE_WAITING);
    const log = lines.join("");
    assert.match(
      log,
      new RegExp(
        `g:p${storm - 1} crashed: NOT mailed \\(too many under way: ${SINGLE_IN_FLIGHT} being ` +
          `sent and ${SINGLE_WAITING} waiting; 6 not mailed since the last mail\\)`,
      ),
    );
    sender.add(crash("after"));
    await sender.stop();
    const bodies = await mailBodies(dir);
    assert.equal(bodies.length, SINGLE_IN_FLIGHT + SINGLE_WAITING + 1);
    assert.equal(bodies.filter((b) => b === "dropped before: 6").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("alerts: details asked for 4 alerts at once and 50 waiting at most; the others say why they have none", async () => {
  // guarantee: Crash and fatal alerts
  const details = new AlertDetails(new SupervisorClient("unix:///nonexistent/supervisor.sock"), 5);
  const alerts = Array.from(
    { length: DETAILS_CONCURRENCY + DETAILS_WAITING + 3 },
    (_, i) => crash(`p${i}`),
  );
  for (const a of alerts) details.fetch(a);
  await Promise.all(alerts.map((a) => detailsOf(a)));
  const notAsked = alerts.filter((a) => a.details === undefined);
  assert.equal(notAsked.length, 3);
  for (const a of notAsked) {
    assert.equal(
      a.missing,
      `not asked: ${DETAILS_CONCURRENCY} alerts' details being asked of supervisord and ` +
        `${DETAILS_WAITING} waiting`,
    );
  }
  // the others were asked (and failed: no supervisord there)
  assert.match(alerts[0].missing ?? "", /stderr log/);
});

Deno.test("alerts: a stalled channel keeps 5 batches; later ones are counted per process in its next message", async () => {
  // guarantee: Crash and fatal alerts
  const dir = await Deno.makeTempDir({ prefix: "batch-cap-" });
  try {
    const lines: string[] = [];
    const logger = new Logger("test", "info", (l) => lines.push(l));
    // the first message stalls until sendmail is killed at the timeout; the next ones are filed
    const notifier = new Notifier({
      email: ["ops@example.com"],
      sendmail:
        `/bin/sh -c 'if [ -e ${dir}/stalled ]; then cat > "$(mktemp ${dir}/mail.XXXXXX)"; ` +
        `else touch ${dir}/stalled; exec sleep 30; fi'`,
      timeoutMs: 300,
    }, logger);
    const channel = new BatchChannel(notifier, {
      line: (a) => a.event.process,
      message: (batches) => ({
        subject: "batch",
        body: batches.flatMap((b) => [
          ...b.alerts.map((a) => a.event.process),
          b.overflowLine() ?? "",
        ]).join("\n"),
        reports: [],
      }),
    }, logger);
    const intervals = PENDING_BATCHES + 5;
    for (let i = 0; i < intervals; i++) {
      const b = new Batch();
      for (let n = 0; n < 3; n++) b.add(crash(`p${i}`));
      void channel.flush(b);
    }
    await channel.idle();
    assert.match(lines.join(""), /message of \d+ alerts not delivered/);
    assert.equal(channel.waiting, intervals * 3);
    await channel.flush(new Batch());
    const [body, ...others] = await mailBodies(dir);
    assert.equal(others.length, 0);
    const listed = body.split("\n").filter((l) => /^g:p\d+$/.test(l));
    // the batch that stalled and PENDING_BATCHES - 1 more are listed
    assert.equal(listed.length, PENDING_BATCHES * 3);
    const late = (intervals - PENDING_BATCHES) * 3;
    assert.match(
      body,
      new RegExp(
        `… and ${late} more alerts not listed \\(limit ${BATCH_LINES} a message; ${late} of ` +
          `them came while ${PENDING_BATCHES} batches waited to be sent\\): g:p\\d+ ×3`,
      ),
    );
    assert.match(
      lines.join(""),
      new RegExp(`${PENDING_BATCHES} batches wait for .* already \\(the limit\\): 3 more alerts`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
