// SPDX-License-Identifier: AGPL-3.0-or-later
/** Small HTTP helpers shared by the API tests that talk to a createApi server. */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createApi, ErrorBodySchema, type NodeService } from "../../../src/api/index.ts";

/** createApi over `service`, listening on a free loopback port; resolves with the server and its base URL. */
export async function listenApi(service: NodeService, adminToken: string): Promise<{ server: Server; base: string }> {
  const server = createApi(service, { adminToken }).listen(0, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }; // a TCP listener's address is an AddressInfo
}

/** Closes `server` and its kept-alive connections. */
export async function closeApi(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface Answer {
  readonly status: number;
  readonly text: string;
  readonly body: unknown;
}

/** `call` sends JSON to the server at `base()` and reads the answer; `refused` asserts an error answer's status and code. */
export function apiCaller(base: () => string): {
  call(method: "GET" | "POST", path: string, json?: unknown, headers?: Record<string, string>): Promise<Answer>;
  refused(path: string, status: number, code: string): Promise<void>;
} {
  const call = async (method: "GET" | "POST", path: string, json?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const init: RequestInit = { method, headers: { ...headers, ...(json === undefined ? {} : { "content-type": "application/json" }) } };
    if (json !== undefined) init.body = JSON.stringify(json);
    const res = await fetch(base() + path, init);
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, text, body };
  };
  const refused = async (path: string, status: number, code: string): Promise<void> => {
    const answer = await call("GET", path);
    assert.equal(answer.status, status, answer.text);
    assert.equal(ErrorBodySchema.strict().parse(answer.body).error.code, code, answer.text);
  };
  return { call, refused };
}
