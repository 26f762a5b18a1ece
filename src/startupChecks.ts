// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Checks a node runs once at start-up, before it takes traffic. Today: signature recovery. The
 * `secp256k1` package silently falls back to pure JavaScript when its native binary does not load
 * (about 25 times slower here); a node still works on the fallback, so this warns rather than
 * refusing to start, with the measured figures so an operator can judge.
 */
import { checkNativeRecovery, type NativeRecoveryCheck } from "./protocol/index.ts";

/** The pino-style subset of a logger these checks need. */
export interface WarnLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

/** Runs the recovery self check (about 300 ms) and logs its outcome; returns the figures. */
export function checkSignatureRecovery(logger: WarnLogger, options: { budgetMs?: number } = {}): NativeRecoveryCheck {
  const check = checkNativeRecovery(options);
  const fields = {
    native: check.native,
    recoverPerSec: check.nativePerSec,
    recoverPerSecJs: check.jsPerSec,
    slowdown: check.slowdown,
  };
  if (check.native) {
    logger.info(fields, "signature recovery: native libsecp256k1");
  } else {
    logger.warn(
      fields,
      `signature recovery: the native secp256k1 binary did not load, using the pure-JavaScript fallback ` +
        `(${check.nativePerSec}/s here; the native binding is typically ~25x faster). Reinstall with ` +
        `\`npm ci\` on this platform to restore it`,
    );
  }
  return check;
}
