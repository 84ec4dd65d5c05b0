/**
 * Every subcommand, as data: its name, a one-line summary for the usage
 * text, and a loader. The loaders are dynamic imports with static
 * specifiers: a subcommand loads only its own modules (a listener does not
 * pay for the sidecar, StatsD or httpok), and `deno compile` still bundles
 * them all. A user's binary (mod.ts's `main`) adds its own check kinds:
 * each is a listener subcommand and a kind of complex, run, serve and
 * validate.
 *
 * @module
 */
import { CHECK_NAMES, loadCheck } from "../checks/load.ts";
import type { CheckDefinition } from "../lib/check.ts";
import { entry } from "../lib/help.ts";
import { PROGRAM } from "../lib/version.ts";

/** A subcommand's entry point: argv after the subcommand's name → exit status. */
export type Command = (argv: string[]) => Promise<number>;

/** Check kinds beyond the built-in ones, from a user's binary. */
// deno-lint-ignore no-explicit-any
export type ExtraKinds = readonly CheckDefinition<any>[];

async function allKinds(extra: ExtraKinds): Promise<CheckDefinition[]> {
  return [...Object.values((await import("../checks/mod.ts")).CHECKS), ...extra];
}

/** Wraps a command whose start-up errors are thrown (UsageError) into one that reports them. */
function reporting(
  name: string,
  run: (argv: string[], command: string) => Promise<number> | number,
): Command {
  return async (argv) => {
    const command = `${PROGRAM} ${name}`;
    try {
      return await run(argv, command);
    } catch (e) {
      return (await import("../lib/listen.ts")).reportUsageError(command, e);
    }
  };
}

interface Route {
  name: string;
  /** Listed in the usage text under this heading. */
  section: "listener" | "other";
  /** One line for the usage text (the check kinds' come from their descriptions). */
  summary: string;
  load(extra: ExtraKinds): Promise<Command>;
}

const ROUTES: Route[] = [
  {
    name: "complex",
    section: "listener",
    summary: "Several of these checks at once, from JSON (-c) or a YAML/JSON file (--config).",
    load: async (extra) => {
      const { runComplexListener } = await import("./complex.ts");
      return async (argv) => runComplexListener(await allKinds(extra), argv);
    },
  },
  {
    name: "run",
    section: "listener",
    summary: "Many check sets for many groups in one listener (--config FILE).",
    load: async (extra) => {
      const { runConfigListener } = await import("./run.ts");
      return async (argv) => runConfigListener(await allKinds(extra), argv);
    },
  },
  {
    name: "httpok",
    section: "listener",
    summary: "superlance's httpok: restart programs when a URL answers badly.",
    load: async () => (await import("./httpok.ts")).runHttpokCommand,
  },
  {
    name: "memmon",
    section: "listener",
    summary: "superlance's memmon: restart programs whose memory exceeds their limit.",
    load: async () => (await import("./memmon.ts")).runMemmonCommand,
  },
  {
    name: "crashmail",
    section: "listener",
    summary: "superlance's crashmail: one mail per unexpected exit.",
    load: async () => (await import("./crashmail.ts")).runCrashmailCommand,
  },
  {
    name: "crashmailbatch",
    section: "listener",
    summary: "superlance's crashmailbatch: the unexpected exits of each interval in one mail.",
    load: async () => (await import("./crashmailbatch.ts")).runCrashmailbatchCommand,
  },
  {
    name: "fatalmailbatch",
    section: "listener",
    summary: "superlance's fatalmailbatch: the FATAL processes of each interval in one mail.",
    load: async () => (await import("./fatalmailbatch.ts")).runFatalmailbatchCommand,
  },
  {
    name: "crashsms",
    section: "listener",
    summary: "superlance's crashsms: the unexpected exits of each interval, to an SMS gateway.",
    load: async () => (await import("./crashsms.ts")).runCrashsmsCommand,
  },
  {
    name: "serve",
    section: "other",
    summary: "HTTP health sidecar: /health/live, /health/ready, /healthcheck, /metrics.",
    load: async (extra) => {
      const { runServeCommand } = await import("./serve.ts");
      return async (argv) => runServeCommand(argv, await allKinds(extra));
    },
  },
  {
    name: "heartbeat",
    section: "other",
    summary: "Touch the heartbeat file the file check watches (for shell scripts).",
    load: async () => {
      const { runHeartbeatCommand } = await import("./heartbeat.ts");
      return (argv) => runHeartbeatCommand(argv, `${PROGRAM} heartbeat`);
    },
  },
  {
    name: "install-compat",
    section: "other",
    summary: "The original program names (supervisor_http_check, …, memmon, crashmail, …).",
    load: async () => {
      const { runInstallCompat } = await import("./install_compat.ts");
      return reporting("install-compat", runInstallCompat);
    },
  },
  {
    name: "validate",
    section: "other",
    summary: "Check complex/run/serve config files without supervisord.",
    load: async (extra) => {
      const { runValidateCommand } = await import("./validate.ts");
      const kinds = await allKinds(extra);
      return reporting("validate", (argv, command) => runValidateCommand(argv, kinds, command));
    },
  },
];

/** Every subcommand's name: the check kinds' and the routes' (each has a page under docs/commands/). */
export const SUBCOMMANDS: readonly string[] = [...CHECK_NAMES, ...ROUTES.map((r) => r.name)];

/**
 * Why `extra` cannot join the built-in kinds (a name that would shadow a
 * subcommand or a key of a run or serve config entry, or given twice); undefined
 * when it can. Nothing is loaded without extra kinds.
 */
export async function extraKindsProblem(extra: ExtraKinds): Promise<string | undefined> {
  if (extra.length === 0) return undefined;
  const { ENTRY_KEYS } = await import("../lib/run_config.ts");
  const { SERVE_ENTRY } = await import("../lib/serve_config.ts");
  const serveKeys = Object.keys(SERVE_ENTRY.spec);
  const seen = new Set<string>();
  for (const { name } of extra) {
    const what = `check kind '${name}'`;
    if (!/^[A-Za-z][\w-]*$/.test(name)) {
      return `${what}: a name is a letter, then letters, digits, _ or -`;
    }
    if (SUBCOMMANDS.includes(name) || name === "help") {
      return `${what} would shadow the subcommand ${name}`;
    }
    if (ENTRY_KEYS.includes(name)) return `${what} would shadow the run config key ${name}`;
    if (serveKeys.includes(name)) return `${what} would shadow the serve config key ${name}`;
    if (seen.has(name)) return `${what} is given twice`;
    seen.add(name);
  }
  return undefined;
}

/** The subcommand named `name` (a built-in or one of `extra`'s kinds), loaded; undefined when there is none. */
export async function loadCommand(
  name: string,
  extra: ExtraKinds = [],
): Promise<Command | undefined> {
  const own = extra.find((k) => k.name === name);
  const kind = own ? Promise.resolve(own) : loadCheck(name);
  if (kind) {
    const [definition, { runCheckListener }] = await Promise.all([
      kind,
      import("./listener.ts"),
    ]);
    return (argv) => runCheckListener(definition, argv);
  }
  return ROUTES.find((r) => r.name === name)?.load(extra);
}

/** The top-level usage text: every subcommand with its summary, wrapped to 80 columns. */
export async function usage(extra: ExtraKinds = []): Promise<string> {
  const kinds = await allKinds(extra);
  const list = (entries: [string, string][]) =>
    entries.flatMap(([name, text]) => entry(name, text, 23)).join("\n");
  const routes = (section: Route["section"]) =>
    ROUTES.filter((r) => r.section === section).map((r): [string, string] => [
      r.name === "validate"
        ? "validate FILE…"
        : r.name === "install-compat"
        ? "install-compat DIR"
        : r.name,
      r.summary,
    ]);
  const listeners = list([
    ...kinds.map((c): [string, string] => [
      c.name,
      `${c.description.split(". ")[0].replace(/\.$/, "")}.`,
    ]),
    ...routes("listener"),
  ]);
  return `Usage: ${PROGRAM} <subcommand> [options]

Event-listener subcommands (run them from a supervisord [eventlistener:x]):
${listeners}

Other subcommands:
${list(routes("other"))}

${
    list([["<subcommand> --help", "Flags of a subcommand, with defaults, examples."], [
      "--version",
      "Print the version.",
    ]])
  }

Ready-to-copy configs: examples/ (supervisord sections, run, serve, gunicorn).
`;
}
