// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Signing Transfer and Withdrawal messages (PROTOCOL.md §1).
 *
 * Two paths that produce the same bytes. `signTransfer` goes through any ethers Signer's
 * `signTypedData` (wallets, hardware, JSON-RPC), which is what users should call. `fastSignTransfer`
 * hashes with protocol/'s word-by-word EIP-712 digest and signs with a raw SigningKey: no
 * TypedDataEncoder, no async hop, for benchmarks that pre-sign tens of thousands. RFC 6979
 * signatures are deterministic, so both paths give equal signatures (asserted by the tests).
 */
import { computeAddress, Signature, type Signer, SigningKey, type TypedDataDomain } from "ethers";
import { DeltaError } from "../errors.ts";
import {
  type Address,
  type BridgeDomain,
  hashTransfer,
  hashWithdrawal,
  parseAddress,
  parseSignature,
  type SignedTransfer,
  type SignedWithdrawal,
  type Transfer,
  TYPES,
  type Withdrawal,
} from "../protocol/index.ts";

/** What to sign in a Transfer; addresses in any accepted case (checksummed in the result). */
export interface TransferFields {
  /** Default: the signer's address. */
  readonly from?: string;
  readonly to: string;
  /** NATIVE_TOKEN for ETH. */
  readonly token: string;
  /** Wei, > 0. */
  readonly amount: bigint;
  /** Wei of `token` to the fee recipient; default 0. */
  readonly fee?: bigint;
  /** The account's next nonce (DeltaClient.nextNonce). */
  readonly nonce: bigint;
  /** Unix seconds. */
  readonly deadline: bigint;
}

/** What to sign in a Withdrawal; addresses in any accepted case (checksummed in the result). */
export interface WithdrawalFields {
  /** Default: the signer's address. */
  readonly account?: string;
  readonly token: string;
  /** Wei, > 0. */
  readonly amount: bigint;
  readonly nonce: bigint;
  /** Unix seconds. */
  readonly deadline: bigint;
}

/** A private key as 0x hex, or an ethers SigningKey built once and reused. */
export type PrivateKeyLike = string | SigningKey;

/** Only the four EIP-712 domain fields: ethers refuses unknown keys such as DomainInfo's feeRecipient. */
function typedDataDomain(domain: BridgeDomain): TypedDataDomain {
  return { name: domain.name, version: domain.version, chainId: domain.chainId, verifyingContract: domain.verifyingContract };
}

function transferOf(from: string, fields: TransferFields): Transfer {
  return {
    from: parseAddress(from, "from"),
    to: parseAddress(fields.to, "to"),
    token: parseAddress(fields.token, "token"),
    amount: fields.amount,
    fee: fields.fee ?? 0n,
    nonce: fields.nonce,
    deadline: fields.deadline,
  };
}

function withdrawalOf(account: string, fields: WithdrawalFields): Withdrawal {
  return {
    account: parseAddress(account, "account"),
    token: parseAddress(fields.token, "token"),
    amount: fields.amount,
    nonce: fields.nonce,
    deadline: fields.deadline,
  };
}

/** The signer's address, refusing a `from`/`account` it cannot sign for (the node would refuse the signature). */
async function signerFor(signer: Signer, claimed: string | undefined, field: string): Promise<Address> {
  const actual = parseAddress(await signer.getAddress(), "signer address");
  if (claimed !== undefined && parseAddress(claimed, field) !== actual) {
    throw new DeltaError("INVALID_SIGNATURE", `${field} ${claimed} is not the signer's address ${actual}; the node would refuse the signature`, {
      details: { field },
    });
  }
  return actual;
}

/** 65-byte r ‖ s ‖ v, v 27/28, low s, lowercase: PROTOCOL.md §1 form, whatever the signer returned. */
function canonicalSignature(signature: string): SignedTransfer["signature"] {
  return parseSignature(Signature.from(signature).serialized);
}

/**
 * Signs a Transfer with `signer.signTypedData(domain, TYPES.Transfer, transfer)`.
 * @throws DeltaError INVALID_ADDRESS / BAD_CHECKSUM, or INVALID_SIGNATURE when `from` is not the signer
 */
export async function signTransfer(signer: Signer, domain: BridgeDomain, fields: TransferFields): Promise<SignedTransfer> {
  const transfer = transferOf(await signerFor(signer, fields.from, "from"), fields);
  const signature = await signer.signTypedData(typedDataDomain(domain), TYPES.Transfer, transfer);
  return { ...transfer, signature: canonicalSignature(signature) };
}

/**
 * Signs a Withdrawal with `signer.signTypedData(domain, TYPES.Withdrawal, withdrawal)`.
 * @throws DeltaError INVALID_ADDRESS / BAD_CHECKSUM, or INVALID_SIGNATURE when `account` is not the signer
 */
export async function signWithdrawal(signer: Signer, domain: BridgeDomain, fields: WithdrawalFields): Promise<SignedWithdrawal> {
  const withdrawal = withdrawalOf(await signerFor(signer, fields.account, "account"), fields);
  const signature = await signer.signTypedData(typedDataDomain(domain), TYPES.Withdrawal, withdrawal);
  return { ...withdrawal, signature: canonicalSignature(signature) };
}

function signingKey(key: PrivateKeyLike): SigningKey {
  return typeof key === "string" ? new SigningKey(key) : key;
}

/**
 * Signs a Transfer synchronously with a raw key over protocol's hashTransfer; same signature as
 * signTransfer. `from` defaults to the key's address (an elliptic-curve multiplication: pass it
 * when signing thousands); a given `from` is NOT checked against the key, for speed.
 * @throws DeltaError INVALID_ADDRESS / BAD_CHECKSUM / INVALID_AMOUNT / AMOUNT_TOO_LARGE
 */
export function fastSignTransfer(privateKey: PrivateKeyLike, domain: BridgeDomain, fields: TransferFields): SignedTransfer {
  const key = signingKey(privateKey);
  const transfer = transferOf(fields.from ?? computeAddress(key.publicKey), fields);
  return { ...transfer, signature: parseSignature(key.sign(hashTransfer(domain, transfer)).serialized) };
}

/** As fastSignTransfer, for a Withdrawal (`account` defaults to the key's address, unchecked when given). */
export function fastSignWithdrawal(privateKey: PrivateKeyLike, domain: BridgeDomain, fields: WithdrawalFields): SignedWithdrawal {
  const key = signingKey(privateKey);
  const withdrawal = withdrawalOf(fields.account ?? computeAddress(key.publicKey), fields);
  return { ...withdrawal, signature: parseSignature(key.sign(hashWithdrawal(domain, withdrawal)).serialized) };
}
