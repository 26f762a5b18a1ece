// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The transport's member-address allow-list over real loopback sockets (docs/consensus.md "Who
 * may connect"): two members on 127.0.0.2 and 127.0.0.3 connect to each other (the dialer binds
 * its own listen address, or the acceptor would see 127.0.0.1 and refuse it); a socket from
 * 127.0.0.1 is closed before the member writes a byte, counted `notMember` and published on the
 * diagnostics channel; `extraAllowedAddresses` lets such an address in (it gets the HELLO); a
 * member given by a host name is allowed by what the name resolves to.
 */
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { connect, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { TcpTransport, TRANSPORT_REFUSED_CHANNEL } from "../../../src/consensus/tcpTransport.ts";
import { CLUSTER_ID, reservePort, sortedIdentities, waitFor } from "./transportFixtures.ts";

interface Watched {
  data: number;
  closed: boolean;
  readonly socket: Socket;
}

function watch(host: string, port: number, localAddress: string): Watched {
  const socket = connect({ host, port, localAddress });
  const w: Watched = { data: 0, closed: false, socket };
  socket.on("data", (chunk: Buffer) => (w.data += chunk.length));
  socket.on("close", () => (w.closed = true));
  socket.on("error", () => {});
  return w;
}

describe("transport allow-list (members' addresses only)", () => {
  const started: TcpTransport[] = [];
  after(async () => {
    await Promise.all(started.map((t) => t.stop()));
  });

  it("connects members on 127.0.0.2 and 127.0.0.3, and closes a socket from 127.0.0.1 before any byte", async () => {
    const [a, b] = sortedIdentities(2);
    const ports = [await reservePort(), await reservePort()];
    const members = [
      { id: a!.id, host: "127.0.0.2", port: ports[0]! },
      { id: b!.id, host: "127.0.0.3", port: ports[1]! },
    ];
    const published: unknown[] = [];
    const onRefused = (message: unknown): void => void published.push(message);
    subscribe(TRANSPORT_REFUSED_CHANNEL, onRefused);
    try {
      const ta = await TcpTransport.start({ identity: a!, clusterId: CLUSTER_ID, members, host: "127.0.0.2", port: ports[0]! });
      started.push(ta);
      const tb = await TcpTransport.start({ identity: b!, clusterId: CLUSTER_ID, members, host: "127.0.0.3", port: ports[1]! });
      started.push(tb);
      await waitFor(() => ta.isConnected(b!.id) && tb.isConnected(a!.id), "the members connected");
      assert.equal(tb.stats().dropped.notMember, 0, "the dialer came from its own address");

      const stranger = watch("127.0.0.3", ports[1]!, "127.0.0.1");
      await waitFor(() => stranger.closed, "the stranger's socket closed");
      assert.equal(stranger.data, 0, "no HELLO for a stranger");
      assert.equal(tb.stats().dropped.notMember, 1);
      assert.deepEqual(published, [{ reason: "notMember" }]);
      // The session between the members is untouched.
      assert.ok(tb.isConnected(a!.id));
    } finally {
      unsubscribe(TRANSPORT_REFUSED_CHANNEL, onRefused);
    }
  });

  it("lets extraAllowedAddresses in, and a member given by name by what the name resolves to", async () => {
    const [a, b] = sortedIdentities(2);
    const ports = [await reservePort(), await reservePort()];
    // "localhost" resolves to 127.0.0.1 (and perhaps ::1): a member given by name.
    const members = [
      { id: a!.id, host: "localhost", port: ports[0]! },
      { id: b!.id, host: "127.0.0.3", port: ports[1]! },
    ];
    const tb = await TcpTransport.start({ identity: b!, clusterId: CLUSTER_ID, members, host: "127.0.0.3", port: ports[1]!, extraAllowedAddresses: ["127.0.0.5"] });
    started.push(tb);
    const byName = watch("127.0.0.3", ports[1]!, "127.0.0.1");
    const extra = watch("127.0.0.3", ports[1]!, "127.0.0.5");
    const stranger = watch("127.0.0.3", ports[1]!, "127.0.0.6");
    await waitFor(() => byName.data > 0 && extra.data > 0 && stranger.closed, "HELLOs for the allowed, a close for the stranger");
    assert.equal(stranger.data, 0);
    assert.equal(tb.stats().dropped.notMember, 1);
    byName.socket.destroy();
    extra.socket.destroy();
    await assert.rejects(
      TcpTransport.start({ identity: a!, clusterId: CLUSTER_ID, members, host: "127.0.0.1", port: 0, extraAllowedAddresses: ["not-an-ip"] }),
      { code: "INVALID_CONFIG" },
    );
  });
});
