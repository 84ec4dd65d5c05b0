/**
 * supervisor-checks: health checks for supervisord-managed services.
 * Parses the subcommand and hands off.
 *
 * Each subcommand loads only its own modules: the imports below are dynamic
 * (a listener does not pay for the sidecar, StatsD or httpok), with static
 * specifiers so that `deno compile` still bundles them all.
 */
import { loadCheck } from "./checks/load.ts";
import type { CheckDefinition } from "./lib/check.ts";
import { entry } from "./lib/help.ts";
import { PROGRAM, VERSION } from "./lib/version.ts";

// deno-lint-ignore no-explicit-any
function usage(CHECKS: Record<string, CheckDefinition<any>>): string {
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
  if (command === "heartbeat") {
    const { runHeartbeatCommand } = await import("./lib/heartbeat.ts");
    return await runHeartbeatCommand(rest, `${PROGRAM} heartbeat`);
  }
  if (command === "install-compat") {
    const { runInstallCompat } = await import("./lib/install_compat.ts");
    const { reportUsageError } = await import("./lib/command.ts");
    const name = `${PROGRAM} install-compat`;
    try {
      return runInstallCompat(rest, name);
    } catch (e) {
      return reportUsageError(name, e);
    }
  }
  if (command === "httpok") return await (await import("./lib/httpok.ts")).runHttpokCommand(rest);
  const check = await loadCheck(command ?? "");
  if (check) return await (await import("./lib/command.ts")).runCheckListener(check, rest);
  const { CHECKS } = await import("./checks/mod.ts");
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(usage(CHECKS));
    return command === undefined ? 2 : 0;
  }
  if (command === "complex") {
    const { runComplexListener } = await import("./lib/command.ts");
    return await runComplexListener(Object.values(CHECKS), rest);
  }
  if (command === "run") {
    const { runConfigListener } = await import("./lib/command.ts");
    return await runConfigListener(Object.values(CHECKS), rest);
  }
  if (command === "serve") return await (await import("./lib/serve.ts")).runServeCommand(rest);
  if (command === "validate") {
    const { runValidateCommand } = await import("./lib/validate.ts");
    const { reportUsageError } = await import("./lib/command.ts");
    const name = `${PROGRAM} validate`;
    try {
      return await runValidateCommand(rest, Object.values(CHECKS), name);
    } catch (e) {
      return reportUsageError(name, e);
    }
  }
  console.error(`${PROGRAM}: unknown subcommand '${command}'\n\n${usage(CHECKS)}`);
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
