// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Bounded JSON bodies. `JSON.parse` runs on the event loop the whole node shares, and its cost is
 * not only the body's size: an 8 MiB body holding one object with 700,000 keys took 420-490 ms to
 * parse on this 2-core machine (a dictionary-mode object), against 11-15 ms for a 3.7 MB batch of
 * 10,000 well-formed transfers. So a body is first scanned for its shape, in slices that yield to
 * the event loop, and refused 400 before any parse when it could never be a request of PROTOCOL.md
 * §2: nested deeper than `maxDepth`, an object with more than `maxKeysPerObject` fields, or more
 * than `maxValues` values in all. Within those bounds JSON.parse of the largest body (8 MiB) costs
 * a few tens of milliseconds, which we accept rather than parse JSON ourselves (docs/api.md, "Bounded work").
 *
 * The scanner only counts: it does not check the JSON grammar, which JSON.parse does right after.
 */
import { DeltaError } from "../errors.ts";

/** Bounds on a body's shape, checked before it is parsed. */
export interface JsonShapeLimits {
  /** Containers (objects, arrays) nested in one another, the outermost counted. */
  readonly maxDepth: number;
  /** Fields of one object. */
  readonly maxKeysPerObject: number;
  /** Values in the whole body: every member of every object and element of every array, plus the root. */
  readonly maxValues: number;
}

/**
 * Defaults. A batch is 3 deep (body, `transfers`, item); a transfer has 8 fields; 8 MiB of
 * well-formed transfers is about 22,000 items of 9 values each (200,000 values): every body that a
 * client could mean stays inside, so each keeps its exact answer (BATCH_SIZE for 10,001 items,
 * UNKNOWN_FIELD in place for an item with a stray field).
 */
export const DEFAULT_JSON_SHAPE_LIMITS: JsonShapeLimits = { maxDepth: 16, maxKeysPerObject: 64, maxValues: 262_144 };

/** Why a body's shape was refused. */
export type JsonShapeRefusal = { readonly reason: "depth" | "keys" | "values"; readonly message: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Counts a JSON text's containers and members, a slice at a time (`scan(until)`), and refuses it as
 * soon as it passes a bound. Pure and synchronous: the caller decides when to yield.
 */
export class JsonShapeScanner {
  readonly #text: string;
  readonly #limits: JsonShapeLimits;
  /** Per open container: 1 for an object, 0 for an array. */
  readonly #isObject: number[] = [];
  /** Per open container: members so far (0 until its first value). */
  readonly #members: number[] = [];
  #pos = 0;
  #values = 0;
  #refusal: JsonShapeRefusal | undefined;

  constructor(text: string, limits: JsonShapeLimits = DEFAULT_JSON_SHAPE_LIMITS) {
    this.#text = text;
    this.#limits = limits;
  }

  /** True once the whole text is scanned or a bound was passed. */
  get done(): boolean {
    return this.#refusal !== undefined || this.#pos >= this.#text.length;
  }

  /** The refusal, once a bound was passed. */
  get refusal(): JsonShapeRefusal | undefined {
    return this.#refusal;
  }

  /** Scans on to at least character `until` (further inside a string); returns the refusal if a bound was passed. */
  scan(until: number): JsonShapeRefusal | undefined {
    const text = this.#text;
    const end = Math.min(until, text.length);
    let pos = this.#pos;
    while (pos < end && this.#refusal === undefined) {
      const c = text.charCodeAt(pos);
      if (isSpace(c)) {
        pos++;
        continue;
      }
      const depth = this.#members.length;
      if (c === COMMA) {
        if (depth > 0) this.#member(depth);
        pos++;
        continue;
      }
      if (c === COLON) {
        pos++;
        continue;
      }
      if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        this.#isObject.pop();
        this.#members.pop();
        pos++;
        continue;
      }
      // A value begins (or an object's key, which the member count covers).
      if (depth > 0 && this.#members[depth - 1] === 0) this.#member(depth);
      else if (depth === 0) this.#count(1);
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (depth + 1 > this.#limits.maxDepth) {
          this.#refuse("depth", `the body nests objects and arrays more than ${this.#limits.maxDepth} deep; a request of PROTOCOL.md §2 is at most 3 deep`);
          break;
        }
        this.#isObject.push(c === OPEN_OBJECT ? 1 : 0);
        this.#members.push(0);
        pos++;
        continue;
      }
      if (c === QUOTE) {
        pos = skipString(text, pos + 1);
        continue;
      }
      // A number or literal: skip to the next structural character.
      pos++;
      while (pos < text.length) {
        const d = text.charCodeAt(pos);
        if (d === COMMA || d === CLOSE_OBJECT || d === CLOSE_ARRAY || d === COLON || d === QUOTE || d === OPEN_OBJECT || d === OPEN_ARRAY || isSpace(d)) break;
        pos++;
      }
    }
    this.#pos = pos;
    return this.#refusal;
  }

  /** A new member of the innermost container (`depth` open). */
  #member(depth: number): void {
    const members = (this.#members[depth - 1] ?? 0) + 1;
    this.#members[depth - 1] = members;
    if (this.#isObject[depth - 1] === 1 && members > this.#limits.maxKeysPerObject) {
      this.#refuse("keys", `an object in the body has more than ${this.#limits.maxKeysPerObject} fields; a transfer has 8, a batch body 1`);
      return;
    }
    this.#count(1);
  }

  #count(n: number): void {
    this.#values += n;
    if (this.#values > this.#limits.maxValues) {
      this.#refuse("values", `the body holds more than ${this.#limits.maxValues} JSON values; a batch of 10,000 transfers holds about 90,000`);
    }
  }

  #refuse(reason: JsonShapeRefusal["reason"], message: string): void {
    this.#refusal ??= { reason, message };
  }
}

/** The index just past the string that starts before `from` (its opening quote already read). */
function skipString(text: string, from: number): number {
  let pos = from;
  for (;;) {
    const quote = text.indexOf('"', pos);
    if (quote < 0) return text.length; // unterminated: JSON.parse will say so
    // The quote is escaped when an odd number of backslashes precede it.
    let backslashes = 0;
    for (let i = quote - 1; i >= from && text.charCodeAt(i) === BACKSLASH; i--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    pos = quote + 1;
  }
}

/** Characters scanned or walked between two checks of the slice's time. */
const WALK_STEP_CHARS = 256 * 1024;

/**
 * A JSON text up to this long is handed to JSON.parse whole. Larger containers are split at their
 * own top level and parsed in runs of members of about this size, so that no one JSON.parse call
 * costs more than a few milliseconds whatever the body's shapes (new key orders make V8 build new
 * hidden classes: 4,000 objects of 64 distinct keys, 3.4 MB, took 430-550 ms in one call).
 */
export const PARSE_CHUNK_CHARS = 16 * 1024;

/** Decides when to yield: `pause()` resolves at once inside a slice, after a turn of the event loop past it. */
export interface Slicer {
  pause(): Promise<void> | undefined;
}

/** A Slicer that yields (setImmediate) once `sliceMs` has passed since the last yield. */
export function timeSlicer(sliceMs: number, now: () => number, yieldNow: () => Promise<void>): Slicer {
  let since = now();
  return {
    pause(): Promise<void> | undefined {
      if (now() - since < sliceMs) return undefined;
      return yieldNow().then(() => {
        since = now();
      });
    },
  };
}

const notJson = (): DeltaError => new DeltaError("INVALID_BODY", "the body is not valid JSON (an object is expected)");

/**
 * Parses `text` as body-parser's strict JSON did (the first non-blank character opens an object or
 * an array; an empty text is `{}`), in slices: its shape is checked against `limits` first
 * (INVALID_BODY naming the bound), then big containers are parsed a run of members at a time.
 * The value equals `JSON.parse(text)`, and a text JSON.parse refuses is refused.
 * @throws DeltaError INVALID_BODY
 */
export async function parseBoundedJson(text: string, options: ParseOptions): Promise<unknown> {
  const { limits, slicer } = options;
  const ctx: ParseContext = { slicer, chunkChars: options.chunkChars ?? PARSE_CHUNK_CHARS };
  if (text.length === 0) return {};
  const first = firstNonBlank(text);
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) throw notJson();
  const scanner = new JsonShapeScanner(text, limits);
  for (let until = WALK_STEP_CHARS; ; until += WALK_STEP_CHARS) {
    const refusal = scanner.scan(until);
    if (refusal !== undefined) throw new DeltaError("INVALID_BODY", refusal.message, { details: { limit: refusal.reason } });
    if (scanner.done) break;
    await slicer.pause();
  }
  try {
    return await parseSpan(text, 0, text.length, ctx);
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof NotJson) throw notJson();
    throw error;
  }
}

/** Options of parseBoundedJson. */
export interface ParseOptions {
  readonly limits: JsonShapeLimits;
  readonly slicer: Slicer;
  /** Containers longer than this are split (default PARSE_CHUNK_CHARS; tests lower it). */
  readonly chunkChars?: number;
}

interface ParseContext {
  readonly slicer: Slicer;
  readonly chunkChars: number;
}

/** Thrown inside the parser where the text breaks JSON's grammar; answered as INVALID_BODY. */
class NotJson extends Error {}

function firstNonBlank(text: string): number | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!isSpace(c)) return c;
  }
  return undefined;
}

/** One JSON value in text[start, end), blanks around it allowed. */
async function parseSpan(text: string, start: number, end: number, ctx: ParseContext): Promise<unknown> {
  const { slicer, chunkChars } = ctx;
  let s = start;
  let e = end;
  while (s < e && isSpace(text.charCodeAt(s))) s++;
  while (e > s && isSpace(text.charCodeAt(e - 1))) e--;
  const open = text.charCodeAt(s);
  // Small values, and big strings or numbers (cheap to parse at any size), go to JSON.parse whole.
  if (e - s <= chunkChars || (open !== OPEN_OBJECT && open !== OPEN_ARRAY)) return JSON.parse(text.slice(s, e));
  const isObject = open === OPEN_OBJECT;
  if (text.charCodeAt(e - 1) !== (isObject ? CLOSE_OBJECT : CLOSE_ARRAY)) throw new NotJson();
  const parts = await splitTopLevel(text, s + 1, e - 1, slicer);
  const [only] = parts;
  if (parts.length === 1 && only !== undefined && isBlank(text, only[0], only[1])) return isObject ? {} : [];
  const array: unknown[] = [];
  const object: Record<string, unknown> = {};
  const put = (key: string, value: unknown): void => {
    // Like JSON.parse: an own property even for "__proto__", never the prototype.
    Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  };
  let i = 0;
  while (i < parts.length) {
    // A run of small members, parsed together by one JSON.parse.
    let j = i;
    while (j < parts.length) {
      const part = parts[j]!;
      // A blank member ("[1,,2]", "[1,]") is no JSON; wrapped in a run it would parse as nothing.
      if (isBlank(text, part[0], part[1])) throw new NotJson();
      const runStart = parts[i]![0];
      if (part[1] - runStart > chunkChars && j > i) break;
      if (part[1] - part[0] > chunkChars) break;
      j++;
    }
    if (j > i) {
      const body = text.slice(parts[i]![0], parts[j - 1]![1]);
      if (isObject) {
        const run = JSON.parse(`{${body}}`) as Record<string, unknown>; // an object: the text was wrapped in braces
        for (const key of Object.keys(run)) put(key, run[key]);
      } else {
        const run = JSON.parse(`[${body}]`) as unknown[]; // an array: the text was wrapped in brackets
        for (const value of run) array.push(value);
      }
      i = j;
    } else {
      // One big member: split "key": value for objects, and parse the value on its own.
      const [ps, pe] = parts[i]!;
      if (isObject) {
        let k = ps;
        while (k < pe && isSpace(text.charCodeAt(k))) k++;
        if (text.charCodeAt(k) !== QUOTE) throw new NotJson();
        const keyEnd = skipString(text, k + 1);
        if (keyEnd > pe) throw new NotJson();
        const key: unknown = JSON.parse(text.slice(k, keyEnd));
        let c = keyEnd;
        while (c < pe && isSpace(text.charCodeAt(c))) c++;
        if (typeof key !== "string" || text.charCodeAt(c) !== COLON) throw new NotJson();
        put(key, await parseSpan(text, c + 1, pe, ctx));
      } else {
        array.push(await parseSpan(text, ps, pe, ctx));
      }
      i++;
    }
    await slicer.pause();
  }
  return isObject ? object : array;
}

function isBlank(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isSpace(text.charCodeAt(i))) return false;
  return true;
}

/** The spans between the commas of text[start, end) that are outside strings and nested containers. */
async function splitTopLevel(text: string, start: number, end: number, slicer: Slicer): Promise<[number, number][]> {
  const parts: [number, number][] = [];
  let depth = 0;
  let partStart = start;
  let nextCheck = start + WALK_STEP_CHARS;
  let pos = start;
  while (pos < end) {
    if (pos >= nextCheck) {
      nextCheck = pos + WALK_STEP_CHARS;
      await slicer.pause();
    }
    const c = text.charCodeAt(pos);
    if (c === QUOTE) {
      pos = skipString(text, pos + 1);
      if (pos > end) throw new NotJson();
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      if (depth < 0) throw new NotJson();
    } else if (c === COMMA && depth === 0) {
      parts.push([partStart, pos]);
      partStart = pos + 1;
    }
    pos++;
  }
  if (depth !== 0) throw new NotJson();
  parts.push([partStart, end]);
  return parts;
}
