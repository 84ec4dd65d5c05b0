/**
 * A listener subcommand from argv to exit code: parse and validate flags,
 * connect the pieces, run the event-listener loop. Also the entry point for
 * custom checks written in TypeScript.
 */
import type { CheckDefinition } from "./check.ts";
import { LISTENER_OPTIONS, parseListenerArgs, renderHelp } from "./cli.ts";
import { UsageError } from "./errors.ts";
import { guardStdout, runEventListener } from "./listener.ts";
import { Logger } from "./log.ts";
import { Runner } from "./runner.ts";
import { SupervisorClient, SupervisorConfigError } from "./supervisor.ts";

export const PROGRAM = "supervisor-checks";

/** Prints a start-up error naming the command; returns the exit status. */
export function reportUsageError(command: string, e: unknown): number {
  if (e instanceof UsageError || e instanceof SupervisorConfigError) {
    console.error(`${command}: error: ${e.message}`);
    console.error(`Try '${command} --help'.`);
    return 2;
  }
  throw e;
}

export function checkHelp(definition: CheckDefinition, command: string): string {
  return renderHelp(command, definition.description, [
    { title: "Listener options", options: LISTENER_OPTIONS },
    { title: `${definition.name} check options`, options: definition.options },
  ]);
}

/** Runs `definition` as a supervisord event listener; resolves to the exit code. */
export async function runCheckListener(
  definition: CheckDefinition,
  argv: string[],
  command = `${PROGRAM} ${definition.name}`,
): Promise<number> {
  let runner: Runner;
  let logger: Logger;
  try {
    const parsed = parseListenerArgs(definition, argv);
    if (parsed === "help") {
      console.log(checkHelp(definition, command));
      return 0;
    }
    const { settings, checks } = parsed;
    logger = new Logger(settings.checkName, settings.verbose ? "debug" : "info");
    const client = SupervisorClient.fromEnv();
    runner = new Runner(settings, checks, client, logger);
    logger.info(
      `listening: ${checks.map((c) => c.definition.name).join("+")} check of ` +
        `${settings.selector.describe()} via ${client.display}`,
    );
  } catch (e) {
    return reportUsageError(command, e);
  }
  guardStdout();
  return await runEventListener({
    onEvent(event) {
      if (event.eventName.startsWith("TICK_")) runner.trigger(event.eventName);
      else logger.debug(`ignoring ${event.eventName} event`);
    },
    stop: () => runner.stop(),
  }, logger);
}
