/**
 * `supervisor-checks validate FILE…`: checks config files of `complex
 * --config`, `run --config` and `serve --config` with the loaders those
 * commands use, without supervisord, and says what each entry will do.
 * The kind comes from the content (or --kind): `checks:` with listener keys
 * (interval, failure_threshold, email, …) is a run config, `checks:` with
 * healthcheck:/environment: or url/address/command targets a serve config,
 * `checks:` alone a run config; anything else a complex config.
 */
import type { CheckDefinition } from "../lib/check.ts";
import { checksFromConfig, CONFIG_REFERENCE, readConfigFile } from "../lib/check_config.ts";
import { BEHAVIOUR, renderHelp } from "../lib/cli.ts";
import { HELP_EXAMPLES } from "./examples.ts";
import { UsageError } from "../lib/errors.ts";
import { Logger } from "../lib/log.ts";
import { jobsFromRunConfig } from "../lib/run_config.ts";
import { serveConfigFrom } from "../lib/serve_config.ts";
import { LOG } from "../lib/settings.ts";
import { choice, configKeys, HELP_ROW, helpRows, option, options, parse } from "../lib/option.ts";
import { describeJob } from "../lib/try_out.ts";

export type ConfigKind = "complex" | "run" | "serve";
const KINDS: ConfigKind[] = ["complex", "run", "serve"];

const OPTIONS = options({
  kind: option({
    metavar: "KIND",
    help: "complex, run or serve: validate every FILE as this kind.",
    defaultText: "from the content",
    parse: choice(...KINDS),
  }),
});

const LISTENER_KEYS = new Set([...configKeys(BEHAVIOUR.spec), ...configKeys(LOG.spec)]);
const SERVE_TARGETS = ["url", "address", "command"];

/** Which command a parsed config file is for, from its keys. */
export function detectKind(config: unknown): ConfigKind {
  if (typeof config !== "object" || config === null || Array.isArray(config)) return "complex";
  const top = config as Record<string, unknown>;
  if ("healthcheck" in top || "environment" in top) return "serve";
  if (!("checks" in top)) return "complex";
  if (Object.keys(top).some((k) => LISTENER_KEYS.has(k))) return "run";
  const entries = Array.isArray(top.checks) ? top.checks : [];
  const plain = entries.some((e) =>
    typeof e === "object" && e !== null && SERVE_TARGETS.some((k) => k in e)
  );
  return plain ? "serve" : "run";
}

/** What the entries of a config file do, one line each; throws UsageError naming the key. */
export function describeConfig(
  config: unknown,
  kind: ConfigKind,
  kinds: CheckDefinition[],
  source: string,
): string[] {
  const logger = new Logger("validate");
  switch (kind) {
    case "complex": {
      const checks = checksFromConfig(config, kinds, source);
      return [
        `${checks.map((c) => c.definition.name).join(" + ")} on every process that ` +
        "complex --config selects (-g, -N or -a), restart on failure of any",
      ];
    }
    case "run":
      return jobsFromRunConfig(config, kinds, source).map((job) =>
        describeJob(job.settings, job.checks, logger)
      );
    case "serve": {
      const serve = serveConfigFrom(config, kinds, source);
      const raw = (config as { checks?: Record<string, unknown>[] }).checks ?? [];
      const lines = serve.checks.map((entry, i) => {
        const names = entry.checks.map((c) => c.definition.name).join(" + ");
        if (entry.target.kind === "supervisord") {
          return `${entry.name}: ${names} on ${entry.target.selector.describe()}, on each ` +
            "GET /healthcheck";
        }
        const key = SERVE_TARGETS.find((k) => raw[i]?.[k] !== undefined) ?? "target";
        const value = raw[i]?.[key];
        return `${entry.name}: ${names} of ${key} ${
          Array.isArray(value) ? value.join(" ") : String(value)
        }, on each GET /healthcheck`;
      });
      const h = serve.healthcheck;
      lines.push(
        `/healthcheck answers ${h.successStatus} or ${h.failedStatus}; results kept ` +
          `${h.successTtl ?? 0}s after a pass, ${h.failedTtl ?? 0}s after a failure`,
      );
      return lines;
    }
  }
}

/** `validate [--kind K] FILE…`: 0 when every file is valid, else 2. */
export async function runValidateCommand(
  argv: string[],
  kinds: CheckDefinition[],
  command: string,
): Promise<number> {
  const parsed = parse(OPTIONS, argv, { positionals: true, help: true });
  if (parsed === "help") {
    console.log(
      renderHelp(
        command,
        "Validate config files of complex --config, run --config and serve --config, as " +
          "those commands load them, without supervisord; print what each entry will do. " +
          "Exit 0 when every file is valid, else 2.",
        [{ title: "Options", rows: [...helpRows([OPTIONS.spec])[0], HELP_ROW] }],
        { usage: "[options] FILE…", examples: HELP_EXAMPLES.validate },
      ),
    );
    return 0;
  }
  const { values: { kind: forced }, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError("give one or more config FILEs");
  let failed = 0;
  for (const file of positionals) {
    let kind = forced;
    try {
      const config = await readConfigFile(file, file);
      kind ??= detectKind(config);
      const lines = describeConfig(config, kind, kinds, file);
      console.log(`${file}: valid ${kind} config`);
      for (const line of lines) console.log(`  ${line}`);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      failed++;
      console.error(`${command}: error: ${e.message}`);
      console.error(`See ${CONFIG_REFERENCE[kind ?? "any"]} for the config keys.`);
    }
  }
  return failed === 0 ? 0 : 2;
}
