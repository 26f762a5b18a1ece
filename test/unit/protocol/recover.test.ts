// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import { Wallet, recoverAddress } from "ethers";
import type * as Secp256k1 from "secp256k1";
import fc from "fast-check";
import { DeltaError } from "../../../src/errors.ts";
import { TYPES, hashTransfer } from "../../../src/protocol/eip712.ts";
import {
  type RecoveryItem,
  checkNativeRecovery,
  isNativeSecp256k1,
  recoverBatch,
  recoverSigner,
  recoverSignerJs,
} from "../../../src/protocol/recover.ts";
import { SECP256K1_N } from "../../../src/protocol/signature.ts";
import type { Address, BridgeDomain, Hash, Hex, Transfer } from "../../../src/protocol/types.ts";
import * as arb from "./arbitraries.ts";

const DOMAIN: BridgeDomain = {
  name: "DeltaBridge",
  version: "1",
  chainId: 1337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};

function hex(value: string): Hex {
  assert.match(value, /^0x[0-9a-fA-F]*$/);
  return value as Hex; // checked just above
}

// `require` is untyped; the package exports the API @types/secp256k1 declares.
const secp256k1: typeof Secp256k1 = createRequire(import.meta.url)("secp256k1");

function word(value: bigint): string {
  return value.toString(16).padStart(64, "0");
}

/** The malleable twin of a low-s signature: (r, n - s, v flipped) recovers the same key. */
function highSTwin(signature: Hex): Hex {
  const r = signature.slice(2, 66);
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = signature.slice(130) === "1b" ? "1c" : "1b";
  return hex(`0x${r}${word(SECP256K1_N - s)}${v}`);
}

function refusedWith(code: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof DeltaError && e.code === code;
}

/** Signs a random transfer from `privateKey` with ethers, as a wallet would. */
async function signedTransfer(privateKey: string, transfer: Transfer): Promise<{ signer: Address; digest: Hash; signature: Hex }> {
  const wallet = new Wallet(privateKey);
  const signer = wallet.address as Address; // Wallet.address is checksummed 0x + 40 hex digits
  const message = { ...transfer, from: signer };
  const signature = hex(await wallet.signTypedData(DOMAIN, TYPES.Transfer, message));
  return { signer, digest: hashTransfer(DOMAIN, message), signature };
}

describe("recoverSigner", () => {
  test("loads the native libsecp256k1 binding, not the silent JS fallback", () => {
    const require = createRequire(import.meta.url);
    assert.equal(isNativeSecp256k1, true);
    assert.notEqual(require("secp256k1"), require("secp256k1/elliptic"));
  });

  test("recovers the ethers signer of random transfers, as ethers.recoverAddress does", async () => {
    await fc.assert(
      fc.asyncProperty(arb.privateKey, arb.transfer, async (privateKey, transfer) => {
        const { signer, digest, signature } = await signedTransfer(privateKey, transfer);
        assert.equal(recoverSigner(digest, signature), signer);
        assert.equal(recoverSigner(digest, signature), recoverAddress(digest, signature));
        assert.equal(recoverSignerJs(digest, signature), signer);
      }),
      { numRuns: 40 },
    );
  });

  test("recovers a different address when the digest differs", async () => {
    const { signer, digest, signature } = await signedTransfer(`0x${"01".repeat(32)}`, {
      from: "0x0000000000000000000000000000000000000001",
      to: "0x0000000000000000000000000000000000000002",
      token: "0x0000000000000000000000000000000000000000",
      amount: 1n,
      fee: 0n,
      nonce: 0n,
      deadline: 1n,
    });
    const other = hex(`0x${(BigInt(digest) ^ 1n).toString(16).padStart(64, "0")}`);
    assert.notEqual(recoverSigner(other, signature), signer);
  });

  test("refuses the high-s twin of a valid signature with HIGH_S_SIGNATURE", async () => {
    await fc.assert(
      fc.asyncProperty(arb.privateKey, arb.transfer, async (privateKey, transfer) => {
        const { digest, signature } = await signedTransfer(privateKey, transfer);
        const twin = highSTwin(signature);
        // The twin is a valid signature by the same key (raw libsecp256k1 recovers it): that is
        // why it must be refused, or one message would have two accepted encodings.
        const raw = (sig: Hex): Uint8Array =>
          secp256k1.ecdsaRecover(Buffer.from(sig.slice(2, 130), "hex"), sig.endsWith("1b") ? 0 : 1, Buffer.from(digest.slice(2), "hex"), false);
        assert.deepEqual(raw(twin), raw(signature));
        assert.throws(() => recoverSigner(digest, twin), refusedWith("HIGH_S_SIGNATURE"));
        assert.throws(() => recoverSignerJs(digest, twin), refusedWith("HIGH_S_SIGNATURE"));
      }),
      { numRuns: 10 },
    );
  });

  test("refuses v = 29, and v = 0 or 1, with INVALID_V", async () => {
    const { digest, signature } = await signedTransfer(`0x${"02".repeat(32)}`, {
      from: "0x0000000000000000000000000000000000000001",
      to: "0x0000000000000000000000000000000000000002",
      token: "0x0000000000000000000000000000000000000000",
      amount: 1n,
      fee: 0n,
      nonce: 0n,
      deadline: 1n,
    });
    for (const v of ["1d", "00", "01", "ff"]) {
      assert.throws(() => recoverSigner(digest, hex(`${signature.slice(0, 130)}${v}`)), refusedWith("INVALID_V"));
    }
  });

  test("refuses malformed signatures and digests", () => {
    const digest = hex(`0x${"ab".repeat(32)}`);
    const good = hex(`0x${"11".repeat(32)}${"22".repeat(32)}1b`);
    assert.throws(() => recoverSigner(digest, hex(`0x${"11".repeat(64)}`)), refusedWith("INVALID_SIGNATURE"));
    assert.throws(() => recoverSigner(digest, hex(`0x${"00".repeat(32)}${"22".repeat(32)}1b`)), refusedWith("INVALID_SIGNATURE"));
    assert.throws(() => recoverSigner(digest, hex(`0x${word(SECP256K1_N)}${"22".repeat(32)}1b`)), refusedWith("INVALID_SIGNATURE"));
    assert.throws(() => recoverSigner(digest, hex(`0x${"11".repeat(32)}${"00".repeat(32)}1b`)), refusedWith("INVALID_SIGNATURE"));
    assert.throws(() => recoverSigner(hex("0xabcd"), good), refusedWith("INVALID_HASH"));
    assert.throws(() => recoverSigner(`0x${"zz".repeat(32)}`, good), refusedWith("INVALID_HASH"));
  });

  test("refuses an r that is no curve point's x with INVALID_SIGNATURE", () => {
    // x = 5 is not on secp256k1 (5^3 + 7 = 132 is not a square mod p): no key can produce r = 5.
    const digest = hex(`0x${"ab".repeat(32)}`);
    const signature = hex(`0x${word(5n)}${"22".repeat(32)}1b`);
    assert.throws(() => recoverSigner(digest, signature), refusedWith("INVALID_SIGNATURE"));
    assert.throws(() => recoverSignerJs(digest, signature), refusedWith("INVALID_SIGNATURE"));
  });

  test("recovers the pinned signature vector", () => {
    // The file is ours; only these fields are read, and a wrong shape fails the equality below.
    const vectors = JSON.parse(readFileSync(new URL("../../vectors/eip712.json", import.meta.url), "utf8")) as {
      signatures: { digest: Hash; signature: Hex; signer: Address }[];
    };
    assert.ok(vectors.signatures.length > 0);
    for (const v of vectors.signatures) assert.equal(recoverSigner(v.digest, v.signature), v.signer);
  });
});

describe("recoverBatch", () => {
  test("gives each item's recoverSigner result in order, null where it throws", async () => {
    const items: RecoveryItem[] = [];
    const expected: (Address | null)[] = [];
    for (let i = 0; i < 12; i++) {
      const { signer, digest, signature } = await signedTransfer(`0x${word(BigInt(i + 1) * 7919n)}`, {
        from: "0x0000000000000000000000000000000000000001",
        to: "0x0000000000000000000000000000000000000002",
        token: "0x0000000000000000000000000000000000000000",
        amount: BigInt(i + 1),
        fee: 0n,
        nonce: BigInt(i),
        deadline: 1n,
      });
      if (i % 4 === 3) {
        items.push({ digest, signature: highSTwin(signature) });
        expected.push(null);
      } else if (i % 4 === 2) {
        items.push({ digest, signature: hex(`${signature.slice(0, 130)}1d`) });
        expected.push(null);
      } else {
        items.push({ digest, signature });
        expected.push(signer);
      }
    }
    items.push({ digest: hex("0x12"), signature: hex("0x34") });
    expected.push(null);
    assert.deepEqual(recoverBatch(items), expected);
    assert.deepEqual(recoverBatch([]), []);
  });
});

describe("checkNativeRecovery", () => {
  test("reports the native binding and positive, consistent figures", () => {
    const check = checkNativeRecovery({ budgetMs: 5 });
    assert.equal(check.native, true);
    assert.ok(Number.isFinite(check.nativePerSec) && check.nativePerSec > 0);
    assert.ok(Number.isFinite(check.jsPerSec) && check.jsPerSec > 0);
    assert.equal(check.slowdown, Math.round((check.nativePerSec / check.jsPerSec) * 10) / 10);
  });
});
