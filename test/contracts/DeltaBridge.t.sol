// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {DeltaBridge} from "../../contracts/DeltaBridge.sol";
import {TestToken} from "../../contracts/test/TestToken.sol";

/// @dev Signs settlements with validator keys held by the test, the way the cluster will.
abstract contract Signing is Test {
    DeltaBridge internal bridge;
    uint256[] internal validatorKeys;
    address[] internal validatorAddrs;

    function _deploy(uint256 n, uint256 threshold, uint256 delay) internal {
        // Keys 1..n sorted by address so signatures come out ascending.
        for (uint256 i = 1; i <= n; ++i) {
            validatorKeys.push(i + 0xA11CE);
        }
        for (uint256 i = 0; i < n; ++i) {
            for (uint256 j = i + 1; j < n; ++j) {
                if (vm.addr(validatorKeys[j]) < vm.addr(validatorKeys[i])) {
                    (validatorKeys[i], validatorKeys[j]) = (validatorKeys[j], validatorKeys[i]);
                }
            }
        }
        for (uint256 i = 0; i < n; ++i) {
            validatorAddrs.push(vm.addr(validatorKeys[i]));
        }
        bridge = new DeltaBridge(validatorAddrs, threshold, delay);
    }

    function _sign(DeltaBridge.Settlement memory s, uint256 count) internal view returns (bytes[] memory sigs) {
        bytes32 digest = bridge.settlementDigest(s);
        sigs = new bytes[](count);
        for (uint256 i = 0; i < count; ++i) {
            (uint8 v, bytes32 r, bytes32 sv) = vm.sign(validatorKeys[i], digest);
            sigs[i] = abi.encodePacked(r, sv, v);
        }
    }

    function _single(uint64 epoch, DeltaBridge.Delta[] memory deltas, DeltaBridge.Payout[] memory payouts)
        internal
        pure
        returns (DeltaBridge.Settlement memory)
    {
        return DeltaBridge.Settlement({
            epoch: epoch,
            chunk: 0,
            chunks: 1,
            transfersRoot: keccak256(abi.encode(epoch)),
            deltas: deltas,
            payouts: payouts
        });
    }
}

contract DeltaBridgeFuzzTest is Signing {
    address internal alice = address(0xA11CE0);
    address internal bob = address(0xB0B0);

    function setUp() public {
        _deploy(3, 2, 1 days);
        vm.deal(alice, type(uint256).max);
        vm.deal(bob, type(uint256).max);
    }

    function testFuzz_DepositCreditsExactly(uint128 a, uint128 b) public {
        vm.assume(a > 0 && b > 0);
        vm.prank(alice);
        bridge.deposit{value: a}();
        vm.prank(alice);
        bridge.deposit{value: b}();
        assertEq(bridge.balanceOf(address(0), alice), uint256(a) + uint256(b));
        assertEq(bridge.nextDepositId(), 2);
        assertEq(address(bridge).balance, uint256(a) + uint256(b));
    }

    function testFuzz_ConservingSettlementMovesExactly(uint128 deposit, uint128 amount, uint128 payout) public {
        vm.assume(deposit > 0);
        amount = uint128(bound(amount, 0, deposit));
        payout = uint128(bound(payout, 0, amount));
        vm.prank(alice);
        bridge.deposit{value: deposit}();

        DeltaBridge.Delta[] memory deltas = new DeltaBridge.Delta[](2);
        deltas[0] = DeltaBridge.Delta(alice, address(0), -int256(uint256(amount)));
        deltas[1] = DeltaBridge.Delta(bob, address(0), int256(uint256(amount - payout)));
        DeltaBridge.Payout[] memory payouts = new DeltaBridge.Payout[](1);
        payouts[0] = DeltaBridge.Payout(bob, address(0), payout);
        DeltaBridge.Settlement memory s = _single(1, deltas, payouts);
        bridge.settle(s, _sign(s, 2));

        assertEq(bridge.balanceOf(address(0), alice), uint256(deposit) - amount);
        assertEq(bridge.balanceOf(address(0), bob), uint256(amount) - payout);
        assertEq(bridge.withdrawable(address(0), bob), payout);
        assertEq(bridge.lastEpoch(), 1);
    }

    function testFuzz_NonConservingChunkReverts(uint128 deposit, uint128 debit, uint128 credit) public {
        vm.assume(deposit > 0);
        debit = uint128(bound(debit, 0, deposit));
        vm.assume(credit != debit);
        vm.prank(alice);
        bridge.deposit{value: deposit}();
        DeltaBridge.Delta[] memory deltas = new DeltaBridge.Delta[](2);
        deltas[0] = DeltaBridge.Delta(alice, address(0), -int256(uint256(debit)));
        deltas[1] = DeltaBridge.Delta(bob, address(0), int256(uint256(credit)));
        DeltaBridge.Settlement memory s = _single(1, deltas, new DeltaBridge.Payout[](0));
        bytes[] memory sigs = _sign(s, 2);
        vm.expectRevert(
            abi.encodeWithSelector(
                DeltaBridge.ChunkNotConserved.selector, address(0), int256(uint256(credit)) - int256(uint256(debit))
            )
        );
        bridge.settle(s, sigs);
        assertEq(bridge.balanceOf(address(0), alice), deposit);
    }

    function testFuzz_DebitBeyondBalanceReverts(uint128 deposit, uint128 debit) public {
        deposit = uint128(bound(deposit, 1, type(uint128).max - 1));
        debit = uint128(bound(debit, uint256(deposit) + 1, type(uint128).max));
        vm.prank(alice);
        bridge.deposit{value: deposit}();
        DeltaBridge.Delta[] memory deltas = new DeltaBridge.Delta[](2);
        deltas[0] = DeltaBridge.Delta(alice, address(0), -int256(uint256(debit)));
        deltas[1] = DeltaBridge.Delta(bob, address(0), int256(uint256(debit)));
        DeltaBridge.Settlement memory s = _single(1, deltas, new DeltaBridge.Payout[](0));
        bytes[] memory sigs = _sign(s, 2);
        vm.expectRevert(
            abi.encodeWithSelector(
                DeltaBridge.BalanceBelowZero.selector, alice, address(0), uint256(deposit), -int256(uint256(debit))
            )
        );
        bridge.settle(s, sigs);
    }

    function testFuzz_FreezeOnlyAfterDelay(uint32 wait) public {
        uint256 openAfter = bridge.lastSettledAt() + bridge.escapeDelay();
        vm.warp(bridge.lastSettledAt() + wait);
        if (block.timestamp <= openAfter) {
            vm.expectRevert(
                abi.encodeWithSelector(DeltaBridge.EscapeDelayNotPassed.selector, block.timestamp, openAfter)
            );
            bridge.freeze();
            assertFalse(bridge.frozen());
        } else {
            bridge.freeze();
            assertTrue(bridge.frozen());
        }
    }
}

/// @dev Drives the bridge with random deposits, conserving settlements (with payouts) and
/// withdrawals among a few actors, in ETH and a token, and tracks nothing itself: the invariant
/// reads the bridge's own books.
contract BridgeHandler is Signing {
    TestToken internal token;
    address[4] internal actors = [address(0x1001), address(0x1002), address(0x1003), address(0x1004)];
    uint256 public settlements;
    uint256 public withdrawals;

    constructor(DeltaBridge bridge_, TestToken token_, uint256[] memory keys) {
        bridge = bridge_;
        token = token_;
        validatorKeys = keys;
        for (uint256 i = 0; i < actors.length; ++i) {
            vm.deal(actors[i], 1e30);
            token.mint(actors[i], 1e30);
            vm.prank(actors[i]);
            token.approve(address(bridge_), type(uint256).max);
        }
    }

    function actorList() external view returns (address[4] memory) {
        return actors;
    }

    function tokenList() external view returns (address[2] memory) {
        return [address(0), address(token)];
    }

    function depositEth(uint256 who, uint256 amount) external {
        address a = actors[who % actors.length];
        amount = bound(amount, 1, 1e24);
        vm.prank(a);
        bridge.deposit{value: amount}();
    }

    function depositToken(uint256 who, uint256 amount) external {
        address a = actors[who % actors.length];
        amount = bound(amount, 1, 1e24);
        vm.prank(a);
        bridge.depositToken(address(token), amount);
    }

    function settle(uint256 from, uint256 to, uint256 amount, uint256 payout, bool useToken) external {
        address t = useToken ? address(token) : address(0);
        address a = actors[from % actors.length];
        address b = actors[to % actors.length];
        uint256 bal = bridge.balanceOf(t, a);
        if (bal == 0) return;
        amount = bound(amount, 1, bal);
        payout = bound(payout, 0, amount);
        DeltaBridge.Delta[] memory deltas = new DeltaBridge.Delta[](2);
        deltas[0] = DeltaBridge.Delta(a, t, -int256(amount));
        deltas[1] = DeltaBridge.Delta(b, t, int256(amount - payout));
        DeltaBridge.Payout[] memory payouts = new DeltaBridge.Payout[](1);
        payouts[0] = DeltaBridge.Payout(b, t, payout);
        DeltaBridge.Settlement memory s = _single(bridge.lastEpoch() + 1, deltas, payouts);
        bridge.settle(s, _sign(s, 2));
        ++settlements;
    }

    function withdraw(uint256 who, bool useToken) external {
        address a = actors[who % actors.length];
        address t = useToken ? address(token) : address(0);
        if (bridge.withdrawable(t, a) == 0) return;
        vm.prank(a);
        bridge.withdraw(t);
        ++withdrawals;
    }
}

contract DeltaBridgeInvariantTest is Signing {
    BridgeHandler internal handler;
    TestToken internal token;

    function setUp() public {
        _deploy(3, 2, 1 days);
        token = new TestToken("Test", "TST");
        handler = new BridgeHandler(bridge, token, validatorKeys);
        targetContract(address(handler));
    }

    /// @dev Solvency: per token, the bridge holds at least every settled balance plus every claim.
    function invariant_BridgeHoldsAllClaims() public view {
        address[4] memory actors = handler.actorList();
        address[2] memory tokens = handler.tokenList();
        for (uint256 t = 0; t < tokens.length; ++t) {
            uint256 owed = 0;
            for (uint256 i = 0; i < actors.length; ++i) {
                owed += bridge.balanceOf(tokens[t], actors[i]) + bridge.withdrawable(tokens[t], actors[i]);
            }
            uint256 held = tokens[t] == address(0) ? address(bridge).balance : token.balanceOf(address(bridge));
            assertGe(held, owed);
            // Nothing but deposits brings value in and settlements conserve it, so equality holds too.
            assertEq(held, owed);
        }
    }
}
