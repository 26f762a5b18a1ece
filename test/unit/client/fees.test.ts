// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * DeltaClient's fee helpers against a small real HTTP server answering like PROTOCOL.md §2:
 * fees() parses GET /v1/fees, quoteTransfer() adds newAccountFee only for a recipient with no
 * balance entry of the token and refuses a token not listed before anything is signed, and
 * sendTransfer() signs the quoted minimum when no fee is given.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { DeltaClient, DeltaClientError, NATIVE_TOKEN } from "../../../src/client/index.ts";
import { hashTransfer, recoverSigner, type Address, type BridgeDomain } from "../../../src/protocol/index.ts";

const KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const HOLDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const FRESH = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const JUNK = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
const BRIDGE = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const MIN = 10n ** 30n; // above 2^53: a JSON number would round it

let server: Server;
let client: DeltaClient;
let source = "ledger";
const posted: Record<string, unknown>[] = [];

before(async () => {
  server = createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => {
      const path = (req.url ?? "").split("?")[0];
      const send = (status: number, body: unknown): void => void res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (path === "/v1/fees") {
        return send(200, { tokens: source === "none" ? {} : { [TOKEN]: { minFee: MIN.toString(), newAccountFee: "24000" }, [NATIVE_TOKEN]: { minFee: "0", newAccountFee: "0" } }, source });
      }
      if (path === `/v1/accounts/${HOLDER}`) return send(200, { address: HOLDER, nonce: "0", balances: { [TOKEN]: "0" } });
      if (path === `/v1/accounts/${FRESH}`) return send(200, { address: FRESH, nonce: "0", balances: {} });
      if (path === `/v1/accounts/${ALICE}`) return send(200, { address: ALICE, nonce: "5", balances: { [TOKEN]: "1" } });
      if (path === "/v1/domain") return send(200, { name: "DeltaBridge", version: "1", chainId: "1337", verifyingContract: BRIDGE, feeRecipient: HOLDER });
      if (path === "/v1/transfers" && req.method === "POST") {
        posted.push(JSON.parse(text) as Record<string, unknown>);
        return send(200, { hash: `0x${"ab".repeat(32)}`, status: "committed", index: 0, epoch: "1" });
      }
      send(404, { error: { code: "NOT_FOUND", message: "no route" } });
    });
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  client = new DeltaClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, retry: { attempts: 1 } }); // a TCP listener
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("DeltaClient fees", () => {
  it("fees() parses the policy into bigint fees by checksummed token", async () => {
    source = "ledger";
    assert.deepEqual(await client.fees(), {
      tokens: { [TOKEN]: { minFee: MIN, newAccountFee: 24_000n }, [NATIVE_TOKEN]: { minFee: 0n, newAccountFee: 0n } },
      source: "ledger",
    });
  });

  it("quotes minFee to a recipient that holds the token (even at 0), minFee + newAccountFee to one that never did", async () => {
    source = "ledger";
    assert.deepEqual(await client.quoteTransfer({ from: ALICE, to: HOLDER, token: TOKEN.toLowerCase(), amount: 1n }), { minFee: MIN, newAccount: false, fee: MIN });
    assert.deepEqual(await client.quoteTransfer({ to: FRESH, token: TOKEN }), { minFee: MIN, newAccount: true, fee: MIN + 24_000n });
  });

  it("refuses to quote a token the policy does not list with TOKEN_NOT_ACCEPTED; quotes 0 when the cluster has no policy", async () => {
    source = "ledger";
    await assert.rejects(client.quoteTransfer({ to: FRESH, token: JUNK }), (e: unknown) => e instanceof DeltaClientError && e.code === "TOKEN_NOT_ACCEPTED");
    source = "none";
    assert.deepEqual(await client.quoteTransfer({ to: FRESH, token: JUNK }), { minFee: 0n, newAccount: true, fee: 0n });
  });

  it("sendTransfer signs the quoted minimum, the next nonce and a deadline when they are left out", async () => {
    source = "ledger";
    posted.length = 0;
    const { signed, quote } = await client.sendTransfer(new Wallet(KEY), { to: FRESH, token: TOKEN, amount: 1n });
    assert.deepEqual(quote, { minFee: MIN, newAccount: true, fee: MIN + 24_000n });
    assert.equal(signed.fee, MIN + 24_000n);
    assert.equal(signed.nonce, 5n);
    assert.equal(posted[0]?.["fee"], (MIN + 24_000n).toString());
    const domain: BridgeDomain = { name: "DeltaBridge", version: "1", chainId: 1337n, verifyingContract: BRIDGE as Address };
    assert.equal(recoverSigner(hashTransfer(domain, signed), signed.signature), ALICE);
    // A fee given is signed as given, without asking for a quote.
    const given = await client.sendTransfer(new Wallet(KEY), { to: FRESH, token: TOKEN, amount: 1n, fee: 3n, nonce: 9n, deadline: 1_900_000_000n });
    assert.equal(given.quote, undefined);
    assert.equal(given.signed.fee, 3n);
  });
});
