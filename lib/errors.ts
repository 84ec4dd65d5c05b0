/**
 * A start-up error caused by the user's input (flags, config files): the
 * entry point prints it naming the subcommand and exits with status 2.
 */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * A UsageError in a config file: the entry point points to the config
 * reference (`reference`, a docs section) instead of to --help.
 */
export class ConfigFileError extends UsageError {
  override name = "ConfigFileError";
  constructor(message: string, readonly reference: string) {
    super(message);
  }
}
