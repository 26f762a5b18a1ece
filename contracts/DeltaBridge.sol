// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/**
 * @title DeltaBridge
 * @notice Custody of the delta-sidechain: users deposit ETH or ERC-20 tokens here, the cluster's
 * validators settle each epoch's net per-account deltas (PROTOCOL.md §3), and users withdraw what
 * the settlements made withdrawable. If the validators stop settling for `escapeDelay` seconds,
 * anyone may freeze the bridge and every account can leave with its last settled balance.
 * @dev Token `address(0)` is the native coin. Value is conserved by construction: every chunk must
 * net to zero per token (deltas plus payouts), so the bridge is consistent after every chunk.
 */
contract DeltaBridge is EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice A signed change of an account's settled balance of one token.
    struct Delta {
        address account;
        address token;
        int256 amount;
    }

    /// @notice An amount of one token made withdrawable for an account.
    struct Payout {
        address account;
        address token;
        uint256 amount;
    }

    /// @notice One chunk of an epoch's settlement, signed by a quorum of validators.
    struct Settlement {
        uint64 epoch;
        uint32 chunk;
        uint32 chunks;
        bytes32 transfersRoot;
        Delta[] deltas;
        Payout[] payouts;
    }

    // ---------------------------------------------------------------- EIP-712 type hashes
    // The type strings are asserted byte for byte equal to src/protocol's by a test.
    bytes32 private constant _DELTA_TYPEHASH = keccak256("Delta(address account,address token,int256 amount)");
    bytes32 private constant _PAYOUT_TYPEHASH = keccak256("Payout(address account,address token,uint256 amount)");
    bytes32 private constant _SETTLEMENT_TYPEHASH = keccak256(
        "Settlement(uint64 epoch,uint32 chunk,uint32 chunks,bytes32 transfersRoot,Delta[] deltas,Payout[] payouts)"
        "Delta(address account,address token,int256 amount)"
        "Payout(address account,address token,uint256 amount)"
    );
    bytes32 private constant _ROTATION_TYPEHASH =
        keccak256("Rotation(address[] validators,uint256 threshold,uint64 nonce)");

    // ---------------------------------------------------------------- errors
    /// @notice The validator set is empty.
    error EmptyValidatorSet();
    /// @notice The validator at `index` is the zero address.
    error ZeroValidator(uint256 index);
    /// @notice `validator` appears more than once in the set.
    error DuplicateValidator(address validator);
    /// @notice `threshold` is not more than half of `validators` or exceeds it.
    error InvalidThreshold(uint256 threshold, uint256 validators);
    /// @notice The bridge is frozen: settlements, rotations and deposits are over.
    error BridgeFrozen();
    /// @notice A deposit of nothing.
    error ZeroAmount();
    /// @notice `token` is the zero address (use `deposit()` for ETH).
    error InvalidToken(address token);
    /// @notice `token` has no code, so it cannot be an ERC-20 contract.
    error TokenWithoutCode(address token);
    /// @notice The chunk belongs to `got`, but the bridge expects epoch `expected`.
    error EpochOutOfOrder(uint64 expected, uint64 got);
    /// @notice The chunk's index is `got`, but the bridge expects chunk `expected`.
    error ChunkOutOfOrder(uint32 expected, uint32 got);
    /// @notice The chunk index `chunk` is not below the epoch's chunk count `chunks`.
    error ChunkOutOfRange(uint32 chunk, uint32 chunks);
    /// @notice The epoch's chunk count was fixed at `expected` by its first chunk; this one says `got`.
    error ChunkCountChanged(uint32 expected, uint32 got);
    /// @notice The epoch's transfers root was fixed at `expected` by its first chunk; this one says `got`.
    error TransfersRootChanged(bytes32 expected, bytes32 got);
    /// @notice `got` signatures were given, `required` are needed.
    error InsufficientSignatures(uint256 got, uint256 required);
    /// @notice The signature at `index` is malformed, high-s, or has a bad v.
    error InvalidSignature(uint256 index);
    /// @notice Signers must be strictly ascending; at `index`, `signer` does not exceed `previous`.
    error SignersNotAscending(uint256 index, address previous, address signer);
    /// @notice `signer` is not in the current validator set.
    error NotValidator(address signer);
    /// @notice The chunk's deltas plus payouts of `token` sum to `imbalance` instead of zero.
    error ChunkNotConserved(address token, int256 imbalance);
    /// @notice Applying `delta` to `account`'s settled `balance` of `token` would go below zero.
    error BalanceBelowZero(address account, address token, uint256 balance, int256 delta);
    /// @notice A payout of `amount` does not fit in int256, so it cannot be conserved against deltas.
    error PayoutTooLarge(uint256 amount);
    /// @notice `account` has nothing to withdraw of `token`.
    error NothingToWithdraw(address account, address token);
    /// @notice Sending `amount` wei to `account` failed.
    error EthTransferFailed(address account, uint256 amount);
    /// @notice The escape hatch opens after `openAfter`; it is now `nowTs`.
    error EscapeDelayNotPassed(uint256 nowTs, uint256 openAfter);

    // ---------------------------------------------------------------- events
    /// @notice `account` deposited `amount` of `token` (zero address: ETH); credited off-chain once per `depositId`.
    event Deposited(address indexed account, address indexed token, uint256 amount, uint256 depositId);
    /// @notice Chunk `chunk` of `chunks` of `epoch` landed with `deltas` deltas and `payouts` payouts.
    event Settled(uint64 indexed epoch, uint32 chunk, uint32 chunks, uint256 deltas, uint256 payouts);
    /// @notice `account` withdrew `amount` of `token`.
    event Withdrawn(address indexed account, address indexed token, uint256 amount);
    /// @notice The validator set became `validators` with `threshold`; it is current while `rotationNonce() == nonce`.
    event ValidatorsRotated(uint64 nonce, address[] validators, uint256 threshold);
    /// @notice The escape hatch was opened at time `at`.
    event Frozen(uint256 at);

    // ---------------------------------------------------------------- state
    uint256 private immutable _escapeDelay;

    address[] private _validators;
    /// @dev generation + 1 of the set an address was last registered in; it is a current validator
    /// iff this equals `_rotationNonce + 1`. Rotation then needs no loop to clear the old set.
    mapping(address validator => uint64 generationPlusOne) private _validatorGeneration;
    uint256 private _threshold;
    uint64 private _rotationNonce;

    uint64 private _lastEpoch;
    uint32 private _nextChunk;
    /// @dev Chunk count of the epoch in progress, fixed by its chunk 0; meaningful only while `_nextChunk > 0`.
    uint32 private _epochChunks;
    uint256 private _lastSettledAt;
    bool private _frozen;
    uint256 private _nextDepositId;

    mapping(uint64 epoch => bytes32 root) private _transfersRoots;
    mapping(address token => mapping(address account => uint256)) private _balances;
    mapping(address token => mapping(address account => uint256)) private _withdrawable;

    /**
     * @notice Deploys the bridge with its first validator set.
     * @param validators_ the validators' addresses: non-empty, no zero or duplicate address
     * @param threshold_ signatures needed: more than half of the set, at most its size
     * @param escapeDelay_ seconds without a landed chunk after which anyone may `freeze()`
     */
    constructor(address[] memory validators_, uint256 threshold_, uint256 escapeDelay_) EIP712("DeltaBridge", "1") {
        _escapeDelay = escapeDelay_;
        _lastSettledAt = block.timestamp;
        _installValidators(validators_, threshold_);
    }

    // ---------------------------------------------------------------- deposits

    /// @notice Deposits the ETH sent; it raises the sender's settled ETH balance at once.
    function deposit() external payable {
        if (_frozen) revert BridgeFrozen();
        if (msg.value == 0) revert ZeroAmount();
        _credit(msg.sender, address(0), msg.value);
    }

    /**
     * @notice Deposits `amount` of the ERC-20 `token` (approve first); credits what actually arrived,
     * so fee-on-transfer tokens are credited net of their fee.
     * @param token the ERC-20 contract
     * @param amount the amount to pull from the sender
     */
    function depositToken(address token, uint256 amount) external nonReentrant {
        if (_frozen) revert BridgeFrozen();
        if (amount == 0) revert ZeroAmount();
        if (token == address(0)) revert InvalidToken(token);
        if (token.code.length == 0) revert TokenWithoutCode(token);
        // The interaction must precede the effect here: only the balance difference tells what
        // arrived. nonReentrant keeps a malicious token from re-entering in between.
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        _credit(msg.sender, token, received);
    }

    // ---------------------------------------------------------------- settlement

    /**
     * @notice Applies one chunk of the next epoch's settlement. Anyone may submit it; it must carry
     * at least `threshold()` signatures of current validators, strictly ascending by signer, over
     * `settlementDigest(s)`.
     * @param s the chunk: the next chunk of epoch `lastEpoch() + 1`, conserving value per token
     * @param signatures 65-byte `r || s || v` signatures, ordered by ascending signer address
     */
    function settle(Settlement calldata s, bytes[] calldata signatures) external {
        if (_frozen) revert BridgeFrozen();
        uint64 expectedEpoch = _lastEpoch + 1;
        if (s.epoch != expectedEpoch) revert EpochOutOfOrder(expectedEpoch, s.epoch);
        uint32 expectedChunk = _nextChunk;
        if (s.chunk != expectedChunk) revert ChunkOutOfOrder(expectedChunk, s.chunk);
        if (s.chunk >= s.chunks) revert ChunkOutOfRange(s.chunk, s.chunks);
        if (expectedChunk > 0) {
            if (s.chunks != _epochChunks) revert ChunkCountChanged(_epochChunks, s.chunks);
            bytes32 root = _transfersRoots[s.epoch];
            if (s.transfersRoot != root) revert TransfersRootChanged(root, s.transfersRoot);
        }

        _verifyQuorum(settlementDigest(s), signatures);

        _applyChunk(s.deltas, s.payouts);

        if (expectedChunk == 0) {
            _epochChunks = s.chunks;
            _transfersRoots[s.epoch] = s.transfersRoot;
        }
        if (s.chunk + 1 == s.chunks) {
            _lastEpoch = s.epoch;
            _nextChunk = 0;
        } else {
            _nextChunk = expectedChunk + 1;
        }
        _lastSettledAt = block.timestamp;
        emit Settled(s.epoch, s.chunk, s.chunks, s.deltas.length, s.payouts.length);
    }

    /**
     * @notice The EIP-712 digest validators sign for a settlement chunk.
     * @param s the chunk
     * @return the digest under this bridge's domain
     */
    function settlementDigest(Settlement calldata s) public view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                _SETTLEMENT_TYPEHASH,
                s.epoch,
                s.chunk,
                s.chunks,
                s.transfersRoot,
                _hashDeltas(s.deltas),
                _hashPayouts(s.payouts)
            )
        );
        return _hashTypedDataV4(structHash);
    }

    // ---------------------------------------------------------------- withdrawals

    /**
     * @notice Pays the caller everything claimable of `token`: `withdrawable`, and once the bridge
     * is frozen also the settled `balanceOf`.
     * @param token the token to withdraw (zero address: ETH)
     */
    function withdraw(address token) external nonReentrant {
        address account = msg.sender;
        uint256 amount = _withdrawable[token][account];
        if (_frozen) {
            amount += _balances[token][account];
            _balances[token][account] = 0;
        }
        if (amount == 0) revert NothingToWithdraw(account, token);
        _withdrawable[token][account] = 0;
        emit Withdrawn(account, token, amount);
        if (token == address(0)) {
            (bool ok, ) = account.call{value: amount}("");
            if (!ok) revert EthTransferFailed(account, amount);
        } else {
            IERC20(token).safeTransfer(account, amount);
        }
    }

    // ---------------------------------------------------------------- validators

    /**
     * @notice Replaces the validator set, signed by a quorum of the current set over
     * `Rotation(validators, threshold, rotationNonce())`. The nonce then increases, so the old
     * set's signatures, and this rotation's, no longer count.
     * @param validators_ the new set: non-empty, no zero or duplicate address
     * @param threshold_ the new threshold: more than half of the new set, at most its size
     * @param signatures current validators' signatures, ascending by signer
     */
    function rotateValidators(address[] calldata validators_, uint256 threshold_, bytes[] calldata signatures)
        external
    {
        if (_frozen) revert BridgeFrozen();
        _verifyQuorum(rotationDigest(validators_, threshold_, _rotationNonce), signatures);
        unchecked {
            // A uint64 nonce incremented once per rotation cannot overflow in practice (2^64 txs).
            ++_rotationNonce;
        }
        delete _validators;
        _installValidators(validators_, threshold_);
    }

    /**
     * @notice The EIP-712 digest validators sign to rotate to `validators_` with `threshold_`.
     * @param validators_ the proposed set
     * @param threshold_ the proposed threshold
     * @param nonce the rotation nonce the signature is bound to (the current one to be valid)
     * @return the digest under this bridge's domain
     */
    function rotationDigest(address[] calldata validators_, uint256 threshold_, uint64 nonce)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(_ROTATION_TYPEHASH, keccak256(abi.encodePacked(validators_)), threshold_, nonce))
        );
    }

    // ---------------------------------------------------------------- escape hatch

    /**
     * @notice Opens the escape hatch once no chunk has landed for more than `escapeDelay()` seconds.
     * Afterwards settle, rotate and deposits revert, and `withdraw` also pays settled balances.
     */
    function freeze() external {
        if (_frozen) revert BridgeFrozen();
        uint256 openAfter = _lastSettledAt + _escapeDelay;
        if (block.timestamp <= openAfter) revert EscapeDelayNotPassed(block.timestamp, openAfter);
        _frozen = true;
        emit Frozen(block.timestamp);
    }

    // ---------------------------------------------------------------- views

    /// @notice The settled off-chain-backed balance of `account` in `token`.
    function balanceOf(address token, address account) external view returns (uint256) {
        return _balances[token][account];
    }

    /// @notice What `account` can withdraw of `token` now (before a freeze).
    function withdrawable(address token, address account) external view returns (uint256) {
        return _withdrawable[token][account];
    }

    /// @notice The current validator set.
    function validators() external view returns (address[] memory) {
        return _validators;
    }

    /// @notice Signatures needed for a settlement or a rotation.
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// @notice Seconds without a landed chunk after which anyone may freeze.
    function escapeDelay() external view returns (uint256) {
        return _escapeDelay;
    }

    /// @notice The last fully settled epoch; 0 before the first.
    function lastEpoch() external view returns (uint64) {
        return _lastEpoch;
    }

    /// @notice The next chunk expected of epoch `lastEpoch() + 1`.
    function nextChunk() external view returns (uint32) {
        return _nextChunk;
    }

    /// @notice Time of the last landed chunk; the deployment time before the first.
    function lastSettledAt() external view returns (uint256) {
        return _lastSettledAt;
    }

    /// @notice Whether the escape hatch is open.
    function frozen() external view returns (bool) {
        return _frozen;
    }

    /// @notice How many rotations have happened; a rotation must be signed over the current value.
    function rotationNonce() external view returns (uint64) {
        return _rotationNonce;
    }

    /// @notice The transfers root of `epoch`, set by its first landed chunk; zero before.
    function transfersRoot(uint64 epoch) external view returns (bytes32) {
        return _transfersRoots[epoch];
    }

    /// @notice The id the next deposit will get.
    function nextDepositId() external view returns (uint256) {
        return _nextDepositId;
    }

    // ---------------------------------------------------------------- internals

    function _credit(address account, address token, uint256 amount) private {
        _balances[token][account] += amount;
        uint256 id = _nextDepositId;
        unchecked {
            // One id per deposit transaction: 2^256 deposits cannot happen.
            _nextDepositId = id + 1;
        }
        emit Deposited(account, token, amount, id);
    }

    /// @dev Validates and registers a set as generation `_rotationNonce`; emits the rotation event.
    function _installValidators(address[] memory validators_, uint256 threshold_) private {
        uint256 n = validators_.length;
        if (n == 0) revert EmptyValidatorSet();
        if (threshold_ > n || threshold_ * 2 <= n) revert InvalidThreshold(threshold_, n);
        uint64 generation = _rotationNonce + 1;
        for (uint256 i = 0; i < n; ++i) {
            address v = validators_[i];
            if (v == address(0)) revert ZeroValidator(i);
            if (_validatorGeneration[v] == generation) revert DuplicateValidator(v);
            _validatorGeneration[v] = generation;
            _validators.push(v);
        }
        _threshold = threshold_;
        emit ValidatorsRotated(_rotationNonce, validators_, threshold_);
    }

    /// @dev Reverts unless `signatures` hold >= threshold valid signatures over `digest` by distinct
    /// current validators in strictly ascending signer order (which also rules out duplicates).
    function _verifyQuorum(bytes32 digest, bytes[] calldata signatures) private view {
        uint256 n = signatures.length;
        uint256 needed = _threshold;
        if (n < needed) revert InsufficientSignatures(n, needed);
        uint64 generation = _rotationNonce + 1;
        address previous = address(0);
        for (uint256 i = 0; i < n; ++i) {
            // OZ ECDSA refuses high-s, v other than 27/28, and lengths other than 65.
            (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(digest, signatures[i]);
            if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i);
            if (signer <= previous) revert SignersNotAscending(i, previous, signer);
            if (_validatorGeneration[signer] != generation) revert NotValidator(signer);
            previous = signer;
        }
    }

    /// @dev EIP-712 encoding of a Delta[]: see `_hashStructArray`.
    function _hashDeltas(Delta[] calldata items) private pure returns (bytes32) {
        uint256 offset;
        assembly ("memory-safe") {
            offset := items.offset
        }
        return _hashStructArray(_DELTA_TYPEHASH, offset, items.length);
    }

    /// @dev EIP-712 encoding of a Payout[]: see `_hashStructArray`.
    function _hashPayouts(Payout[] calldata items) private pure returns (bytes32) {
        uint256 offset;
        assembly ("memory-safe") {
            offset := items.offset
        }
        return _hashStructArray(_PAYOUT_TYPEHASH, offset, items.length);
    }

    /// @dev EIP-712 `encodeData` of an array of 3-word structs (Delta or Payout): the keccak of the
    /// concatenated struct hashes, each keccak(typehash || account || token || amount). In calldata
    /// such an array is `length` contiguous 96-byte items that are exactly those three words, so
    /// each struct hash is one copy and one keccak instead of an abi.encode. The words are hashed
    /// as sent: `_applyChunk` reads every item through the ABI decoder, which reverts on an
    /// out-of-range array or a dirty address, so a digest over malformed items never settles.
    function _hashStructArray(bytes32 typehash, uint256 offset, uint256 length) private pure returns (bytes32 result) {
        assembly ("memory-safe") {
            // Scratch above the free memory pointer, never allocated: [typehash | item] then the hashes.
            let buf := mload(0x40)
            let hashes := add(buf, 0x80)
            mstore(buf, typehash)
            for { let i := 0 } lt(i, length) { i := add(i, 1) } {
                calldatacopy(add(buf, 0x20), add(offset, mul(i, 0x60)), 0x60)
                mstore(add(hashes, mul(i, 0x20)), keccak256(buf, 0x80))
            }
            result := keccak256(hashes, mul(length, 0x20))
        }
    }

    /// @dev Applies deltas to settled balances and payouts to withdrawable amounts, and checks that
    /// the chunk nets to zero per token. Reverting undoes everything, so the order does not matter
    /// for atomicity; deltas go first so a payout cannot mask a debit below zero within the chunk.
    function _applyChunk(Delta[] calldata deltas, Payout[] calldata payouts) private {
        uint256 nDeltas = deltas.length;
        uint256 nPayouts = payouts.length;
        // Per-token running sums. A chunk touches few tokens, so a linear scan beats a mapping
        // (which would also need clearing).
        address[] memory tokens = new address[](nDeltas + nPayouts);
        int256[] memory sums = new int256[](nDeltas + nPayouts);
        uint256 nTokens = 0;

        // Chunks are mostly one token: keep its balances mapping and a running sum in a local until
        // the token changes, then fold the sum into `sums`.
        address lastToken = address(0);
        uint256 sumIndex = type(uint256).max;
        int256 running = 0;
        mapping(address => uint256) storage balances = _balances[address(0)];
        for (uint256 i = 0; i < nDeltas; ++i) {
            Delta calldata d = deltas[i];
            address token = d.token;
            address account = d.account;
            int256 amount = d.amount;
            if (token != lastToken || sumIndex == type(uint256).max) {
                if (sumIndex != type(uint256).max) sums[sumIndex] += running;
                running = 0;
                balances = _balances[token];
                (sumIndex, nTokens) = _sumIndex(tokens, sums, nTokens, token);
                lastToken = token;
            }
            uint256 balance = balances[account];
            if (amount >= 0) {
                balances[account] = balance + uint256(amount);
            } else {
                uint256 debit;
                unchecked {
                    // -(amount + 1) + 1 avoids negating int256.min; for amount < 0 it is in 1 .. 2^255.
                    debit = uint256(-(amount + 1)) + 1;
                }
                if (debit > balance) revert BalanceBelowZero(account, token, balance, amount);
                unchecked {
                    // debit <= balance was just checked.
                    balances[account] = balance - debit;
                }
            }
            running += amount;
        }
        if (sumIndex != type(uint256).max) sums[sumIndex] += running;
        for (uint256 i = 0; i < nPayouts; ++i) {
            Payout calldata p = payouts[i];
            if (p.amount > uint256(type(int256).max)) revert PayoutTooLarge(p.amount);
            _withdrawable[p.token][p.account] += p.amount;
            // The cast is safe: p.amount <= int256.max was just checked.
            uint256 t;
            (t, nTokens) = _sumIndex(tokens, sums, nTokens, p.token);
            sums[t] += int256(p.amount);
        }
        for (uint256 t = 0; t < nTokens; ++t) {
            if (sums[t] != 0) revert ChunkNotConserved(tokens[t], sums[t]);
        }
    }

    /// @dev Index of `token`'s running sum, appending a zero sum for a token not seen yet.
    function _sumIndex(address[] memory tokens, int256[] memory sums, uint256 nTokens, address token)
        private
        pure
        returns (uint256 index, uint256 newCount)
    {
        for (uint256 t = 0; t < nTokens; ++t) {
            if (tokens[t] == token) return (t, nTokens);
        }
        tokens[nTokens] = token;
        sums[nTokens] = 0;
        return (nTokens, nTokens + 1);
    }
}
