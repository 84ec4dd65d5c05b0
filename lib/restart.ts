/**
 * Restarting a process through supervisord, safely: only a process still
 * RUNNING with the pid that failed its check is touched (re-read right
 * before acting), then stopProcess and startProcess, each step's fault
 * reported by name. The one restart path for every listener: RestartHooks
 * adapt it (httpok's gcore and --restart-command), the finisher completes it
 * if the listener dies, and every outcome is counted here for /metrics.
 */
import { namespec, type ProcessInfo } from "./check.ts";
import { listenerMetrics, type RestartCount } from "./metrics.ts";
import { PROC_ROOT, readStat } from "./proc.ts";
import {
  CONTROL_TIMEOUT_MS,
  STATE_RUNNING,
  type SupervisorClient,
  SupervisorFault,
  SupervisorUnavailable,
} from "./supervisor.ts";

export type RestartOutcome =
  /** stopped and started again */
  | "restarted"
  /** left alone: it changed since it was checked */
  | "skipped"
  /** a step failed; `detail` says which and why */
  | "failed"
  /** the listener is stopping: its finisher process completes the restart */
  | "handed-over";

export interface RestartResult {
  outcome: RestartOutcome;
  detail: string;
  /** pid after the restart, when it came back RUNNING */
  newPid?: number;
  /** it was stopped by a signal (state T) and was sent SIGCONT to act on the stop */
  resumed?: boolean;
  /** what RestartHooks.before said (a core dump's output) */
  before?: string;
  /**
   * It may be left STOPPED and supervisord could not be asked in time: the
   * finisher keeps holding it, and starts it once the listener ends.
   */
  unfinished?: boolean;
}

/**
 * How a listener adapts the careful restart (httpok: a core dump first,
 * --restart-command instead of stop and start). Both run only once the
 * process has been re-read RUNNING with the pid that failed.
 */
export interface RestartHooks {
  /**
   * Runs before the stop; what it says goes into RestartResult.before. The
   * process is read again after it, and left alone if it changed meanwhile.
   */
  before?(process: ProcessInfo): Promise<string>;
  /** What `before` is called in a skipped restart's detail ("the core dump"). */
  beforeName?: string;
  /** Restarts it another way than stopProcess/startProcess, held by the finisher all the same. */
  instead?(process: ProcessInfo): Promise<{ ok: boolean; detail: string }>;
  /** How a dry run says what the hooks would add (" after a core dump (gcore not run)"). */
  dryRun?: string;
}

/**
 * A process stopped by a signal (state T: SIGSTOP, job control) cannot act
 * on supervisord's stop signal, so supervisord would wait out its
 * stopwaitsecs (10 s by default) and SIGKILL it. Once the stop has been
 * requested, resume it so it can shut down at once, gracefully. Needs
 * /proc and permission to signal the process; without them, nothing
 * changes (supervisord still SIGKILLs it in the end).
 */
async function resumeIfStopped(pid: number, procRoot: string): Promise<boolean> {
  const stat = await readStat(pid, procRoot);
  if (stat?.state !== "T") return false;
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

function faultText(e: unknown): string {
  if (e instanceof SupervisorFault) {
    // supervisord's fault strings usually start with the name already ("BAD_NAME: x")
    return e.faultString.startsWith(e.faultName)
      ? e.faultString
      : `${e.faultName}: ${e.faultString}`;
  }
  return (e as Error)?.message ?? String(e);
}

/**
 * The process as supervisord sees it right now, or the result to report
 * when it cannot be read: skipped when supervisord no longer knows it,
 * failed when supervisord cannot be asked.
 */
async function reread(
  client: SupervisorClient,
  spec: string,
): Promise<ProcessInfo | RestartResult> {
  try {
    return await client.getProcessInfo(spec);
  } catch (e) {
    if (e instanceof SupervisorFault) {
      return { outcome: "skipped", detail: `re-reading ${spec} failed (${faultText(e)})` };
    }
    return { outcome: "failed", detail: faultText(e) };
  }
}

/** The pid after a start, for the log; undefined when it cannot be read. */
async function pidAfterStart(client: SupervisorClient, spec: string): Promise<number | undefined> {
  try {
    return (await client.getProcessInfo(spec)).pid;
  } catch {
    return undefined;
  }
}

/**
 * Counts a restart's outcome for `owner` (the check entry, httpok's name):
 * restartProcess counts every outcome once per request
 * (supervisor_checks_restarts_total); the listeners count here the restarts
 * they decide against (dry run, budget spent). A restart handed to the
 * finisher counts as handed-over, and no listener counts it again.
 */
export function countRestart(
  owner: string,
  process: Pick<ProcessInfo, "group" | "name">,
  outcome: RestartCount,
) {
  listenerMetrics.restarts.inc({ check: owner, group: process.group, name: process.name, outcome });
}

/** Counts the result as it reaches the caller. */
function counted(
  owner: string,
  process: ProcessInfo,
  result: Promise<RestartResult>,
): Promise<RestartResult> {
  return result.then((r) => {
    countRestart(owner, process, r.outcome);
    return r;
  });
}

/**
 * What restarts need of the finisher (lib/finisher.ts): told before a stop,
 * told after the start. Declared here so that this module does not import it.
 */
export interface Finisher {
  readonly pid?: number;
  /** false: it could not take the restart (the stop must not go ahead). */
  begin(spec: string, pid: number, check: string): Promise<boolean>;
  end(spec: string): Promise<void>;
}

/** The finisher that guards restarts in this OS process, once a listener has set one. */
let finisher: Finisher | undefined;

export function useFinisher(f: Finisher | undefined) {
  finisher = f;
}

interface InFlight {
  /** The check (run --config entry, httpok name) that started it. */
  owner: string;
  done: Promise<RestartResult>;
  /** true once the finisher holds it (the listener need not wait for it); false if never. */
  held: Promise<boolean>;
}

/** Restarts under way in this OS process, by namespec, whichever check started them. */
const inFlight = new Map<string, InFlight>();

export interface RestartOptions {
  /** Who asks, for the log line of a second check joining a restart under way. */
  owner?: string;
  /**
   * The listener stopping: a restart its finisher holds then resolves at once
   * as "handed-over" instead of waiting for the stop and the start.
   */
  signal?: AbortSignal;
  /** where /proc is read (tests: a missing one) */
  procRoot?: string;
  hooks?: RestartHooks;
}

/**
 * Restarts `failed` if it is still RUNNING with the same pid. Restarts are
 * tracked for the whole OS process, whoever asks: a restart of the same
 * process already under way (another entry of run --config) is joined and
 * resolves when that one ends, as "skipped". Once a listener has set a
 * Finisher, the restart is handed to it before its stop, so the start
 * happens even if the listener is stopped or killed meanwhile.
 */
export function restartProcess(
  client: SupervisorClient,
  failed: ProcessInfo,
  { owner = "another check", signal, procRoot = PROC_ROOT, hooks }: RestartOptions = {},
): Promise<RestartResult> {
  const spec = namespec(failed);
  const running = inFlight.get(spec);
  if (running !== undefined) {
    return counted(
      owner,
      failed,
      untilHandedOver(running, signal).then((r) => ({
        outcome: r.outcome === "handed-over" ? r.outcome : "skipped",
        detail: `already being restarted by ${running.owner} (${r.outcome}: ${r.detail})`,
      })),
    );
  }
  let markHeld!: (held: boolean) => void;
  const held = new Promise<boolean>((resolve) => markHeld = resolve);
  const done = stopAndStart(client, failed, owner, procRoot, markHeld, hooks, signal).finally(
    () => {
      markHeld(false);
      inFlight.delete(spec);
    },
  );
  const entry = { owner, done, held };
  inFlight.set(spec, entry);
  return counted(owner, failed, untilHandedOver(entry, signal));
}

/** The restart's result, or "handed-over" as soon as `signal` aborts while the finisher holds it. */
function untilHandedOver(entry: InFlight, signal?: AbortSignal): Promise<RestartResult> {
  if (signal === undefined) return entry.done;
  return new Promise((resolve) => {
    const handOver = () =>
      entry.held.then((held) => {
        if (!held) return;
        resolve({
          outcome: "handed-over",
          detail: `the listener is stopping: its finisher (pid ${finisher?.pid ?? "?"}) ` +
            "starts it again once it has stopped",
        });
      });
    if (signal.aborted) handOver();
    else signal.addEventListener("abort", handOver, { once: true });
    entry.done.then(resolve).finally(() => signal.removeEventListener("abort", handOver));
  });
}

/**
 * Why `current` must be left alone, if it must: no longer RUNNING, or
 * RUNNING with another pid than `pid` since `since`.
 */
function leftAlone(current: ProcessInfo, pid: number, since: string): RestartResult | undefined {
  if (current.state !== STATE_RUNNING) {
    return {
      outcome: "skipped",
      detail: `now ${current.statename}, not RUNNING: left to supervisord`,
    };
  }
  if (current.pid !== pid) {
    return {
      outcome: "skipped",
      detail: `pid changed from ${pid} to ${current.pid} ${since}: already restarted`,
    };
  }
}

/** `work`'s value, or undefined as soon as `signal` aborts. */
function unlessAborted<T>(
  work: Promise<T>,
  signal?: AbortSignal,
): Promise<{ value: T } | undefined> {
  if (signal === undefined) return work.then((value) => ({ value }));
  return new Promise((resolve, reject) => {
    const stop = () => resolve(undefined);
    if (signal.aborted) return stop();
    signal.addEventListener("abort", stop, { once: true });
    work.then((value) => resolve({ value }), reject)
      .finally(() => signal.removeEventListener("abort", stop));
  });
}

async function stopAndStart(
  client: SupervisorClient,
  failed: ProcessInfo,
  owner: string,
  procRoot: string,
  markHeld: (held: boolean) => void,
  hooks: RestartHooks = {},
  signal?: AbortSignal,
): Promise<RestartResult> {
  const spec = namespec(failed);
  const current = await reread(client, spec);
  if ("outcome" in current) return current;
  let target: ProcessInfo = current;
  const changed = leftAlone(current, failed.pid, "since the check");
  if (changed) return changed;

  let before: string | undefined;
  if (hooks.before) {
    // a core dump may take minutes: a listener stopping meanwhile does not wait for it
    const said = await unlessAborted(hooks.before(current), signal);
    if (said === undefined) {
      return {
        outcome: "skipped",
        detail: "the listener is stopping: not restarted (its stop was never requested)",
      };
    }
    before = said.value;
    // it may have died and been started again meanwhile: that one is not the one that failed
    const again = await reread(client, spec);
    if ("outcome" in again) return { ...again, before };
    const what = hooks.beforeName ?? "the step before the stop";
    const moved = leftAlone(again, failed.pid, `during ${what}`);
    if (moved) return { ...moved, before };
    target = again;
  }
  // from here on the process may be left stopped: the finisher must know before the stop
  const holder = finisher;
  const held = await holder?.begin(spec, target.pid, owner) ?? false;
  markHeld(held);
  let unfinished = false;
  try {
    const result = hooks.instead
      ? await hooks.instead(target).then(({ ok, detail }): RestartResult => ({
        outcome: ok ? "restarted" : "failed",
        detail,
      }))
      : await stopThenStart(client, spec, target.pid, procRoot);
    unfinished = result.unfinished === true;
    return before === undefined ? result : { ...result, before };
  } finally {
    // unfinished: it may be STOPPED, and only the finisher can still start it
    if (held && !unfinished) await holder?.end(spec);
  }
}

async function stopThenStart(
  client: SupervisorClient,
  spec: string,
  pid: number,
  procRoot: string,
): Promise<RestartResult> {
  const steps: string[] = [];
  // the stop's outcome is captured at once: a fast fault must not be an unhandled rejection
  const stopping = client.stopProcess(spec, true).then(
    () => undefined,
    (e: unknown) => ({ error: e }),
  );
  const resumed = await resumeIfStopped(pid, procRoot);
  const stopFailure = await stopping;
  if (stopFailure === undefined) {
    steps.push("stopped");
  } else if (stopFailure.error instanceof SupervisorUnavailable) {
    // the stop may have been carried out all the same: it must not stay STOPPED
    steps.push(`stop: ${stopFailure.error.message}`);
    return { ...await recovered(client, spec, pid, steps), resumed };
  } else {
    // NOT_RUNNING: it died meanwhile. Anything else: try the start anyway,
    // as the original does; the start's answer tells what state it is in.
    steps.push(`stop failed (${faultText(stopFailure.error)})`);
  }
  try {
    await client.startProcess(spec, true);
  } catch (e) {
    steps.push(`start failed (${faultText(e)})`);
    return { ...await recovered(client, spec, pid, steps), resumed };
  }
  steps.push("started");
  return {
    outcome: "restarted",
    detail: steps.join(", "),
    newPid: await pidAfterStart(client, spec),
    resumed,
  };
}

/**
 * After a stop or a start that failed once the stop was requested: makes
 * sure it is not left STOPPED ({@link completeRestart}).
 */
async function recovered(
  client: SupervisorClient,
  spec: string,
  pid: number,
  steps: string[],
): Promise<RestartResult> {
  const c = await completeRestart(client, spec, pid);
  const detail = `${steps.join(", ")}; ${completionText(c)}`;
  if (c.ended === "started") return { outcome: "restarted", detail, newPid: c.pid };
  return { outcome: "failed", detail, unfinished: c.ended === "gave-up" || undefined };
}

/**
 * A process still RUNNING with the pid being restarted may just not have
 * seen the stop request yet: it is watched this long before concluding
 * that the stop was never carried out.
 */
const STOP_SETTLE_MS = 3_000;
/** supervisord unreachable this long (it is shutting down or gone): give up. */
const UNREACHABLE_GIVE_UP_MS = 15_000;
/** How long a process may stay STOPPING before a restart's completion gives up: 10 minutes. */
const FINISH_DEADLINE_MS = CONTROL_TIMEOUT_MS;
const POLL_MS = 250;

/** How {@link completeRestart} ended. */
export type Completion =
  /** it was STOPPED and has been started: its new pid, when it could be read */
  | { ended: "started"; pid?: number }
  /** still RUNNING with the pid being restarted: its stop was never carried out */
  | { ended: "never-stopped" }
  /** in another state (started by someone else, exited, in backoff): nothing left to do */
  | { ended: "left"; state: string; pid: number }
  /** supervisord unreachable or still STOPPING for too long; a fault reading or starting it */
  | { ended: "gave-up"; why: string };

/** A completion in words, for the log. */
export function completionText(c: Completion): string {
  switch (c.ended) {
    case "started":
      return `started it again: new pid ${c.pid ?? "unknown"}`;
    case "never-stopped":
      return "still RUNNING with the same pid: its stop was never carried out";
    case "left":
      return `now ${c.state}${c.pid ? ` (pid ${c.pid})` : ""}: nothing left to do`;
    case "gave-up":
      return c.why;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Completes a restart of `spec` (RUNNING with `pid` when its stop was
 * requested) whose stop or start may not have gone through: waits up to
 * FINISH_DEADLINE_MS for it to leave STOPPING, then starts it if it is
 * STOPPED. Every step that cannot reach supervisord is tried again, for up
 * to UNREACHABLE_GIVE_UP_MS without an answer. Used by the listener when a
 * step fails, and by the finisher when the listener is gone.
 */
export async function completeRestart(
  client: SupervisorClient,
  spec: string,
  pid: number,
): Promise<Completion> {
  const started = Date.now();
  let unreachableSince: number | undefined;
  const unreachable = async (e: SupervisorUnavailable): Promise<Completion | undefined> => {
    unreachableSince ??= Date.now();
    if (Date.now() - unreachableSince > UNREACHABLE_GIVE_UP_MS) {
      return { ended: "gave-up", why: `supervisord unreachable, giving up: ${e.message}` };
    }
    await sleep(POLL_MS * 4);
  };
  for (;;) {
    let state: ProcessInfo;
    try {
      state = await client.getProcessInfo(spec);
      unreachableSince = undefined;
    } catch (e) {
      if (!(e instanceof SupervisorUnavailable)) {
        return { ended: "gave-up", why: `cannot read it (${faultText(e)}); left to supervisord` };
      }
      const gaveUp = await unreachable(e);
      if (gaveUp) return gaveUp;
      continue;
    }
    const waited = Date.now() - started;
    if (waited > FINISH_DEADLINE_MS) {
      const why = `still ${state.statename} after ${FINISH_DEADLINE_MS / 1000}s, giving up`;
      return { ended: "gave-up", why };
    }
    const same = state.statename === "RUNNING" && state.pid === pid;
    if (state.statename === "STOPPING" || (same && waited < STOP_SETTLE_MS)) {
      await sleep(POLL_MS);
      continue;
    }
    if (same) return { ended: "never-stopped" };
    if (state.statename !== "STOPPED") {
      return { ended: "left", state: state.statename, pid: state.pid };
    }
    try {
      await client.startProcess(spec, true);
    } catch (e) {
      // unanswered: it may have started all the same; ALREADY_STARTED: someone started it
      if (e instanceof SupervisorUnavailable) {
        const gaveUp = await unreachable(e);
        if (gaveUp) return gaveUp;
        continue;
      }
      if (e instanceof SupervisorFault && e.faultName === "ALREADY_STARTED") continue;
      return { ended: "gave-up", why: `start failed (${faultText(e)})` };
    }
    return { ended: "started", pid: await pidAfterStart(client, spec) };
  }
}

/** A stopped process's state in words: `EXITED with status 3`, `FATAL`. */
export function stateText(p: ProcessInfo): string {
  return p.statename === "EXITED" ? `EXITED with status ${p.exitstatus}` : p.statename;
}

/** States `--revive` starts again: given up (FATAL) or exited with a failure status. */
export function needsRevival(p: ProcessInfo): boolean {
  return p.statename === "FATAL" || (p.statename === "EXITED" && (p.exitstatus ?? 0) !== 0);
}

/**
 * Starts a process supervisord gave up on (--revive), if it is still in
 * that state when re-read; `owner` (who asks) labels the count.
 */
export function reviveProcess(
  client: SupervisorClient,
  seen: ProcessInfo,
  owner = "revive",
): Promise<RestartResult> {
  return counted(owner, seen, startAgain(client, seen));
}

async function startAgain(client: SupervisorClient, seen: ProcessInfo): Promise<RestartResult> {
  const spec = namespec(seen);
  const current = await reread(client, spec);
  if ("outcome" in current) return current;
  if (!needsRevival(current)) {
    return { outcome: "skipped", detail: `now ${current.statename}: left to supervisord` };
  }
  try {
    await client.startProcess(spec, true);
  } catch (e) {
    return { outcome: "failed", detail: `start failed (${faultText(e)})` };
  }
  return {
    outcome: "restarted",
    detail: `started from ${current.statename}`,
    newPid: await pidAfterStart(client, spec),
  };
}
