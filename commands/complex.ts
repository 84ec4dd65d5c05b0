/** `complex`: several check kinds on every selected process, the original's -c JSON. */
import type { CheckDefinition } from "../lib/check.ts";
import {
  checksFromConfig,
  parseJsonConfig,
  readConfigFile,
  withConfigReference,
} from "../lib/check_config.ts";
import { parseListenerArgs } from "../lib/cli.ts";
import { listen } from "../lib/listen.ts";
import { option, OptionError, options, text } from "../lib/option.ts";
import { PROGRAM } from "../lib/version.ts";
import { listenerHelp } from "./listener.ts";

/** Where complex's checks come from: exactly one of these. */
export const COMPLEX_OPTIONS = options({
  check_config: option({
    short: "c",
    metavar: "JSON",
    flagOnly: true,
    help: 'Checks as JSON, the original\'s format: {"http":{"port":8090,"url":"/ping"},' +
      '"memory":{"max_rss":4194304}}.',
    parse: text,
  }),
  config: option({
    metavar: "FILE",
    flagOnly: true,
    help: "The same structure in a YAML or JSON (*.json) file.",
    parse: text,
  }),
}, (v, name) => {
  if ((v.check_config === undefined) === (v.config === undefined)) {
    throw new OptionError("", `give exactly one of ${name("check_config")} and ${name("config")}`);
  }
  return v;
});

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
        COMPLEX_OPTIONS.spec,
      );
    }
    const { check_config: inline, config: file } = parsed.options;
    const config = inline !== undefined
      ? checksFromConfig(parseJsonConfig(inline, "-c/--check-config"), kinds, "-c/--check-config")
      : await withConfigReference(
        "complex",
        async () => checksFromConfig(await readConfigFile(file!), kinds, `--config ${file}`),
      );
    return [{ settings: parsed.settings, checks: config }];
  });
}
