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
  /** Failures for the account from this address (a known address's own budget). */
  accountFromIp: number;
}

/** Where instances share their failed-login counts. */
export interface SharedLoginFailures {
  /** Recent failures for `account` (undefined: an invalid name) and address key `ip`. */
  count(account: string | undefined, ip: string): Promise<FailureCounts>;
  /** Counts one more failure for the account, the address and both; resolves to the counts after it. */
  record(account: string | undefined, ip: string): Promise<FailureCounts>;
  /** Forgets every failure counted against `account`, from any address (`chat user unlock`). */
  clearAccount(account: string): Promise<void>;
}
