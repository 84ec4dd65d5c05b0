/** --once's verdict: the worst status wins (CRITICAL, UNKNOWN, WARNING, OK); FATAL is CRITICAL. */
import assert from "node:assert/strict";
import type { ProcessInfo } from "../../lib/check.ts";
import { type OnceProcess, renderOnce } from "../../lib/once.ts";

function proc(name: string, statename = "RUNNING"): ProcessInfo {
  return { name, group: "g", pid: statename === "RUNNING" ? 10 : 0, state: 0, statename, start: 0 };
}

function row(name: string, status?: "healthy" | "unhealthy" | "unknown", state?: string) {
  const results: OnceProcess["results"] = status
    ? [{ check: "http", status, message: `${status}!`, attempts: 1, durationMs: 1 }]
    : [];
  return { check: "c", process: proc(name, state), results };
}

const status = (...processes: OnceProcess[]) =>
  renderOnce([{ check: "c", processes }], 0.5, "text");

Deno.test("once: the worst status wins; not RUNNING is WARNING, FATAL CRITICAL", () => {
  assert.equal(status(row("a", "healthy")).code, 0);
  assert.equal(status(row("a", "healthy"), row("b", undefined, "STOPPED")).code, 1);
  assert.equal(status(row("a", "unknown"), row("b", undefined, "BACKOFF")).code, 3);
  assert.equal(status(row("a", "unknown"), row("b", "unhealthy")).code, 2);
  assert.equal(status(row("a", "healthy"), row("b", undefined, "FATAL")).code, 2);
  const text = status(row("a", "healthy"), row("b", "unhealthy"), row("c", "unknown")).output;
  assert.equal(
    text.split("\n")[0],
    "SUPERVISOR-CHECKS CRITICAL - 1 of 3 unhealthy, 1 of 3 unknown (g:b: http: unhealthy!) | " +
      "healthy=1;;;0;3 unhealthy=1;;;0;3 unknown=1;;;0;3 not_running=0;;;0;3 time=0.50s",
  );
});

Deno.test("once: no selection and supervisord unreachable are UNKNOWN; '|' never leaks into the text", () => {
  const none = renderOnce([{ check: "c", nothingSelected: "group 'x'", processes: [] }], 0, "text");
  assert.equal(none.code, 3);
  const down = renderOnce(
    [{ check: "c", error: "cannot reach a|b", processes: [] }, {
      check: "d",
      processes: [row("a", "healthy")],
    }],
    0,
    "json",
  );
  assert.equal(down.code, 3);
  const doc = JSON.parse(down.output);
  assert.equal(doc.summary.split("|").length, 2, "perfdata separator only");
  assert.deepEqual(doc.problems, ["[c] cannot reach a|b"]);
});
