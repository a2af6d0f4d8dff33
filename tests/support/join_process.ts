/**
 * Runs `chat join` as a real subprocess with its stdin held open, for
 * end-to-end tests of the client.
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

/** `chat join ARGS` with stdin held open, its output read as it comes. */
export class JoinProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pump: Promise<void>;
  #inputClosed = false;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "join", ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    const collect = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) this[into] += decoder.decode(chunk, { stream: true });
    };
    this.#pump = Promise.all([
      collect(this.child.stdout, "stdout"),
      collect(this.child.stderr, "stderr"),
    ])
      .then(() => {});
  }

  get lines(): string[] {
    return this.stdout.split("\n").filter((line) => line !== "");
  }

  get records(): Json[] {
    return this.lines.map((line) => JSON.parse(line));
  }

  async write(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text));
  }

  async closeInput(): Promise<void> {
    if (this.#inputClosed) return;
    this.#inputClosed = true;
    await this.#writer.close().catch(() => {});
  }

  async waitFor(found: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!found()) {
      if (Date.now() > deadline) {
        throw new Error(
          `no ${what} within ${timeoutMs} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Closes stdin and waits for the exit code. */
  async finish(): Promise<number> {
    await this.closeInput();
    const { code } = await this.child.status;
    await this.#pump;
    return code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.closeInput();
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.child.status;
    await this.#pump;
  }
}
