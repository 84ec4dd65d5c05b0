/**
 * Benchmark: one http round over a large port-named group.
 *
 * 60 fixture web services in one supervisord group `web`, checked by
 * `supervisor-checks http -t 2 -r 2` on TICK_5. After one healthy round, 40
 * of them are frozen (SIGSTOP) at the same moment. Measured:
 *
 * - the time from the freeze until all 40 run again with a new pid
 *   (and the per-service min/median/max);
 * - false restarts: unfrozen services whose pid changed;
 * - the listener's RSS (VmRSS from /proc), sampled through the run: peak and last.
 *
 * Run:  deno run -A bench/http_round.ts   (or `deno task bench`)
 *
 * Prints each figure with its target and PASS/MISS; exits 0 whatever the
 * figures, 1 only when the benchmark itself broke. KEEP_SUPERVISORD_DIR=1
 * keeps the temp dir (supervisord.log, bench.err.log) for a look afterwards.
 */
import type { ProcessInfo } from "../lib/check.ts";
import { STATE_RUNNING } from "../lib/supervisor.ts";
import {
  freePorts,
  listenerSection,
  Supervisord,
  webProgram,
} from "../tests/support/supervisord.ts";

const SERVICES = 60;
const FROZEN = 40;
const START_TIMEOUT_MS = 120_000;
/** Long enough for a TICK_5 and the round it starts. */
const HEALTHY_ROUND_MS = 6_000;
const RESTART_TIMEOUT_MS = 60_000;
const POLL_MS = 250;
/** After the last restart, watch one more TICK_5 round for late false restarts. */
const SETTLE_MS = 6_000;
const RSS_EVERY_MS = 500;

const TARGET_ALL_RESTARTED_S = 20;
const TARGET_FALSE_RESTARTS = 0;
const TARGET_RSS_MB = 40;

const LISTENER = "bench";
const LISTENER_ARGS = [
  "http",
  "-n",
  LISTENER,
  "-g",
  "web",
  "-p",
  ".+_(\\d+)",
  "-u",
  "/ping",
  "-t",
  "2",
  "-r",
  "2",
];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const spec = (p: Pick<ProcessInfo, "group" | "name">) => `${p.group}:${p.name}`;

function progress(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 23)}] ${message}`);
}

/** VmRSS of `pid` in kB, or undefined when it cannot be read (process gone). */
async function rssKb(pid: number): Promise<number | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = status.match(/^VmRSS:\s+(\d+)\s+kB$/m);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS in the background until stopped. */
class RssSampler {
  peakKb = 0;
  firstKb: number | undefined;
  lastKb: number | undefined;
  samples = 0;
  #stopped = false;
  readonly #loop: Promise<void>;

  constructor(readonly pid: number, everyMs: number) {
    this.#loop = (async () => {
      while (!this.#stopped) {
        await this.sample();
        await sleep(everyMs);
      }
    })();
  }

  async sample(): Promise<void> {
    const kb = await rssKb(this.pid);
    if (kb === undefined) return;
    this.samples++;
    this.firstKb ??= kb;
    this.lastKb = kb;
    this.peakKb = Math.max(this.peakKb, kb);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}

async function pidsBySpec(sv: Supervisord): Promise<Map<string, ProcessInfo>> {
  return new Map((await sv.processes()).map((p) => [spec(p), p]));
}

function median(sorted: number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");

async function run(): Promise<void> {
  const ports = freePorts(SERVICES);
  const names = ports.map((p) => `web_${p}`);
  const specs = names.map((n) => `web:${n}`);
  const frozenSpecs = specs.slice(0, FROZEN);
  const otherSpecs = specs.slice(FROZEN);

  progress(`starting supervisord with ${SERVICES} web services and the listener`);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      names.map((n, i) => webProgram(n, ports[i])).join("\n") +
      `[group:web]\nprograms=${names.join(",")}\n\n` +
      listenerSection(LISTENER, LISTENER_ARGS, dir),
  });
  progress(`supervisord dir: ${sv.dir}`);
  const onInterrupt = () => {
    progress("interrupted: stopping supervisord");
    sv.stop().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onInterrupt);

  let rss: RssSampler | undefined;
  try {
    const t0 = performance.now();
    let before = await sv.waitRunning(specs, START_TIMEOUT_MS);
    progress(`all ${SERVICES} services RUNNING after ${s(performance.now() - t0)}`);

    const listener = await sv.process(LISTENER);
    if (listener.state !== STATE_RUNNING) {
      throw new Error(`the listener is ${listener.statename}, not RUNNING`);
    }
    rss = new RssSampler(listener.pid, RSS_EVERY_MS);

    // one healthy round: nothing may be restarted
    await sleep(HEALTHY_ROUND_MS);
    const falseRestarts = new Set<string>();
    const afterHealthy = await sv.waitRunning(specs, START_TIMEOUT_MS);
    for (const sp of specs) {
      if (afterHealthy[sp] !== before[sp]) {
        falseRestarts.add(sp);
        progress(
          `${sp} restarted during the healthy round (pid ${before[sp]} → ${afterHealthy[sp]})`,
        );
      }
    }
    before = afterHealthy;

    // freeze the 40 at (nearly) the same moment: their pids are known, no round trips
    const frozenAt = performance.now();
    for (const sp of frozenSpecs) Deno.kill(before[sp], "SIGSTOP");
    progress(`froze ${FROZEN} services in ${(performance.now() - frozenAt).toFixed(1)} ms`);

    const restartedAfterMs = new Map<string, number>();
    const restartedAgain = new Set<string>();
    const firstNewPid = new Map<string, number>();
    let settleUntil = Infinity;
    const deadline = frozenAt + RESTART_TIMEOUT_MS;
    while (performance.now() < Math.min(deadline, settleUntil)) {
      await sleep(POLL_MS);
      const now = await pidsBySpec(sv);
      const seenAt = performance.now() - frozenAt;
      for (const sp of frozenSpecs) {
        const p = now.get(sp);
        if (!p || p.state !== STATE_RUNNING || p.pid === before[sp]) continue;
        const first = firstNewPid.get(sp);
        if (first === undefined) {
          firstNewPid.set(sp, p.pid);
          restartedAfterMs.set(sp, seenAt);
        } else if (first !== p.pid) {
          restartedAgain.add(sp);
        }
      }
      for (const sp of otherSpecs) {
        const p = now.get(sp);
        if (!p || (p.pid === before[sp] && p.state === STATE_RUNNING)) continue;
        if (!falseRestarts.has(sp)) {
          progress(`false restart: ${sp} now pid ${p.pid} (${p.statename})`);
        }
        falseRestarts.add(sp);
      }
      if (restartedAfterMs.size === FROZEN && settleUntil === Infinity) {
        progress(`all ${FROZEN} restarted after ${s(seenAt)}; watching one more round`);
        settleUntil = performance.now() + SETTLE_MS;
      }
    }
    await rss.stop();
    await rss.sample();
    const listenerAfter = await sv.process(LISTENER);
    const log = await sv.listenerLog(LISTENER);

    // the figures
    const times = [...restartedAfterMs.values()].sort((a, b) => a - b);
    const allRestarted = times.length === FROZEN;
    const totalMs = allRestarted ? times[times.length - 1] : undefined;
    const peakMb = rss.peakKb / 1024;
    const lastMb = (rss.lastKb ?? 0) / 1024;
    const firstMb = (rss.firstKb ?? 0) / 1024;
    const count = (re: RegExp) => log.match(re)?.length ?? 0;

    console.log(
      `http round benchmark: ${SERVICES} services in [group:web], ${FROZEN} frozen, ` +
        `http -t 2 -r 2 on TICK_5`,
    );
    console.log(
      `all ${FROZEN} restarted:  ` +
        (totalMs !== undefined
          ? `${s(totalMs)} after the freeze`
          : `only ${times.length}/${FROZEN} within ${s(RESTART_TIMEOUT_MS)}`) +
        `  (target ≤ ${TARGET_ALL_RESTARTED_S} s)  ` +
        verdict(totalMs !== undefined && totalMs <= TARGET_ALL_RESTARTED_S * 1000),
    );
    if (times.length > 0) {
      console.log(
        `  per service:       min ${s(times[0])}, median ${s(median(times))}, ` +
          `max ${s(times[times.length - 1])} (polled every ${POLL_MS} ms)`,
      );
    }
    console.log(
      `false restarts:      ${falseRestarts.size} of ${SERVICES - FROZEN} unfrozen` +
        (falseRestarts.size ? ` (${[...falseRestarts].join(", ")})` : "") +
        `  (target ${TARGET_FALSE_RESTARTS})  ` +
        verdict(falseRestarts.size <= TARGET_FALSE_RESTARTS),
    );
    console.log(
      `listener RSS:        peak ${peakMb.toFixed(1)} MB, last ${lastMb.toFixed(1)} MB ` +
        `(first ${
          firstMb.toFixed(1)
        } MB, ${rss.samples} samples)  (target ≤ ${TARGET_RSS_MB} MB)  ` +
        verdict(rss.samples > 0 && peakMb <= TARGET_RSS_MB),
    );
    console.log(
      `  listener log:      ${count(/: restarted \(/g)} restarts, ` +
        `${count(/restart failed/g)} failed, ${count(/restart skipped/g)} skipped, ` +
        `${count(/skipping TICK_5/g)} TICK_5 skipped; listener ${listenerAfter.statename}` +
        (restartedAgain.size ? `; ${restartedAgain.size} frozen services restarted twice` : ""),
    );
    console.log(
      "(the Python supervisor_checks needs about 53 s for this set-up " +
        "because it checks 16 processes at a time)",
    );
  } finally {
    await rss?.stop();
    Deno.removeSignalListener("SIGINT", onInterrupt);
    progress("stopping supervisord");
  }
}

try {
  await run();
} catch (e) {
  console.error(`benchmark broke: ${(e as Error).stack ?? e}`);
  Deno.exit(1);
}
