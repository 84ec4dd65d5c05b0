/**
 * defineCheck: a custom check as one function, as the original's
 * BaseCheck.__call__ -> bool. run may return a boolean or a verdict, sync or
 * async; options default to none, retries to none; a throw is `unknown`.
 */
import assert from "node:assert/strict";
import { defineCheck, type ProcessInfo, unknown } from "../../lib/check.ts";
import { count, option, options, parseConfig, parseValues } from "../../lib/option.ts";
import { probe } from "../../lib/probe.ts";

const process: ProcessInfo = {
  name: "w1",
  group: "workers",
  pid: 4242,
  state: 20,
  statename: "RUNNING",
  start: 0,
};
const signal = new AbortController().signal;

Deno.test("defineCheck: true/false, sync or async, a verdict as given; a throw is unknown", async () => {
  const verdicts = await Promise.all([
    probe(
      { definition: defineCheck({ name: "yes", run: () => true }), options: {} },
      process,
      signal,
    ),
    probe(
      { definition: defineCheck({ name: "no", run: () => Promise.resolve(false) }), options: {} },
      process,
      signal,
    ),
    probe(
      { definition: defineCheck({ name: "says", run: () => unknown("cannot tell") }), options: {} },
      process,
      signal,
    ),
    probe(
      {
        definition: defineCheck({
          name: "boom",
          run: () => {
            throw new Error("broken");
          },
        }),
        options: {},
      },
      process,
      signal,
    ),
  ]);
  assert.deepEqual(verdicts.map((v) => [v.status, v.message]), [
    ["healthy", "yes check passed"],
    ["unhealthy", "no check failed"],
    ["unknown", "cannot tell"],
    ["unknown", "check could not run: broken"],
  ]);
  // no retries unless asked: one attempt even when it fails
  assert.equal(verdicts[1].attempts, 1);
});

Deno.test("defineCheck: no options by default (a key is refused); declared options reach run", async () => {
  const plain = defineCheck({ name: "plain", run: (p) => p.pid > 0 });
  assert.equal(plain.description, "plain");
  assert.equal(plain.retries, undefined);
  assert.deepEqual(parseValues(plain.options, {}), {});
  assert.throws(() => parseConfig(plain.options, { x: 1 }, "plain"), /plain: unknown key 'x'/);
  const seen: number[] = [];
  const limited = defineCheck({
    name: "limited",
    options: options({ most: option({ help: "Most.", parse: count(1), default: 3 }) }),
    retries: (o) => o.most - 1,
    run: (_p, o) => {
      seen.push(o.most);
      return false;
    },
  });
  const o = parseConfig(limited.options, { most: 2 }, "limited");
  const v = await probe({ definition: limited, options: o }, process, signal);
  assert.deepEqual([v.status, v.attempts, seen], ["unhealthy", 2, [2, 2]]);
});
