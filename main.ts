/**
 * supervisor-checks: health checks for supervisord-managed services.
 * Parses the subcommand and hands off.
 */
import { CHECKS } from "./checks/mod.ts";
import {
  PROGRAM,
  reportUsageError,
  runCheckListener,
  runComplexListener,
  runConfigListener,
} from "./lib/command.ts";
import { runHttpokCommand } from "./lib/httpok.ts";
import { runHeartbeatCommand } from "./lib/heartbeat.ts";
import { runInstallCompat } from "./lib/install_compat.ts";
import { runServeCommand } from "./lib/serve.ts";
import { VERSION } from "./lib/version.ts";
import { entry } from "./lib/help.ts";
import { runValidateCommand } from "./lib/validate.ts";

function usage(): string {
  // the first sentence of each check's description, wrapped to 80 columns
  const list = (entries: [string, string][]) =>
    entries.flatMap(([name, text]) => entry(name, text, 23)).join("\n");
  const listeners = list([
    ...Object.values(CHECKS).map((c): [string, string] => [
      c.name,
      `${c.description.split(". ")[0].replace(/\.$/, "")}.`,
    ]),
    ["complex", "Several of these checks at once, from JSON (-c) or a YAML/JSON file (--config)."],
    ["run", "Many check sets for many groups in one listener (--config FILE)."],
    ["httpok", "superlance's httpok: restart programs when a URL answers badly."],
  ]);
  const others = list([
    ["serve", "HTTP health sidecar: /health/live, /health/ready, /healthcheck, /metrics."],
    ["heartbeat", "Touch the heartbeat file the file check watches (for shell scripts)."],
    ["install-compat DIR", "The Python package's program names (supervisor_http_check, …)."],
    ["validate FILE…", "Check complex/run/serve config files without supervisord."],
  ]);
  return `Usage: ${PROGRAM} <subcommand> [options]

Event-listener subcommands (run them from a supervisord [eventlistener:x]):
${listeners}

Other subcommands:
${others}

${
    list([["<subcommand> --help", "Flags of a subcommand, with defaults, examples."], [
      "--version",
      "Print the version.",
    ]])
  }

Ready-to-copy configs: examples/ (supervisord sections, run, serve, gunicorn).
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
  if (command === "heartbeat") return await runHeartbeatCommand(rest, `${PROGRAM} heartbeat`);
  const check = CHECKS[command];
  if (check) return await runCheckListener(check, rest);
  if (command === "complex") return await runComplexListener(Object.values(CHECKS), rest);
  if (command === "run") return await runConfigListener(Object.values(CHECKS), rest);
  if (command === "serve") return await runServeCommand(rest);
  if (command === "httpok") return await runHttpokCommand(rest);
  if (command === "validate") {
    const name = `${PROGRAM} validate`;
    try {
      return runValidateCommand(rest, Object.values(CHECKS), name);
    } catch (e) {
      return reportUsageError(name, e);
    }
  }
  if (command === "install-compat") {
    const name = `${PROGRAM} install-compat`;
    try {
      return runInstallCompat(rest, name);
    } catch (e) {
      return reportUsageError(name, e);
    }
  }
  console.error(`${PROGRAM}: unknown subcommand '${command}'\n\n${usage()}`);
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
