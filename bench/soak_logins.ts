/**
 * Soak scenario `logins`: one address floods the server with wrong
 * passwords for a registered account, from as many connections as the
 * per-address cap allows, each as fast as its rate limit lets it, while a
 * bystander on another address logs in to its own account again and again
 * and the attacked account's owner logs in from an address it used before.
 * The bystander must get in within about a second each time, and the owner
 * must get in even once the account is locked. The attack lasts the given
 * seconds, and at least until the account has been locked for 15 s; before
 * it, the same logins run for 10 s without it, for a baseline.
 *
 * @module
 */
import { DEFAULT_SERVER_OPTIONS } from "../server/config/server_options.ts";
import { nowMs, sleep } from "./clock.ts";
import { PeakRss } from "./peak_rss.ts";
import { ServerProcess } from "./server_process.ts";
import { type Frame, SoakClient } from "./soak_client.ts";
import type { SoakOptions, SoakReport, SoakScenario } from "./soak_scenario.ts";
import { summarizeLatency } from "./stats.ts";

/** Where each party connects from: all loopback, so the server sees four addresses. */
const BYSTANDER_ADDRESS = "127.0.0.1";
const ATTACKER_ADDRESS = "127.0.0.2";
const OWNER_ADDRESS = "127.0.0.3";
const NEWCOMER_ADDRESS = "127.0.0.4";
const GUEST_ADDRESS = "127.0.0.5";

const VICTIM = { nick: "victim", password: "victim's own password" };
const BYSTANDER = { nick: "bystander", password: "bystander's own password" };

/**
 * The bystander's login delay under attack may not exceed this, in ms, nor
 * its slowest login without the attack by more than a second: "about a
 * second" at most, on a machine that may be busy with other work too.
 */
const MAX_BYSTANDER_DELAY_MS = 1500;
/** What the attack may add to the bystander's slowest login, in ms. */
const MAX_ADDED_DELAY_MS = 1000;
/** How long the bystander logs in before the attack, for the baseline, in ms. */
const BASELINE_MS = 10_000;
/** How often the owner tries, in ms. */
const OWNER_EVERY_MS = 5000;
/** How long the attack goes on once the account is locked, at least, in ms: the owner tries then. */
const LOCKED_PHASE_MS = 15_000;
/** The longest the attack runs waiting for the lock, in ms. */
const MAX_ATTACK_MS = 10 * 60_000;

/** The machine's 1-minute load average (the soak shares the machine with the server and others). */
async function loadAverage(): Promise<number> {
  try {
    return Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
  } catch {
    return NaN;
  }
}

/** One login on a fresh connection: the delay from hello to the answer, and the answer. */
async function loginOnce(
  port: number,
  localAddress: string,
  account: { nick: string; password: string },
): Promise<{ ms: number; reply: Frame }> {
  const connection = await SoakClient.open(port, localAddress);
  try {
    const started = nowMs();
    const reply = await connection.hello(account.nick, account.password);
    return { ms: nowMs() - started, reply };
  } finally {
    connection.close();
  }
}

/** Creates `account` from `localAddress` as a guest would (a `register` request). */
async function createAccount(
  port: number,
  localAddress: string,
  account: { nick: string; password: string },
): Promise<void> {
  const client = await SoakClient.open(port, localAddress);
  try {
    const welcome = await client.hello(account.nick);
    const reply = welcome.type === "welcome"
      ? await client.request({ type: "register", password: account.password })
      : welcome;
    if (reply.type !== "ack") {
      throw new Error(`Cannot register ${account.nick}: ${reply.code} ${reply.message}`);
    }
  } finally {
    client.close();
  }
}

/** What the attacker's connections were told. */
interface AttackCounts {
  hellos: number;
  /** Checked (a hash computed) and wrong: `auth_failed`. */
  checked: number;
  /** Refused at once: too many checks pending from the address. */
  refusedPending: number;
  /** Refused at once: the account is locked. */
  refusedLocked: number;
  /** Anything else (queue full, rate limit, dropped connections). */
  other: number;
  /** When the first "locked" refusal came, ms from the attack's start. */
  lockedAtMs: number | undefined;
}

/** One attacking connection: hello with a wrong password, at the connection's rate limit, until `stop`. */
async function attack(
  port: number,
  counts: AttackCounts,
  started: number,
  stop: { stopped: boolean },
): Promise<void> {
  // The rate limit refills ratePerSecond tokens a second: one hello per interval stays under it.
  const intervalMs = 1000 / DEFAULT_SERVER_OPTIONS.ratePerSecond;
  let connection: SoakClient | undefined;
  while (!stop.stopped) {
    const sent = nowMs();
    try {
      connection ??= await SoakClient.open(port, ATTACKER_ADDRESS);
      const reply = await connection.hello(VICTIM.nick, "a wrong guess");
      counts.hellos++;
      const message = String(reply.message ?? "");
      if (reply.code === "auth_failed") counts.checked++;
      else if (message.startsWith("Too many password checks")) counts.refusedPending++;
      else if (message.startsWith("Too many failed logins for this account")) {
        counts.refusedLocked++;
        counts.lockedAtMs ??= nowMs() - started;
      } else counts.other++;
    } catch {
      // Dropped (handshake timeout, flood) or refused: connect again.
      connection?.close();
      connection = undefined;
      counts.other++;
    }
    await sleep(Math.max(0, sent + intervalMs - nowMs()));
  }
  connection?.close();
}

/** What the bystander and the owner saw in one phase. */
interface LegitimateLogins {
  /** The bystander's login delays, ms. */
  delays: number[];
  /** The bystander's delays before the account was locked, ms. */
  delaysBeforeLock: number[];
  /** Anything but a welcome for the bystander. */
  bystanderRefusals: string[];
  ownerTries: number;
  ownerWelcomes: number;
  ownerTriesLocked: number;
  ownerWelcomesLocked: number;
  /** What a login with the right password from an address the owner never used got while locked. */
  newcomer: string | undefined;
}

/**
 * The people the attack must not hurt, until `stop`: the bystander logs in
 * back to back, the owner every few seconds; `lockedAtMs` says when the
 * attacked account is locked (undefined: not, or no attack).
 */
async function legitimateLogins(
  port: number,
  stop: { stopped: boolean },
  lockedAtMs: () => number | undefined,
): Promise<LegitimateLogins> {
  const seen: LegitimateLogins = {
    delays: [],
    delaysBeforeLock: [],
    bystanderRefusals: [],
    ownerTries: 0,
    ownerWelcomes: 0,
    ownerTriesLocked: 0,
    ownerWelcomesLocked: 0,
    newcomer: undefined,
  };
  const bystander = async () => {
    while (!stop.stopped) {
      try {
        const { ms, reply } = await loginOnce(port, BYSTANDER_ADDRESS, BYSTANDER);
        seen.delays.push(ms);
        if (lockedAtMs() === undefined) seen.delaysBeforeLock.push(ms);
        if (reply.type !== "welcome") {
          seen.bystanderRefusals.push(`${reply.code}: ${reply.message}`);
        }
      } catch (error) {
        seen.bystanderRefusals.push(error instanceof Error ? error.message : String(error));
        await sleep(100);
      }
    }
  };
  const owner = async () => {
    while (!stop.stopped) {
      await sleep(OWNER_EVERY_MS);
      if (stop.stopped) break;
      const locked = lockedAtMs() !== undefined;
      const { reply } = await loginOnce(port, OWNER_ADDRESS, VICTIM).catch(() => ({
        reply: { type: "error", code: "closed" } as Frame,
      }));
      seen.ownerTries++;
      if (locked) seen.ownerTriesLocked++;
      if (reply.type === "welcome") {
        seen.ownerWelcomes++;
        if (locked) seen.ownerWelcomesLocked++;
      }
      if (locked && seen.newcomer === undefined) {
        // The right password from an address the owner never used: the lock holds there.
        const other = await loginOnce(port, NEWCOMER_ADDRESS, VICTIM).catch(() => undefined);
        seen.newcomer = other === undefined
          ? "closed"
          : other.reply.type === "welcome"
          ? "welcome"
          : other.reply.code;
      }
    }
  };
  await Promise.all([bystander(), owner()]);
  return seen;
}

async function run(options: SoakOptions): Promise<SoakReport> {
  const server = await ServerProcess.start({
    raisedLimits: false,
    extraFlags: ["--no-discovery"],
    ...(options.entry === undefined ? {} : { entry: options.entry }),
  });
  try {
    const port = server.port;
    await createAccount(port, OWNER_ADDRESS, VICTIM);
    await createAccount(port, BYSTANDER_ADDRESS, BYSTANDER);
    // The owner has logged in from OWNER_ADDRESS before the attack; so has the bystander.
    const ownerFirst = await loginOnce(port, OWNER_ADDRESS, VICTIM);
    if (ownerFirst.reply.type !== "welcome") throw new Error("The owner's first login failed");

    // The baseline: the same logins without the attack, on the same (maybe busy) machine.
    const quiet = { stopped: false };
    const baselineDone = legitimateLogins(port, quiet, () => undefined);
    await sleep(BASELINE_MS);
    quiet.stopped = true;
    const baseline = await baselineDone;

    const rss = await PeakRss.start(server);
    const stop = { stopped: false };
    const connections = DEFAULT_SERVER_OPTIONS.maxConnectionsPerIp;
    const counts: AttackCounts = {
      hellos: 0,
      checked: 0,
      refusedPending: 0,
      refusedLocked: 0,
      other: 0,
      lockedAtMs: undefined,
    };
    const cpuBefore = await server.cpuSeconds();
    const loadBefore = await loadAverage();
    const started = nowMs();
    const attackers = Array.from(
      { length: connections },
      () => attack(port, counts, started, stop),
    );
    const legitimate = legitimateLogins(port, stop, () => counts.lockedAtMs);
    // The given time, and long enough past the lock for the owner to try while it holds.
    while (
      nowMs() - started < MAX_ATTACK_MS &&
      (nowMs() - started < options.seconds * 1000 ||
        counts.lockedAtMs === undefined ||
        nowMs() - started < counts.lockedAtMs + LOCKED_PHASE_MS)
    ) {
      await sleep(250);
    }
    const attackMs = nowMs() - started;
    stop.stopped = true;
    const [seen] = await Promise.all([legitimate, ...attackers]);
    const rssPeakKiB = await rss.stop();
    const serverCpuPercent = 100 * (await server.cpuSeconds() - cpuBefore) / (attackMs / 1000);
    const loadAfter = await loadAverage();
    // Alive: it still answers a guest's hello, which costs no hash.
    const guest = await loginOnce(port, GUEST_ADDRESS, { nick: "guest", password: "" }).catch(
      () => undefined,
    );
    const serverAlive = guest?.reply.type === "welcome";

    const summary = summarizeLatency(Float64Array.from(seen.delays));
    const beforeLock = summarizeLatency(Float64Array.from(seen.delaysBeforeLock));
    const idle = summarizeLatency(Float64Array.from(baseline.delays));
    const boundMs = Math.max(MAX_BYSTANDER_DELAY_MS, idle.max + MAX_ADDED_DELAY_MS);
    const ownerGotIn = seen.ownerTries > 0 && seen.ownerWelcomes === seen.ownerTries &&
      seen.ownerTriesLocked > 0;
    const passed = serverAlive && ownerGotIn && seen.bystanderRefusals.length === 0 &&
      baseline.bystanderRefusals.length === 0 && summary.max <= boundMs;
    const round = (ms: number) => Math.round(ms);
    return {
      scenario: "logins",
      passed,
      bound: `the bystander always gets in, within ${MAX_BYSTANDER_DELAY_MS} ms or its slowest ` +
        `login without the attack + ${MAX_ADDED_DELAY_MS} ms (here ${round(boundMs)} ms); ` +
        "the owner gets in from an address it used before, also once the account is locked",
      figures: {
        attackConnections: connections,
        attackSeconds: round(attackMs / 1000),
        attackHellos: counts.hellos,
        attackChecked: counts.checked,
        attackRefusedPending: counts.refusedPending,
        attackRefusedLocked: counts.refusedLocked,
        attackOther: counts.other,
        accountLockedAfterS: counts.lockedAtMs === undefined
          ? "never"
          : Number((counts.lockedAtMs / 1000).toFixed(1)),
        bystanderLoginsWithoutAttack: idle.samples,
        bystanderLoginMsMedianWithoutAttack: round(idle.p50),
        bystanderLoginMsMaxWithoutAttack: round(idle.max),
        bystanderLogins: summary.samples,
        bystanderRefused: seen.bystanderRefusals.length,
        bystanderFirstRefusal: seen.bystanderRefusals[0] ?? "none",
        bystanderLoginMsMedian: round(summary.p50),
        bystanderLoginMsP99: round(summary.p99),
        bystanderLoginMsMax: round(summary.max),
        bystanderLoginMsMaxBeforeLock: round(beforeLock.max),
        ownerLogins:
          `${seen.ownerWelcomes} of ${seen.ownerTries} (${seen.ownerWelcomesLocked} of ${seen.ownerTriesLocked} while locked)`,
        ownerGotIn,
        newAddressWhileLocked: seen.newcomer ?? "not tried",
        rssPeakMiB: round(rssPeakKiB / 1024),
        serverCpuPercent: round(serverCpuPercent),
        machineLoadAverage:
          `${loadBefore} at the start, ${loadAfter} at the end (${navigator.hardwareConcurrency} cores)`,
        serverAlive,
      },
    };
  } finally {
    await server.stop();
  }
}

/** The scenario, for {@linkcode SOAK_SCENARIOS}. */
export const LOGINS_SCENARIO: SoakScenario = {
  name: "logins",
  description: `${DEFAULT_SERVER_OPTIONS.maxConnectionsPerIp} connections from one address ` +
    "send wrong passwords for an account; a bystander on another address must still log in " +
    `within ${MAX_BYSTANDER_DELAY_MS} ms (or ${MAX_ADDED_DELAY_MS} ms over its slowest login ` +
    "without the attack), and the owner from an address it used before",
  run,
};
