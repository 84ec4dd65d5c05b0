/**
 * Runs one configured check against one process: retries a failed attempt
 * with a brief back-off, and turns anything a check throws into an
 * `unknown` verdict, so a broken check can never cause a restart.
 */
import {
  CheckConfigError,
  type ConfiguredCheck,
  type ProcessInfo,
  unknown,
  type Verdict,
} from "./check.ts";
import { recordVerdict } from "./metrics.ts";

export interface ProbeResult extends Verdict {
  check: string;
  attempts: number;
  durationMs: number;
}

/** Pause before retry number `attempt` (1-based): 250 ms, 500 ms, 1 s, 2 s, 2 s… */
export function backoffMs(attempt: number): number {
  return Math.min(250 * 2 ** (attempt - 1), 2000);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Resolves (to unknown) when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<Verdict> {
  return new Promise((resolve) => {
    const done = () => resolve(unknown("listener is stopping; result discarded"));
    if (signal.aborted) done();
    else signal.addEventListener("abort", done, { once: true });
  });
}

const STATUSES: readonly unknown[] = ["healthy", "unhealthy", "unknown"];

/**
 * What a check returned, as a verdict: a custom check that returns nothing
 * (or anything but a verdict) could not judge, so `unknown`, never a
 * restart, and never a crash of the listener.
 */
export function asVerdict(result: unknown, kind: string): Verdict {
  const v = result as Partial<Verdict> | null | undefined;
  if (v && typeof v === "object" && STATUSES.includes(v.status) && typeof v.message === "string") {
    return { status: v.status!, message: v.message };
  }
  const got = v === undefined ? "nothing" : typeof v === "object" ? "an object" : typeof v;
  return unknown(`the ${kind} check returned ${got}, not a verdict`);
}

async function attemptOnce(
  check: ConfiguredCheck,
  process: ProcessInfo,
  signal: AbortSignal,
  attempt: number,
  state: Map<string, unknown>,
): Promise<Verdict> {
  try {
    // a check that ignores the signal must not hold up the listener's shutdown
    return asVerdict(
      await Promise.race([
        check.definition.run(process, check.options, { signal, attempt, state }),
        aborted(signal),
      ]),
      check.definition.name,
    );
  } catch (e) {
    if (e instanceof CheckConfigError) return unknown(`configuration error: ${e.message}`);
    return unknown(`check could not run: ${(e as Error)?.message ?? String(e)}`);
  }
}

export async function probe(
  check: ConfiguredCheck,
  process: ProcessInfo,
  signal: AbortSignal,
  state: Map<string, unknown> = new Map(),
): Promise<ProbeResult> {
  const started = performance.now();
  const attempts = 1 + (check.definition.retries?.(check.options) ?? 0);
  let verdict: Verdict = unknown("not run");
  let attempt = 0;
  while (attempt < attempts) {
    attempt++;
    verdict = await attemptOnce(check, process, signal, attempt, state);
    if (signal.aborted) {
      verdict = unknown("listener is stopping; result discarded");
      break;
    }
    if (verdict.status !== "unhealthy" || attempt === attempts) break;
    await sleep(backoffMs(attempt), signal);
  }
  const durationMs = Math.round(performance.now() - started);
  recordVerdict(check.definition.name, verdict.status, durationMs);
  return { ...verdict, check: check.definition.name, attempts: attempt, durationMs };
}

/**
 * Runs a verdict that depends on no process (httpok's URL) once, under the
 * kind `name`: timed and counted as probe() does, a throw being `unknown`.
 */
export async function probeShared<V extends Verdict>(
  name: string,
  run: (signal: AbortSignal) => Promise<V>,
  signal: AbortSignal,
): Promise<ProbeResult & Partial<V>> {
  const started = performance.now();
  let verdict: V | Verdict;
  try {
    verdict = await Promise.race([run(signal), aborted(signal)]);
  } catch (e) {
    verdict = unknown(`check could not run: ${(e as Error)?.message ?? String(e)}`);
  }
  const durationMs = Math.round(performance.now() - started);
  recordVerdict(name, verdict.status, durationMs);
  return { ...verdict, check: name, attempts: 1, durationMs } as ProbeResult & Partial<V>;
}
