/**
 * The single-check listener subcommands (`http`, `tcp`, `memory`, …): one
 * check kind's flags plus the shared listener flags. runCheckListener is
 * also the entry point for custom checks written in TypeScript.
 */
import type { CheckDefinition } from "../lib/check.ts";
import { listenerHelpRows, parseListenerArgs, renderHelp } from "../lib/cli.ts";
import { SUPERVISOR_ENVIRONMENT } from "../lib/help.ts";
import { listen } from "../lib/listen.ts";
import type { Spec } from "../lib/option.ts";
import { PROGRAM } from "../lib/version.ts";
import { examplesFor } from "./examples.ts";

export function listenerHelp(
  name: string,
  command: string,
  description: string,
  title: string,
  own: Spec,
) {
  const rows = listenerHelpRows(own);
  return renderHelp(command, description, [
    { title: "Listener options", rows: rows.listener },
    { title, rows: rows.own },
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
        definition.options.spec,
      );
    }
    return [{ settings: parsed.settings, checks: [{ definition, options: parsed.options }] }];
  });
}
