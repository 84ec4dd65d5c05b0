/**
 * The single-check listener subcommands (`http`, `tcp`, `memory`, …): one
 * check kind's flags plus the shared listener flags. runCheckListener is
 * also the entry point for custom checks written in TypeScript.
 */
import type { CheckDefinition, OptionSpec } from "../lib/check.ts";
import { configureCheck, listenerOptionsFor, parseListenerArgs, renderHelp } from "../lib/cli.ts";
import { SUPERVISOR_ENVIRONMENT } from "../lib/help.ts";
import { listen } from "../lib/listen.ts";
import { PROGRAM } from "../lib/version.ts";
import { examplesFor } from "./examples.ts";

export function listenerHelp(
  name: string,
  command: string,
  description: string,
  title: string,
  options: OptionSpec[],
) {
  return renderHelp(command, description, [
    { title: "Listener options", options: listenerOptionsFor(options) },
    { title, options },
  ], { examples: examplesFor(name, command), environment: SUPERVISOR_ENVIRONMENT });
}

/** Runs `definition` as a supervisord event listener; resolves to the exit code. */
export function runCheckListener(
  definition: CheckDefinition,
  argv: string[],
  command = `${PROGRAM} ${definition.name}`,
): Promise<number> {
  return listen(command, () => {
    const parsed = parseListenerArgs(definition.options, argv);
    if (parsed === "help") {
      return listenerHelp(
        definition.name,
        command,
        definition.description,
        `${definition.name} check options`,
        definition.options,
      );
    }
    return [{ settings: parsed.settings, checks: [configureCheck(definition, parsed.values)] }];
  });
}
