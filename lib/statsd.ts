/**
 * The StatsD side of `serve`: a parser for StatsD datagrams, the workers
 * gauge that /health/live reads (Gunicorn's --statsd-host sends
 * `gunicorn.workers`), and a UDP listener (node:dgram; Deno 2.9's own
 * Deno.listenDatagram needs --unstable-net).
 */
import dgram from "node:dgram";
import type { Logger } from "./log.ts";

/** One well-formed metric line. */
export interface StatsdMetric {
  name: string;
  /** `g`, `c`, `ms`, `h`, `d` or `s`. */
  type: string;
  /** The number (gauges, counters, timers); sets (`s`) have none. */
  value?: number;
  /** A gauge written with a sign: a change, not a new value. */
  delta: boolean;
}

export interface ParsedDatagram {
  metrics: StatsdMetric[];
  /** Why (some of) the datagram could not be read; its good lines still count. */
  malformed?: string;
}

/** The metric names whose gauges report the number of workers. */
export const WORKER_GAUGES: readonly string[] = ["workers", "gunicorn.workers"];

const LINE = /^([^:|]+):([^|]*)\|([a-z]+)((?:\|[@#][^|]*)*)$/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NUMERIC_TYPES = new Set(["g", "c", "ms", "h", "d"]);
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses one line, `name:value|type`, optionally followed by `|@rate` and
 * `|#tags` (DogStatsD); returns why it is malformed instead of throwing.
 * Gauges (`g`) set a value (`workers:3|g`) or, signed, change it
 * (`workers:+1|g`, `workers:-1|g`), as etsy's statsd does.
 */
export function parseLine(line: string): StatsdMetric | string {
  const m = LINE.exec(line);
  if (!m) return "not name:value|type";
  const [, name, raw, type, extras] = m;
  if (type === "s") return { name, type, delta: false };
  if (!NUMERIC_TYPES.has(type)) return `unknown metric type '${type}'`;
  for (const extra of extras.split("|").slice(1)) {
    if (extra.startsWith("@") && !(Number(extra.slice(1)) > 0 && Number(extra.slice(1)) <= 1)) {
      return `sample rate '${extra}' is not in (0, 1]`;
    }
  }
  const value = Number(raw);
  if (!NUMBER.test(raw) || !Number.isFinite(value)) return `value '${raw}' is not a number`;
  return { name, type, value, delta: type === "g" && (raw[0] === "+" || raw[0] === "-") };
}

/**
 * Parses a datagram: UTF-8 text, metrics separated by `\n` (or `\r\n`);
 * empty lines are skipped. Never throws.
 */
export function parseDatagram(bytes: Uint8Array): ParsedDatagram {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { metrics: [], malformed: "not UTF-8 text" };
  }
  const metrics: StatsdMetric[] = [];
  let malformed: string | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "") continue;
    const parsed = parseLine(line);
    if (typeof parsed === "string") malformed ??= `${parsed}: ${preview(line)}`;
    else metrics.push(parsed);
  }
  if (metrics.length === 0 && malformed === undefined) malformed = "no metric in it";
  return malformed === undefined ? { metrics } : { metrics, malformed };
}

/** A line shortened and escaped for a log message. */
function preview(line: string): string {
  return JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line);
}

/**
 * The number of workers, from the `workers` / `gunicorn.workers` gauges.
 * With a TTL, a value not updated for that long counts as 0: a gunicorn
 * master that died sends nothing, and its last report would otherwise stand
 * forever (gunicorn never sends a 0, its statsd logger drops zero values).
 */
export class WorkersGauge {
  #value = 0;
  /** Date.now() of the last update; undefined before the first. */
  #updatedAt: number | undefined;

  constructor(
    /** Seconds after the last update at which the value expires (Infinity: never). */
    readonly ttlSeconds = Infinity,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Applies a metric if it is a workers gauge; returns whether it was one, or
   * why it was refused: a change whose result is not a finite number
   * (`workers:+1e308|g` twice) leaves the gauge as it was.
   */
  apply(metric: StatsdMetric): boolean | { refused: string } {
    if (metric.type !== "g" || !WORKER_GAUGES.includes(metric.name)) return false;
    const value = metric.value ?? 0;
    const next = metric.delta ? this.value() + value : value;
    if (!Number.isFinite(next)) {
      return { refused: `${metric.name} change by ${value} overflows (gauge kept)` };
    }
    this.#value = next;
    this.#updatedAt = this.now();
    return true;
  }

  /** The current number of workers: 0 before any report and once expired. */
  value(): number {
    if (this.#updatedAt === undefined || this.expired()) return 0;
    return this.#value;
  }

  /** Whether a report arrived but is older than the TTL. */
  expired(): boolean {
    return this.#updatedAt !== undefined && this.now() - this.#updatedAt > this.ttlSeconds * 1000;
  }

  /** Date.now() of the last update; undefined before the first. */
  get updatedAt(): number | undefined {
    return this.#updatedAt;
  }
}

/** Counts of what the listener received. */
export interface StatsdCounters {
  datagrams: number;
  malformed: number;
}

/**
 * UDP listener feeding a WorkersGauge. Every datagram is parsed in a
 * try/catch and socket errors are logged: nothing a sender does stops it.
 */
export class StatsdListener {
  readonly counters: StatsdCounters = { datagrams: 0, malformed: 0 };
  readonly #socket: dgram.Socket;
  #closed = false;

  private constructor(
    socket: dgram.Socket,
    readonly gauge: WorkersGauge,
    private readonly logger: Logger,
    private readonly onWorkers: () => void,
  ) {
    this.#socket = socket;
  }

  /**
   * Binds host:port (port 0 picks a free one); rejects when it cannot.
   * `onWorkers` runs after each datagram that updated the gauge.
   */
  static listen(
    host: string,
    port: number,
    gauge: WorkersGauge,
    logger: Logger,
    onWorkers: () => void = () => {},
  ): Promise<StatsdListener> {
    const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    const listener = new StatsdListener(socket, gauge, logger, onWorkers);
    return new Promise((resolve, reject) => {
      const failed = (e: Error) => {
        socket.close();
        reject(e);
      };
      socket.once("error", failed);
      socket.bind(port, host, () => {
        socket.off("error", failed);
        socket.on("error", (e) => logger.error(`StatsD socket: ${e.message}`));
        socket.on("message", (bytes) => listener.#receive(bytes));
        resolve(listener);
      });
    });
  }

  /** The bound address (port 0 resolved). */
  get address(): { host: string; port: number } {
    const a = this.#socket.address();
    return { host: a.address, port: a.port };
  }

  #receive(bytes: Uint8Array) {
    this.counters.datagrams++;
    try {
      const { metrics, malformed } = parseDatagram(bytes);
      if (malformed !== undefined) {
        this.counters.malformed++;
        this.logger.debug(`malformed StatsD datagram (${bytes.length} bytes): ${malformed}`);
      }
      let updated = false;
      let refused: string | undefined;
      for (const metric of metrics) {
        const applied = this.gauge.apply(metric);
        if (typeof applied === "object") refused ??= applied.refused;
        else updated = applied || updated;
      }
      if (refused !== undefined && malformed === undefined) {
        this.counters.malformed++;
        this.logger.debug(`malformed StatsD datagram (${bytes.length} bytes): ${refused}`);
      }
      if (updated) this.onWorkers();
    } catch (e) {
      this.counters.malformed++;
      this.logger.error(`StatsD datagram could not be handled: ${(e as Error).message}`);
    }
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}
