/**
 * A custom check and a binary with it: every built-in subcommand plus
 * `not_frozen`, which restarts processes the kernel reports as stopped
 * (state T: frozen by SIGSTOP, or stuck under a debugger), from /proc.
 *
 *   deno run -A not_frozen_check.ts not_frozen -g workers         # its own listener
 *   deno run -A not_frozen_check.ts complex -g workers -c '{"not_frozen":{},"memory":{"max_rss":"512MB"}}'
 *   deno run -A not_frozen_check.ts run --config checks.yaml       # `not_frozen: {}` in an entry
 *   deno compile -A -o supervisor-checks not_frozen_check.ts
 *
 * @module
 */
import { defineCheck, main, option, options, text, unhealthy } from "../mod.ts";

export const notFrozenCheck = defineCheck({
  name: "not_frozen",
  description: "Restart processes that are stopped (state T) instead of running.",
  options: options({
    states: option({ help: "/proc states that count as frozen.", parse: text, default: "Tt" }),
  }),
  async run(process, { states }) {
    const stat = await Deno.readTextFile(`/proc/${process.pid}/stat`);
    const state = stat[stat.lastIndexOf(")") + 2]; // after the name in (), which may hold anything
    return states.includes(state) ? unhealthy(`process state is ${state} (stopped)`) : true;
  },
});

if (import.meta.main) Deno.exit(await main(Deno.args, { checks: [notFrozenCheck] }));
