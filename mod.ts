/**
 * supervisor-checks as a library: a check of your own, and a binary with it.
 *
 * A check is `defineCheck({ name, run })`: `run` judges one supervisord
 * process and returns true/false or a verdict, sync or async; options, if
 * any, are declared once (`options()`, `option()`, …). `main(Deno.args,
 * { checks: [myCheck] })` is the whole command line with your kinds beside
 * the built-in ones: each a listener subcommand of its name and a kind of
 * `complex -c`, `run --config`, `serve --config` and `validate`.
 * `runCheckListener` and `runListener` run one check as a listener.
 * Imports from anywhere on disk (no import map needed). See
 * examples/not_frozen_check.ts.
 *
 * @module
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
export { main, type MainOptions } from "./main.ts";
