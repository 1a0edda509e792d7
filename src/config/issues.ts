/** A config problem: data, not an exception, so `check` can print them all. */
export interface ConfigIssue {
  /** Dotted path of the offending field, e.g. `upstreams.halaxy.auth.clientSecret`. */
  readonly path: string
  readonly message: string
}

export function formatIssues (issues: readonly ConfigIssue[]): string {
  return issues.map((issue) => `${issue.path === '' ? '(config)' : issue.path}: ${issue.message}`).join('\n')
}

/** Thrown only by `loadConfig` for callers that want an exception. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[]
  constructor (issues: readonly ConfigIssue[]) {
    super(`invalid config:\n${formatIssues(issues)}`)
    this.name = 'ConfigError'
    this.issues = issues
  }
}
