/** `run --config FILE`: every check set of a YAML/JSON file in one listener. */
import type { CheckDefinition } from "../lib/check.ts";
import { readConfigFile, withConfigReference } from "../lib/check_config.ts";
import { renderHelp } from "../lib/cli.ts";
import { SUPERVISOR_ENVIRONMENT } from "../lib/help.ts";
import { listen } from "../lib/listen.ts";
import { MODES } from "../lib/modes.ts";
import { combine, HELP_ROW, helpRows, option, options, parse, text } from "../lib/option.ts";
import { jobsFromRunConfig, runConfigHelp } from "../lib/run_config.ts";
import { PROGRAM } from "../lib/version.ts";
import { examplesFor } from "./examples.ts";

export const RUN_OPTIONS = combine({
  file: options({
    config: option({
      metavar: "FILE",
      help: "YAML (or *.json) file listing the check sets; see docs/configuration.md#run-config.",
      required: true,
      parse: text,
    }),
  }, (v) => v.config),
  mode: MODES,
});

/** `run --config FILE`: every check set of the file in this one listener. */
export function runConfigListener(
  kinds: CheckDefinition[],
  argv: string[],
  command = `${PROGRAM} run`,
): Promise<number> {
  return listen(command, async () => {
    const parsed = parse(RUN_OPTIONS, argv, { help: true });
    if (parsed === "help") {
      return renderHelp(
        command,
        "Run many independent check sets (each: a group or process, check kinds with their " +
          "options, timing, thresholds, notifications) in one event listener.",
        [
          { title: "Options", rows: [...helpRows([RUN_OPTIONS.spec])[0], HELP_ROW] },
          ...runConfigHelp(kinds),
        ],
        { examples: examplesFor("run", command), environment: SUPERVISOR_ENVIRONMENT },
      );
    }
    const { file, mode } = parsed.values;
    const jobs = await withConfigReference(
      "run",
      async () => jobsFromRunConfig(await readConfigFile(file), kinds, `--config ${file}`),
    );
    return jobs.map((job) => ({ ...job, settings: { ...job.settings, mode } }));
  });
}
