/**
 * One mail per round in superlance httpok's words: what the shared verdict
 * said, then what was done about each selected program (`web:web (pid 7)
 * is in RUNNING state, restarting`, `web:web restarted (stopped, started;
 * new pid 8)`), sent once every restart of the round has ended, with one
 * webhook report per program. A Reporter of lib/runner.ts.
 *
 * A failed round where every program waits (a threshold not reached, a
 * start grace, a suppression already said), or before the verdict has
 * failed --failure-threshold times in a row, is tolerated: nothing is sent.
 */
import { namespec, type ProcessInfo } from "./check.ts";
import type { Notifier, RestartReport } from "./notify.ts";
import { stateText } from "./restart.ts";
import type { Reporter, RoundRecord, Step } from "./runner.ts";
import { redact } from "./redact.ts";
import type { PolicySettings } from "./settings.ts";
import { PROGRAM, VERSION } from "./version.ts";

export interface RoundMailOptions {
  /** The check name of the reports. */
  check: string;
  /** The start of every subject (`httpok [shop]`). */
  prefix: string;
  /** What the shared verdict judges (the URL, its password hidden). */
  target: string;
  /** The programs named (-p), for the header line. */
  programs: string[];
  /** -a: every running process; programs not RUNNING are not mentioned. */
  any: boolean;
  policy: PolicySettings;
  /** What a dry run's restart would add (RestartHooks.dryRun). */
  dryRunHow?: string;
}

/** What one step says: its lines, its report, and how it counts for sending. */
interface Said {
  lines: string[];
  report?: Pick<RestartReport, "outcome" | "detail">;
  /** a deliberate wait: alone, the failure is tolerated */
  waits?: boolean;
  /** something was done (or decided against, said for the first time) */
  acted?: boolean;
}

export class RoundMail implements Reporter {
  readonly #host = Deno.hostname();

  constructor(private readonly options: RoundMailOptions, private readonly notifier: Notifier) {}

  roundEnded(round: RoundRecord): void {
    const o = this.options;
    const failed = round.shared?.status === "unhealthy";
    const lines: string[] = failed ? [round.shared!.message] : [];
    const reports: RestartReport[] = [];
    const report = (
      p: Pick<ProcessInfo, "group" | "name" | "pid">,
      reason: string,
      r: Pick<RestartReport, "outcome" | "detail">,
    ): RestartReport => ({
      check: o.check,
      process: namespec(p),
      group: p.group,
      name: p.name,
      pid: p.pid,
      reason,
      time: round.time,
      host: this.#host,
      ...r,
    });
    const steps = round.steps.filter(({ step }) =>
      this.#revival(step) || (failed && !(o.any && step.kind === "not-running"))
    );
    const said = steps.map(({ process, step }) => this.#say(process, step));
    const waiting = said.filter((s) => s.waits).length;
    if (failed && (waiting === 0 || waiting < said.length)) {
      const would = o.policy.dryRun ? "dry run: would restart" : "Restarting";
      if (o.any) lines.push(`${would} all running processes`);
      else if (o.programs.length) {
        lines.push(`${would} selected processes ${o.programs.join(", ")}`);
      } else lines.push("No programs to restart (no -p or -a)");
    }
    for (const [i, s] of said.entries()) {
      lines.push(...s.lines);
      const { process, step } = steps[i];
      const reason = this.#revival(step) ? `was ${stateText(process)}` : round.shared!.message;
      if (s.report) reports.push(report(process, reason, s.report));
    }
    const missing = failed ? round.missing : [];
    if (missing.length) {
      lines.push(`Programs not restarted because they did not exist: ${missing.join(", ")}`);
      for (const name of missing) {
        const [group, process] = name.includes(":") ? name.split(":") : ["", name];
        const r = report({ group, name: process, pid: 0 }, round.shared!.message, {
          outcome: "not-found",
        });
        reports.push({ ...r, process: name });
      }
    }
    const acted = said.some((s) => s.acted);
    const tolerated = waiting > 0 || round.sharedFailures < o.policy.policy.failureThreshold;
    let subject: string;
    if (failed && (acted || !tolerated)) {
      subject = `${o.target}: bad ${(round.shared as { bad?: string }).bad ?? "status"} returned`;
    } else if (reports.length > 0 && steps.some(({ step }) => this.#revival(step))) {
      const names = [...new Set(reports.map((r) => r.process))].join(", ");
      subject = `${o.target}: reviving ${names}`;
    } else return;
    lines.push("", `-- ${PROGRAM} ${VERSION} ${o.prefix} on ${this.#host}, ${round.time}`);
    // one mail line per line said, its own newlines shown escaped (as in the log)
    const body = lines.map((line) => redact(line)).join("\n");
    void this.notifier.send({ subject: `${o.prefix}: ${subject}`, body, reports });
  }

  /** A step about a process that was not RUNNING (--revive). */
  #revival(step: Step): boolean {
    return step.kind === "revive" || ("revive" in step && step.revive);
  }

  /** One step in superlance's words. */
  #say(p: ProcessInfo, step: Step): Said {
    const o = this.options;
    const spec = namespec(p);
    const who = `${spec} (pid ${p.pid})`;
    const is = `is ${stateText(p)}`;
    switch (step.kind) {
      case "not-running":
        return {
          lines: [`${spec} not in RUNNING state (${p.statename}), NOT restarting`],
          report: { outcome: "skipped", detail: `${p.statename}, not RUNNING` },
        };
      case "grace":
        return {
          lines: [
            `${who} RUNNING for ${step.age.toFixed(1)}s only (--start-grace ` +
            `${o.policy.startGrace}), NOT restarting yet`,
          ],
          waits: true,
        };
      case "waiting":
        return {
          lines: [
            `${who} failed ${step.failures} of ${o.policy.policy.failureThreshold} URL checks ` +
            "in a row, NOT restarting yet",
          ],
          waits: true,
        };
      case "suppressed": {
        const { maxRestarts, restartWindow } = o.policy.policy;
        const line = `${step.revive ? `${spec} ${is}, NOT reviving` : `${who} NOT restarting`}: ` +
          `already restarted ${step.restarts} times within ${restartWindow}s (--max-restarts ` +
          `${maxRestarts}); resuming when the URL passes again or the window moves on`;
        if (!step.first) return { lines: [], waits: true };
        return { lines: [line], report: { outcome: "suppressed", detail: line }, acted: true };
      }
      case "deferred":
        return {
          lines: [
            `${step.revive ? `${spec} ${is}, revival` : `${who} restart`} deferred: ${step.busy} ` +
            `of group '${p.group}' being restarted (--max-parallel-restarts ` +
            `${o.policy.maxParallelRestarts}); waiting for a later round`,
          ],
        };
      case "dry-run": {
        const what = step.revive
          ? `${spec} ${is}, would start it again (--revive)`
          : `${who} is in RUNNING state, would restart it${o.dryRunHow ?? ""}`;
        return {
          lines: [`dry run: ${what}; nothing done`],
          report: { outcome: "dry-run", detail: what.replace(/^.*, would/, "would") },
          acted: true,
        };
      }
      case "restart":
      case "revive": {
        const r = step.result!;
        const revive = step.kind === "revive";
        const lines = r.before ? [`${who}: ${r.before}`] : [];
        lines.push(
          revive
            ? `${spec} ${is}, starting it again (--revive)`
            : `${who} is in RUNNING state, restarting`,
        );
        const pid = r.newPid !== undefined ? `; new pid ${r.newPid}` : "";
        const [done, not, failed] = revive
          ? ["revived", "NOT revived", "revival failed"]
          : ["restarted", "NOT restarted", "restart failed"];
        lines.push(
          r.outcome === "restarted"
            ? `${spec} ${done} (${r.detail}${pid})`
            : r.outcome === "skipped"
            ? `${spec} ${not}: ${r.detail}`
            : r.outcome === "handed-over"
            ? `${spec} restart handed over: ${r.detail}`
            : `${spec} ${failed}: ${r.detail}`,
        );
        const detail = [r.before, r.detail].filter(Boolean).join("\n");
        return { lines, report: { outcome: r.outcome, detail }, acted: true };
      }
    }
  }
}
