/**
 * The server under test, run as a subprocess (`deno run -A main.ts serve`)
 * on 127.0.0.1 with a free port, so its CPU time and memory can be read
 * from /proc apart from the load generator's.
 *
 * @module
 */
import { cpuSeconds, rssKiB } from "./proc_stats.ts";

/**
 * Flags the bench adds to `chat serve`: the per-connection request rate and
 * the connection caps would otherwise refuse the load itself. Every other
 * limit (queue bound, frame and line caps, heartbeat…) keeps its default.
 */
export const RAISED_SERVER_FLAGS: readonly string[] = [
  "--rate-burst",
  "1000000",
  "--rate-per-second",
  "1000000",
  "--max-connections-per-ip",
  "100000",
  "--max-connections",
  "100000",
  "--max-handshakes-per-ip",
  "100000",
];

/**
 * The whole `chat serve` command line the bench uses, with `extra` flags
 * appended; `raisedLimits: false` keeps every default limit (soak runs attack
 * the server as it ships).
 */
export function serveFlags(
  extra: readonly string[] = [],
  options: { raisedLimits?: boolean } = {},
): string[] {
  return [
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--log-level",
    "warning",
    ...(options.raisedLimits === false ? [] : RAISED_SERVER_FLAGS),
    ...extra,
  ];
}

/**
 * The `--v8-flags=…` that `deno task serve` runs the server with (read from
 * deno.json), so the bench measures the server as it is run; none if the
 * task sets none.
 */
export async function taskV8Flags(): Promise<string[]> {
  try {
    const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
    const task = config?.tasks?.serve;
    const command = typeof task === "string"
      ? task
      : typeof task?.command === "string"
      ? task.command
      : "";
    return [...command.matchAll(/(?:^|\s)(--v8-flags=\S+)/g)].map((match) => match[1]!);
  } catch {
    return [];
  }
}

/** Options for {@linkcode ServerProcess.start}. */
export interface ServerProcessOptions {
  /** Flags for `deno` before the script (e.g. `--inspect=127.0.0.1:9229`). */
  denoFlags?: readonly string[];
  /** Also pass the `--v8-flags` of `deno task serve` (default true). */
  taskV8Flags?: boolean;
  /** Flags appended to `chat serve` after the raised limits. */
  extraFlags?: readonly string[];
  /** Raise the rate and connection caps so the load itself is not refused (default true). */
  raisedLimits?: boolean;
  /** Script to run instead of main.ts (given `serve` and the flags). */
  entry?: string;
  /** Time allowed to print the listening line, in ms. */
  startTimeoutMs?: number;
  /**
   * Give the server a fresh temporary data directory (`--data`), removed
   * when it stops, so runs neither see each other's history nor write into
   * the working directory. Skipped when the extra flags choose storage.
   */
  tempData?: boolean;
}

const MAIN = new URL("../main.ts", import.meta.url);

/** A running server subprocess. */
export class ServerProcess implements AsyncDisposable {
  readonly pid: number;
  readonly port: number;
  /** The `chat serve` flags it was started with. */
  readonly flags: readonly string[];
  readonly #child: Deno.ChildProcess;
  readonly #status: Promise<Deno.CommandStatus>;
  readonly #output: string[];
  readonly #dataDir: string | undefined;
  #stopped = false;
  #exited = false;
  /** The V8 inspector's WebSocket URL, when started with `--inspect`. */
  inspectorUrl: string | undefined;

  private constructor(
    child: Deno.ChildProcess,
    port: number,
    flags: readonly string[],
    output: string[],
    dataDir: string | undefined,
  ) {
    this.#dataDir = dataDir;
    this.#child = child;
    this.pid = child.pid;
    this.port = port;
    this.flags = flags;
    this.#output = output;
    this.#status = child.status;
    this.#status.then(() => this.#exited = true, () => this.#exited = true);
  }

  /** Starts a server and resolves once it prints `listening on HOST:PORT`. */
  static async start(options: ServerProcessOptions = {}): Promise<ServerProcess> {
    const extra = options.extraFlags ?? [];
    const choosesStorage = extra.some((flag) => /^--(data|memory)(=|$)/.test(flag));
    const dataDir = options.tempData !== false && !choosesStorage
      ? await Deno.makeTempDir({ prefix: "chat-bench-" })
      : undefined;
    const flags = serveFlags(dataDir === undefined ? extra : [...extra, "--data", dataDir], {
      raisedLimits: options.raisedLimits ?? true,
    });
    const entry = options.entry ?? MAIN.pathname;
    const v8Flags = options.taskV8Flags === false ? [] : await taskV8Flags();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...v8Flags, ...(options.denoFlags ?? []), entry, "serve", ...flags],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output: string[] = [];
    let inspector: string | undefined;
    let onListening: (port: number) => void = () => {};
    const listening = new Promise<number>((resolve) => onListening = resolve);
    // Keep draining both pipes for the server's whole life so it never blocks
    // on a full pipe; remember the last lines for error messages.
    const drain = async (stream: ReadableStream<Uint8Array>) => {
      let pending = "";
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        pending += text;
        let newline: number;
        while ((newline = pending.indexOf("\n")) !== -1) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          output.push(line);
          if (output.length > 50) output.shift();
          inspector ??= /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1];
          const match = /listening on (?:\[[^\]]*\]|[^\s:]+):(\d+)/.exec(line);
          if (match) onListening(Number(match[1]));
        }
      }
    };
    drain(child.stdout).catch(() => {});
    drain(child.stderr).catch(() => {});
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = Promise.race([
      child.status.then((status) => `exited with code ${status.code}`),
      new Promise<string>((resolve) =>
        timer = setTimeout(() => resolve(`printed no listening line in ${timeoutMs} ms`), timeoutMs)
      ),
    ]);
    const port = await Promise.race([listening, failed]);
    clearTimeout(timer);
    if (typeof port === "string") {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await child.status;
      if (dataDir !== undefined) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      throw new Error(`Server ${port}:\n${output.join("\n")}`);
    }
    const server = new ServerProcess(child, port, flags, output, dataDir);
    server.inspectorUrl = inspector;
    return server;
  }

  /** The server's last lines of output. */
  get output(): string {
    return this.#output.join("\n");
  }

  /** Whether the process has exited (crashed, or stopped). */
  get exited(): boolean {
    return this.#exited;
  }

  /** CPU seconds (user + system, all threads) the server has used so far. */
  cpuSeconds(): Promise<number> {
    return cpuSeconds(this.pid);
  }

  /** The server's resident memory, in KiB. */
  rssKiB(): Promise<number> {
    return rssKiB(this.pid);
  }

  /** Stops the server: SIGTERM, then SIGKILL if it has not exited in `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.#status.then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), graceMs)),
    ]);
    clearTimeout(timer);
    if (!exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
      await this.#status;
    }
    if (this.#dataDir !== undefined) {
      await Deno.remove(this.#dataDir, { recursive: true }).catch(() => {});
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
