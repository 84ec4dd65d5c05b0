/**
 * lib/probe.ts: the retry back-off schedule, and retries stopping at the
 * first attempt that is not unhealthy.
 */
import assert from "node:assert/strict";
import { defineCheck, type ProcessInfo, unhealthy, type Verdict } from "../../lib/check.ts";
import { backoffMs, probe } from "../../lib/probe.ts";
import { options } from "../../lib/option.ts";

Deno.test("retries: the pauses between attempts are 250 ms, 500 ms, 1 s, 2 s, then 2 s each", () => {
  // guarantee: Retries
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 10].map(backoffMs),
    [250, 500, 1000, 2000, 2000, 2000, 2000],
  );
});

Deno.test("retries: -r N gives N more attempts after a failed one, and stops at the first pass", async () => {
  // guarantee: Retries
  const process: ProcessInfo = {
    name: "p",
    group: "g",
    pid: 1,
    state: 20,
    statename: "RUNNING",
    start: 0,
  };
  const attempts: number[] = [];
  const results: Verdict[] = [unhealthy("1"), { status: "healthy", message: "2" }];
  const check = {
    definition: {
      name: "scripted",
      description: "",
      options: options({}),
      retries: () => 3,
      run: (_p: ProcessInfo, _o: unknown, ctx: { attempt: number }) => {
        attempts.push(ctx.attempt);
        return Promise.resolve(results[ctx.attempt - 1] ?? unhealthy("more"));
      },
    },
    options: {},
  };
  const passed = await probe(check, process, new AbortController().signal);
  assert.deepEqual([passed.status, passed.attempts, attempts], ["healthy", 2, [1, 2]]);

  results.length = 0; // never passes: 1 + 1 attempts with -r 1
  attempts.length = 0;
  check.definition.retries = () => 1;
  const failed = await probe(check, process, new AbortController().signal);
  assert.deepEqual([failed.status, failed.attempts, attempts], ["unhealthy", 2, [1, 2]]);
});

Deno.test("probe: a check that returns nothing, or no verdict, could not judge: unknown", async () => {
  // guarantee: Verdicts
  const process: ProcessInfo = {
    name: "p",
    group: "g",
    pid: 1,
    state: 20,
    statename: "RUNNING",
    start: 0,
  };
  const forgetful = defineCheck({
    name: "forgetful",
    // a check written without type-checking that forgets to return
    run: () => undefined as unknown as boolean,
  });
  const signal = new AbortController().signal;
  const none = await probe({ definition: forgetful, options: {} }, process, signal);
  assert.equal(none.status, "unknown");
  assert.match(none.message, /the forgetful check returned nothing, not a verdict/);
  const text = defineCheck({ name: "text", run: () => "yes" as unknown as boolean });
  const got = await probe({ definition: text, options: {} }, process, signal);
  assert.equal(got.status, "unknown");
  assert.match(got.message, /returned string, not a verdict/);
  const odd = defineCheck({ name: "odd", run: () => ({ status: "fine", message: "" }) as never });
  assert.equal((await probe({ definition: odd, options: {} }, process, signal)).status, "unknown");
});
