/**
 * Progress counters of a group of receivers, in shared memory so the main
 * thread can read them while Workers update them, without messages.
 *
 * @module
 */

const INTS = 8;

/** Counters one receiver pool writes and the bench reads. */
export class PoolCounters {
  readonly buffer: SharedArrayBuffer;
  readonly #ints: Int32Array;
  readonly #times: Float64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(INTS * 4 + 2 * 8)) {
    this.buffer = buffer;
    this.#ints = new Int32Array(buffer, 0, INTS);
    this.#times = new Float64Array(buffer, INTS * 4, 2);
  }

  /** Messages received by all receivers of the pool. */
  get messages(): number {
    return Atomics.load(this.#ints, 0);
  }
  set messages(value: number) {
    Atomics.store(this.#ints, 0, value);
  }

  /** Receivers that have received every expected message. */
  get done(): number {
    return Atomics.load(this.#ints, 1);
  }
  set done(value: number) {
    Atomics.store(this.#ints, 1, value);
  }

  /** Receivers whose connection ended early. */
  get closed(): number {
    return Atomics.load(this.#ints, 2);
  }
  set closed(value: number) {
    Atomics.store(this.#ints, 2, value);
  }

  /** Error replies or lines received. */
  get errors(): number {
    return Atomics.load(this.#ints, 3);
  }
  set errors(value: number) {
    Atomics.store(this.#ints, 3, value);
  }

  /** `bye` frames or `*** Closing` lines received. */
  get byes(): number {
    return Atomics.load(this.#ints, 4);
  }
  set byes(value: number) {
    Atomics.store(this.#ints, 4, value);
  }

  /** When the last receiver completed (ms, nowMs clock); 0 until then. */
  get doneAt(): number {
    return this.#times[0]!;
  }
  set doneAt(value: number) {
    this.#times[0] = value;
  }

  /** When the last message arrived (ms, nowMs clock). */
  get lastMessageAt(): number {
    return this.#times[1]!;
  }
  set lastMessageAt(value: number) {
    this.#times[1] = value;
  }
}
