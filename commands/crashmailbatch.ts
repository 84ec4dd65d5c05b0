/**
 * `supervisor-checks crashmailbatch`: superlance's crashmailbatch. Unexpected
 * exits (PROCESS_STATE_EXITED with expected:0) gathered per interval into one
 * mail, each line as the original writes it:
 * `2026-11-30 08:40:12,345 -- Process web:web_1 (pid 4242) died unexpectedly`.
 */
import { asctime } from "../lib/process_events.ts";
import type { Alert } from "../lib/alerts.ts";
import { type BatchProgram, runBatchProgram } from "../lib/mail_batch.ts";
import { PROGRAM } from "../lib/version.ts";
import { HELP_EXAMPLES } from "./examples.ts";

/** The original's line; a BACKOFF loop (an extension) in the same style. */
function line(alert: Alert): string {
  const e = alert.event;
  const what = alert.kind === "backoff"
    ? `Process ${e.process} failed to start ${e.tries} times in a row (BACKOFF)`
    : `Process ${e.process} (pid ${e.pid}) died unexpectedly`;
  return `${asctime(alert.time)} -- ${what}`;
}

export const CRASHMAILBATCH: BatchProgram = {
  name: "crashmailbatch",
  description: "superlance's crashmailbatch as a supervisord event listener " +
    "(events=PROCESS_STATE,TICK_60): mails the unexpected exits of each interval in one " +
    "message, over SMTP, with each one's exit status and the end of its stderr log.",
  rules: { crash: true, fatal: false },
  defaultSubject: "Crash alert from supervisord",
  stderrLines: 10,
  line,
  examples: HELP_EXAMPLES.crashmailbatch,
};

export function runCrashmailbatchCommand(argv: string[]): Promise<number> {
  return runBatchProgram(CRASHMAILBATCH, argv, `${PROGRAM} crashmailbatch`);
}
