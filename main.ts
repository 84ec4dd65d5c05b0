/**
 * supervisor-checks: health checks for supervisord-managed services.
 * Parses the subcommand and hands off.
 */
import { CHECKS } from "./checks/mod.ts";
import { PROGRAM, runCheckListener } from "./lib/command.ts";
import { VERSION } from "./lib/version.ts";

function usage(): string {
  const names = Object.values(CHECKS)
    .map((c) => `  ${c.name.padEnd(10)} ${c.description}`)
    .join("\n");
  return `Usage: ${PROGRAM} <subcommand> [options]

Event-listener subcommands (run them from a supervisord [eventlistener:x]):
${names}

  ${PROGRAM} <subcommand> --help   flags of a subcommand, with defaults
  ${PROGRAM} --version             print the version
`;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--version" || command === "-V") {
    console.log(`${PROGRAM} ${VERSION}`);
    return 0;
  }
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(usage());
    return command === undefined ? 2 : 0;
  }
  const check = CHECKS[command];
  if (check) return await runCheckListener(check, rest);
  console.error(`${PROGRAM}: unknown subcommand '${command}'\n\n${usage()}`);
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
