/**
 * Facts about this build. `deno task compile` (deploy/build.ts) rewrites
 * this file with the commit for the binaries it builds, then restores it;
 * from source it says "dev".
 *
 * @module
 */

/** The commit the build came from, or "dev" when run from source. */
export const BUILD_COMMIT: string = "dev";
