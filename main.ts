/**
 * supervisor-checks: health checks for supervisord-managed services.
 * Finds the subcommand (commands/mod.ts) and hands off.
 */
import { loadCommand, usage } from "./commands/mod.ts";
import { PROGRAM, VERSION } from "./lib/version.ts";

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--version" || command === "-V") {
    console.log(`${PROGRAM} ${VERSION}`);
    return 0;
  }
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(await usage());
    return command === undefined ? 2 : 0;
  }
  const run = await loadCommand(command);
  if (run) return await run(rest);
  console.error(`${PROGRAM}: unknown subcommand '${command}'\n\n${await usage()}`);
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
