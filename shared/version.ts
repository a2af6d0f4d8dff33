/**
 * The version of this build. `deno task compile` stamps the commit through
 * the CHAT_COMMIT environment variable baked in at compile time.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };

/** The release version, from deno.json. */
export const VERSION: string = denoJson.version;

/** The commit this build came from, or "dev" when run from source. */
export const COMMIT: string = (() => {
  try {
    return Deno.env.get("CHAT_COMMIT") ?? "dev";
  } catch {
    return "dev";
  }
})();
