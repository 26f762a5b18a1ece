// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.30;

interface IDeltaBridgeForAttack {
    function deposit() external payable;
    function withdraw(address token) external;
}

/// @title ReentrantReceiver
/// @notice Test account whose receive() re-enters `withdraw`, to prove the bridge pays once.
contract ReentrantReceiver {
    IDeltaBridgeForAttack private immutable _bridge;
    /// @notice How many re-entries were attempted, and whether one of them succeeded.
    uint256 public attempts;
    bool public reentered;

    constructor(address bridge) {
        _bridge = IDeltaBridgeForAttack(bridge);
    }

    /// @notice Deposits the ETH sent, as this contract's own account.
    function depositToBridge() external payable {
        _bridge.deposit{value: msg.value}();
    }

    /// @notice Withdraws ETH from the bridge; the payment triggers receive().
    function attack() external {
        _bridge.withdraw(address(0));
    }

    receive() external payable {
        if (attempts == 0) {
            attempts = 1;
            // Swallow the revert so the outer withdraw can finish and the test can inspect the result.
            try _bridge.withdraw(address(0)) {
                reentered = true;
            } catch {}
        }
    }
}
