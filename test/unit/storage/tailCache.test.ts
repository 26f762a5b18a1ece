// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GENESIS_HASH, makeEntry, type LogEntry } from "../../../src/storage/index.ts";
import { TailCache } from "../../../src/storage/tailCache.ts";

function entry(index: number, bytes = 10): LogEntry {
  return makeEntry(index, 1, "02aa", GENESIS_HASH, new Uint8Array(bytes));
}

describe("TailCache (the newest entries in memory)", () => {
  it("keeps the newest entries within the count bound", () => {
    const cache = new TailCache(3, 1000);
    for (let i = 1; i <= 5000; i++) cache.push(entry(i));
    assert.equal(cache.size, 3);
    assert.equal(cache.start, 4998);
    assert.equal(cache.get(4997), undefined);
    assert.equal(cache.get(5000)?.index, 5000);
    assert.equal(cache.get(5001), undefined);
  });

  it("keeps within the byte bound but always the newest entry", () => {
    const cache = new TailCache(100, 25);
    cache.push(entry(1));
    cache.push(entry(2));
    cache.push(entry(3));
    assert.equal(cache.start, 2);
    cache.push(entry(4, 100));
    assert.equal(cache.size, 1);
    assert.equal(cache.get(4)?.index, 4);
  });

  it("truncates the newest and drops the oldest", () => {
    const cache = new TailCache(10, 1000);
    for (let i = 1; i <= 6; i++) cache.push(entry(i));
    cache.truncateFrom(5);
    assert.equal(cache.get(5), undefined);
    assert.equal(cache.get(4)?.index, 4);
    cache.dropUpTo(2);
    assert.equal(cache.start, 3);
    cache.dropUpTo(9);
    assert.equal(cache.size, 0);
    assert.equal(cache.start, undefined);
    cache.push(entry(10));
    assert.equal(cache.start, 10);
  });

  it("holds nothing with a count bound of 0", () => {
    const cache = new TailCache(0, 1000);
    cache.push(entry(1));
    assert.equal(cache.size, 0);
  });
});
