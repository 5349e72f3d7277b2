/** A setting that cannot be used; its own file so modules that parse settings need not import config.ts. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly variable: string, reason: string) {
    super(`Invalid configuration ${variable}: ${reason}`);
  }
}
