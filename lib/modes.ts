/**
 * The two ways to try a listener before deploying it, shared by every
 * listener subcommand, `run` and `httpok`: --once (one round now, judged and
 * printed, nothing restarted; see lib/once.ts) and --validate (check the
 * flags and config, print what would run, touch no supervisord).
 */
import { OptionError, options, toggle } from "./option.ts";

export const MODES = options({
  once: toggle({
    flagOnly: true,
    defaultText: undefined,
    help: "Run one round now, print each selected process's verdict and a summary line " +
      "(Nagios style; JSON with --log-format json), restart nothing, and exit 0 OK, " +
      "1 WARNING, 2 CRITICAL or 3 UNKNOWN.",
  }),
  validate: toggle({
    flagOnly: true,
    defaultText: undefined,
    help: "Validate the flags and config, print what would run, and exit (0, or 2 with the " +
      "error) without asking supervisord.",
  }),
}, (values): "once" | "validate" | undefined => {
  if (values.once && values.validate) {
    throw new OptionError("validate", "give only one of --once and --validate");
  }
  return values.once ? "once" : values.validate ? "validate" : undefined;
});
