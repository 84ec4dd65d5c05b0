/**
 * A start-up error caused by the user's input (flags, config files): the
 * entry point prints it naming the subcommand and exits with status 2.
 */
export class UsageError extends Error {
  override name = "UsageError";
}
