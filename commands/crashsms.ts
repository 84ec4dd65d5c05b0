/**
 * `supervisor-checks crashsms`: superlance's crashsms. Unexpected exits
 * gathered per interval into one short message for an SMS mail gateway,
 * each line as the original writes it:
 * `[web:web_1](4242) exited unexpectedly 2026-11-30 08:40:12,345`.
 * No Subject header unless --subject; no stderr lines unless --stderr-lines.
 */
import { asctime } from "../lib/process_events.ts";
import type { Alert } from "../lib/alerts.ts";
import { type BatchProgram, runBatchProgram } from "../lib/mail_batch.ts";
import { PROGRAM } from "../lib/version.ts";
import { HELP_EXAMPLES } from "./examples.ts";

/** The original's line; a BACKOFF loop (an extension) in the same style. */
function line(alert: Alert): string {
  const e = alert.event;
  return alert.kind === "backoff"
    ? `[${e.process}] failing to start (${e.tries} tries) ${asctime(alert.time)}`
    : `[${e.process}](${e.pid}) exited unexpectedly ${asctime(alert.time)}`;
}

export const CRASHSMS: BatchProgram = {
  name: "crashsms",
  description: "superlance's crashsms as a supervisord event listener " +
    "(events=PROCESS_STATE,TICK_60): the unexpected exits of each interval in one short " +
    "message to an SMS mail gateway (1234567890@txt.example.net), over SMTP.",
  rules: { crash: true, fatal: false },
  stderrLines: 0,
  line,
  examples: HELP_EXAMPLES.crashsms,
};

export function runCrashsmsCommand(argv: string[]): Promise<number> {
  return runBatchProgram(CRASHSMS, argv, `${PROGRAM} crashsms`);
}
