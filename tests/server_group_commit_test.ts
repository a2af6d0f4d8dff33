import assert from "node:assert/strict";
import { GroupCommit, StoreBusyError } from "../server/store/group_commit.ts";

Deno.test("GroupCommit writes items added in one turn as one batch, in order", async () => {
  const batches: number[][] = [];
  const commits = new GroupCommit<number>((batch) => {
    batches.push([...batch]);
    return Promise.resolve();
  });
  await Promise.all([commits.add(1), commits.add(2), commits.add(3)]);
  await commits.add(4);
  assert.deepEqual(batches, [[1, 2, 3], [4]]);
});

Deno.test("GroupCommit starts commits through its schedule option", async () => {
  const starts: (() => void)[] = [];
  const batches: number[][] = [];
  const commits = new GroupCommit<number>((batch) => {
    batches.push([...batch]);
    return Promise.resolve();
  }, { schedule: (start) => starts.push(start) });
  const first = commits.add(1);
  const second = commits.add(2);
  await new Promise((resolve) => setTimeout(resolve, 5));
  // Nothing is written until the schedule says so, and it was asked once.
  assert.deepEqual(batches, []);
  assert.equal(starts.length, 1);
  starts[0]!();
  await Promise.all([first, second]);
  assert.deepEqual(batches, [[1, 2]]);
});

Deno.test("GroupCommit rejects every item of a failed batch and refuses beyond maxPending", async () => {
  let fail = true;
  const commits = new GroupCommit<number>(
    () => fail ? Promise.reject(new Error("disk full")) : Promise.resolve(),
    { maxPending: 2 },
  );
  const results = await Promise.allSettled([commits.add(1), commits.add(2), commits.add(3)]);
  assert.deepEqual(results.map((result) => result.status), ["rejected", "rejected", "rejected"]);
  assert.ok((results[2] as PromiseRejectedResult).reason instanceof StoreBusyError);
  assert.equal((results[0] as PromiseRejectedResult).reason.message, "disk full");
  fail = false;
  await commits.add(4);
  assert.equal(commits.pending, 0);
});
