// Safety limits, in one place. A breach is a clear error: at compile time a
// positioned error, at run time an evaluation error after which the result
// is the implicit keep only (the host never loses a message to a limit).

export interface SieveLimits {
  /** Script text size in bytes (Pigeonhole sieve_max_script_size: 1M). */
  maxScriptSize: number;
  /** Block and test nesting depth (Pigeonhole: 32 for blocks, 32 for tests). */
  maxNesting: number;
  /** Actions one evaluation may produce (Pigeonhole sieve_max_actions: 32). */
  maxActions: number;
  /** Redirects one evaluation may perform (Pigeonhole sieve_max_redirects: 4). */
  maxRedirects: number;
  /** Work units per evaluation: commands, comparisons, regex steps. */
  maxSteps: number;
  /** Nested include depth (Pigeonhole sieve_include_max_nesting_depth: 10). */
  maxIncludeDepth: number;
  /** Distinct scripts included in one evaluation (sieve_include_max_includes: 255). */
  maxIncludes: number;
  /** Variables per scope (RFC 5229 says at least 128). */
  maxVariables: number;
  /** Bytes in a variable value (RFC 5229 says at least 4000). */
  maxVariableSize: number;
  /** Rounds of an evaluation against an asynchronous host (runtime/questions.ts): each round waits for the host's answers once. */
  maxHostRounds: number;
}

export const defaultLimits: SieveLimits = {
  maxScriptSize: 1024 * 1024,
  maxNesting: 32,
  maxActions: 32,
  maxRedirects: 4,
  maxSteps: 5_000_000,
  maxIncludeDepth: 10,
  maxIncludes: 255,
  maxVariables: 255,
  maxVariableSize: 4096,
  maxHostRounds: 64,
};
