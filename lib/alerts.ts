/**
 * Alerts about processes that crash or give up (superlance's crashmail,
 * crashmailbatch, fatalmailbatch, crashsms), knowing no subcommand: which
 * processes and events are alerts, what supervisord can add to one, and how
 * often they go out (one message each, rate-limited, or gathered in batches
 * per interval of TICK events).
 */
import type { Delivery, Notification, Notifier, RestartReport } from "./notify.ts";
import type { Logger } from "./log.ts";
import { type ProcessStateEvent, tickSeconds } from "./process_events.ts";
import { redact } from "./redact.ts";
import type { SupervisorClient } from "./supervisor.ts";

export type AlertKind = "crash" | "fatal" | "backoff";

/** One alert: the event, when it came, and what supervisord could tell about it. */
export interface Alert {
  kind: AlertKind;
  event: ProcessStateEvent;
  time: Date;
  /** `exit status 3`, `terminated by SIGSEGV`, a spawn error; from supervisord. */
  exit?: string;
  /** The last lines of the stderr log, each escaped and cut. */
  stderr?: string[];
  /** Why some details are missing. */
  missing?: string;
  /** Resolves once the details are in (or given up); never rejects. */
  details?: Promise<void>;
}

// ---------------------------------------------------------------------------
// Which processes

/** Processes by `name` (in any group) or `group:name`, by group, or any. */
export class AlertSelection {
  constructor(
    readonly programs: string[],
    readonly groups: string[],
    readonly any: boolean,
  ) {}

  /** Nothing named: every process, as superlance's programs do. */
  get everything(): boolean {
    return this.any || (this.programs.length === 0 && this.groups.length === 0);
  }

  matches(e: Pick<ProcessStateEvent, "name" | "group" | "process">): boolean {
    if (this.everything) return true;
    return this.groups.includes(e.group) ||
      this.programs.some((p) => p === e.process || (!p.includes(":") && p === e.name));
  }

  describe(): string {
    if (this.everything) return "every process";
    return [
      ...this.programs.map((p) => `'${p}'`),
      ...this.groups.map((g) => `group '${g}'`),
    ].join(", ");
  }
}

// ---------------------------------------------------------------------------
// Which events

export interface AlertRules {
  /** PROCESS_STATE_EXITED with expected:0 */
  crash: boolean;
  /** PROCESS_STATE_FATAL */
  fatal: boolean;
  /** PROCESS_STATE_BACKOFF with tries >= this, once per loop; off when undefined. */
  backoffTries?: number;
}

/** Processes remembered for BACKOFF loops, at most (oldest forgotten first). */
const LOOPS_REMEMBERED = 10_000;

/**
 * Which PROCESS_STATE events are alerts: an unexpected exit, FATAL, a BACKOFF
 * loop (the Nth failed start in a row, once a loop).
 */
export class AlertClassifier {
  /** process → the tries of its last BACKOFF alert, while its loop lasts */
  readonly #alerted = new Map<string, number>();

  constructor(readonly rules: AlertRules) {}

  /** The event names this needs from supervisord (for the start-up line). */
  events(): string[] {
    return [
      ...(this.rules.crash ? ["PROCESS_STATE_EXITED"] : []),
      ...(this.rules.fatal ? ["PROCESS_STATE_FATAL"] : []),
      ...(this.rules.backoffTries !== undefined ? ["PROCESS_STATE_BACKOFF"] : []),
    ];
  }

  classify(e: ProcessStateEvent): AlertKind | undefined {
    switch (e.state) {
      case "EXITED":
        return this.rules.crash && e.expected === false ? "crash" : undefined;
      case "FATAL":
        this.#alerted.delete(e.process);
        return this.rules.fatal ? "fatal" : undefined;
      case "BACKOFF": {
        const min = this.rules.backoffTries;
        if (min === undefined || e.tries === undefined || e.tries < min) return undefined;
        const before = this.#alerted.get(e.process);
        // same loop: tries only grow until the process runs (supervisord resets them)
        if (before !== undefined && e.tries > before) return undefined;
        this.#alerted.delete(e.process);
        this.#alerted.set(e.process, e.tries);
        if (this.#alerted.size > LOOPS_REMEMBERED) {
          this.#alerted.delete(this.#alerted.keys().next().value!);
        }
        return "backoff";
      }
      case "RUNNING":
        this.#alerted.delete(e.process);
        return undefined;
      default:
        return undefined;
    }
  }
}

// ---------------------------------------------------------------------------
// What supervisord can add

/** Bytes of the stderr log asked for; only its last lines are kept. */
export const STDERR_TAIL_BYTES = 8192;
/** Characters kept of one stderr line. */
export const STDERR_LINE_CHARS = 300;
/** Most stderr lines an alert may carry. */
export const MAX_STDERR_LINES = 50;
/** Bytes of supervisord's own log searched for how the process exited. */
const MAIN_LOG_BYTES = 16384;
/** Time allowed for each call to supervisord for details. */
export const DETAILS_TIMEOUT_MS = 5_000;
/** Details asked of supervisord at once, at most. */
export const DETAILS_CONCURRENCY = 4;
/** Alerts waiting for details, at most; the others go without (said in the message). */
export const DETAILS_WAITING = 50;

/** Runs at most `limit` tasks at a time; the others wait in order, `maxWaiting` at most. */
class Limiter {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number, readonly maxWaiting: number) {}

  /** True when a task given now could neither run nor wait. */
  get full(): boolean {
    return this.#running >= this.limit && this.#waiting.length >= this.maxWaiting;
  }

  /** Runs `task` when its turn comes; check `full` first (it waits anyway). */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) await new Promise<void>((r) => this.#waiting.push(r));
    this.#running++;
    try {
      return await task();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The last `count` lines of a log tail, the first (partial) line dropped when the tail was cut. */
export function lastLines(tail: string, count: number, cut: boolean): string[] {
  const lines = tail.replace(/\n$/, "").split("\n");
  if (cut) lines.shift();
  return lines.filter((l) => l.trim() !== "").slice(-count).map((l) =>
    redact(l, STDERR_LINE_CHARS)
  );
}

/**
 * Fills in an alert's details from supervisord: how it exited (from
 * supervisord's own log), why it could not start, the last lines of its
 * stderr log; bounded in size and escaped. Never rejects; each call within
 * DETAILS_TIMEOUT_MS, DETAILS_CONCURRENCY at a time, DETAILS_WAITING alerts
 * waiting at most (the others go without, saying so).
 */
export class AlertDetails {
  readonly #limiter = new Limiter(DETAILS_CONCURRENCY, DETAILS_WAITING);

  constructor(
    private readonly client: SupervisorClient,
    /** Lines of the stderr log to add (0: none). */
    readonly stderrLines: number,
  ) {}

  /** Starts fetching; `alert.details` resolves when done. */
  fetch(alert: Alert): void {
    if (this.#limiter.full) {
      alert.missing = `not asked: ${DETAILS_CONCURRENCY} alerts' details being asked of ` +
        `supervisord and ${DETAILS_WAITING} waiting`;
      return;
    }
    alert.details = this.#limiter.run(() => this.#fill(alert));
  }

  async #fill(alert: Alert): Promise<void> {
    const spec = alert.event.process;
    /** why → what could not be had for that reason */
    const problems = new Map<string, string[]>();
    const ask = async <T>(what: string, method: string, params: unknown[]) => {
      try {
        return await this.client.call(method, params, DETAILS_TIMEOUT_MS) as T;
      } catch (e) {
        const why = (e as Error).message;
        problems.set(why, [...problems.get(why) ?? [], what]);
        return undefined;
      }
    };
    const [exit, stderr] = await Promise.all([
      alert.kind === "crash" ? this.#exit(alert, ask) : this.#spawnError(alert, ask),
      this.stderrLines > 0
        ? ask<[string, number, boolean]>("stderr log", "supervisor.tailProcessStderrLog", [
          spec,
          0,
          STDERR_TAIL_BYTES,
        ])
        : undefined,
    ]);
    if (exit) alert.exit = exit;
    if (stderr) {
      const [text, , overflow] = stderr;
      alert.stderr = lastLines(String(text), this.stderrLines, Boolean(overflow));
    }
    if (problems.size) {
      alert.missing = [...problems].map(([why, what]) => `${what.join(", ")}: ${why}`).join("; ");
    }
  }

  /**
   * How it exited, from supervisord's log (`exited: web (exit status 3; not
   * expected)`, signals by name); else from getProcessInfo while the process
   * is still EXITED (autorestart clears the status on the next spawn).
   */
  async #exit(
    alert: Alert,
    ask: <T>(what: string, method: string, params: unknown[]) => Promise<T | undefined>,
  ): Promise<string | undefined> {
    const log = await ask<string>("supervisord's log", "supervisor.readLog", [-MAIN_LOG_BYTES, 0]);
    if (log !== undefined) {
      const pattern = new RegExp(
        `exited: ${escapeRegExp(alert.event.name)} \\(([^)\\n]*); not expected\\)`,
        "g",
      );
      const found = [...String(log).matchAll(pattern)].at(-1);
      if (found) return found[1];
    }
    const info = await ask<Record<string, unknown>>(
      "process info",
      "supervisor.getProcessInfo",
      [alert.event.process],
    );
    if (info && info.statename === "EXITED") return `exit status ${info.exitstatus}`;
    return undefined;
  }

  /** Why it could not start (FATAL, BACKOFF): supervisord's spawnerr. */
  async #spawnError(
    alert: Alert,
    ask: <T>(what: string, method: string, params: unknown[]) => Promise<T | undefined>,
  ): Promise<string | undefined> {
    const info = await ask<Record<string, unknown>>(
      "process info",
      "supervisor.getProcessInfo",
      [alert.event.process],
    );
    const spawnerr = info?.spawnerr;
    return typeof spawnerr === "string" && spawnerr !== "" ? redact(spawnerr, 500) : undefined;
  }
}

/** An alert's details as lines (`exit: …`, `stderr (last 3 lines):`, `  | …`), for a body. */
export function detailLines(alert: Alert, indent = ""): string[] {
  const lines: string[] = [];
  if (alert.exit) {
    lines.push(`${indent}${alert.kind === "crash" ? "exit" : "error"}: ${alert.exit}`);
  }
  if (alert.stderr?.length) {
    lines.push(`${indent}stderr (last ${alert.stderr.length} lines):`);
    lines.push(...alert.stderr.map((l) => `${indent}  | ${l}`));
  } else if (alert.stderr) lines.push(`${indent}stderr: (empty)`);
  if (alert.missing) lines.push(`${indent}(details not available: ${alert.missing})`);
  return lines;
}

/** Waits for an alert's details, at most `ms`. */
export async function detailsOf(alert: Alert, ms = 2 * DETAILS_TIMEOUT_MS + 1_000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    alert.details ?? Promise.resolve(),
    new Promise<void>((r) => timer = setTimeout(r, ms)),
  ]);
  clearTimeout(timer);
}

/** The report a webhook receives for an alert. */
export function alertReport(
  check: string,
  alert: Alert,
  reason: string,
  detail = detailLines(alert).join("\n"),
): RestartReport {
  const e = alert.event;
  return {
    check,
    process: e.process,
    group: e.group,
    name: e.name,
    pid: e.pid ?? 0,
    reason,
    time: alert.time.toISOString(),
    host: Deno.hostname(),
    outcome: { crash: "crashed", fatal: "fatal", backoff: "backoff" }[alert.kind],
    ...(detail ? { detail } : {}),
  };
}

// ---------------------------------------------------------------------------
// How often

/** At most `max` per `windowMs` (sliding); `take()` says whether one more may go. */
export class RateLimiter {
  readonly #times: number[] = [];

  constructor(readonly max: number, readonly windowMs = 60_000, readonly now = Date.now) {}

  take(): boolean {
    const now = this.now();
    while (this.#times.length && this.#times[0] <= now - this.windowMs) this.#times.shift();
    if (this.#times.length >= this.max) return false;
    this.#times.push(now);
    return true;
  }
}

// ---------------------------------------------------------------------------
// One message per alert

/** How a program that sends one message per alert words it. */
export interface SingleFormat {
  /** The alert in one line (logs). */
  line(alert: Alert): string;
  /** Its message; `dropped`: alerts not sent (rate limit) since the previous one. */
  message(alert: Alert, dropped: number): Notification;
}

/** Messages of a SingleSender being sent (details, then delivery) at once, at most. */
export const SINGLE_IN_FLIGHT = 4;
/** Messages of a SingleSender waiting for their turn, at most. */
export const SINGLE_WAITING = 20;

/**
 * One message per alert (crashmail), at most as many as `limiter` lets
 * through, SINGLE_IN_FLIGHT under way and SINGLE_WAITING waiting whatever
 * the limit: an alert past either is logged at WARN, one line each, and
 * counted in the next message. Each alert gets its details before it is sent.
 */
export class SingleSender {
  #dropped = 0;
  readonly #delivering = new Set<Promise<unknown>>();
  readonly #queue = new Limiter(SINGLE_IN_FLIGHT, SINGLE_WAITING);

  constructor(
    readonly notifier: Notifier,
    readonly format: SingleFormat,
    readonly details: AlertDetails | undefined,
    readonly logger: Logger,
    /** With the flag that sets it, for the log (`--max-mails-per-minute 10`). */
    readonly limit?: { limiter: RateLimiter; label: string },
  ) {}

  add(alert: Alert): void {
    const fields = { process: alert.event.process, pid: alert.event.pid };
    const line = this.format.line(alert);
    const enabled = this.notifier.enabled;
    const why = enabled && this.#queue.full
      ? `too many under way: ${SINGLE_IN_FLIGHT} being sent and ${SINGLE_WAITING} waiting`
      : this.limit && !this.limit.limiter.take()
      ? `rate limit: ${this.limit.limiter.max} in the last ` +
        `${this.limit.limiter.windowMs / 1000}s, ${this.limit.label}`
      : undefined;
    if (why) {
      this.#dropped++;
      this.logger.warn(
        `${line}: NOT mailed (${why}; ${this.#dropped} not mailed since the last mail)`,
        fields,
      );
      return;
    }
    this.logger.warn(`${line}, mailing`, fields);
    if (!enabled) return;
    const dropped = this.#dropped;
    this.#dropped = 0;
    const delivery = this.#queue.run(async () => {
      this.details?.fetch(alert);
      await detailsOf(alert);
      await this.notifier.send(this.format.message(alert, dropped), fields);
    });
    this.#delivering.add(delivery);
    delivery.finally(() => this.#delivering.delete(delivery));
  }

  /** Waits for the messages under way. */
  async stop(): Promise<void> {
    await Promise.all([...this.#delivering]);
    await this.notifier.flush();
  }
}

// ---------------------------------------------------------------------------
// Batches

/** Alerts listed one by one in a message, at most; the rest are counted per process. */
export const BATCH_LINES = 200;
/** Alerts of a batch given details (exit, stderr), at most: the first ones. */
export const BATCH_DETAILED = 20;
/** Reports POSTed to a webhook per batch, at most (the rest in one summary report). */
export const BATCH_REPORTS = 20;
/** Times a batch is offered to a channel before it is given up (said at ERROR). */
export const SEND_ATTEMPTS = 3;
/** Processes named in the count of alerts past BATCH_LINES, at most. */
const OVERFLOW_NAMES = 50;
/**
 * Batches a channel keeps for its next message (failed ones, and those
 * gathered while a message is being sent), at most: a later batch is only
 * counted per process, in the newest one kept.
 */
export const PENDING_BATCHES = 5;

/** The alerts of one interval: listed up to BATCH_LINES, then counted per process. */
export class Batch {
  readonly alerts: Alert[] = [];
  /** process → alerts past BATCH_LINES */
  readonly overflow = new Map<string, number>();
  total = 0;
  /** Alerts of later intervals counted here (PENDING_BATCHES were waiting). */
  late = 0;

  add(alert: Alert): boolean {
    this.total++;
    if (this.alerts.length < BATCH_LINES) {
      this.alerts.push(alert);
      return true;
    }
    this.#count(alert.event.process, 1);
    return false;
  }

  #count(process: string, n: number): void {
    this.overflow.set(process, (this.overflow.get(process) ?? 0) + n);
  }

  /** A new batch: this one's alerts as listed and counted, then `later`'s counted per process. */
  with(later: Batch): Batch {
    const b = new Batch();
    b.alerts.push(...this.alerts);
    for (const [p, n] of [...this.overflow, ...later.overflow]) b.#count(p, n);
    for (const a of later.alerts) b.#count(a.event.process, 1);
    b.total = this.total + later.total;
    b.late = this.late + later.total;
    return b;
  }

  /** `… and 300 more alerts not listed: web:web_1 ×120, web:web_2 ×180` */
  overflowLine(): string | undefined {
    const more = this.total - this.alerts.length;
    if (more === 0) return undefined;
    const names = [...this.overflow].sort((a, b) => b[1] - a[1]);
    const shown = names.slice(0, OVERFLOW_NAMES).map(([p, n]) => `${p} ×${n}`).join(", ");
    const rest = names.length > OVERFLOW_NAMES
      ? ` and ${names.length - OVERFLOW_NAMES} more processes`
      : "";
    const late = this.late
      ? `; ${this.late} of them came while ${PENDING_BATCHES} batches waited to be sent`
      : "";
    return `… and ${more} more alerts not listed (limit ${BATCH_LINES} a message${late}): ` +
      `${shown}${rest}`;
  }

  processes(): string {
    return [...new Set(this.alerts.map((a) => a.event.process)), ...this.overflow.keys()]
      .slice(0, OVERFLOW_NAMES).join(", ");
  }
}

/** How a batch program words its message. */
export interface BatchFormat {
  /** One alert's line as the original writes it. */
  line(alert: Alert): string;
  /** The message of one or more batches (older ones first). */
  message(batches: Batch[]): Notification;
}

/** A batch waiting for a channel, and how often it was offered. */
interface Pending {
  batch: Batch;
  attempts: number;
}

/**
 * One channel's batches: gathered between sends, sent when the TICK events
 * add up to the interval, kept and sent again with the next interval's
 * (SEND_ATTEMPTS times at most) when the channel fails; PENDING_BATCHES kept
 * at most, a later one only counted per process.
 */
export class BatchChannel {
  #pending: Pending[] = [];
  #sending?: Promise<void>;

  constructor(
    readonly notifier: Notifier,
    readonly format: BatchFormat,
    readonly logger: Logger,
  ) {}

  /** Alerts waiting (not yet sent). */
  get waiting(): number {
    return this.#pending.reduce((n, p) => n + p.batch.total, 0);
  }

  /** Sends `current` (the interval's batch, maybe empty) with the ones waiting. */
  flush(current: Batch): Promise<void> {
    if (current.total > 0) this.#keep({ batch: current, attempts: 0 });
    if (this.#pending.length === 0) return Promise.resolve();
    if (this.#sending) {
      this.logger.warn(
        `the previous message is still being sent; ${this.waiting} alerts wait for the next interval`,
      );
      return this.#sending;
    }
    const sending = this.#send().finally(() => this.#sending = undefined);
    this.#sending = sending;
    return sending;
  }

  /** Keeps `p` for the next message, or counts its alerts in the newest kept (PENDING_BATCHES). */
  #keep(p: Pending): void {
    const newest = this.#pending.at(-1);
    if (newest === undefined || this.#pending.length < PENDING_BATCHES) {
      this.#pending.push(p);
      return;
    }
    newest.batch = newest.batch.with(p.batch);
    this.logger.warn(
      `${PENDING_BATCHES} batches wait for ${this.notifier.describe()} already (the limit): ` +
        `${p.batch.total} more alerts only counted per process in the next message ` +
        `(${newest.batch.late} so far)`,
    );
  }

  async #send(): Promise<void> {
    const batches = this.#pending;
    this.#pending = [];
    await Promise.all(batches.flatMap((p) => p.batch.alerts.map((a) => detailsOf(a))));
    const message = this.format.message(batches.map((p) => p.batch));
    const delivery: Delivery = await this.notifier.send(message);
    if (delivery.failures.length === 0) return;
    const kept: Pending[] = [];
    for (const p of batches) {
      p.attempts++;
      if (p.attempts < SEND_ATTEMPTS) kept.push(p);
      else {
        this.logger.error(
          `GIVING UP on ${p.batch.total} alerts after ${p.attempts} failed attempts ` +
            `(${this.notifier.describe()}): ${p.batch.processes()}`,
        );
      }
    }
    if (kept.length) {
      this.logger.error(
        `message of ${kept.reduce((n, p) => n + p.batch.total, 0)} alerts not delivered ` +
          `(${delivery.failures.join("; ")}): sending it again with the next interval's ` +
          `(attempt ${Math.max(...kept.map((p) => p.attempts)) + 1} of ${SEND_ATTEMPTS})`,
      );
    }
    const later = this.#pending;
    this.#pending = kept;
    for (const p of later) this.#keep(p);
  }

  /** Waits for a send under way. */
  async idle(): Promise<void> {
    await this.#sending;
  }
}

/**
 * The batch programs' clock, as superlance's: each `tickEvent` adds its
 * seconds; when they reach the interval (minutes, fractions allowed), the
 * batch goes to every channel (one message per channel, bounded in lines)
 * and a new one starts.
 */
export class BatchSender {
  #batch = new Batch();
  #elapsedSeconds = 0;

  constructor(
    readonly intervalMinutes: number,
    readonly tickEvent: string,
    readonly channels: BatchChannel[],
    readonly details: AlertDetails | undefined,
    readonly logger: Logger,
  ) {}

  add(alert: Alert, line: string): void {
    const listed = this.#batch.add(alert);
    // details for the first ones only: a storm costs BATCH_DETAILED calls a batch
    if (listed && this.#batch.alerts.length <= BATCH_DETAILED) this.details?.fetch(alert);
    if (listed) this.logger.warn(line, { process: alert.event.process, pid: alert.event.pid });
    else if (this.#batch.total === BATCH_LINES + 1) {
      this.logger.warn(
        `more than ${BATCH_LINES} alerts this interval: the others are counted per process`,
      );
    }
  }

  /** A TICK event: sends when the interval is reached. */
  onTick(eventName: string): void {
    if (eventName !== this.tickEvent) return;
    this.#elapsedSeconds += tickSeconds(eventName) ?? 0;
    if (this.#elapsedSeconds < this.intervalMinutes * 60) return;
    this.#elapsedSeconds = 0;
    this.#send();
  }

  #send(): Promise<void[]> {
    const batch = this.#batch;
    this.#batch = new Batch();
    return Promise.all(this.channels.map((c) => c.flush(batch)));
  }

  /** On the way out: one last attempt for what is gathered or waiting; what fails is said. */
  async stop(): Promise<void> {
    await Promise.all(this.channels.map((c) => c.idle()));
    await this.#send();
    for (const c of this.channels) {
      if (c.waiting > 0) {
        this.logger.error(
          `stopping with ${c.waiting} alerts not delivered (${c.notifier.describe()})`,
        );
      }
    }
  }
}
