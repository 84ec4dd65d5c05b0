/**
 * supervisor-checks as a library: everything a custom check needs.
 *
 * A check is a definition (name, flags, schema, run) whose `run` judges one
 * supervisord process and returns healthy, unhealthy or unknown. Run it as
 * a supervisord event listener with `runCheckListener(def, Deno.args)`
 * (every shared listener flag plus its own) or `runListener({...})` (all in code), then
 * `deno run -A my_check.ts …` or `deno compile -A my_check.ts`.
 * See examples/not_frozen_check.ts.
 */
export type {
  CheckContext,
  CheckDefinition,
  OptionSpec,
  ProcessInfo,
  Verdict,
  VerdictStatus,
} from "./lib/check.ts";
export { CheckConfigError, healthy, namespec, unhealthy, unknown } from "./lib/check.ts";
export { count, host, portSpec, seconds } from "./lib/options.ts";
export { type PortSpec, resolvePort } from "./lib/ports.ts";
export { runCheckListener } from "./commands/listener.ts";
export { type ListenerSpec, runListener } from "./lib/listen.ts";
/** The schema library the definitions use, re-exported so versions match. */
export { z } from "zod";
