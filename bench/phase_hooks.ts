/**
 * Callbacks around a scenario's timed phase, e.g. to profile the server
 * over exactly the part that is measured.
 *
 * @module
 */

/** Called just before timing starts and just after it ends. */
export interface PhaseHooks {
  started?: () => Promise<void>;
  stopped?: () => Promise<void>;
}
