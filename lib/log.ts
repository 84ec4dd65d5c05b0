/**
 * Logging to stderr, never stdout: in listener mode stdout belongs to the
 * event-listener protocol. Every line carries a timestamp, the check name
 * and, where there is one, the process; `text` lines are for people, `json`
 * writes one object per line for log shippers. Every message is redacted
 * (lib/redact.ts) on its way out, whoever built it.
 */
import { redact, TEXT_CHARS } from "./redact.ts";

export type Level = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";

const LEVEL_ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogFields {
  /** `group:name` */
  process?: string;
  pid?: number;
  /** healthy | unhealthy | unknown */
  verdict?: string;
  /** the check(s) that failed, or why an action was taken */
  reason?: string;
  durationMs?: number;
}

const encoder = new TextEncoder();

export function writeAllSync(file: { writeSync(p: Uint8Array): number }, bytes: Uint8Array) {
  let offset = 0;
  while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
}

export class Logger {
  constructor(
    readonly checkName: string,
    private readonly minLevel: Level = "info",
    private readonly sink: (line: string) => void = (line) =>
      writeAllSync(Deno.stderr, encoder.encode(line)),
    private readonly format: LogFormat = "text",
  ) {}

  /** The same destination, level and format under another check name. */
  named(checkName: string): Logger {
    return new Logger(checkName, this.minLevel, this.sink, this.format);
  }

  /**
   * One line, `json` with the structured fields (process, pid, verdict,
   * reason, duration) as keys. Message and fields pass redact: secrets
   * masked, control characters visible (a newline in a fault string cannot
   * start a forged line, an escape code cannot reach a terminal) and cut to
   * TEXT_CHARS characters.
   */
  log(level: Level, message: string, fields: LogFields = {}) {
    if (LEVEL_ORDER[level] < LEVEL_ORDER[this.minLevel]) return;
    const time = new Date().toISOString();
    message = redact(message, TEXT_CHARS);
    fields = { ...fields };
    if (fields.process !== undefined) fields.process = redact(fields.process, TEXT_CHARS);
    if (fields.reason !== undefined) fields.reason = redact(fields.reason, TEXT_CHARS);
    if (this.format === "json") {
      this.sink(
        JSON.stringify({ time, level, check: this.checkName, ...fields, message }) + "\n",
      );
      return;
    }
    const where = fields.process
      ? ` ${fields.process}${fields.pid ? ` (pid ${fields.pid})` : ""}:`
      : "";
    const name = redact(this.checkName, TEXT_CHARS);
    this.sink(`${time} ${level.toUpperCase()} [${name}]${where} ${message}\n`);
  }

  debug(message: string, fields?: LogFields) {
    this.log("debug", message, fields);
  }
  info(message: string, fields?: LogFields) {
    this.log("info", message, fields);
  }
  warn(message: string, fields?: LogFields) {
    this.log("warn", message, fields);
  }
  error(message: string, fields?: LogFields) {
    this.log("error", message, fields);
  }
}
