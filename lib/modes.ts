/**
 * The two ways to try a listener before deploying it, shared by every
 * listener subcommand, `run` and `httpok`: --once (one round now, judged and
 * printed, nothing restarted; see lib/once.ts) and --validate (check the
 * flags and config, print what would run, touch no supervisord).
 */
import type { OptionSpec } from "./check.ts";
import { UsageError } from "./errors.ts";

export const ONCE_OPTION: OptionSpec = {
  key: "once",
  long: "once",
  type: "boolean",
  help: "Run one round now, print each selected process's verdict and a summary line " +
    "(Nagios style; JSON with --log-format json), restart nothing, and exit 0 OK, " +
    "1 WARNING, 2 CRITICAL or 3 UNKNOWN.",
};

export const VALIDATE_OPTION: OptionSpec = {
  key: "validate",
  long: "validate",
  type: "boolean",
  help: "Validate the flags and config, print what would run, and exit (0, or 2 with the " +
    "error) without asking supervisord.",
};

export const MODE_OPTIONS: OptionSpec[] = [ONCE_OPTION, VALIDATE_OPTION];

/** --once / --validate from parsed flag values (at most one). */
export function modeOf(values: Record<string, unknown>): "once" | "validate" | undefined {
  if (values.once && values.validate) {
    throw new UsageError("give only one of --once and --validate");
  }
  return values.once ? "once" : values.validate ? "validate" : undefined;
}
