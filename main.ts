/**
 * supervisor-checks: health checks for supervisord-managed services.
 * Finds the subcommand (commands/mod.ts) and hands off. `main` is also a
 * user's binary with check kinds of their own (exported by mod.ts).
 *
 * @module
 */
import { type ExtraKinds, extraKindsProblem, loadCommand, usage } from "./commands/mod.ts";
import { PROGRAM, VERSION } from "./lib/version.ts";

/** What a binary built on this one adds to it. */
export interface MainOptions {
  /**
   * Check kinds of its own (defineCheck): each runs as the listener
   * subcommand of its name and a kind of complex, run, serve and validate
   * configs. A name may not shadow a subcommand or a run config key
   * (start-up error, exit 2).
   */
  checks?: ExtraKinds;
}

/** Runs the command line `argv` (without the program's name); resolves to the exit status. */
export async function main(argv: string[], { checks = [] }: MainOptions = {}): Promise<number> {
  const problem = await extraKindsProblem(checks);
  if (problem) {
    console.error(`${PROGRAM}: ${problem}`);
    return 2;
  }
  const [command, ...rest] = argv;
  if (command === "--version" || command === "-V") {
    console.log(`${PROGRAM} ${VERSION}`);
    return 0;
  }
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(await usage(checks));
    return command === undefined ? 2 : 0;
  }
  const run = await loadCommand(command, checks);
  if (run) return await run(rest);
  console.error(`${PROGRAM}: unknown subcommand '${command}'\n\n${await usage(checks)}`);
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
