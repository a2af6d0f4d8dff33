/**
 * One HTTP attempt of a webhook delivery: a signed JSON POST with a
 * timeout, redirects not followed, the response body read up to a cap.
 * The outcome says whether to retry: network errors, timeouts, 5xx and
 * 429 are worth another attempt; any other answer is final.
 *
 * @module
 */
import { VERSION } from "../../shared/version.ts";
import { SIGNATURE_HEADER, signPayload } from "./webhook_signature.ts";

/** What one attempt came to. */
export type SendOutcome =
  /** A 2xx answer; `reply` is the body text when the status was 200 and it fit the cap. */
  | { kind: "delivered"; status: number; reply?: string; tooLarge?: true }
  /** Worth another attempt; `retryAfterMs` from a 429's or 503's Retry-After. */
  | { kind: "retry"; reason: string; retryAfterMs?: number }
  /** Refused for good (another 4xx, a redirect): not retried. */
  | { kind: "refused"; reason: string };

/** What an attempt sends. */
export interface SendRequest {
  url: string;
  secret: string;
  webhook: string;
  delivery: string;
  /** The JSON body, exactly as signed. */
  body: string;
  /** Unix seconds, signed with the body. */
  seconds: number;
  /** Aborts the attempt (the server shutting down, the webhook removed). */
  signal?: AbortSignal;
}

/** Sends one attempt: the HTTP one in the server, a fake in unit tests. */
export type Sender = (request: SendRequest) => Promise<SendOutcome>;

/** The limits of {@linkcode httpSender}. */
export interface HttpSenderOptions {
  /** How long an attempt may take, headers and body, in ms. */
  timeoutMs: number;
  /** Most bytes of a response body read; a longer one is not a reply. */
  maxResponseBytes: number;
}

/** Reads at most `maxBytes` of a body: its text, or undefined when it is longer. */
async function readCapped(response: Response, maxBytes: number): Promise<string | undefined> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) return undefined;
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** Retry-After in seconds (the date form is not used by receivers worth waiting for). */
function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get("retry-after");
  if (value === null || !/^\d{1,6}$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

/**
 * The server's {@linkcode Sender}: `fetch` with the signature headers.
 *
 * @example
 * ```ts ignore
 * import { httpSender } from "./webhook_sender.ts";
 * const send = httpSender({ timeoutMs: 5000, maxResponseBytes: 65536 });
 * ```
 */
export function httpSender(options: HttpSenderOptions): Sender {
  return async (request) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeoutMs);
    try {
      const response = await fetch(request.url, {
        method: "POST",
        body: request.body,
        redirect: "manual",
        signal: request.signal === undefined
          ? controller.signal
          : AbortSignal.any([controller.signal, request.signal]),
        headers: {
          "content-type": "application/json",
          "user-agent": `chat/${VERSION} (webhook)`,
          "x-chat-webhook": request.webhook,
          "x-chat-delivery": request.delivery,
          [SIGNATURE_HEADER]: await signPayload(request.secret, request),
        },
      });
      const status = response.status;
      if (status >= 200 && status < 300) {
        if (status !== 200) {
          await response.body?.cancel();
          return { kind: "delivered", status };
        }
        const reply = await readCapped(response, options.maxResponseBytes);
        return reply === undefined
          ? { kind: "delivered", status, tooLarge: true }
          : { kind: "delivered", status, reply };
      }
      await response.body?.cancel();
      if (status >= 300 && status < 400) {
        // Never followed: the URL is what the operator checked.
        return { kind: "refused", reason: `HTTP ${status} redirect, not followed` };
      }
      if (status === 429 || status >= 500) {
        const wait = retryAfterMs(response);
        return wait === undefined
          ? { kind: "retry", reason: `HTTP ${status}` }
          : { kind: "retry", reason: `HTTP ${status}`, retryAfterMs: wait };
      }
      return { kind: "refused", reason: `HTTP ${status}` };
    } catch (error) {
      const reason = request.signal?.aborted
        ? "stopped"
        : controller.signal.aborted
        ? `no answer within ${options.timeoutMs} ms`
        : error instanceof Error
        ? error.message
        : String(error);
      return { kind: "retry", reason };
    } finally {
      clearTimeout(timer);
    }
  };
}
