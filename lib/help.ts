/**
 * --help text for every subcommand, fitted to an 80-column terminal: prose
 * wrapped, flags in an aligned column (a flag too long for the column gets
 * its description on the next line), then Examples and Environment. No npm
 * imports: commands/heartbeat.ts uses it and must stay light.
 */
import type { HelpRow } from "./option.ts";

/** Widest line of any --help output. */
export const HELP_WIDTH = 80;
/** Where option descriptions start. */
const DESCRIPTION_COLUMN = 30;

/** What supervisord gives its event listeners; read by every command that calls it. */
export const SUPERVISOR_ENVIRONMENT: [string, string][] = [
  [
    "SUPERVISOR_SERVER_URL",
    "supervisord's XML-RPC URL (unix:///path/to/supervisor.sock or http://host:port); " +
    "supervisord sets it from serverurl=.",
  ],
  ["SUPERVISOR_USERNAME", "User for supervisord's XML-RPC interface, if it asks for one."],
  ["SUPERVISOR_PASSWORD", "Password for that user."],
];

/**
 * `text` in lines of at most `width` characters; a longer word (JSON, a
 * path template) is cut after a `,` `/` `-` or `}` in its second half, else
 * at the width.
 */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (let word of text.split(/\s+/).filter(Boolean)) {
    while (word.length > width) {
      if (line) lines.push(line);
      line = "";
      const after = Math.max(...[",", "/", "-", "}"].map((c) => word.lastIndexOf(c, width - 1)));
      const at = after >= width / 2 ? after + 1 : width;
      lines.push(word.slice(0, at));
      word = word.slice(at);
    }
    if (!line) line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** `text` wrapped and indented by `indent` spaces. */
function paragraph(text: string, indent = 0): string[] {
  return wrap(text, HELP_WIDTH - indent).map((l) => " ".repeat(indent) + l);
}

/** A two-column entry: `left` at column 2, `text` wrapped from DESCRIPTION_COLUMN. */
export function entry(left: string, text: string, column = DESCRIPTION_COLUMN): string[] {
  const body = wrap(text, HELP_WIDTH - column);
  const pad = " ".repeat(column);
  const head = `  ${left}`;
  if (head.length > column - 1 || body.length === 0) {
    return [...paragraph(left, 2), ...body.map((l) => pad + l)];
  }
  return [head.padEnd(column) + (body[0] ?? ""), ...body.slice(1).map((l) => pad + l)];
}

/**
 * A shell command line in lines of at most HELP_WIDTH columns, continued
 * with ` \` so that it still pastes into a shell.
 */
function commandLines(command: string, indent = 2): string[] {
  const lines = wrap(command, HELP_WIDTH - indent - 2 - 4);
  return lines.map((l, i) =>
    `${" ".repeat(indent + (i > 0 ? 4 : 0))}${l}${i < lines.length - 1 ? " \\" : ""}`
  );
}

/** A section of --help: options, definition-list entries or plain paragraphs. */
export interface HelpSection {
  title: string;
  /** Options, as lib/option.ts's helpRows gives them. */
  rows?: HelpRow[];
  entries?: [string, string][];
  paragraphs?: string[];
}

/** What --help says besides the options. */
export interface HelpExtras {
  /** Words after the command in the Usage line (default `[options]`). */
  usage?: string;
  /** Command lines (with `#` comments as lines of their own). */
  examples?: string[];
  /** Environment variables read, besides each *-env option's (added here). */
  environment?: [string, string][];
}

/** --help text: every flag with its default, then examples and environment. */
export function renderHelp(
  command: string,
  description: string,
  sections: HelpSection[],
  extras: HelpExtras = {},
): string {
  const lines = [
    ...commandLines(`Usage: ${command} ${extras.usage ?? "[options]"}`, 0),
    "",
    ...paragraph(description),
    "",
  ];
  const rows = sections.flatMap((s) => s.rows ?? []);
  for (const section of sections) {
    lines.push(...paragraph(`${section.title}:`));
    for (const row of section.rows ?? []) lines.push(...entry(row.left, row.text));
    for (const [left, text] of section.entries ?? []) lines.push(...entry(left, text));
    for (const text of section.paragraphs ?? []) lines.push(...paragraph(text, 2));
    lines.push("");
  }
  if (extras.examples?.length) {
    lines.push("Examples:");
    for (const example of extras.examples) {
      lines.push(...(example.startsWith("#") ? paragraph(example, 2) : commandLines(example)));
    }
    lines.push("");
  }
  const environment = [
    ...(extras.environment ?? []),
    ...rows.filter((r) => r.long.endsWith("-env")).map((r): [string, string] => [
      `the variable you name with --${r.long}`,
      r.text,
    ]),
  ];
  if (environment.length) {
    lines.push("Environment:");
    for (const [name, text] of environment) lines.push(...entry(name, text));
    lines.push("");
  }
  return lines.join("\n");
}
