// SPDX-License-Identifier: AGPL-3.0-or-later
/** consensus/: the replicated log on Mokka. Other folders import this file only. */

/** One node's replicated log (open/propose/waitForCommit/compact/stop) and its settings. */
export {
  ReplicatedLog,
  DEFAULT_TIMING,
  MAX_ENTRY_DATA_BYTES,
  mokkaPublicKeyOf,
  type ConsensusLogger,
  type LogMember,
  type LogStatus,
  type LogTiming,
  type ReplicatedLogOptions,
} from "./replicatedLog.ts";
/** Ed25519 transport identities: generate, load from hex/PEM, export. */
export { generateIdentity, loadIdentity, exportIdentitySeedHex, exportIdentityPem, isNodeId, type NodeIdentity } from "./identity.ts";
/** Ed25519 signing with a transport identity (the node signs its forwarded writes with it). */
export { signMessage, verifySignature, publicKeyFromId } from "./identity.ts";
/** The authenticated TCP transport between members. */
export { TcpTransport, type TcpTransportOptions, type TransportStats, type PeerAddress } from "./tcpTransport.ts";
/** diagnostics_channel name on which the transport publishes `{ reason }` for each connection refused before authentication. */
export { TRANSPORT_REFUSED_CHANNEL } from "./tcpTransport.ts";
/** The pure log core (etcd/raft style) and its messages, for tests and tools. */
export { createLogCore, restoreLogCore, step, type LogCore, type LogInput, type Ready, type ProposalOutcome } from "./logCore.ts";
