/** `complex`: several check kinds on every selected process, the original's -c JSON. */
import type { CheckDefinition, OptionSpec } from "../lib/check.ts";
import {
  checksFromConfig,
  parseJsonConfig,
  readConfigFile,
  withConfigReference,
} from "../lib/check_config.ts";
import { parseListenerArgs } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { listen } from "../lib/listen.ts";
import { PROGRAM } from "../lib/version.ts";
import { listenerHelp } from "./listener.ts";

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
  return listen(command, async () => {
    const parsed = parseListenerArgs(COMPLEX_OPTIONS, argv);
    if (parsed === "help") {
      return listenerHelp(
        "complex",
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
      : await withConfigReference(
        "complex",
        async () => checksFromConfig(await readConfigFile(file), kinds, `--config ${file}`),
      );
    return [{ settings: parsed.settings, checks: config }];
  });
}
