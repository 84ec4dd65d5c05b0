/**
 * lib/finisher.ts, the listener's side and the finisher's reading of it,
 * with real processes and streams (the supervisord side is in
 * tests/integration/finisher_test.ts).
 */
import assert from "node:assert/strict";
import { Finisher, runFinisher } from "../../lib/finisher.ts";
import { Logger } from "../../lib/log.ts";

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

function stream(text: string): ReadableStream<Uint8Array> {
  return new Blob([text]).stream();
}

Deno.test("Finisher: one line per restart begun and ended; the last end closes its input", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines: string[] = [];
    const logger = new Logger("t", "debug", (l) => lines.push(l));
    // stands in for the program run again: records what it is told, exits at the end of input
    const finisher = new Finisher(logger, "text", ["/bin/sh", "-c", `cat > ${dir}/told`]);
    assert.equal(await finisher.begin("a:a", 11, "one"), true);
    assert.equal(await finisher.begin("b:b", 22, "two"), true);
    const pid = finisher.pid!;
    await finisher.end("a:a");
    assert.equal(finisher.pid, pid, "still needed for b:b");
    await finisher.end("b:b");
    assert.equal(finisher.pid, undefined);
    // the end of its input ended it (reaped by the runtime)
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(pid), false);
    const told = (await Deno.readTextFile(`${dir}/told`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(told, [
      { begin: "a:a", pid: 11, check: "one" },
      { begin: "b:b", pid: 22, check: "two" },
      { end: "a:a" },
      { end: "b:b" },
    ]);
    assert.deepEqual(lines, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Finisher: a program that cannot be started is logged once; restarts go on unguarded", async () => {
  const lines: string[] = [];
  const logger = new Logger("t", "debug", (l) => lines.push(l));
  const finisher = new Finisher(logger, "text", ["/nonexistent/supervisor-checks"]);
  assert.equal(await finisher.begin("a:a", 1, "c"), false);
  assert.equal(await finisher.begin("b:b", 2, "c"), false);
  await finisher.end("a:a");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /cannot start the restart finisher \(\/nonexistent\/supervisor-checks\)/);
});

Deno.test("runFinisher: every restart ended before the end of input: exits 0, asks nobody", async () => {
  const input = stream(
    '{"begin":"a:a","pid":1,"check":"c"}\n{"end":"a:a"}\n{"begin":"b:b","pid":2,"check":"c"}\n' +
      '{"end":"b:b"}\n{"begin":"c:c","pid":3,',
  );
  const code = await runFinisher(() => {
    throw new Error("supervisord must not be asked");
  }, input);
  assert.equal(code, 0);
});
