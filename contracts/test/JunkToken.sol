// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title JunkToken
/// @notice A worthless ERC-20 as anyone can deploy by the hundred: it mints its whole supply to
/// `holder` and lets `spender` (the bridge) pull all of it, so one deployment and one deposit put a
/// new token on the bridge. Tests and benchmarks of settlement with many tokens use it.
contract JunkToken is ERC20 {
    /**
     * @param holder receives the whole supply
     * @param spender may transfer all of it from `holder` (no approve transaction needed)
     * @param supply the amount minted
     */
    constructor(address holder, address spender, uint256 supply) ERC20("Junk", "JUNK") {
        _mint(holder, supply);
        _approve(holder, spender, supply);
    }
}
