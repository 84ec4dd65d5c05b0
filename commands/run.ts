/** `run --config FILE`: every check set of a YAML/JSON file in one listener. */
import type { CheckDefinition, OptionSpec } from "../lib/check.ts";
import { readConfigFile, withConfigReference } from "../lib/check_config.ts";
import { parseFlags, renderHelp } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { SUPERVISOR_ENVIRONMENT } from "../lib/help.ts";
import { listen } from "../lib/listen.ts";
import { MODE_OPTIONS, modeOf } from "../lib/modes.ts";
import { jobsFromRunConfig, runConfigHelp } from "../lib/run_config.ts";
import { PROGRAM } from "../lib/version.ts";
import { examplesFor } from "./examples.ts";

export const RUN_OPTIONS: OptionSpec[] = [
  {
    key: "config",
    long: "config",
    type: "string",
    metavar: "FILE",
    help: "YAML (or *.json) file listing the check sets; see docs/configuration.md#run-config.",
  },
  ...MODE_OPTIONS,
  { key: "help", long: "help", short: "h", type: "boolean", help: "Show this help and exit." },
];

/** `run --config FILE`: every check set of the file in this one listener. */
export function runConfigListener(
  kinds: CheckDefinition[],
  argv: string[],
  command = `${PROGRAM} run`,
): Promise<number> {
  return listen(command, async () => {
    const { values } = parseFlags(RUN_OPTIONS, argv);
    if (values.help) {
      return renderHelp(
        command,
        "Run many independent check sets (each: a group or process, check kinds with their " +
          "options, timing, thresholds, notifications) in one event listener.",
        [{ title: "Options", options: RUN_OPTIONS }, ...runConfigHelp(kinds)],
        { examples: examplesFor("run", command), environment: SUPERVISOR_ENVIRONMENT },
      );
    }
    if (values.config === undefined) throw new UsageError("--config FILE is required");
    const file = String(values.config);
    const mode = modeOf(values);
    const jobs = await withConfigReference(
      "run",
      async () => jobsFromRunConfig(await readConfigFile(file), kinds, `--config ${file}`),
    );
    return jobs.map((job) => ({ ...job, settings: { ...job.settings, mode } }));
  });
}
