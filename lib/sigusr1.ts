/**
 * SIGUSR1 is ignored by every long-running subcommand. Why: under `deno run`,
 * Deno 2.9.2 and later open the V8 inspector on 127.0.0.1:9229 when the
 * process receives SIGUSR1, as Node does; any local user can connect to it
 * and run code as this process's user (root for most listeners). A JavaScript
 * signal listener does not stop it, and 2.9.6 has no flag or environment
 * variable to turn it off. The guarantee is in docs/behaviour.md.
 */

/** SIGUSR1's number on Linux. */
const SIGUSR1 = 10;

let outcome: string | undefined | null = null;

/**
 * Makes this process ignore SIGUSR1 (once; later calls repeat the first
 * outcome). Returns undefined when done, else a warning to log.
 *
 * How: Deno installs its one process-wide SIGUSR1 handler when the first
 * listener for that signal is registered, and never again (its inspector
 * trigger, registered half a second after start, only joins the list). So a
 * listener is registered first, then libc's signal() sets the disposition to
 * SIG_IGN: the kernel discards SIGUSR1 from then on and no Deno handler ever
 * runs. This needs FFI (`--allow-ffi`, part of `-A` and of the compiled
 * binary) and glibc on Linux; elsewhere the reason is returned so the caller
 * can log it. In Deno's source the trigger belongs to `deno run` only, not to
 * the runtime of `deno compile` binaries (not verified here: no denort
 * offline); there, ignoring SIGUSR1 means it no longer terminates the process.
 */
export function ignoreSigusr1(): string | undefined {
  if (outcome === null) {
    const failure = ignore();
    outcome = failure && `SIGUSR1 is not ignored (${failure}): never send it, under ` +
        "deno run it opens the V8 inspector on 127.0.0.1:9229";
  }
  return outcome;
}

function ignore(): string | undefined {
  if (Deno.build.os !== "linux") return `not on Linux (${Deno.build.os})`;
  // makes Deno install its handler now, so that it is not installed after ours
  Deno.addSignalListener("SIGUSR1", () => {});
  let libc;
  try {
    libc = Deno.dlopen("libc.so.6", {
      signal: { parameters: ["i32", "pointer"], result: "pointer" },
    });
  } catch (e) {
    return `cannot load libc: ${(e as Error).message}`;
  }
  try {
    const previous = libc.symbols.signal(SIGUSR1, Deno.UnsafePointer.create(1n)); // SIG_IGN
    // SIG_ERR is (void *) -1
    if (BigInt(Deno.UnsafePointer.value(previous)) === 0xffff_ffff_ffff_ffffn) {
      return "signal(SIGUSR1, SIG_IGN) failed";
    }
  } finally {
    libc.close();
  }
  return undefined;
}
