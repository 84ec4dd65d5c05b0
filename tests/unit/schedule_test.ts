/**
 * RoundScheduler's log: a trigger that finds a round just started is debug
 * only; a round that outlasts its period is said once at WARN (naming what
 * it waits for), its recovery once at INFO.
 */
import assert from "node:assert/strict";
import { Logger } from "../../lib/log.ts";
import { RoundScheduler } from "../../lib/schedule.ts";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("schedule: skipped triggers are debug; an overrun is WARNed once, its end INFOed once", async () => {
  const lines: string[] = [];
  const logger = new Logger("t", "debug", (line) => lines.push(line));
  let release = () => {};
  let slow = true;
  const period = 0.05;
  const scheduler = new RoundScheduler(
    period,
    logger,
    () => slow ? new Promise<void>((r) => release = r) : Promise.resolve(),
    () => "web:web_1",
  );
  const atLevel = (level: string) => lines.filter((l) => l.includes(` ${level} [t]`));

  assert.ok(scheduler.trigger("interval"), "the first round starts");
  assert.equal(scheduler.trigger("TICK_5"), undefined, "a round just started: skipped");
  assert.equal(scheduler.trigger("interval"), undefined);
  assert.deepEqual(atLevel("WARN"), [], "a round just started is not news");
  assert.equal(atLevel("DEBUG").length, 2);

  await wait(period * 1000 + 20);
  for (let i = 0; i < 5; i++) scheduler.trigger("interval");
  const warnings = atLevel("WARN");
  assert.equal(warnings.length, 1, "said once");
  assert.match(
    warnings[0],
    /round overran its 0\.05s period: still running after \d+\.\ds, waiting for web:web_1/,
  );
  assert.equal(atLevel("INFO").length, 0);

  slow = false;
  release();
  await wait(0);
  // a round that fits its period: recovery, said once
  await scheduler.trigger("interval");
  await wait(period * 1000 + 20);
  await scheduler.trigger("interval");
  const infos = atLevel("INFO");
  assert.equal(infos.length, 1);
  assert.match(infos[0], /rounds fit their period again/);
  assert.equal(atLevel("WARN").length, 1);
  await scheduler.stop();
});

Deno.test("schedule: without --interval the period is the TICK's (TICK_5: 5 s)", async () => {
  const lines: string[] = [];
  const logger = new Logger("t", "debug", (line) => lines.push(line));
  let release = () => {};
  const scheduler = new RoundScheduler(
    undefined,
    logger,
    () => new Promise<void>((r) => release = r),
  );
  scheduler.trigger("TICK_5");
  scheduler.trigger("TICK_5"); // 0.0 s into a 5 s period: not an overrun
  assert.ok(lines.every((l) => l.includes(" DEBUG ")));
  release();
  await scheduler.stop();
});

Deno.test("schedule: a round that throws is logged at ERROR, and the next round runs", async () => {
  // guarantee: Rounds
  const lines: string[] = [];
  const logger = new Logger("t", "debug", (line) => lines.push(line));
  let calls = 0;
  const scheduler = new RoundScheduler(undefined, logger, () => {
    calls++;
    return calls === 1 ? Promise.reject(new Error("boom")) : Promise.resolve();
  });
  // nobody awaits the first round: an unhandled rejection would fail this test
  scheduler.trigger("TICK_5");
  await wait(10);
  assert.ok(lines.some((l) => / ERROR \[t\] round failed: Error: boom/.test(l)), lines.join("\n"));
  await scheduler.trigger("TICK_5");
  assert.equal(calls, 2);
  await scheduler.stop();
});
