import config from "../deno.json" with { type: "json" };

/** The release version, from deno.json (bundled into the compiled binary). */
export const VERSION: string = config.version;

/** The executable's name, in usage and messages. */
export const PROGRAM = "supervisor-checks";
