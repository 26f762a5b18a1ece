// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Messages between log cores (docs/consensus.md "Message types"), and the vote request as it
 * reaches us through Mokka's `customVoteRule`. The transport authenticates the sender and decodes
 * the frame; `tryParseMessage` / `tryParseVoteRequest` then check the shape, so nothing malformed
 * reaches the core, and they never throw: the network is untrusted input.
 *
 * Integrity of entries (hash chain, `isEntryIntact`) is checked by the core itself, because only
 * the core knows which prefix an entry must continue.
 */
import { z } from "zod";
import type { LogEntry, SnapshotMeta } from "../storage/index.ts";

/**
 * Leader -> follower: entries after (prevIndex, prevTerm, prevHash), or none (heartbeat/probe).
 * `lastIndex`/`lastTerm` are the leader's own log end: a follower that has not yet recorded a
 * leader for `term` records this one only if that log is at least as up to date as its own.
 */
export interface AppendMessage {
  readonly type: "append";
  readonly term: number;
  readonly leader: string;
  readonly prevIndex: number;
  readonly prevTerm: number;
  /** Hash of the entry at prevIndex: matches the whole prefix, not only its term (two leaders may share a term). */
  readonly prevHash: string;
  readonly entries: readonly LogEntry[];
  readonly leaderCommit: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
}

/** Follower -> leader: the answer to an append or a snapshot. */
export interface AppendAckMessage {
  readonly type: "appendAck";
  /** The follower's current term. */
  readonly term: number;
  /** True when the follower has recorded the recipient as leaderOfTerm[term]. */
  readonly accepted: boolean;
  /** True when prev matched; then the follower's log equals the leader's up to matchIndex. */
  readonly success: boolean;
  /** On success, the highest index known to match the leader; 0 otherwise. */
  readonly matchIndex: number;
  /** On failure, the prevIndex that did not match (lets the leader drop stale refusals); 0 otherwise. */
  readonly rejectIndex: number;
  /** On failure, the leader should retry from hint + 1 (fast back-off). */
  readonly hint: number;
}

/** Leader -> follower behind the leader's first index: the application state up to meta.index. */
export interface SnapshotMessage {
  readonly type: "snapshot";
  readonly term: number;
  readonly leader: string;
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
  readonly lastIndex: number;
  readonly lastTerm: number;
}

/** Backstop riding on Mokka's own heartbeats (resMiddleware): lets a lagging follower ask for more. */
export interface HeartbeatMessage {
  readonly type: "heartbeat";
  readonly term: number;
  readonly leader: string;
  readonly commitIndex: number;
  readonly lastIndex: number;
}

export type ConsensusMessage = AppendMessage | AppendAckMessage | SnapshotMessage | HeartbeatMessage;

/** A vote request as Mokka's customVoteRule sees it (lastIndex/lastTerm added by the candidate's resMiddleware). */
export interface VoteRequest {
  readonly term: number;
  readonly candidate: string;
  readonly lastIndex: number;
  readonly lastTerm: number;
}

/** Limits on untrusted input. */
export const MAX_ENTRIES_PER_APPEND = 10_000;
const MAX_ID_LENGTH = 256;

const position = z.int().min(0);
const hash = z.string().regex(/^[0-9a-f]{64}$/);
const id = z.string().min(1).max(MAX_ID_LENGTH);
const bytes = z.instanceof(Uint8Array);

const entrySchema = z.strictObject({
  index: z.int().min(1),
  term: z.int().min(1),
  leader: id,
  prevHash: hash,
  data: bytes,
  hash,
});

const messageSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("append"),
    term: z.int().min(1),
    leader: id,
    prevIndex: position,
    prevTerm: position,
    prevHash: hash,
    entries: z.array(entrySchema).max(MAX_ENTRIES_PER_APPEND),
    leaderCommit: position,
    lastIndex: position,
    lastTerm: position,
  }),
  z.strictObject({
    type: z.literal("appendAck"),
    term: position,
    accepted: z.boolean(),
    success: z.boolean(),
    matchIndex: position,
    rejectIndex: position,
    hint: position,
  }),
  z.strictObject({
    type: z.literal("snapshot"),
    term: z.int().min(1),
    leader: id,
    meta: z.strictObject({ index: z.int().min(1), term: z.int().min(1), hash }),
    data: bytes,
    lastIndex: position,
    lastTerm: position,
  }),
  z.strictObject({
    type: z.literal("heartbeat"),
    term: z.int().min(1),
    leader: id,
    commitIndex: position,
    lastIndex: position,
  }),
]);

const voteRequestSchema = z.strictObject({
  term: z.int().min(1),
  candidate: id,
  lastIndex: position,
  lastTerm: position,
});

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue === undefined ? "invalid" : `${issue.path.join(".") || "(root)"}: ${issue.message}`;
}

/** Checks a decoded frame's shape; never throws. */
export function tryParseMessage(input: unknown): ParseResult<ConsensusMessage> {
  try {
    const r = messageSchema.safeParse(input);
    return r.success ? { ok: true, value: r.data } : { ok: false, error: firstIssue(r.error) };
  } catch (cause) {
    // safeParse should not throw; a hostile getter or proxy might. Never past this boundary.
    return { ok: false, error: `unparseable: ${String(cause)}` };
  }
}

/** Checks a vote request's shape; never throws. */
export function tryParseVoteRequest(input: unknown): ParseResult<VoteRequest> {
  try {
    const r = voteRequestSchema.safeParse(input);
    return r.success ? { ok: true, value: r.data } : { ok: false, error: firstIssue(r.error) };
  } catch (cause) {
    return { ok: false, error: `unparseable: ${String(cause)}` };
  }
}
