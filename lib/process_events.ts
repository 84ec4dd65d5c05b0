/**
 * supervisord's PROCESS_STATE_* events, as a listener receives them: the
 * payload is one line of `key:value` tokens (supervisor/events.py):
 *
 *   PROCESS_STATE_EXITED   processname groupname from_state expected pid
 *   PROCESS_STATE_BACKOFF  processname groupname from_state tries
 *   PROCESS_STATE_FATAL    processname groupname from_state
 *
 * Also the time stamps superlance puts in its messages (childutils.get_asctime).
 */
import { parseHeaderLine } from "./protocol.ts";

export const PROCESS_STATE_PREFIX = "PROCESS_STATE_";

/** One PROCESS_STATE_* event. */
export interface ProcessStateEvent {
  /** EXITED, FATAL, BACKOFF, RUNNING, … (the event name without PROCESS_STATE_) */
  state: string;
  name: string;
  group: string;
  /** `group:name` */
  process: string;
  fromState: string;
  /** EXITED only: whether the exit code was one of the program's exitcodes. */
  expected?: boolean;
  /** EXITED, RUNNING, …: the pid (0 when none). */
  pid?: number;
  /** STARTING and BACKOFF: failed starts in a row so far. */
  tries?: number;
}

/**
 * The event, or undefined for an event that is not PROCESS_STATE_*; throws
 * Error with a message for a PROCESS_STATE_* payload it cannot read.
 */
export function parseProcessStateEvent(
  eventName: string,
  payload: string,
): ProcessStateEvent | undefined {
  if (!eventName.startsWith(PROCESS_STATE_PREFIX)) return undefined;
  // the first line only: nothing else follows in supervisord 3 and 4
  const line = payload.split("\n", 1)[0];
  let fields: Record<string, string>;
  try {
    fields = parseHeaderLine(line);
  } catch (e) {
    throw new Error(`unreadable ${eventName} payload: ${(e as Error).message}`);
  }
  const { processname: name, groupname: group } = fields;
  if (!name) throw new Error(`${eventName} payload without processname: '${line}'`);
  const whole = (key: string) => {
    const v = fields[key];
    return v !== undefined && /^-?\d+$/.test(v) ? Number(v) : undefined;
  };
  const expected = whole("expected");
  return {
    state: eventName.slice(PROCESS_STATE_PREFIX.length),
    name,
    group: group || name,
    process: `${group || name}:${name}`,
    fromState: fields.from_state ?? "",
    ...(expected === undefined ? {} : { expected: expected !== 0 }),
    ...(whole("pid") === undefined ? {} : { pid: whole("pid") }),
    ...(whole("tries") === undefined ? {} : { tries: whole("tries") }),
  };
}

/** `2026-11-30 08:40:12,345` in local time, as superlance's childutils.get_asctime writes it. */
export function asctime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())},` +
    String(date.getMilliseconds()).padStart(3, "0");
}

/** Seconds of a TICK event name (`TICK_60` → 60), or undefined when it is not one. */
export function tickSeconds(eventName: string): number | undefined {
  const m = /^TICK_(\d+)$/.exec(eventName);
  return m ? Number(m[1]) : undefined;
}
