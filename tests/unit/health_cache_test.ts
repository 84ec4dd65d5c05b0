/** HealthCache: TTL per result, no caching on null, one shared run in flight. */
import assert from "node:assert/strict";
import { HealthCache } from "../../lib/health_cache.ts";

interface Result {
  passed: boolean;
  run: number;
}

/** A cache keeping passed results 27 s and failed ones 9 s, on a clock the test moves. */
function setup(ttl: (r: Result) => number | null = (r) => r.passed ? 27_000 : 9_000) {
  const clock = { now: 0 };
  const cache = new HealthCache<Result>(ttl, () => clock.now);
  let runs = 0;
  const check = (passed: boolean) => () => Promise.resolve({ passed, run: ++runs });
  return { clock, cache, check, runs: () => runs };
}

Deno.test("health cache: a passed result is reused for its TTL, then run again", async () => {
  const { clock, cache, check, runs } = setup();
  assert.deepEqual(await cache.get("a", check(true)), { passed: true, run: 1 });
  clock.now = 27_000;
  assert.equal((await cache.get("a", check(true))).run, 1);
  clock.now = 27_001;
  assert.equal((await cache.get("a", check(true))).run, 2);
  assert.equal(runs(), 2);
});

Deno.test("health cache: a failed result has its own, shorter TTL; keys are separate", async () => {
  const { clock, cache, check } = setup();
  assert.equal((await cache.get("a", check(false))).run, 1);
  assert.equal((await cache.get("b", check(true))).run, 2);
  clock.now = 9_001;
  assert.equal((await cache.get("a", check(false))).run, 3, "the failure expired");
  assert.equal((await cache.get("b", check(true))).run, 2, "the success did not");
});

Deno.test("health cache: a null TTL keeps results out of the cache", async () => {
  const { cache, check, runs } = setup((r) => r.passed ? null : 9_000);
  await cache.get("a", check(true));
  await cache.get("a", check(true));
  assert.equal(runs(), 2);
  assert.equal(cache.size, 0);
});

Deno.test("health cache: concurrent callers share the run in flight", async () => {
  const { cache } = setup(() => null);
  let runs = 0;
  let release!: (r: Result) => void;
  const slow = () => {
    runs++;
    return new Promise<Result>((resolve) => release = resolve);
  };
  const callers = Array.from({ length: 5 }, () => cache.get("a", slow));
  assert.equal(runs, 1);
  release({ passed: true, run: 1 });
  const results = await Promise.all(callers);
  assert.ok(results.every((r) => r === results[0]), "everyone gets the same result");
  const again = cache.get("a", slow);
  assert.equal(runs, 2, "once settled (and not cached), the next caller runs again");
  release({ passed: true, run: 2 });
  assert.equal((await again).run, 2);
});

Deno.test("health cache: a run that rejects is shared, not cached", async () => {
  const { cache } = setup();
  let runs = 0;
  const failing = () => {
    runs++;
    return Promise.reject(new Error("boom"));
  };
  await Promise.all([
    assert.rejects(cache.get("a", failing), /boom/),
    assert.rejects(cache.get("a", failing), /boom/),
  ]);
  assert.equal(runs, 1);
  await assert.rejects(cache.get("a", failing), /boom/);
  assert.equal(runs, 2);
});

Deno.test("health cache: prune drops stale entries only", async () => {
  const { clock, cache, check } = setup();
  await cache.get("passed", check(true));
  await cache.get("failed", check(false));
  clock.now = 10_000;
  cache.prune();
  assert.equal(cache.size, 1);
  assert.equal((await cache.get("passed", check(true))).run, 1);
});
