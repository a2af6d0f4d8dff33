/**
 * Runs `chat serve` as a real subprocess for end-to-end tests.
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A `chat serve` subprocess and what it printed. */
export class ServerProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly port: number;
  #output: { text: string };
  #pump: Promise<void>;

  private constructor(
    child: Deno.ChildProcess,
    port: number,
    output: { text: string },
    pump: Promise<void>,
  ) {
    this.child = child;
    this.port = port;
    this.#output = output;
    this.#pump = pump;
  }

  /**
   * Starts `chat serve --host 127.0.0.1 --port 0 ARGS` (optionally under a
   * wrapper command such as `prlimit`) and waits for its "listening on" line.
   */
  static async start(
    args: string[] = [],
    options: { wrapper?: string[] } = {},
  ): Promise<ServerProcess> {
    const serve = [
      Deno.execPath(),
      "run",
      "-A",
      MAIN,
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      ...args,
    ];
    const [command, ...rest] = [...(options.wrapper ?? []), ...serve];
    const child = new Deno.Command(command!, {
      args: rest,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
    const output = { text: "" };
    let resolvePort: (port: number) => void;
    let rejectPort: (error: Error) => void;
    const portFound = new Promise<number>((resolve, reject) => {
      resolvePort = resolve;
      rejectPort = reject;
    });
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        output.text += decoder.decode(chunk, { stream: true });
        const match = /listening on [^\s]*:(\d+)/.exec(output.text);
        if (match) resolvePort(Number(match[1]));
      }
    };
    const pump = Promise.all([collect(child.stdout), collect(child.stderr)]).then(() => {
      rejectPort(new Error(`server exited before listening:\n${output.text}`));
    });
    const timer = setTimeout(
      () => rejectPort(new Error(`server not listening after 20 s:\n${output.text}`)),
      20_000,
    );
    try {
      const port = await portFound;
      return new ServerProcess(child, port, output, pump);
    } catch (error) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await child.status;
      await pump;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Everything the server printed so far (stdout and stderr). */
  get output(): string {
    return this.#output.text;
  }

  /** Sends `signal` and resolves to the exit status once output is drained. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
    const status = await this.child.status;
    await this.#pump;
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
  }
}

/**
 * Runs `chat ARGS` to completion and returns its exit code and output;
 * `env` adds variables, and `signal` kills it (SIGTERM) when aborted.
 */
export async function runChat(
  args: string[],
  options: { stdin?: string; env?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}
