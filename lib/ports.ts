/**
 * Port specs: `-p 8080`, or a regular expression with exactly one capture
 * group that extracts the port from the process name (`-p ".+_(\d+)"`).
 *
 * The regex is applied the way the original's `re.match` does: anchored at
 * the start of the name, not at its end. Python's named groups `(?P<x>…)`
 * are accepted and rewritten to JavaScript's `(?<x>…)`.
 */
import { CheckConfigError } from "./check.ts";

export type PortSpec =
  | { kind: "fixed"; port: number; source: string }
  | { kind: "pattern"; regex: RegExp; source: string };

const MIN_PORT = 1;
const MAX_PORT = 65535;

function validPort(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_PORT && n <= MAX_PORT;
}

/** Parses a port spec; throws an Error explaining what is wrong. */
export function parsePortSpec(input: string | number): PortSpec {
  const source = String(input).trim();
  if (source === "") throw new Error("must be a port number or a regular expression, got ''");
  if (/^[+-]?\d+$/.test(source)) {
    const port = Number(source);
    if (!validPort(port)) {
      throw new Error(`port ${source} is out of range ${MIN_PORT}-${MAX_PORT}`);
    }
    return { kind: "fixed", port, source };
  }
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${source.replaceAll("(?P<", "(?<")})`);
  } catch (e) {
    throw new Error(`'${source}' is not a valid regular expression: ${(e as Error).message}`);
  }
  const groups = captureGroupCount(regex);
  if (groups !== 1) {
    throw new Error(
      `regular expression '${source}' must have exactly one capture group for the port, it has ${groups}`,
    );
  }
  return { kind: "pattern", regex, source };
}

/** Number of capture groups: an alternative that matches "" reveals them all. */
function captureGroupCount(regex: RegExp): number {
  return new RegExp(`${regex.source}|`).exec("")!.length - 1;
}

/** The port for a process; throws CheckConfigError when none can be derived. */
export function resolvePort(spec: PortSpec, processName: string): number {
  if (spec.kind === "fixed") return spec.port;
  const match = spec.regex.exec(processName);
  if (!match) {
    throw new CheckConfigError(
      `port regex '${spec.source}' does not match process name '${processName}'`,
    );
  }
  const captured = match[1];
  if (captured === undefined || !/^\d+$/.test(captured) || !validPort(Number(captured))) {
    throw new CheckConfigError(
      `port regex '${spec.source}' captured '${
        captured ?? ""
      }' from '${processName}', not a port ${MIN_PORT}-${MAX_PORT}`,
    );
  }
  return Number(captured);
}
