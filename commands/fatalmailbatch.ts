/**
 * `supervisor-checks fatalmailbatch`: superlance's fatalmailbatch. Processes
 * that supervisord gave up starting (PROCESS_STATE_FATAL) gathered per
 * interval into one mail, each line as the original writes it:
 * `2026-11-30 08:40:12,345 -- Process web:web_1 failed to start too many times`.
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
    : `Process ${e.process} failed to start too many times`;
  return `${asctime(alert.time)} -- ${what}`;
}

export const FATALMAILBATCH: BatchProgram = {
  name: "fatalmailbatch",
  description: "superlance's fatalmailbatch as a supervisord event listener " +
    "(events=PROCESS_STATE,TICK_60): mails the processes supervisord gave up starting " +
    "(FATAL) in each interval in one message, over SMTP, with supervisord's reason and the " +
    "end of each one's stderr log.",
  rules: { crash: false, fatal: true },
  defaultSubject: "Fatal start alert from supervisord",
  stderrLines: 10,
  line,
  examples: HELP_EXAMPLES.fatalmailbatch,
};

export function runFatalmailbatchCommand(argv: string[]): Promise<number> {
  return runBatchProgram(FATALMAILBATCH, argv, `${PROGRAM} fatalmailbatch`);
}
