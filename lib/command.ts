/**
 * Listener subcommands from argv to exit code: parse and validate flags,
 * connect the pieces, run the event-listener loop. runCheckListener is also
 * the entry point for custom checks written in TypeScript.
 */
import type { CheckDefinition, ConfiguredCheck, OptionSpec } from "./check.ts";
import { checksFromConfig, parseJsonConfig, readConfigFile } from "./check_config.ts";
import {
  configureCheck,
  LISTENER_OPTIONS,
  type ListenerSettings,
  parseListenerArgs,
  renderHelp,
} from "./cli.ts";
import { UsageError } from "./errors.ts";
import { guardStdout, runEventListener } from "./listener.ts";
import { Logger } from "./log.ts";
import { Runner } from "./runner.ts";
import { ProcessSelector } from "./select.ts";
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

function listenerHelp(command: string, description: string, title: string, options: OptionSpec[]) {
  return renderHelp(command, description, [
    { title: "Listener options", options: LISTENER_OPTIONS },
    { title, options },
  ]);
}

/**
 * Validates everything that can be validated before the first event, then
 * runs the listener loop until supervisord stops it.
 */
async function listen(
  command: string,
  prepare: () => { settings: ListenerSettings; checks: ConfiguredCheck[] } | string,
): Promise<number> {
  let runner: Runner;
  let logger: Logger;
  try {
    const prepared = prepare();
    if (typeof prepared === "string") {
      console.log(prepared);
      return 0;
    }
    const { settings, checks } = prepared;
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
        command,
        definition.description,
        `${definition.name} check options`,
        definition.options,
      );
    }
    return { settings: parsed.settings, checks: [configureCheck(definition, parsed.values)] };
  });
}

export const COMPLEX_OPTIONS: OptionSpec[] = [
  {
    key: "check_config",
    long: "check-config",
    short: "c",
    type: "string",
    metavar: "JSON",
    help: 'Checks as JSON, the original\'s format: {"http":{"port":8090,"url":"/ping"},' +
      '"memory":{"max_rss":4194304}}.',
  },
  {
    key: "config",
    long: "config",
    type: "string",
    metavar: "FILE",
    help: "The same structure in a YAML or JSON (*.json) file.",
  },
];

/** `complex`: several check kinds on every selected process. */
export function runComplexListener(
  kinds: CheckDefinition[],
  argv: string[],
  command = `${PROGRAM} complex`,
): Promise<number> {
  return listen(command, () => {
    const parsed = parseListenerArgs(COMPLEX_OPTIONS, argv);
    if (parsed === "help") {
      return listenerHelp(
        command,
        "Run several checks on every selected process; a failure of any restarts it. " +
          `Check kinds: ${kinds.map((k) => k.name).join(", ")}, each with its options ` +
          "under the original's key names (url, port, timeout, num_retries, max_rss, …).",
        "complex options (exactly one)",
        COMPLEX_OPTIONS,
      );
    }
    const { check_config: inline, config: file } = parsed.values as Record<string, string>;
    if ((inline === undefined) === (file === undefined)) {
      throw new UsageError("give exactly one of -c/--check-config and --config");
    }
    const config = inline !== undefined
      ? checksFromConfig(parseJsonConfig(inline, "-c/--check-config"), kinds, "-c/--check-config")
      : checksFromConfig(readConfigFile(file), kinds, `--config ${file}`);
    return { settings: parsed.settings, checks: config };
  });
}

export interface ListenerSpec {
  /** Name shown in every log line (the original's check name). */
  checkName: string;
  /** Process group to check (the original's second argument)… */
  group?: string;
  /** …or one process, `name` or `group:name` (overrides group). */
  processName?: string;
  /** Check kinds with their options under their config keys, as in complex. */
  checks: [CheckDefinition, Record<string, unknown>][];
  verbose?: boolean;
}

/**
 * Runs checks as a listener from code, the way the original's
 * `CheckRunner('example_check', 'group', [(ExampleCheck, {})]).run()` does:
 *
 *   Deno.exit(await runListener({ checkName: "example_check", group: "workers",
 *     checks: [[exampleCheck, {}]] }));
 */
export function runListener(spec: ListenerSpec): Promise<number> {
  return listen(`${PROGRAM} (${spec.checkName})`, () => {
    if (spec.checkName.trim() === "") throw new UsageError("checkName must not be empty");
    return {
      settings: {
        checkName: spec.checkName,
        selector: ProcessSelector.fromFlags(spec.group, spec.processName),
        verbose: spec.verbose ?? false,
      },
      checks: spec.checks.map(([definition, options]) =>
        configureCheck(definition, options, "key")
      ),
    };
  });
}
