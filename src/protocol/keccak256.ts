// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * keccak256, written into a caller's buffer or returned: the hash behind every EIP-712 digest
 * (eip712.ts), every address checksum (address.ts), every recovered signer (recover.ts) and every
 * Merkle leaf and node (ledger/merkleTree.ts).
 *
 * Why not @noble/hashes' keccak_256, which is the reference here: profiling showed noble's
 * `keccakP` as the bulk of two hot paths. Sealing a 100,000-message epoch (bench/ledger.ts,
 * `node --cpu-prof`) hashes 2n - 1 tree nodes; and under `npm run bench` the leader spent 21% of
 * its busy time in `hashTransfer` (three permutations per Transfer digest: a 256-byte struct is
 * two blocks, the 66-byte digest input one). noble's permutation loops over a typed array with
 * index arithmetic, ~5 µs per permutation on the project's machines. The permutation below is
 * the same Keccak-f[1600] with the 50 words of state held in local variables and each round
 * written out, about 2.5 times faster. Nothing secret is hashed (digests, addresses, tree nodes
 * are public), so constant time is not a concern; the only possible defect is a wrong output,
 * and Keccak-f has no data-dependent branch, so test/unit/protocol/keccak256.test.ts compares it
 * with noble's keccak_256 on every length across the first block boundaries, on random inputs and
 * offsets, and on fixed vectors, and the EIP-712 tests compare digests with ethers and the
 * bridge. Replacing the body of `keccak256Into` with noble's `keccak_256` restores the library at
 * the cost of speed.
 *
 * Representation: lane i = x + 5y (64 bits, little-endian, as Keccak absorbs bytes) is held as
 * its low and high 32-bit halves; a 64-bit rotation by n < 32 is
 * `lo' = (lo << n) | (hi >>> (32 - n))`, `hi' = (hi << n) | (lo >>> (32 - n))`, and by n > 32 the
 * same with the halves swapped and n - 32. Rotation offsets (ρ), RHO[x][y]:
 *   x=0: 0 36  3 41 18   x=1:  1 44 10 45  2   x=2: 62  6 43 15 61
 *   x=3: 28 55 25 21 56  x=4: 27 20 39  8 14
 */

/** The 24 round constants of Keccak-f[1600] (ι), as 64-bit values. */
const ROUND_CONSTANTS_64 = [
  0x0000000000000001n, 0x0000000000008082n, 0x800000000000808an, 0x8000000080008000n,
  0x000000000000808bn, 0x0000000080000001n, 0x8000000080008081n, 0x8000000000008009n,
  0x000000000000008an, 0x0000000000000088n, 0x0000000080008009n, 0x000000008000000an,
  0x000000008000808bn, 0x800000000000008bn, 0x8000000000008089n, 0x8000000000008003n,
  0x8000000000008002n, 0x8000000000000080n, 0x000000000000800an, 0x800000008000000an,
  0x8000000080008081n, 0x8000000000008080n, 0x0000000080000001n, 0x8000000080008008n,
] as const;

/** The same constants as (low, high) 32-bit halves, round after round. */
const ROUND_CONSTANTS = new Int32Array(48);
ROUND_CONSTANTS_64.forEach((c, i) => {
  // Each half is below 2^32, so the conversion to a JS number is exact; asIntN gives int32 bits.
  ROUND_CONSTANTS[2 * i] = Number(BigInt.asIntN(32, c));
  ROUND_CONSTANTS[2 * i + 1] = Number(BigInt.asIntN(32, c >> 32n));
});

/** Rate of keccak256 in bytes: 1600 - 2 * 256 bits. */
const RATE = 136;

/** Sponge state reused between calls: hashing is synchronous, so no two calls overlap. */
const state = new Int32Array(50);

/**
 * Writes keccak256 of `input[offset, offset + length)` to `out[outOffset, outOffset + 32)`. The
 * ranges may overlap (the input is read before the output is written). Throws RangeError unless
 * both ranges lie inside their arrays.
 */
export function keccak256Into(input: Uint8Array, offset: number, length: number, out: Uint8Array, outOffset: number): void {
  if (!(Number.isInteger(length) && Number.isInteger(offset) && length >= 0 && offset >= 0 && offset + length <= input.length)) {
    throw new RangeError(`keccak256Into: ${length} bytes at ${offset} lie outside the input`);
  }
  if (!(Number.isInteger(outOffset) && outOffset >= 0 && outOffset + 32 <= out.length)) throw new RangeError("keccak256Into: output range outside the buffer");
  state.fill(0);
  // Absorb every full block, then the last partial one (possibly empty) with the padding.
  // Byte i of a block goes to bits 8 * (i % 4) of word i / 4 (words are little-endian lane halves).
  let at = offset;
  const end = offset + length;
  while (end - at >= RATE) {
    for (let i = 0; i < RATE; i++) state[i >> 2] = (state[i >> 2] ?? 0) ^ ((input[at + i] ?? 0) << ((i & 3) << 3));
    keccakF1600(state);
    at += RATE;
  }
  const rest = end - at;
  for (let i = 0; i < rest; i++) state[i >> 2] = (state[i >> 2] ?? 0) ^ ((input[at + i] ?? 0) << ((i & 3) << 3));
  // Keccak padding (pad10*1 with the 0x01 domain byte of original Keccak, not SHA-3's 0x06).
  state[rest >> 2] = (state[rest >> 2] ?? 0) ^ (0x01 << ((rest & 3) << 3));
  state[(RATE - 1) >> 2] = (state[(RATE - 1) >> 2] ?? 0) ^ (0x80 << (((RATE - 1) & 3) << 3));
  keccakF1600(state);
  for (let i = 0; i < 32; i++) out[outOffset + i] = ((state[i >> 2] ?? 0) >>> ((i & 3) << 3)) & 0xff;
}

/** keccak256 of `bytes`, as a new 32-byte array (the drop-in for noble's `keccak_256`). */
export function keccak256(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  keccak256Into(bytes, 0, bytes.length, out, 0);
  return out;
}

/** Keccak-f[1600] in place over 25 lanes as 50 int32 halves (see the file comment). */
function keccakF1600(s: Int32Array): void {
  // Lane i = x + 5y of the 5x5 state, as its low (l) and high (h) 32-bit halves.
  let a0l = s[0] ?? 0, a0h = s[1] ?? 0;
  let a1l = s[2] ?? 0, a1h = s[3] ?? 0;
  let a2l = s[4] ?? 0, a2h = s[5] ?? 0;
  let a3l = s[6] ?? 0, a3h = s[7] ?? 0;
  let a4l = s[8] ?? 0, a4h = s[9] ?? 0;
  let a5l = s[10] ?? 0, a5h = s[11] ?? 0;
  let a6l = s[12] ?? 0, a6h = s[13] ?? 0;
  let a7l = s[14] ?? 0, a7h = s[15] ?? 0;
  let a8l = s[16] ?? 0, a8h = s[17] ?? 0;
  let a9l = s[18] ?? 0, a9h = s[19] ?? 0;
  let a10l = s[20] ?? 0, a10h = s[21] ?? 0;
  let a11l = s[22] ?? 0, a11h = s[23] ?? 0;
  let a12l = s[24] ?? 0, a12h = s[25] ?? 0;
  let a13l = s[26] ?? 0, a13h = s[27] ?? 0;
  let a14l = s[28] ?? 0, a14h = s[29] ?? 0;
  let a15l = s[30] ?? 0, a15h = s[31] ?? 0;
  let a16l = s[32] ?? 0, a16h = s[33] ?? 0;
  let a17l = s[34] ?? 0, a17h = s[35] ?? 0;
  let a18l = s[36] ?? 0, a18h = s[37] ?? 0;
  let a19l = s[38] ?? 0, a19h = s[39] ?? 0;
  let a20l = s[40] ?? 0, a20h = s[41] ?? 0;
  let a21l = s[42] ?? 0, a21h = s[43] ?? 0;
  let a22l = s[44] ?? 0, a22h = s[45] ?? 0;
  let a23l = s[46] ?? 0, a23h = s[47] ?? 0;
  let a24l = s[48] ?? 0, a24h = s[49] ?? 0;
  for (let round = 0; round < 48; round += 2) {
    // θ: c[x] = xor of column x; d[x] = c[x-1] ^ rotl(c[x+1], 1); every lane of column x ^= d[x].
    const c0l = a0l ^ a5l ^ a10l ^ a15l ^ a20l, c0h = a0h ^ a5h ^ a10h ^ a15h ^ a20h;
    const c1l = a1l ^ a6l ^ a11l ^ a16l ^ a21l, c1h = a1h ^ a6h ^ a11h ^ a16h ^ a21h;
    const c2l = a2l ^ a7l ^ a12l ^ a17l ^ a22l, c2h = a2h ^ a7h ^ a12h ^ a17h ^ a22h;
    const c3l = a3l ^ a8l ^ a13l ^ a18l ^ a23l, c3h = a3h ^ a8h ^ a13h ^ a18h ^ a23h;
    const c4l = a4l ^ a9l ^ a14l ^ a19l ^ a24l, c4h = a4h ^ a9h ^ a14h ^ a19h ^ a24h;
    const d0l = c4l ^ ((c1l << 1) | (c1h >>> 31)), d0h = c4h ^ ((c1h << 1) | (c1l >>> 31));
    const d1l = c0l ^ ((c2l << 1) | (c2h >>> 31)), d1h = c0h ^ ((c2h << 1) | (c2l >>> 31));
    const d2l = c1l ^ ((c3l << 1) | (c3h >>> 31)), d2h = c1h ^ ((c3h << 1) | (c3l >>> 31));
    const d3l = c2l ^ ((c4l << 1) | (c4h >>> 31)), d3h = c2h ^ ((c4h << 1) | (c4l >>> 31));
    const d4l = c3l ^ ((c0l << 1) | (c0h >>> 31)), d4h = c3h ^ ((c0h << 1) | (c0l >>> 31));
    a0l ^= d0l; a0h ^= d0h; a1l ^= d1l; a1h ^= d1h; a2l ^= d2l; a2h ^= d2h; a3l ^= d3l; a3h ^= d3h; a4l ^= d4l; a4h ^= d4h;
    a5l ^= d0l; a5h ^= d0h; a6l ^= d1l; a6h ^= d1h; a7l ^= d2l; a7h ^= d2h; a8l ^= d3l; a8h ^= d3h; a9l ^= d4l; a9h ^= d4h;
    a10l ^= d0l; a10h ^= d0h; a11l ^= d1l; a11h ^= d1h; a12l ^= d2l; a12h ^= d2h; a13l ^= d3l; a13h ^= d3h; a14l ^= d4l; a14h ^= d4h;
    a15l ^= d0l; a15h ^= d0h; a16l ^= d1l; a16h ^= d1h; a17l ^= d2l; a17h ^= d2h; a18l ^= d3l; a18h ^= d3h; a19l ^= d4l; a19h ^= d4h;
    a20l ^= d0l; a20h ^= d0h; a21l ^= d1l; a21h ^= d1h; a22l ^= d2l; a22h ^= d2h; a23l ^= d3l; a23h ^= d3h; a24l ^= d4l; a24h ^= d4h;
    // ρ and π: b[y, 2x + 3y] = rotl(a[x, y], RHO[x][y]) (offsets in the file comment).
    const b0l = a0l, b0h = a0h;
    const b10l = (a1l << 1) | (a1h >>> 31), b10h = (a1h << 1) | (a1l >>> 31);
    const b20l = (a2h << 30) | (a2l >>> 2), b20h = (a2l << 30) | (a2h >>> 2);
    const b5l = (a3l << 28) | (a3h >>> 4), b5h = (a3h << 28) | (a3l >>> 4);
    const b15l = (a4l << 27) | (a4h >>> 5), b15h = (a4h << 27) | (a4l >>> 5);
    const b16l = (a5h << 4) | (a5l >>> 28), b16h = (a5l << 4) | (a5h >>> 28);
    const b1l = (a6h << 12) | (a6l >>> 20), b1h = (a6l << 12) | (a6h >>> 20);
    const b11l = (a7l << 6) | (a7h >>> 26), b11h = (a7h << 6) | (a7l >>> 26);
    const b21l = (a8h << 23) | (a8l >>> 9), b21h = (a8l << 23) | (a8h >>> 9);
    const b6l = (a9l << 20) | (a9h >>> 12), b6h = (a9h << 20) | (a9l >>> 12);
    const b7l = (a10l << 3) | (a10h >>> 29), b7h = (a10h << 3) | (a10l >>> 29);
    const b17l = (a11l << 10) | (a11h >>> 22), b17h = (a11h << 10) | (a11l >>> 22);
    const b2l = (a12h << 11) | (a12l >>> 21), b2h = (a12l << 11) | (a12h >>> 21);
    const b12l = (a13l << 25) | (a13h >>> 7), b12h = (a13h << 25) | (a13l >>> 7);
    const b22l = (a14h << 7) | (a14l >>> 25), b22h = (a14l << 7) | (a14h >>> 25);
    const b23l = (a15h << 9) | (a15l >>> 23), b23h = (a15l << 9) | (a15h >>> 23);
    const b8l = (a16h << 13) | (a16l >>> 19), b8h = (a16l << 13) | (a16h >>> 19);
    const b18l = (a17l << 15) | (a17h >>> 17), b18h = (a17h << 15) | (a17l >>> 17);
    const b3l = (a18l << 21) | (a18h >>> 11), b3h = (a18h << 21) | (a18l >>> 11);
    const b13l = (a19l << 8) | (a19h >>> 24), b13h = (a19h << 8) | (a19l >>> 24);
    const b14l = (a20l << 18) | (a20h >>> 14), b14h = (a20h << 18) | (a20l >>> 14);
    const b24l = (a21l << 2) | (a21h >>> 30), b24h = (a21h << 2) | (a21l >>> 30);
    const b9l = (a22h << 29) | (a22l >>> 3), b9h = (a22l << 29) | (a22h >>> 3);
    const b19l = (a23h << 24) | (a23l >>> 8), b19h = (a23l << 24) | (a23h >>> 8);
    const b4l = (a24l << 14) | (a24h >>> 18), b4h = (a24h << 14) | (a24l >>> 18);
    // χ: a[x, y] = b[x, y] ^ (~b[x+1, y] & b[x+2, y]).
    a0l = b0l ^ (~b1l & b2l);
    a0h = b0h ^ (~b1h & b2h);
    a1l = b1l ^ (~b2l & b3l);
    a1h = b1h ^ (~b2h & b3h);
    a2l = b2l ^ (~b3l & b4l);
    a2h = b2h ^ (~b3h & b4h);
    a3l = b3l ^ (~b4l & b0l);
    a3h = b3h ^ (~b4h & b0h);
    a4l = b4l ^ (~b0l & b1l);
    a4h = b4h ^ (~b0h & b1h);
    a5l = b5l ^ (~b6l & b7l);
    a5h = b5h ^ (~b6h & b7h);
    a6l = b6l ^ (~b7l & b8l);
    a6h = b6h ^ (~b7h & b8h);
    a7l = b7l ^ (~b8l & b9l);
    a7h = b7h ^ (~b8h & b9h);
    a8l = b8l ^ (~b9l & b5l);
    a8h = b8h ^ (~b9h & b5h);
    a9l = b9l ^ (~b5l & b6l);
    a9h = b9h ^ (~b5h & b6h);
    a10l = b10l ^ (~b11l & b12l);
    a10h = b10h ^ (~b11h & b12h);
    a11l = b11l ^ (~b12l & b13l);
    a11h = b11h ^ (~b12h & b13h);
    a12l = b12l ^ (~b13l & b14l);
    a12h = b12h ^ (~b13h & b14h);
    a13l = b13l ^ (~b14l & b10l);
    a13h = b13h ^ (~b14h & b10h);
    a14l = b14l ^ (~b10l & b11l);
    a14h = b14h ^ (~b10h & b11h);
    a15l = b15l ^ (~b16l & b17l);
    a15h = b15h ^ (~b16h & b17h);
    a16l = b16l ^ (~b17l & b18l);
    a16h = b16h ^ (~b17h & b18h);
    a17l = b17l ^ (~b18l & b19l);
    a17h = b17h ^ (~b18h & b19h);
    a18l = b18l ^ (~b19l & b15l);
    a18h = b18h ^ (~b19h & b15h);
    a19l = b19l ^ (~b15l & b16l);
    a19h = b19h ^ (~b15h & b16h);
    a20l = b20l ^ (~b21l & b22l);
    a20h = b20h ^ (~b21h & b22h);
    a21l = b21l ^ (~b22l & b23l);
    a21h = b21h ^ (~b22h & b23h);
    a22l = b22l ^ (~b23l & b24l);
    a22h = b22h ^ (~b23h & b24h);
    a23l = b23l ^ (~b24l & b20l);
    a23h = b23h ^ (~b24h & b20h);
    a24l = b24l ^ (~b20l & b21l);
    a24h = b24h ^ (~b20h & b21h);
    // ι: a[0, 0] ^= the round constant.
    a0l ^= ROUND_CONSTANTS[round] ?? 0;
    a0h ^= ROUND_CONSTANTS[round + 1] ?? 0;
  }
  s[0] = a0l; s[1] = a0h;
  s[2] = a1l; s[3] = a1h;
  s[4] = a2l; s[5] = a2h;
  s[6] = a3l; s[7] = a3h;
  s[8] = a4l; s[9] = a4h;
  s[10] = a5l; s[11] = a5h;
  s[12] = a6l; s[13] = a6h;
  s[14] = a7l; s[15] = a7h;
  s[16] = a8l; s[17] = a8h;
  s[18] = a9l; s[19] = a9h;
  s[20] = a10l; s[21] = a10h;
  s[22] = a11l; s[23] = a11h;
  s[24] = a12l; s[25] = a12h;
  s[26] = a13l; s[27] = a13h;
  s[28] = a14l; s[29] = a14h;
  s[30] = a15l; s[31] = a15h;
  s[32] = a16l; s[33] = a16h;
  s[34] = a17l; s[35] = a17h;
  s[36] = a18l; s[37] = a18h;
  s[38] = a19l; s[39] = a19h;
  s[40] = a20l; s[41] = a20h;
  s[42] = a21l; s[43] = a21h;
  s[44] = a22l; s[45] = a22h;
  s[46] = a23l; s[47] = a23h;
  s[48] = a24l; s[49] = a24h;
}
