/**
 * Failed logins counted across every instance of a cluster, so the hourly
 * limits hold however the attempts are spread over instances.
 *
 * @module
 */

/** Failures in about the last hour, for one account and one address. */
export interface FailureCounts {
  account: number;
  ip: number;
}

/** Where instances share their failed-login counts. */
export interface SharedLoginFailures {
  /** Recent failures for `account` (undefined: an invalid name) and address key `ip`. */
  count(account: string | undefined, ip: string): Promise<FailureCounts>;
  /** Counts one more failure for both. */
  record(account: string | undefined, ip: string): Promise<void>;
}
