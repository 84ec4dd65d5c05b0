/** Every built-in check kind, by subcommand name. */
import type { CheckDefinition } from "../lib/check.ts";
import { cpuCheck } from "./cpu.ts";
import { execCheck } from "./exec.ts";
import { fileCheck } from "./file.ts";
import { httpCheck } from "./http.ts";
import { memoryCheck } from "./memory.ts";
import { tcpCheck } from "./tcp.ts";
import { xmlrpcCheck } from "./xmlrpc.ts";

// deno-lint-ignore no-explicit-any
export const CHECKS: Record<string, CheckDefinition<any>> = Object.fromEntries(
  [httpCheck, tcpCheck, xmlrpcCheck, memoryCheck, cpuCheck, fileCheck, execCheck].map((c) => [
    c.name,
    c,
  ]),
);
