/**
 * Which of supervisord's processes are event listeners, for -a/--any, which
 * must not check them. supervisord's API does not say (getAllProcessInfo and
 * getAllConfigInfo describe programs and listeners alike), so this tells
 * them apart by what they write.
 */
import { namespec, type ProcessInfo } from "./check.ts";
import type { SupervisorClient } from "./supervisor.ts";

const PROTOCOL_START = /^(READY\n|RESULT \d+\n)/;
/** Below this age a "not a listener" answer is not kept. */
const SETTLE_SECONDS = 10;

/**
 * A process counts as an event listener when it is this listener itself
 * (SUPERVISOR_PROCESS_NAME and SUPERVISOR_GROUP_NAME, which supervisord sets)
 * or when its stdout log starts with the listener protocol's `READY` or
 * `RESULT` token: a listener's stdout is the protocol channel, which
 * supervisord also writes to its stdout_logfile (AUTO unless set). One read
 * of 64 bytes per process life (pid); a process younger than SETTLE_SECONDS
 * is asked again next round, since a listener may not have written READY yet.
 */
export class EventListenerDetector {
  /** `group:name pid` → is a listener */
  readonly #known = new Map<string, boolean>();

  constructor(
    private readonly client: SupervisorClient,
    private readonly self: { name?: string; group?: string } = {
      name: Deno.env.get("SUPERVISOR_PROCESS_NAME"),
      group: Deno.env.get("SUPERVISOR_GROUP_NAME"),
    },
  ) {}

  isSelf(p: Pick<ProcessInfo, "group" | "name">): boolean {
    return this.self.name !== undefined && p.name === this.self.name &&
      (this.self.group === undefined || p.group === this.self.group);
  }

  /** `processes` without the event listeners. */
  async withoutListeners(processes: ProcessInfo[]): Promise<ProcessInfo[]> {
    const verdicts = await Promise.all(processes.map((p) => this.#isListener(p)));
    const present = new Set(processes.map((p) => `${namespec(p)} ${p.pid}`));
    for (const key of this.#known.keys()) if (!present.has(key)) this.#known.delete(key);
    return processes.filter((_, i) => !verdicts[i]);
  }

  async #isListener(p: ProcessInfo): Promise<boolean> {
    if (this.isSelf(p)) return true;
    const key = `${namespec(p)} ${p.pid}`;
    const known = this.#known.get(key);
    if (known !== undefined) return known;
    let head = "";
    try {
      head = String(
        await this.client.call("supervisor.readProcessStdoutLog", [namespec(p), 0, 64]),
      );
    } catch {
      // no stdout log (stdout_logfile=NONE): nothing tells it apart from a program
    }
    const listener = PROTOCOL_START.test(head);
    if (listener || Date.now() / 1000 - p.start >= SETTLE_SECONDS) this.#known.set(key, listener);
    return listener;
  }
}
