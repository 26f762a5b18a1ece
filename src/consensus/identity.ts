// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Transport identity: an Ed25519 key pair (node:crypto). A cluster node is named by the lowercase
 * hex of its 32-byte public key. This key only authenticates transport handshakes: it is neither
 * the Mokka key (whose votes leak it, MOKKA.md §6) nor the validator key that signs settlements.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { DeltaError } from "../errors.ts";

/** DER prefixes that wrap a raw 32-byte Ed25519 key (RFC 8410) so node:crypto can import it. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

const HEX_32 = /^[0-9a-f]{64}$/;

/** A node's transport identity. The private key stays inside a KeyObject, which prints no secret. */
export interface NodeIdentity {
  /** Lowercase hex of the raw 32-byte public key: the node's id in member lists. */
  readonly id: string;
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

/** True when `value` has the shape of a node id (64 lowercase hex digits). */
export function isNodeId(value: unknown): value is string {
  return typeof value === "string" && HEX_32.test(value);
}

function identityFromPrivateKey(privateKey: KeyObject): NodeIdentity {
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new DeltaError("INVALID_CONFIG", "Transport identity key must be an Ed25519 private key.", {
      details: { keyType: privateKey.asymmetricKeyType ?? privateKey.type },
    });
  }
  const publicKey = createPublicKey(privateKey);
  const spki = publicKey.export({ format: "der", type: "spki" });
  const id = spki.subarray(spki.length - 32).toString("hex");
  return Object.freeze({ id, publicKey, privateKey });
}

/** A fresh random identity. */
export function generateIdentity(): NodeIdentity {
  const { privateKey } = generateKeyPairSync("ed25519");
  return identityFromPrivateKey(privateKey);
}

/**
 * Loads an identity from a 64-hex-digit Ed25519 seed (optionally 0x-prefixed) or a PKCS#8 PEM.
 * Throws DeltaError INVALID_CONFIG on anything else; the message never echoes the input.
 */
export function loadIdentity(secret: string): NodeIdentity {
  const trimmed = secret.trim();
  try {
    if (trimmed.startsWith("-----BEGIN")) {
      return identityFromPrivateKey(createPrivateKey({ key: trimmed, format: "pem" }));
    }
    const hex = trimmed.startsWith("0x") ? trimmed.slice(2).toLowerCase() : trimmed.toLowerCase();
    if (HEX_32.test(hex)) {
      const der = Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(hex, "hex")]);
      return identityFromPrivateKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" }));
    }
  } catch (cause) {
    if (cause instanceof DeltaError) throw cause;
    // The cause is dropped on purpose: OpenSSL errors may quote parts of the key material.
    throw new DeltaError("INVALID_CONFIG", "Transport identity key could not be parsed (expected Ed25519 PKCS#8 PEM or 64 hex digits).");
  }
  throw new DeltaError("INVALID_CONFIG", "Transport identity key must be an Ed25519 PKCS#8 PEM or 64 hex digits (the seed).");
}

/** The 32-byte seed as 64 hex digits, for writing a key file. Treat the result as a secret. */
export function exportIdentitySeedHex(identity: NodeIdentity): string {
  const der = identity.privateKey.export({ format: "der", type: "pkcs8" });
  return der.subarray(der.length - 32).toString("hex");
}

/** The private key as PKCS#8 PEM, for writing a key file. Treat the result as a secret. */
export function exportIdentityPem(identity: NodeIdentity): string {
  // export() with format "pem" always returns a string.
  return identity.privateKey.export({ format: "pem", type: "pkcs8" }) as string;
}

/** Imports a node id as an Ed25519 public key. Throws DeltaError INVALID_CONFIG if it is not one. */
export function publicKeyFromId(id: string): KeyObject {
  if (!isNodeId(id)) {
    throw new DeltaError("INVALID_CONFIG", "Node id must be 64 lowercase hex digits (an Ed25519 public key).", { details: { id } });
  }
  try {
    return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(id, "hex")]), format: "der", type: "spki" });
  } catch (cause) {
    throw new DeltaError("INVALID_CONFIG", "Node id is not a valid Ed25519 public key.", { details: { id }, cause });
  }
}

/** Ed25519 signature (64 bytes) over `message`. */
export function signMessage(identity: NodeIdentity, message: Uint8Array): Buffer {
  return sign(null, message, identity.privateKey);
}

/** Checks an Ed25519 signature. Never throws: any malformed key or signature is simply invalid. */
export function verifySignature(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return verify(null, message, publicKey, signature);
  } catch {
    return false;
  }
}
