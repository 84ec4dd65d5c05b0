/**
 * `supervisor-checks install-compat DIR`: the Python package's seven program
 * names and superlance's six as small shell wrappers in DIR, each running
 * the matching subcommand, so existing supervisord configs keep working
 * unchanged once the Python packages are removed (put DIR first in PATH, or
 * use /usr/local/bin where pip put them).
 */
import { renderHelp } from "../lib/cli.ts";
import { HELP_EXAMPLES } from "./examples.ts";
import { UsageError } from "../lib/errors.ts";
import { HELP_ROW, helpRows, nonEmpty, option, options, parse, toggle } from "../lib/option.ts";
import { fileURLToPath } from "node:url";

/** Original program name → subcommand. */
export const COMPAT_NAMES: Record<string, string> = {
  supervisor_http_check: "http",
  supervisor_tcp_check: "tcp",
  supervisor_xmlrpc_check: "xmlrpc",
  supervisor_memory_check: "memory",
  supervisor_cpu_check: "cpu",
  supervisor_file_check: "file",
  supervisor_complex_check: "complex",
  // superlance's programs, under their own names
  httpok: "httpok",
  memmon: "memmon",
  crashmail: "crashmail",
  crashmailbatch: "crashmailbatch",
  fatalmailbatch: "fatalmailbatch",
  crashsms: "crashsms",
};

/** First line after the shebang of every wrapper; marks files safe to replace. */
const MARKER = "# installed by supervisor-checks install-compat";

const OPTIONS = options({
  binary: option({
    metavar: "PATH",
    help: "The supervisor-checks executable the wrappers run.",
    defaultText: "this executable",
    parse: nonEmpty,
  }),
  force: toggle({ help: "Replace files of these names that install-compat did not write." }),
});

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}

/**
 * The command that runs this program: the compiled binary itself, or, under
 * `deno run`, deno with this entry point.
 */
export function selfCommand(): string[] {
  const main = Deno.mainModule.startsWith("file:") ? fileURLToPath(Deno.mainModule) : "";
  const underDeno = /(^|\/)deno$/.test(Deno.execPath()) && main !== "" && exists(main);
  return underDeno ? [Deno.execPath(), "run", "-A", "--no-prompt", main] : [Deno.execPath()];
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

export function wrapperScript(command: string[], subcommand: string): string {
  return `#!/bin/sh\n${MARKER}\nexec ${command.map(shellQuote).join(" ")} ${subcommand} "$@"\n`;
}

export function runInstallCompat(argv: string[], command: string): number {
  const parsed = parse(OPTIONS, argv, { positionals: true, help: true });
  if (parsed === "help") {
    console.log(
      renderHelp(
        command,
        "Install the original program names (supervisor_checks' and superlance's) as " +
          "wrappers in DIR.",
        [{ title: "Options", rows: [...helpRows([OPTIONS.spec])[0], HELP_ROW] }],
        { usage: "[options] DIR", examples: HELP_EXAMPLES["install-compat"] },
      ),
    );
    return 0;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    throw new UsageError("give exactly one target directory: install-compat DIR");
  }
  const dir = positionals[0];
  try {
    if (!Deno.statSync(dir).isDirectory) throw new UsageError(`${dir} is not a directory`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`target directory ${dir}: ${(e as Error).message}`);
  }
  const target = values.binary !== undefined ? [values.binary] : selfCommand();
  if (!exists(target[0])) throw new UsageError(`--binary: ${target[0]} does not exist`);

  // refuse before writing anything, so a refusal leaves DIR as it was
  const paths = Object.keys(COMPAT_NAMES).map((name) => `${dir.replace(/\/$/, "")}/${name}`);
  const foreign = paths.filter((p) => exists(p) && !isOurWrapper(p));
  if (foreign.length > 0 && !values.force) {
    throw new UsageError(
      `not replacing ${foreign.join(", ")}: not written by install-compat (pip's?); ` +
        "remove them or pass --force",
    );
  }
  for (const [i, name] of Object.keys(COMPAT_NAMES).entries()) {
    Deno.writeTextFileSync(paths[i], wrapperScript(target, COMPAT_NAMES[name]), { mode: 0o755 });
    Deno.chmodSync(paths[i], 0o755);
    console.log(`${paths[i]} → ${[...target, COMPAT_NAMES[name]].join(" ")}`);
  }
  return 0;
}

function isOurWrapper(path: string): boolean {
  try {
    return Deno.readTextFileSync(path).split("\n")[1] === MARKER;
  } catch {
    return false;
  }
}
