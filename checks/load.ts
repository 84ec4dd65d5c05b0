/**
 * Each built-in check kind's module, loaded on demand: a single-check
 * listener (`http`, `memory`, …) loads only its own kind, not all of
 * checks/mod.ts. Static specifiers, so `deno compile` bundles every one.
 */
import type { CheckDefinition } from "../lib/check.ts";

// deno-lint-ignore no-explicit-any
type Loader = () => Promise<CheckDefinition<any>>;

const LOADERS: Record<string, Loader> = {
  http: async () => (await import("./http.ts")).httpCheck,
  tcp: async () => (await import("./tcp.ts")).tcpCheck,
  xmlrpc: async () => (await import("./xmlrpc.ts")).xmlrpcCheck,
  memory: async () => (await import("./memory.ts")).memoryCheck,
  cpu: async () => (await import("./cpu.ts")).cpuCheck,
  file: async () => (await import("./file.ts")).fileCheck,
  exec: async () => (await import("./exec.ts")).execCheck,
};

/** The names of the built-in check kinds (the subcommands that run one). */
export const CHECK_NAMES: readonly string[] = Object.keys(LOADERS);

/** The check kind named `name`, loaded; undefined when there is none. */
// deno-lint-ignore no-explicit-any
export function loadCheck(name: string): Promise<CheckDefinition<any>> | undefined {
  return Object.hasOwn(LOADERS, name) ? LOADERS[name]() : undefined;
}
