import assert from "node:assert/strict";
import { type Decision, DEFAULT_POLICY, type Policy, ProcessTracker } from "../../lib/policy.ts";

function tracker(policy: Partial<Policy> = {}) {
  const t = new ProcessTracker({ ...DEFAULT_POLICY, ...policy });
  t.observePid(100);
  return t;
}

/** Feeds a string of verdicts (F fail, P pass, U unknown) one second apart. */
function feed(t: ProcessTracker, verdicts: string, start = 1000): Decision["action"][] {
  return [...verdicts].map((v, i) => {
    const status = v === "F" ? "unhealthy" : v === "P" ? "healthy" : "unknown";
    const d = t.observe(status, v, start + i);
    if (d.action === "restart") t.recordRestart(start + i);
    return d.action;
  });
}

Deno.test("policy: defaults restart on the first failure (the original's behaviour)", () => {
  assert.deepEqual(feed(tracker(), "PFP"), ["none", "restart", "none"]);
});

Deno.test("policy: failure threshold needs consecutive failures", () => {
  assert.deepEqual(
    feed(tracker({ failureThreshold: 3 }), "FFPFFF"),
    ["none", "none", "none", "none", "none", "restart"],
  );
});

Deno.test("policy: success threshold: a lone pass does not end a failure streak", () => {
  assert.deepEqual(
    feed(tracker({ failureThreshold: 3, successThreshold: 2 }), "FFPF"),
    ["none", "none", "none", "restart"],
  );
  assert.deepEqual(
    feed(tracker({ failureThreshold: 3, successThreshold: 2 }), "FFPPF"),
    ["none", "none", "none", "none", "none"],
  );
});

Deno.test("policy: unknown neither fails nor passes", () => {
  assert.deepEqual(
    feed(tracker({ failureThreshold: 2 }), "FUUF"),
    ["none", "none", "none", "restart"],
  );
  assert.deepEqual(feed(tracker(), "UUUU"), ["none", "none", "none", "none"]);
});

Deno.test("policy: a permanently failing process is restarted max-restarts times, then suppressed", () => {
  const t = tracker({ maxRestarts: 3, restartWindow: 60 });
  const actions = feed(t, "FFFFFF");
  assert.deepEqual(actions, [
    "restart",
    "restart",
    "restart",
    "suppressed",
    "suppressed",
    "suppressed",
  ]);
  assert.equal(t.suppressed, true);
  const first = t.observe("unhealthy", "x", 1006);
  assert.deepEqual(first, { action: "suppressed", first: false, restartsInWindow: 3 });
});

Deno.test("policy: suppression says 'first' once per episode", () => {
  const t = tracker({ maxRestarts: 1, restartWindow: 60 });
  feed(t, "F");
  const d1 = t.observe("unhealthy", "x", 1001);
  const d2 = t.observe("unhealthy", "x", 1002);
  assert.equal(d1.action === "suppressed" && d1.first, true);
  assert.equal(d2.action === "suppressed" && d2.first, false);
});

Deno.test("policy: suppression ends when the window moves on", () => {
  const t = tracker({ maxRestarts: 2, restartWindow: 10 });
  assert.deepEqual(feed(t, "FFF", 1000), ["restart", "restart", "suppressed"]);
  // at 1010 the restart of 1000 has left the window
  assert.equal(t.observe("unhealthy", "x", 1010).action, "restart");
});

Deno.test("policy: passing again ends suppression and refills the budget", () => {
  const t = tracker({ maxRestarts: 1, restartWindow: 3600 });
  assert.deepEqual(feed(t, "FFP", 1000), ["restart", "suppressed", "none"]);
  assert.equal(t.suppressed, false);
  assert.equal(t.observe("unhealthy", "x", 1003).action, "restart");
});

Deno.test("policy: a pass between restarts does not refill the budget of a flapping process", () => {
  const t = tracker({ maxRestarts: 2, restartWindow: 3600 });
  assert.deepEqual(feed(t, "FPFPF", 1000), ["restart", "none", "restart", "none", "suppressed"]);
});

Deno.test("policy: a new pid starts streaks over but keeps the restart history", () => {
  const t = tracker({ failureThreshold: 2, maxRestarts: 1, restartWindow: 3600 });
  feed(t, "F");
  t.observePid(200);
  assert.equal(t.consecutiveFailures, 0);
  assert.deepEqual(feed(t, "FF", 1001), ["none", "restart"]);
  t.observePid(300);
  assert.deepEqual(feed(t, "FF", 1003), ["none", "suppressed"]);
});
