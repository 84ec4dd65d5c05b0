/**
 * lib/proc.ts against the real /proc: this test process and child
 * processes it starts (and stops again).
 */
import assert from "node:assert/strict";
import process from "node:process";
import {
  childrenOf,
  descendantsByChildren,
  descendantsByScan,
  descendantsOf,
  hasProc,
  parseStat,
  parseStatusRssKb,
  readCpuTime,
  readRssKb,
  readStat,
} from "../../lib/proc.ts";
import { waitFor } from "../support/supervisord.ts";

const HOG = new URL("../fixtures/memory_hog.ts", import.meta.url).pathname;
const NO_PROC = "/nonexistent-proc";

/** Starts a command; the returned handle kills it and everything under it. */
function spawnTree(cmd: string, args: string[]) {
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "null" })
    .spawn();
  return {
    child,
    async [Symbol.asyncDispose]() {
      const below = await descendantsByScan(child.pid);
      for (
        const kill of [
          () => child.kill("SIGKILL"),
          ...below.map((pid) => () => Deno.kill(pid, "SIGKILL")),
        ]
      ) {
        try {
          kill();
        } catch { /* gone */ }
      }
      if (!child.stdout.locked) await child.stdout.cancel();
      await child.status;
    },
  };
}

/** A pid that no longer exists: a child that has exited and been reaped. */
async function exitedPid(): Promise<number> {
  const child = new Deno.Command("true", { stdout: "null", stderr: "null" }).spawn();
  await child.status;
  return child.pid;
}

const sortNum = (a: number[]) => [...a].sort((x, y) => x - y);

Deno.test("parseStat: fields after a comm with spaces and parentheses", () => {
  const line = "4242 (a) (b c)) S 17 4242 4242 0 -1 4194560 120 0 0 0 " +
    "250 130 0 0 20 0 3 0 987654 12345678 900 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 " +
    "1 0 0 0 0 0\n";
  assert.deepEqual(parseStat(line), {
    pid: 4242,
    comm: "a) (b c)",
    state: "S",
    ppid: 17,
    cpuSeconds: 3.8,
    startTicks: 987654,
  });
});

Deno.test("parseStat: text that is not a stat line is refused", () => {
  assert.throws(() => parseStat(""), /not a \/proc\/<pid>\/stat line/);
  assert.throws(() => parseStat("12 (x) S 1 2"), /not a \/proc\/<pid>\/stat line/);
  assert.throws(() => parseStat("VmRSS: 12 kB"), /not a \/proc\/<pid>\/stat line/);
});

Deno.test("readStat: this process, and a real executable named with spaces and parentheses", async () => {
  const self = await readStat(Deno.pid);
  assert.ok(self);
  assert.equal(self.pid, Deno.pid);
  assert.equal(self.ppid, process.ppid);
  assert.ok(self.startTicks > 0);

  // comm is the basename the kernel was asked to execute: a symlink's name
  const dir = await Deno.makeTempDir({ prefix: "proc-test-" });
  try {
    const odd = `${dir}/x) (y z`;
    await Deno.symlink("/bin/sleep", odd);
    await using tree = spawnTree(odd, ["30"]);
    const stat = await waitFor(
      "the odd child's stat",
      async () => {
        const s = await readStat(tree.child.pid);
        return s?.comm === "x) (y z" && s.state === "S" ? s : undefined; // sleeping
      },
      10_000,
      20,
    );
    assert.equal(stat.ppid, Deno.pid);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseStatusRssKb: VmRSS in KB, 0 without the line (zombie, kernel thread)", () => {
  const status = "Name:\tdeno\nState:\tS (sleeping)\nPPid:\t1\nVmPeak:\t 9000 kB\n" +
    "VmHWM:\t  50000 kB\nVmRSS:\t   37808 kB\nRssAnon:\t  20000 kB\n";
  assert.equal(parseStatusRssKb(status), 37808);
  assert.equal(parseStatusRssKb("Name:\tkworker/0:1\nState:\tI (idle)\nPPid:\t2\n"), 0);
});

Deno.test("readRssKb: a child's RSS grows by what it allocated", async () => {
  await using tree = spawnTree(Deno.execPath(), ["run", HOG, "100", "--now"]);
  const reader = tree.child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  while (!output.includes("grown by 100 MB")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the hog ended early: ${output}`);
    output += value;
  }
  await reader.cancel();
  const kb = await readRssKb(tree.child.pid);
  assert.ok(kb !== undefined && kb >= 100 * 1024, `rss ${kb} KB after allocating 100 MB`);
  const self = await readRssKb(Deno.pid);
  assert.ok(self !== undefined && self > 0);
});

Deno.test("readCpuTime: grows while this process computes", async () => {
  const before = await readCpuTime(Deno.pid);
  assert.ok(before);
  const end = performance.now() + 300;
  while (performance.now() < end) Math.sqrt(Math.random());
  const after = await readCpuTime(Deno.pid);
  assert.ok(after);
  assert.ok(after.cpuSeconds > before.cpuSeconds, `${before.cpuSeconds} → ${after.cpuSeconds}`);
  assert.equal(after.startTicks, before.startTicks);
});

Deno.test("readers: a process that has exited reads as undefined, never as an error", async () => {
  const pid = await exitedPid();
  assert.equal(await readStat(pid), undefined);
  assert.equal(await readCpuTime(pid), undefined);
  assert.equal(await readRssKb(pid), undefined);
  assert.deepEqual(await childrenOf(pid), []);
  assert.deepEqual(await descendantsOf(pid), []);
});

Deno.test("descendants: children and grandchildren, the same from children files and from a ppid scan", async () => {
  // sh(top) ─┬─ sh(middle) ── sleep
  //          └─ sleep
  await using tree = spawnTree("sh", [
    "-c",
    'sh -c "sleep 30 & wait" & sleep 30 & wait',
  ]);
  const top = tree.child.pid;
  // a forked child is named sh until it has exec'd sleep: wait for both execs too
  const { found, stats } = await waitFor(
    "three descendants, the sleeps exec'd",
    async () => {
      const d = await descendantsOf(top);
      if (d.length !== 3) return undefined;
      const stats = await Promise.all(d.map((pid) => readStat(pid)));
      const comms = stats.map((s) => s?.comm).sort().join(",");
      return comms === "sh,sleep,sleep" ? { found: d, stats } : undefined;
    },
    10_000,
    20,
  );
  const children = await childrenOf(top);
  assert.equal(children.length, 2);
  const middle = stats.find((s) => s?.comm === "sh")!.pid;
  assert.equal((await descendantsOf(middle)).length, 1);
  assert.deepEqual(sortNum(await descendantsByChildren(top)), sortNum(found));
  assert.deepEqual(sortNum(await descendantsByScan(top)), sortNum(found));
  assert.ok((await descendantsOf(Deno.pid)).includes(top));
});

/** A fake /proc root: `tree` maps pid → [ppid, children]; other pids have no entry (gone). */
async function fakeProc(tree: Record<number, [number, number[]]>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "fake-proc-" });
  for (const [pid, [ppid, children]] of Object.entries(tree)) {
    await Deno.mkdir(`${root}/${pid}/task/${pid}`, { recursive: true });
    await Deno.writeTextFile(
      `${root}/${pid}/stat`,
      `${pid} (p${pid}) S ${ppid} 1 1 0 -1 0 0 0 0 0 10 10 0 0 20 0 1 0 100 0 0\n`,
    );
    await Deno.writeTextFile(`${root}/${pid}/task/${pid}/children`, children.join(" "));
  }
  return root;
}

Deno.test("descendants: a process gone while the tree is read is left out, with its children, never an error", async () => {
  // 10 ─┬─ 11 ── 13
  //     └─ 12 (exited: listed by its parent, its /proc entry gone) ── 14 (gone with it)
  const root = await fakeProc({ 10: [1, [11, 12]], 11: [10, [13]], 13: [11, []] });
  try {
    // the scan never sees 12: only what has a stat file is there
    assert.deepEqual(sortNum(await descendantsByScan(10, root)), [11, 13]);
    // the children files name 12, but nothing below it can be read: its branch ends
    assert.deepEqual(sortNum(await descendantsByChildren(10, root)), [11, 12, 13]);
    // a stat file that vanishes mid-scan (a directory without it) is skipped too
    await Deno.mkdir(`${root}/15`);
    assert.deepEqual(sortNum(await descendantsByScan(10, root)), [11, 13]);
    assert.deepEqual(await childrenOf(12, root), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("descendants: processes exiting during the walk of the real /proc never cause an error", async () => {
  // a shell that keeps forking short-lived children
  await using tree = spawnTree("sh", ["-c", "while :; do /bin/true; done"]);
  let seen = 0;
  for (let i = 0; i < 300; i++) {
    const [byChildren, byScan] = await Promise.all([
      descendantsByChildren(tree.child.pid),
      i % 30 === 0 ? descendantsByScan(tree.child.pid) : Promise.resolve([]),
    ]);
    seen += byChildren.length + byScan.length;
    for (const pid of byChildren) await readRssKb(pid);
  }
  // the race was exercised: short-lived children were found (and read) during the walks
  assert.ok(seen > 0, "some short-lived child was seen at least once");
});

Deno.test("without /proc the CPU and RSS readers fall back to pidusage", async () => {
  assert.equal(hasProc(), true);
  assert.equal(hasProc(NO_PROC), false);
  const cpu = await readCpuTime(Deno.pid, NO_PROC);
  assert.ok(cpu && cpu.cpuSeconds >= 0);
  assert.equal(cpu.startTicks, undefined);
  const rss = await readRssKb(Deno.pid, NO_PROC);
  assert.ok(rss !== undefined && rss > 1024, `rss ${rss} KB`);
  const pid = await exitedPid();
  assert.equal(await readCpuTime(pid, NO_PROC), undefined);
  assert.equal(await readRssKb(pid, NO_PROC), undefined);
});
