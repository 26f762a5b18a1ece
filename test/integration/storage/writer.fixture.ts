// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Child process of the SIGKILL test: opens the store at argv[2], prints its recovery report as
 * `recovered <entries> <droppedTail> <lastIndex>`, then appends batches of 1 to 8 entries forever
 * in term argv[3], printing `durable <lastIndex>` after each append has returned. The parent kills it.
 */
import { makeEntry, SqliteLogStore, type LogEntry } from "../../../src/storage/index.ts";

const [path, termArg] = process.argv.slice(2);
if (path === undefined || termArg === undefined) throw new Error("usage: writer.fixture.ts <db path> <term>");
const term = Number(termArg);

const { store, report } = await SqliteLogStore.open(path);
process.stdout.write(`recovered ${report.entries} ${report.droppedTail} ${store.lastIndex()}\n`);
let prevHash = store.entry(store.lastIndex())?.hash ?? store.snapshot()?.meta.hash;
if (prevHash === undefined) prevHash = "0".repeat(64);
for (let n = 0; ; n++) {
  const batch: LogEntry[] = [];
  for (let k = 0; k <= n % 8; k++) {
    const index = store.lastIndex() + 1 + k;
    const e = makeEntry(index, term, `leader-${term}`, prevHash, new TextEncoder().encode(`entry ${index} `.repeat(1 + (index % 20))));
    batch.push(e);
    prevHash = e.hash;
  }
  await store.append(batch);
  process.stdout.write(`durable ${store.lastIndex()}\n`);
}
