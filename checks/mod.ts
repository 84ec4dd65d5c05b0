/** Every built-in check kind, by subcommand name. */
import type { CheckDefinition } from "../lib/check.ts";
import { httpCheck } from "./http.ts";
import { tcpCheck } from "./tcp.ts";

// deno-lint-ignore no-explicit-any
export const CHECKS: Record<string, CheckDefinition<any>> = {
  [httpCheck.name]: httpCheck,
  [tcpCheck.name]: tcpCheck,
};
