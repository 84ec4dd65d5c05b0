/**
 * `deno compile` must accept the entry point: dynamic imports only with
 * static specifiers, no reading sources at run time. denort (the base binary) cannot be
 * downloaded here, so the deno binary stands in for it through DENORT_BIN:
 * the module graph is built and bundled exactly as for a release, only the
 * runtime prefix differs (the result is not run).
 */
import assert from "node:assert/strict";
import { DENO, MAIN, REPO } from "../support/supervisord.ts";

/**
 * Text from each module main.ts and commands/ load on demand (by dynamic import):
 * the binary must carry them, or a subcommand would fail on a host; a
 * user's binary (the example, through mod.ts's main) as well.
 */
const LAZY_MODULES: Record<string, string> = {
  "commands/serve.ts": "export async function runServeCommand(",
  "lib/statsd.ts": "export class StatsdListener",
  "commands/httpok.ts": "export async function runHttpokCommand(",
  "commands/memmon.ts": "export function runMemmonCommand(",
  "commands/heartbeat.ts": "export async function runHeartbeatCommand(",
  "commands/crashmail.ts": "export function runCrashmailCommand(",
  "lib/mail_batch.ts": "export function runBatchProgram(",
  "commands/install_compat.ts": "export function runInstallCompat(",
  "checks/mod.ts": "export const CHECKS",
  "checks/http.ts": "export const httpCheck:",
  "npm:yaml": "class YAMLParseError",
  "npm:pidusage": "function pidusage (",
};

/** Whether the file holds `text` (grep: the binary is over 100 MB). */
async function contains(file: string, text: string): Promise<boolean> {
  const { code } = await new Deno.Command("grep", { args: ["-qF", text, file] }).output();
  return code === 0;
}

for (const entry of [MAIN, `${REPO}examples/not_frozen_check.ts`]) {
  Deno.test(`deno compile bundles ${entry.slice(REPO.length)} (DENORT_BIN stand-in)`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const out = await new Deno.Command(DENO, {
        args: ["compile", "-A", "--output", `${dir}/supervisor-checks`, entry],
        env: { DENORT_BIN: DENO },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stderr);
      assert.ok(out.success, text);
      assert.ok((await Deno.stat(`${dir}/supervisor-checks`)).size > 0);
      for (const [module, text] of Object.entries(LAZY_MODULES)) {
        assert.ok(await contains(`${dir}/supervisor-checks`, text), `${module} is not bundled`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
