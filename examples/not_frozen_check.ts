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
import { defineCheck, option, options, runListener, text, unhealthy } from "../mod.ts";

export const notFrozenCheck = defineCheck({
  name: "not_frozen",
  description: "Restart processes that are stopped (state T) instead of running.",
  options: options({
    states: option({ help: "/proc states that count as frozen.", parse: text, default: "Tt" }),
  }),
  retries: () => 1,
  async run(process, { states }) {
    const stat = await Deno.readTextFile(`/proc/${process.pid}/stat`);
    // the state follows the command name, which is in parentheses and may hold anything
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return states.includes(state) ? unhealthy(`process state is ${state} (stopped)`) : true;
  },
});

if (import.meta.main) {
  Deno.exit(
    await runListener({
      checkName: "not_frozen",
      group: Deno.args[0] ?? "workers",
      checks: [[notFrozenCheck, {}]],
    }),
  );
}
