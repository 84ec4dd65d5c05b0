/**
 * Which supervisord processes a listener checks: a group (-g) or one
 * process (-N `name` or `group:name`, which overrides -g).
 */
import type { ProcessInfo } from "./check.ts";
import { UsageError } from "./errors.ts";

export class ProcessSelector {
  private constructor(
    readonly group: string | undefined,
    readonly processName: string | undefined,
  ) {}

  static fromFlags(group?: string, processName?: string): ProcessSelector {
    if (processName !== undefined) {
      const [g, n, extra] = processName.split(":");
      if (processName.trim() === "" || extra !== undefined || n === "" || g === "") {
        throw new UsageError(
          `-N/--process-name: '${processName}' is not a process name (name or group:name)`,
        );
      }
      return new ProcessSelector(undefined, processName);
    }
    if (group !== undefined && group.trim() !== "") return new ProcessSelector(group, undefined);
    throw new UsageError("one of -g/--process-group or -N/--process-name is required");
  }

  matches(p: Pick<ProcessInfo, "group" | "name">): boolean {
    if (this.processName === undefined) return p.group === this.group;
    return this.processName.includes(":")
      ? `${p.group}:${p.name}` === this.processName
      : p.name === this.processName;
  }

  describe(): string {
    return this.processName === undefined
      ? `group '${this.group}'`
      : `process '${this.processName}'`;
  }
}
