// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../../../contracts/interfaces/IFLChainV2.sol";
import {vm} from "../../utils/Vm.sol";
import {V2Wallet} from "../../../tests/contract/V2Wallet.sol";
import {Update, V2Test} from "./V2Test.sol";

/// @notice A deployment with three nodes and a funded pool, and the steps of a round: what the
///         unit and fuzz tests start from. Settlement tables are cumulative leaves kept by leaf
///         index (every registered node has one), built the way an honest merge builds them.
abstract contract V2World is V2Test {
    /// @notice A node whose wallet is a contract (the differential tests' forwarding wallet,
    ///         one source for both toolchains) that refuses ether until told otherwise: a
    ///         reverting reward recipient, a bounty hunter that cannot be paid.
    function refusingWallet() internal returns (V2Wallet w) {
        w = new V2Wallet();
        w.setRefusing(true);
    }

    IFLChainV2 internal chain;
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    address internal constant CAROL = address(0xCA401);
    address internal constant FUNDER = address(0xF00D);
    address internal constant OUTSIDER = address(0x0575);
    uint256 internal constant POOL = 10 ether;

    address[] internal members; // by leaf index
    IFLChainV2.Leaf[] internal table; // the latest final table, by leaf index
    bytes32[][] internal levels;

    function setUpWorld(IFLChainV2.Rules memory rules) internal {
        chain = deployV2(defaultDeployment(), rules);
        vm.deal(FUNDER, 100 ether);
        vm.prank(FUNDER);
        chain.fundPool{value: POOL}();
        join(ALICE, MIN_BOND);
        join(BOB, MIN_BOND);
        join(CAROL, MIN_BOND);
    }

    function worldRules() internal pure returns (IFLChainV2.Rules memory r) {
        r = defaultRules();
        r.emissionWei = 1 ether;
        r.noticeRounds = 1;
    }

    function join(address node, uint256 bond) internal {
        register(chain, node, bond);
        members.push(node);
    }

    // ------------------------------------------------------------ a round

    function updateOf(address node, uint256 round) internal view returns (Update memory) {
        return makeUpdate(node, round, chain.latest().mergedDigest, 1_536);
    }

    function commitAll(uint256 round, address[] memory nodes) internal returns (Update[] memory updates) {
        updates = new Update[](nodes.length);
        for (uint256 i = 0; i < nodes.length; ++i) {
            updates[i] = updateOf(nodes[i], round);
            commit(chain, nodes[i], updates[i]);
        }
    }

    function revealAll(address[] memory nodes, Update[] memory updates) internal {
        for (uint256 i = 0; i < nodes.length; ++i) {
            reveal(chain, nodes[i], updates[i]);
        }
    }

    /// @notice The table an honest merge of `round` builds: every member, accepted and
    ///         unpenalised reveals share the round's budget equally; penalised ones get a penalty.
    function tableFor(uint256 round, address[] memory penalised)
        internal
        view
        returns (IFLChainV2.Leaf[] memory next, uint128 roundEarned)
    {
        uint256 n = members.length;
        bool[] memory merged = new bool[](n);
        uint256 mergedCount = 0;
        for (uint256 i = 0; i < n; ++i) {
            (, IFLChainV2.CommitState state, IFLChainV2.RevealOutcome outcome) = chain.commitmentOf(round, members[i]);
            merged[i] = state == IFLChainV2.CommitState.Revealed && outcome == IFLChainV2.RevealOutcome.Accepted
                && !contains(penalised, members[i]);
            if (merged[i]) mergedCount += 1;
        }
        uint128 share = mergedCount == 0 ? 0 : uint128(chain.roundView(round).reserved / mergedCount);
        next = new IFLChainV2.Leaf[](n);
        for (uint256 i = 0; i < n; ++i) {
            IFLChainV2.Leaf memory l =
                i < table.length ? table[i] : IFLChainV2.Leaf(members[i], uint32(i), 0, 0, 0, 0, 0);
            if (merged[i]) {
                l.cumEarned += share;
                l.mergedRounds += 1;
                roundEarned += share;
            }
            if (contains(penalised, members[i])) {
                l.cumPenalties += 1;
                l.lastPenaltyRound = uint32(round + 1);
            }
            next[i] = l;
        }
    }

    function rootOfTable(IFLChainV2.Leaf[] memory leaves) internal view returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](leaves.length);
        for (uint256 i = 0; i < leaves.length; ++i) {
            hashes[i] = leafHash(chain, leaves[i]);
        }
        return rootOf(treeLevels(hashes));
    }

    function resultFor(uint256 round, IFLChainV2.Leaf[] memory leaves, uint128 roundEarned)
        internal
        view
        returns (IFLChainV2.Result memory)
    {
        return makeResult(abi.encodePacked("honest ", round), rootOfTable(leaves), roundEarned);
    }

    function attestAll(uint256 round, address[] memory nodes, IFLChainV2.Result memory r) internal {
        for (uint256 i = 0; i < nodes.length; ++i) {
            vm.prank(nodes[i]);
            chain.attest(round, r);
        }
    }

    /// @notice Make `round` final with `leaves` as its table and remember the table.
    function finalizeWith(uint256 round, IFLChainV2.Leaf[] memory leaves, IFLChainV2.Result memory r) internal {
        vm.prank(OUTSIDER);
        chain.finalize(round, r);
        delete table;
        bytes32[] memory hashes = new bytes32[](leaves.length);
        for (uint256 i = 0; i < leaves.length; ++i) {
            table.push(leaves[i]);
            hashes[i] = leafHash(chain, leaves[i]);
        }
        levels = treeLevels(hashes);
    }

    /// @notice One honest round: lagging members settle, the round opens, every member in
    ///         the frozen set commits and reveals, all attest the honest result (penalising
    ///         `penalised`), and it is finalized.
    function honestRound(uint256 round, address[] memory penalised) internal returns (IFLChainV2.Result memory r) {
        goTo(round, IFLChainV2.Phase.Commit);
        settleLagging();
        if (!chain.roundView(round).opened) chain.openRound(round);
        address[] memory nodes = active(round);
        Update[] memory updates = commitAll(round, nodes);
        goTo(round, IFLChainV2.Phase.Reveal);
        revealAll(nodes, updates);
        goTo(round, IFLChainV2.Phase.Attest);
        (IFLChainV2.Leaf[] memory leaves, uint128 earned) = tableFor(round, penalised);
        r = resultFor(round, leaves, earned);
        attestAll(round, nodes, r);
        finalizeWith(round, leaves, r);
    }

    function active(uint256 round) internal view returns (address[] memory nodes) {
        uint256 k = 0;
        nodes = new address[](members.length);
        for (uint256 i = 0; i < members.length; ++i) {
            if (chain.stakeOf(members[i], round) > 0) nodes[k++] = members[i];
        }
        assembly ("memory-safe") {
            mstore(nodes, k)
        }
    }

    // ------------------------------------------------------------ settlement

    function leafOf(address node) internal view returns (IFLChainV2.Leaf memory l, bytes32[16] memory proof) {
        uint256 i = chain.nodeView(node).index;
        l = table[i];
        proof = proofOf(levels, i);
    }

    function settle(address node, address sender) internal {
        (IFLChainV2.Leaf memory l, bytes32[16] memory proof) = leafOf(node);
        vm.prank(sender);
        chain.settle(l, proof);
    }

    function settleLagging() internal {
        uint32 latest = chain.latest().roundPlusOne;
        for (uint256 i = 0; i < members.length; ++i) {
            IFLChainV2.NodeView memory v = chain.nodeView(members[i]);
            if (latest == 0 || v.settledRound >= latest || i >= table.length) continue;
            if (v.status == IFLChainV2.Status.Withdrawn) continue;
            settle(members[i], members[i]);
        }
    }

    // ------------------------------------------------------------ refusals

    /// @notice Every balance a refusal must leave as it was: the contract's, its accounts,
    ///         `who`'s wallet and `who`'s bond, claims and credit.
    function books(address who) internal view returns (bytes32) {
        IFLChainV2.NodeView memory v = chain.nodeView(who);
        return keccak256(abi.encode(address(chain).balance, chain.accounts(), who.balance, v.bond, v.claimed));
    }

    /// @notice `sender` calls the contract with `data` (and `value`, dealt first): the call must
    ///         revert with exactly `err` and leave `books(sender)` as they were.
    function refuse(address sender, uint256 value, bytes memory data, bytes memory err) internal {
        vm.deal(sender, sender.balance + value);
        bytes32 before = books(sender);
        vm.expectRevert(err);
        vm.prank(sender);
        // under expectRevert a low-level call answers true when it reverted with exactly
        // `err`, and false with forge's message otherwise (another error, or no revert)
        (bool asExpected, bytes memory why) = address(chain).call{value: value}(data);
        if (!asExpected) {
            assembly ("memory-safe") {
                revert(add(why, 32), mload(why))
            }
        }
        vm.assertEq(books(sender), before, "a refusal leaves every balance unchanged");
    }

    function refuse(address sender, bytes memory data, bytes memory err) internal {
        refuse(sender, 0, data, err);
    }

    // ------------------------------------------------------------ small things

    function one(address a) internal pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }

    function none() internal pure returns (address[] memory) {
        return new address[](0);
    }

    function contains(address[] memory list, address a) internal pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == a) return true;
        }
        return false;
    }
}
