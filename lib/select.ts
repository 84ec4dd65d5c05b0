/**
 * Which supervisord processes a listener checks: a group (-g), one
 * process (-N `name` or `group:name`, which overrides -g), or every process
 * but the event listeners (-a; the runner leaves the listeners out, see
 * lib/event_listeners.ts).
 */
import type { ProcessInfo } from "./check.ts";
import { UsageError } from "./errors.ts";

const FLAGS = {
  process_group: "-g/--process-group",
  process_name: "-N/--process-name",
  any: "-a/--any",
};

export class ProcessSelector {
  private constructor(
    readonly group: string | undefined,
    readonly processName: string | undefined,
    /** -a/--any: every process but the event listeners. */
    readonly any = false,
    /** A subcommand's own selection (see `where`). */
    private readonly custom?: {
      matches: (p: Pick<ProcessInfo, "group" | "name">) => boolean;
      description: string;
    },
  ) {}

  /**
   * A subcommand's own selection (memmon's: the processes some limit
   * applies to); with `any`, the runner leaves the event listeners out.
   */
  static where(
    description: string,
    matches: (p: Pick<ProcessInfo, "group" | "name">) => boolean,
    any = false,
  ): ProcessSelector {
    return new ProcessSelector(undefined, undefined, any, { matches, description });
  }

  /**
   * The selection of -g, -N and -a; UsageError naming them with `name` (a
   * config file names its own keys: `group`, `process`, `any: true`).
   */
  static fromFlags(
    group?: string,
    processName?: string,
    any = false,
    name: (key: "process_group" | "process_name" | "any") => string = (key) => FLAGS[key],
  ): ProcessSelector {
    if (any) {
      if (group !== undefined || processName !== undefined) {
        throw new UsageError(
          `${name("any")} selects every process: leave out ${name("process_group")} and ` +
            name("process_name"),
        );
      }
      return new ProcessSelector(undefined, undefined, true);
    }
    if (processName !== undefined) {
      const [g, n, extra] = processName.split(":");
      if (processName.trim() === "" || extra !== undefined || n === "" || g === "") {
        throw new UsageError(
          `${name("process_name")}: '${processName}' is not a process name (name or group:name)`,
        );
      }
      return new ProcessSelector(undefined, processName);
    }
    if (group !== undefined && group.trim() !== "") return new ProcessSelector(group, undefined);
    throw new UsageError(
      `one of ${name("process_group")} or ${name("process_name")} is required, or ` +
        `${name("any")} for every process but the event listeners`,
    );
  }

  matches(p: Pick<ProcessInfo, "group" | "name">): boolean {
    if (this.custom) return this.custom.matches(p);
    if (this.any) return true;
    if (this.processName === undefined) return p.group === this.group;
    return namedBy(p, this.processName);
  }

  describe(): string {
    if (this.custom) return this.custom.description;
    if (this.any) return "every process but the event listeners";
    return this.processName === undefined
      ? `group '${this.group}'`
      : `process '${this.processName}'`;
  }
}

/** Whether `name` (`name` in any group, or `group:name`) names the process. */
export function namedBy(p: Pick<ProcessInfo, "group" | "name">, name: string): boolean {
  return name.includes(":") ? `${p.group}:${p.name}` === name : p.name === name;
}
