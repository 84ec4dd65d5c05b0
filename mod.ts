/**
 * supervisor-checks as a library: everything a custom check needs.
 *
 * A check is `defineCheck({ name, run })`: `run` judges one supervisord
 * process and returns true/false or a verdict (healthy, unhealthy, unknown),
 * sync or async. Its options, if any, are declared once with `options()`
 * and `option()`/`toggle()`/`list()`: from that come its flags, its config
 * keys, --help and validation. Run it as a supervisord event listener with
 * `runCheckListener(check, Deno.args)` (every shared listener flag plus its
 * own) or `runListener({...})` (all in code), then `deno run -A my_check.ts …`
 * or `deno compile -A my_check.ts`. See examples/not_frozen_check.ts.
 */
export type {
  CheckContext,
  CheckDeclaration,
  CheckDefinition,
  ProcessInfo,
  Verdict,
  VerdictStatus,
} from "./lib/check.ts";
export {
  CheckConfigError,
  defineCheck,
  healthy,
  namespec,
  unhealthy,
  unknown,
} from "./lib/check.ts";
export {
  boolean,
  choice,
  count,
  list,
  type Namer,
  nonEmpty,
  number,
  type Option,
  option,
  OptionError,
  type Options,
  options,
  seconds,
  type Spec,
  text,
  toggle,
  type Values,
} from "./lib/option.ts";
export { host, portSpec } from "./lib/options.ts";
export { type PortSpec, resolvePort } from "./lib/ports.ts";
export { runCheckListener } from "./commands/listener.ts";
export { type ListenerSpec, runListener } from "./lib/listen.ts";
