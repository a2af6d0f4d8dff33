/**
 * The version of this build: the release from deno.json, and the commit
 * that `deno task compile` stamps into shared/build_info.ts.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import { BUILD_COMMIT } from "./build_info.ts";

/** The release version, from deno.json. */
export const VERSION: string = denoJson.version;

/** The commit this build came from, or "dev" when run from source. */
export const COMMIT: string = BUILD_COMMIT;
