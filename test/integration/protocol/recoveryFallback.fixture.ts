// SPDX-License-Identifier: AGPL-3.0-or-later
// Child process of recoveryFallback.test.ts: runs the start-up check and prints each log line as JSON.
import { checkSignatureRecovery } from "../../../src/startupChecks.ts";

const line = (level: string) => (fields: Record<string, unknown>, message: string) =>
  process.stdout.write(JSON.stringify({ level, ...fields, message }) + "\n");
checkSignatureRecovery({ warn: line("warn"), info: line("info") }, { budgetMs: 40 });
