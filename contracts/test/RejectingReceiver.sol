// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.30;

interface IDeltaBridgeDeposit {
    function deposit() external payable;
    function withdraw(address token) external;
}

/// @title RejectingReceiver
/// @notice Test account that refuses ETH, to prove a failed payment reverts and changes nothing.
contract RejectingReceiver {
    IDeltaBridgeDeposit private immutable _bridge;

    constructor(address bridge) {
        _bridge = IDeltaBridgeDeposit(bridge);
    }

    /// @notice Deposits the ETH sent as this contract's account.
    function depositToBridge() external payable {
        _bridge.deposit{value: msg.value}();
    }

    /// @notice Tries to withdraw ETH, which receive() refuses.
    function withdrawFromBridge() external {
        _bridge.withdraw(address(0));
    }

    receive() external payable {
        revert("no ETH");
    }
}
