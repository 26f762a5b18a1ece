// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { TypedDataEncoder, id as ethersId } from "ethers";
import fc from "fast-check";
import { DeltaError } from "../../../src/errors.ts";
import {
  DELTA_TYPE,
  ENCODED_TYPES,
  PAYOUT_TYPE,
  ROTATION_TYPE,
  SETTLEMENT_ENCODED_TYPE,
  SETTLEMENT_STRUCT_TYPE,
  TRANSFER_TYPE,
  TYPEHASHES,
  TYPES,
  WITHDRAWAL_TYPE,
  domainSeparator,
  hashRotation,
  hashSettlement,
  hashTransfer,
  hashWithdrawal,
  type PrimaryType,
} from "../../../src/protocol/eip712.ts";
import { MAX_INT256, MAX_UINT256, MAX_UINT64, MIN_INT256 } from "../../../src/protocol/decimal.ts";
import type { Address, BridgeDomain, Hash, Settlement, Transfer } from "../../../src/protocol/types.ts";
import * as arb from "./arbitraries.ts";

const LOWER_HASH = /^0x[0-9a-f]{64}$/;

const DOMAIN: BridgeDomain = {
  name: "DeltaBridge",
  version: "1",
  chainId: 1337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};
const A: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const B: Address = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const ETH: Address = "0x0000000000000000000000000000000000000000";
const TRANSFER: Transfer = { from: A, to: B, token: ETH, amount: 5n, fee: 0n, nonce: 0n, deadline: 1767225600n };

describe("EIP-712 type strings", () => {
  test("are PROTOCOL.md's lines byte for byte", () => {
    assert.equal(
      TRANSFER_TYPE,
      "Transfer(address from,address to,address token,uint256 amount,uint256 fee,uint256 nonce,uint256 deadline)",
    );
    assert.equal(WITHDRAWAL_TYPE, "Withdrawal(address account,address token,uint256 amount,uint256 nonce,uint256 deadline)");
    assert.equal(DELTA_TYPE, "Delta(address account,address token,int256 amount)");
    assert.equal(PAYOUT_TYPE, "Payout(address account,address token,uint256 amount)");
    assert.equal(
      SETTLEMENT_STRUCT_TYPE,
      "Settlement(uint64 epoch,uint32 chunk,uint32 chunks,bytes32 transfersRoot,Delta[] deltas,Payout[] payouts)",
    );
    assert.equal(ROTATION_TYPE, "Rotation(address[] validators,uint256 threshold,uint64 nonce)");
  });

  test("equal ethers' encodeType of the TYPES objects, referenced structs appended in name order", () => {
    for (const primary of Object.keys(TYPES) as PrimaryType[]) { // Object.keys of a Record<PrimaryType, …>
      assert.equal(TypedDataEncoder.from(TYPES[primary]).encodeType(primary), ENCODED_TYPES[primary], primary);
    }
    assert.equal(SETTLEMENT_ENCODED_TYPE, SETTLEMENT_STRUCT_TYPE + DELTA_TYPE + PAYOUT_TYPE);
  });

  test("typehashes are keccak256 of the encoded types", () => {
    for (const [name, type] of Object.entries(ENCODED_TYPES)) {
      assert.equal(TYPEHASHES[name as keyof typeof TYPEHASHES], ethersId(type), name); // same keys by construction
    }
  });

  test("TYPES are frozen, so no caller can change what everyone signs", () => {
    assert.throws(() => {
      (TYPES.Transfer["Transfer"] ?? []).push({ name: "extra", type: "uint256" });
    }, TypeError);
    assert.equal(TYPES.Transfer["Transfer"]?.length, 7);
  });
});

describe("domainSeparator", () => {
  test("equals ethers TypedDataEncoder.hashDomain on random domains", () => {
    fc.assert(
      fc.property(arb.domain, (domain) => {
        const ours = domainSeparator(domain);
        assert.match(ours, LOWER_HASH);
        assert.equal(ours, TypedDataEncoder.hashDomain(domain));
      }),
      { numRuns: 200 },
    );
  });

  test("is the same whatever the case of verifyingContract", () => {
    const lower = { ...DOMAIN, verifyingContract: DOMAIN.verifyingContract.toLowerCase() as Address }; // lowercasing keeps the shape
    assert.equal(domainSeparator(lower), domainSeparator(DOMAIN));
  });

  test("refuses a malformed verifying contract", () => {
    const bad = { ...DOMAIN, verifyingContract: "0x1234" as Address }; // deliberately malformed
    assert.throws(() => domainSeparator(bad), (e: unknown) => e instanceof DeltaError && e.code === "INVALID_ADDRESS");
  });
});

describe("hashTransfer", () => {
  test("equals ethers TypedDataEncoder.hash on random transfers and domains", () => {
    fc.assert(
      fc.property(arb.domain, arb.transfer, (domain, transfer) => {
        const ours = hashTransfer(domain, transfer);
        assert.match(ours, LOWER_HASH);
        assert.equal(ours, TypedDataEncoder.hash(domain, TYPES.Transfer, transfer));
      }),
      { numRuns: 300 },
    );
  });

  test("gives the same digest from the domain or from its separator", () => {
    fc.assert(
      fc.property(arb.domain, arb.transfer, (domain, transfer) => {
        assert.equal(hashTransfer(domainSeparator(domain), transfer), hashTransfer(domain, transfer));
      }),
      { numRuns: 50 },
    );
  });

  test("changes with every field", () => {
    const base = hashTransfer(DOMAIN, TRANSFER);
    const variants: Transfer[] = [
      { ...TRANSFER, from: ETH },
      { ...TRANSFER, to: A },
      { ...TRANSFER, token: A },
      { ...TRANSFER, amount: 6n },
      { ...TRANSFER, fee: 1n },
      { ...TRANSFER, nonce: 1n },
      { ...TRANSFER, deadline: 1n },
    ];
    const digests = new Set(variants.map((t) => hashTransfer(DOMAIN, t)));
    assert.equal(digests.size, variants.length);
    assert.ok(!digests.has(base));
    assert.notEqual(hashTransfer({ ...DOMAIN, chainId: 1n }, TRANSFER), base);
  });

  test("refuses values the uint256 or address types cannot hold", () => {
    const refuses = (t: Transfer, code: string): void => {
      assert.throws(() => hashTransfer(DOMAIN, t), (e: unknown) => e instanceof DeltaError && e.code === code);
    };
    refuses({ ...TRANSFER, amount: -1n }, "INVALID_AMOUNT");
    refuses({ ...TRANSFER, fee: MAX_UINT256 + 1n }, "AMOUNT_TOO_LARGE");
    refuses({ ...TRANSFER, to: "0x12" }, "INVALID_ADDRESS");
    refuses({ ...TRANSFER, from: `0x${"zz".repeat(20)}` }, "INVALID_ADDRESS");
  });

  test("refuses a malformed separator", () => {
    assert.throws(() => hashTransfer("0x1234", TRANSFER), (e: unknown) => e instanceof DeltaError && e.code === "INVALID_HASH");
  });
});

describe("hashWithdrawal", () => {
  test("equals ethers TypedDataEncoder.hash on random withdrawals", () => {
    fc.assert(
      fc.property(arb.domain, arb.withdrawal, (domain, withdrawal) => {
        assert.equal(hashWithdrawal(domain, withdrawal), TypedDataEncoder.hash(domain, TYPES.Withdrawal, withdrawal));
      }),
      { numRuns: 200 },
    );
  });
});

describe("hashSettlement", () => {
  const equalsEthers = (domain: BridgeDomain, s: Settlement): void => {
    assert.equal(hashSettlement(domain, s), TypedDataEncoder.hash(domain, TYPES.Settlement, s));
  };

  test("equals ethers with no deltas and no payouts", () => {
    fc.assert(fc.property(arb.domain, arb.settlement({ min: 0, max: 0 }), equalsEthers), { numRuns: 50 });
  });

  test("equals ethers with exactly one delta and one payout", () => {
    fc.assert(fc.property(arb.domain, arb.settlement({ min: 1, max: 1 }), equalsEthers), { numRuns: 100 });
  });

  test("equals ethers with many deltas and payouts, negative deltas included", () => {
    fc.assert(fc.property(arb.domain, arb.settlement({ min: 2, max: 40 }), equalsEthers), { numRuns: 60 });
  });

  test("equals ethers at the int256 bounds and for -1 (two's complement)", () => {
    const s: Settlement = {
      epoch: MAX_UINT64,
      chunk: 0xffff_fffe,
      chunks: 0xffff_ffff,
      transfersRoot: `0x${"ab".repeat(32)}`,
      deltas: [
        { account: A, token: ETH, amount: MIN_INT256 },
        { account: B, token: ETH, amount: MAX_INT256 },
        { account: A, token: B, amount: -1n },
      ],
      payouts: [{ account: B, token: ETH, amount: MAX_UINT256 }],
    };
    equalsEthers(DOMAIN, s);
  });

  test("depends on the order of deltas", () => {
    const deltas = [
      { account: A, token: ETH, amount: -3n },
      { account: B, token: ETH, amount: 3n },
    ];
    const s: Settlement = { epoch: 1n, chunk: 0, chunks: 1, transfersRoot: `0x${"00".repeat(32)}`, deltas, payouts: [] };
    assert.notEqual(hashSettlement(DOMAIN, s), hashSettlement(DOMAIN, { ...s, deltas: [...deltas].reverse() }));
  });

  test("refuses values their Solidity types cannot hold", () => {
    const s: Settlement = { epoch: 1n, chunk: 0, chunks: 1, transfersRoot: `0x${"00".repeat(32)}`, deltas: [], payouts: [] };
    const refuses = (bad: Settlement, code: string): void => {
      assert.throws(() => hashSettlement(DOMAIN, bad), (e: unknown) => e instanceof DeltaError && e.code === code);
    };
    refuses({ ...s, epoch: MAX_UINT64 + 1n }, "AMOUNT_TOO_LARGE");
    refuses({ ...s, chunk: 2 ** 32 }, "INVALID_AMOUNT");
    refuses({ ...s, chunks: 1.5 }, "INVALID_AMOUNT");
    refuses({ ...s, transfersRoot: "0x00" }, "INVALID_HASH");
    refuses({ ...s, deltas: [{ account: A, token: ETH, amount: MIN_INT256 - 1n }] }, "AMOUNT_TOO_LARGE");
    refuses({ ...s, payouts: [{ account: A, token: ETH, amount: -1n }] }, "INVALID_AMOUNT");
  });
});

describe("hashRotation", () => {
  test("equals ethers TypedDataEncoder.hash on random rotations, empty validator lists included", () => {
    fc.assert(
      fc.property(arb.domain, arb.rotation, (domain, rotation) => {
        assert.equal(hashRotation(domain, rotation), TypedDataEncoder.hash(domain, TYPES.Rotation, rotation));
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Pinned vectors (test/vectors/eip712.json, computed once by ethers 6.17.0).

interface JsonDomain {
  name: "DeltaBridge";
  version: "1";
  chainId: string;
  verifyingContract: Address;
}
interface Vectors {
  domains: { domain: JsonDomain; separator: Hash }[];
  transfers: { domain: number; message: Record<string, string>; digest: Hash }[];
  withdrawals: { domain: number; message: Record<string, string>; digest: Hash }[];
  settlements: {
    domain: number;
    message: {
      epoch: string;
      chunk: number;
      chunks: number;
      transfersRoot: Hash;
      deltas: { account: Address; token: Address; amount: string }[];
      payouts: { account: Address; token: Address; amount: string }[];
    };
    digest: Hash;
  }[];
  rotations: { domain: number; message: { validators: Address[]; threshold: string; nonce: string }; digest: Hash }[];
}

// The file is ours and its shape is the interface above (a wrong shape fails the assertions below).
const vectors = JSON.parse(readFileSync(new URL("../../vectors/eip712.json", import.meta.url), "utf8")) as Vectors;
const vectorDomains: BridgeDomain[] = vectors.domains.map(({ domain }) => ({ ...domain, chainId: BigInt(domain.chainId) }));
function vectorDomain(index: number): BridgeDomain {
  const domain = vectorDomains[index];
  assert.ok(domain !== undefined, `vector domain ${index}`);
  return domain;
}
function field(message: Record<string, string>, name: string): string {
  const value = message[name];
  assert.ok(value !== undefined, `vector field ${name}`);
  return value;
}

describe("pinned EIP-712 vectors", () => {
  test("domain separators", () => {
    assert.ok(vectors.domains.length >= 2);
    vectors.domains.forEach(({ separator }, i) => assert.equal(domainSeparator(vectorDomain(i)), separator));
  });

  test("transfer digests", () => {
    assert.ok(vectors.transfers.length >= 3);
    for (const v of vectors.transfers) {
      const m = v.message;
      const t: Transfer = {
        from: field(m, "from") as Address, // vector addresses are checksummed 0x hex
        to: field(m, "to") as Address,
        token: field(m, "token") as Address,
        amount: BigInt(field(m, "amount")),
        fee: BigInt(field(m, "fee")),
        nonce: BigInt(field(m, "nonce")),
        deadline: BigInt(field(m, "deadline")),
      };
      assert.equal(hashTransfer(vectorDomain(v.domain), t), v.digest);
    }
  });

  test("withdrawal digests", () => {
    assert.ok(vectors.withdrawals.length >= 2);
    for (const v of vectors.withdrawals) {
      const m = v.message;
      const w = {
        account: field(m, "account") as Address, // vector addresses are checksummed 0x hex
        token: field(m, "token") as Address,
        amount: BigInt(field(m, "amount")),
        nonce: BigInt(field(m, "nonce")),
        deadline: BigInt(field(m, "deadline")),
      };
      assert.equal(hashWithdrawal(vectorDomain(v.domain), w), v.digest);
    }
  });

  test("settlement digests (empty, Alice/Bob/Mike deltas, bounds)", () => {
    assert.ok(vectors.settlements.length >= 3);
    for (const v of vectors.settlements) {
      const m = v.message;
      const s: Settlement = {
        ...m,
        epoch: BigInt(m.epoch),
        deltas: m.deltas.map((d) => ({ ...d, amount: BigInt(d.amount) })),
        payouts: m.payouts.map((p) => ({ ...p, amount: BigInt(p.amount) })),
      };
      assert.equal(hashSettlement(vectorDomain(v.domain), s), v.digest);
    }
  });

  test("rotation digests", () => {
    assert.ok(vectors.rotations.length >= 3);
    for (const v of vectors.rotations) {
      const r = { validators: v.message.validators, threshold: BigInt(v.message.threshold), nonce: BigInt(v.message.nonce) };
      assert.equal(hashRotation(vectorDomain(v.domain), r), v.digest);
    }
  });
});
