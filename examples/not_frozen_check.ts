/**
 * A custom check in a few lines: restart processes the kernel reports as
 * stopped (state T, e.g. frozen by SIGSTOP or stuck under a debugger),
 * read from /proc/<pid>/stat. No network needed, so it also catches workers
 * that serve no port.
 *
 *   deno run -A examples/not_frozen_check.ts GROUP        # as an [eventlistener:x] command
 *   deno compile -A -o not-frozen examples/not_frozen_check.ts
 *
 * Written against the public API in mod.ts, as any user's check would be.
 */
import { type CheckDefinition, healthy, runListener, unhealthy, unknown, z } from "../mod.ts";

const schema = z.strictObject({
  /** /proc states that count as frozen. */
  states: z.string().regex(/^[A-Za-z]+$/).default("Tt"),
});

export const notFrozenCheck: CheckDefinition<z.output<typeof schema>> = {
  name: "not_frozen",
  description: "Restart processes that are stopped (state T) instead of running.",
  options: [{
    key: "states",
    long: "states",
    type: "string",
    help: "Process states (letters of /proc/PID/stat) that count as frozen.",
    defaultText: "Tt",
  }],
  schema,
  retries: () => 1,
  async run(process, options) {
    let stat: string;
    try {
      stat = await Deno.readTextFile(`/proc/${process.pid}/stat`);
    } catch (e) {
      return unknown(`cannot read /proc/${process.pid}/stat: ${(e as Error).message}`);
    }
    // the state follows the command name, which is in parentheses and may hold anything
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return options.states.includes(state)
      ? unhealthy(`process state is ${state} (stopped)`)
      : healthy(`process state is ${state}`);
  },
};

if (import.meta.main) {
  Deno.exit(
    await runListener({
      checkName: "not_frozen",
      group: Deno.args[0] ?? "workers",
      checks: [[notFrozenCheck, {}]],
    }),
  );
}
