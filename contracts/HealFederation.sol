// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

/// @title HealFederation: the on-chain rules of one HEAL federation (issue 15, docs: contracts/README.md).
/// @notice Stores the federation's HEAL ledger as an ordered list of blocks (one per state-changing call,
///         emitted as `Block` events) and enforces the rules that must hold on every node:
///         fixed membership (changed only by a majority of hospitals) with the library's default threshold
///         rules (t >= 2, t > n/2, minContributors >= max(3, t + 1)), strictly sequential rounds, at most
///         one commitment per hospital per round, exactly one contributor set per round posted before the
///         result, and an append-only model-version history that anyone can read.
/// @dev The HEAL record and its signature list are opaque bytes here; their BLAKE2b hash chain is computed off
///      chain from the order of the `Block` events (height = position, starting at 0). Every loop runs over an
///      array passed in by the caller or over the current members, so no call has unbounded cost.
contract HealFederation {
    // ----------------------------------------------------------------------------------------------------------
    // Types and constants
    // ----------------------------------------------------------------------------------------------------------

    uint8 internal constant ROLE_NONE = 0;
    uint8 internal constant ROLE_HOSPITAL = 1;
    uint8 internal constant ROLE_COORDINATOR = 2;

    /// secp256k1 group order n / 2: signatures with s above it are malleable twins and are refused (EIP-2).
    uint256 internal constant SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    struct Member {
        uint32 partyId;
        address addr;
        uint8 role;
    }

    /// What the contract knows about a member address, in one storage slot.
    struct MemberInfo {
        uint8 role; // 0 = not a member
        uint32 partyId;
        uint32 slot; // index into `members` plus one
    }

    struct Model {
        uint64 round;
        bytes32 modelHash;
    }

    /// An ensemble member's model history head (one slot): version 1, 2, ... in order.
    struct MemberState {
        bool member;
        uint64 version;
        uint64 round;
        bytes32 modelHash;
    }

    /// Everything about one round that fits in one storage slot (written once at the contributor set, once at
    /// the result).
    struct RoundState {
        bool contributorsPosted;
        bool closed;
        bool completed;
        uint64 modelVersion;
    }

    // ----------------------------------------------------------------------------------------------------------
    // Storage (the hot scalars share one slot)
    // ----------------------------------------------------------------------------------------------------------

    /// Number of HEAL blocks stored so far; the next block gets this height.
    uint64 public blockCount;
    /// The most recently opened round (rounds are numbered from 1; 0 = none opened yet).
    uint64 public lastRound;
    /// Whether round `lastRound` is open (opened and not yet closed by a result).
    bool public roundOpen;
    /// Whether at least one setup block has been posted.
    bool public setupPosted;
    /// The key epoch of the most recent setup.
    uint32 public lastKeyEpoch;
    /// Decryption threshold t: a completed round needs at least t distinct hospital decryptors.
    uint32 public threshold;
    /// Round quorum: a contributor set names at least this many committed hospitals.
    uint32 public minContributors;

    /// Bumped by every accepted membership change; part of the signed governance digest (replay protection).
    uint64 public governanceNonce;
    /// Number of current members with role hospital.
    uint32 public hospitalCount;

    /// The federation id of the HEAL records (fixed for the contract's lifetime).
    bytes32 public immutable federationId;

    Member[] internal members;
    /// Role, party id and list position of each member address.
    mapping(address => MemberInfo) internal memberOf;
    /// Role of a party id (0 = not a member).
    mapping(uint32 => uint8) internal roleOfParty;

    /// committed[round][partyId] = the hospital's update hash for the round (zero = not committed).
    mapping(uint64 => mapping(uint32 => bytes32)) public committed;
    mapping(uint64 => RoundState) internal rounds;
    mapping(uint64 => bytes32) internal contributorAggregate;
    mapping(uint64 => uint32[]) internal contributorParties;

    Model[] internal models;

    /// Ensemble federations (heterogeneous models, issue 17): set once by postEnsembleSetup.
    bool public ensembleSet;
    /// SecAgg threshold of the ensemble: an ensemble round names at least this many contributors.
    uint32 public ensembleThreshold;
    /// The last recorded ensemble round (1, 2, 3, ...; 0 = none).
    uint64 public lastEnsembleRound;
    /// The ensemble's reference-set hash (BLAKE2b-256 of the agreed images).
    bytes32 public ensembleReferenceHash;
    /// Ensemble members in party-id order.
    uint32[] internal ensembleMembers;
    /// Per ensemble member: its latest model version (0 = none yet), the round it was distilled after, its hash.
    mapping(uint32 => MemberState) internal memberState;
    /// ensembleContributed[round][partyId]: the institution is in the round's recorded contributor set.
    mapping(uint64 => mapping(uint32 => bool)) public ensembleContributed;

    // ----------------------------------------------------------------------------------------------------------
    // Events
    // ----------------------------------------------------------------------------------------------------------

    /// One HEAL ledger block: `record` and `sigs` are the canonical HEAL record and signature-list bytes.
    event Block(uint64 indexed height, address indexed sender, bytes record, bytes sigs);
    event SetupPosted(uint32 keyEpoch, bytes32 paramsHash);
    event RoundOpened(uint64 round, bytes32 paramsHash);
    event Committed(uint64 indexed round, uint32 indexed partyId, bytes32 updateHash);
    event ContributorSetPosted(uint64 indexed round, bytes32 aggregateHash, uint32[] partyIds);
    event RoundClosed(uint64 indexed round, bool completed, uint64 modelVersion, bytes32 modelHash);
    event ModelRecorded(uint64 indexed version, uint64 round, bytes32 modelHash);
    /// `nonce` is the governance nonce the accepted signatures were made over (the new nonce is nonce + 1).
    event MembershipChanged(uint64 nonce);
    event EnsembleSetupPosted(bytes32 referenceHash, uint32[] partyIds, uint32 threshold);
    event EnsembleRoundPosted(uint64 indexed round, bytes32 consensusHash, uint32[] partyIds);
    event MemberVersionRecorded(uint32 indexed partyId, uint64 version, uint64 round, bytes32 modelHash);

    // ----------------------------------------------------------------------------------------------------------
    // Errors
    // ----------------------------------------------------------------------------------------------------------

    error NotMember();
    error NotCoordinator();
    error NotHospital();
    error LengthMismatch();
    error DuplicateParty();
    error BadAddress();
    error DuplicateAddress();
    error BadRole();
    error NoHospital();
    /// t > number of hospitals (no t hospitals could ever decrypt).
    error BadThreshold();
    /// t < 2: a 1-of-n key is Shamir degree 0, every hospital would hold every secret (t = 0 is no key at all).
    error ThresholdBelowTwo();
    /// 2 t <= number of hospitals: two disjoint quorums could then each decrypt a different contributor set in
    /// one round, and the difference of the two sums is one hospital's update.
    error ThresholdNotMajority();
    /// minContributors > number of hospitals (no round could ever complete).
    error BadMinContributors();
    /// minContributors < max(3, t + 1): the t - 1 colluders the key tolerates could subtract their own updates
    /// from a decrypted sum and read what is left (a sum must keep >= 2 honest contributions, and >= 3 in all).
    error MinContributorsBelowFloor();
    error BadKeyEpoch();
    error RoundIsOpen();
    error NoSetup();
    error NoInitialModel();
    error BadRound();
    error BadModelVersion();
    error ZeroHash();
    error AlreadyCommitted();
    error ContributorSetExists();
    error NotStrictlyIncreasing();
    error NotCommitted();
    error TooFewContributors();
    error NoContributorSet();
    error AggregateMismatch();
    error ModelMismatch();
    error DuplicateDecryptor();
    error DecryptorNotHospital();
    error TooFewDecryptors();
    error DecryptorsOnFailedRound();
    error BadSignature();
    error SignerNotHospital();
    error DuplicateSigner();
    error QuorumNotMet();
    error IndexOutOfRange();
    error EnsembleSetupExists();
    error NoEnsembleSetup();
    error TooFewMembers();
    error BadEnsembleThreshold();
    error MemberNotHospital();
    error NotEnsembleMember();
    error NotOwnMember();
    error BadMemberVersion();
    error MemberRoundGoesBack();
    error NotEnsembleContributor();

    // ----------------------------------------------------------------------------------------------------------
    // Access checks
    // ----------------------------------------------------------------------------------------------------------

    modifier onlyCoordinator() {
        uint8 role = memberOf[msg.sender].role;
        if (role == ROLE_NONE) revert NotMember();
        if (role != ROLE_COORDINATOR) revert NotCoordinator();
        _;
    }

    modifier onlyHospital() {
        uint8 role = memberOf[msg.sender].role;
        if (role == ROLE_NONE) revert NotMember();
        if (role != ROLE_HOSPITAL) revert NotHospital();
        _;
    }

    /// Reverts unless `round` is the currently open round.
    function _requireOpen(uint64 round) internal view {
        if (!roundOpen || round != lastRound) revert BadRound();
    }

    // ----------------------------------------------------------------------------------------------------------
    // Construction and membership
    // ----------------------------------------------------------------------------------------------------------

    constructor(
        bytes32 federationId_,
        uint32[] memory partyIds,
        address[] memory addrs,
        uint8[] memory roles,
        uint32 t,
        uint32 minContributors_
    ) {
        federationId = federationId_;
        _setMembers(partyIds, addrs, roles, t, minContributors_);
    }

    /// Replaces the member list, t and minContributors. Validation: equal lengths, distinct party ids, distinct
    /// non-zero addresses, roles in {1, 2}, at least one hospital, and with n = #hospitals the threshold rules
    /// of the HEAL library's defaults (src/fl/README.md "Threshold rules", HeAggregator):
    ///   2 <= t <= n and 2 t > n (a majority: any two decryption quorums share a member), and
    ///   max(3, t + 1) <= minContributors <= n (the floor tolerates t - 1 colluders inside a sum).
    /// Together they need n >= 3 hospitals (n = 3: t = 2, minContributors = 3).
    function _setMembers(
        uint32[] memory partyIds,
        address[] memory addrs,
        uint8[] memory roles,
        uint32 t,
        uint32 minContributors_
    ) internal {
        uint256 n = partyIds.length;
        if (addrs.length != n || roles.length != n) revert LengthMismatch();
        if (n > type(uint32).max) revert LengthMismatch();

        // Forget the current members (a loop over members).
        uint256 old = members.length;
        for (uint256 i = 0; i < old; ++i) {
            Member storage m = members[i];
            delete memberOf[m.addr];
            delete roleOfParty[m.partyId];
        }
        delete members;

        uint32 hospitals = 0;
        for (uint256 i = 0; i < n; ++i) {
            uint32 pid = partyIds[i];
            address a = addrs[i];
            uint8 role = roles[i];
            if (role != ROLE_HOSPITAL && role != ROLE_COORDINATOR) revert BadRole();
            if (a == address(0)) revert BadAddress();
            if (memberOf[a].role != ROLE_NONE) revert DuplicateAddress();
            if (roleOfParty[pid] != ROLE_NONE) revert DuplicateParty();
            memberOf[a] = MemberInfo({role: role, partyId: pid, slot: uint32(i + 1)});
            roleOfParty[pid] = role;
            members.push(Member({partyId: pid, addr: a, role: role}));
            if (role == ROLE_HOSPITAL) ++hospitals;
        }
        if (hospitals == 0) revert NoHospital();
        if (t < 2) revert ThresholdBelowTwo();
        if (t > hospitals) revert BadThreshold();
        if (2 * uint256(t) <= hospitals) revert ThresholdNotMajority();
        if (minContributors_ > hospitals) revert BadMinContributors();
        // Colluders tolerated c = t - 1; floor = max(3, c + 2) = max(3, t + 1) (t >= 2 here, so t + 1 >= 3).
        if (minContributors_ < uint256(t) + 1) revert MinContributorsBelowFloor();
        hospitalCount = hospitals;
        threshold = t;
        minContributors = minContributors_;
    }

    /// The digest the hospitals sign (EIP-191 personal_sign of these 32 bytes) to approve a membership change
    /// at governance nonce `nonce`.
    function membershipDigest(
        uint64 nonce,
        uint32[] calldata partyIds,
        address[] calldata addrs,
        uint8[] calldata roles,
        uint32 t,
        uint32 minContributors_
    ) public view returns (bytes32) {
        return keccak256(abi.encode(address(this), block.chainid, nonce, partyIds, addrs, roles, t, minContributors_));
    }

    /// Replaces the membership, t and minContributors (under the same rules as the constructor: _setMembers).
    /// Anyone may submit; it needs 65-byte signatures (r || s || v, v in {27, 28}, low s) of more than half of the
    /// current hospitals, each distinct, over the EIP-191 personal_sign message of
    /// membershipDigest(governanceNonce, ...). Only while no round is open.
    function changeMembership(
        uint32[] calldata partyIds,
        address[] calldata addrs,
        uint8[] calldata roles,
        uint32 t,
        uint32 minContributors_,
        bytes[] calldata signatures
    ) external {
        if (roundOpen) revert RoundIsOpen();
        uint64 nonce = governanceNonce;
        bytes32 digest = membershipDigest(nonce, partyIds, addrs, roles, t, minContributors_);
        bytes32 message = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", digest));

        bool[] memory seen = new bool[](members.length);
        uint256 approvals = 0;
        for (uint256 i = 0; i < signatures.length; ++i) {
            MemberInfo storage signer = memberOf[_recover(message, signatures[i])];
            if (signer.role != ROLE_HOSPITAL) revert SignerNotHospital();
            uint256 slot = signer.slot - 1;
            if (seen[slot]) revert DuplicateSigner();
            seen[slot] = true;
            ++approvals;
        }
        if (2 * approvals <= hospitalCount) revert QuorumNotMet();

        governanceNonce = nonce + 1;
        _setMembers(partyIds, addrs, roles, t, minContributors_);
        emit MembershipChanged(nonce);
    }

    /// ecrecover of a 65-byte r || s || v signature; refuses bad lengths, v not in {27, 28}, high s and failure.
    function _recover(bytes32 message, bytes calldata sig) internal pure returns (address signer) {
        if (sig.length != 65) revert BadSignature();
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v != 27 && v != 28) revert BadSignature();
        if (uint256(s) > SECP256K1_HALF_N) revert BadSignature();
        signer = ecrecover(message, v, r, s);
        if (signer == address(0)) revert BadSignature();
    }

    // ----------------------------------------------------------------------------------------------------------
    // HEAL blocks: every function below appends exactly one block
    // ----------------------------------------------------------------------------------------------------------

    function _appendBlock(bytes calldata record, bytes calldata sigs) internal {
        uint64 height = blockCount;
        blockCount = height + 1;
        emit Block(height, msg.sender, record, sigs);
    }

    function _appendBlockMem(bytes memory record, bytes memory sigs) internal {
        uint64 height = blockCount;
        blockCount = height + 1;
        emit Block(height, msg.sender, record, sigs);
    }

    /// A setup block (new key epoch). Coordinator only; the key epoch strictly increases (the first is free);
    /// not while a round is open.
    /// The parameters hash is part of the signed record; it is not stored on chain (it is in the event, which
    /// readers compare with the record).
    function postSetup(uint32 keyEpoch, bytes32 paramsHash, bytes calldata record, bytes calldata sigs)
        external
        onlyCoordinator
    {
        if (roundOpen) revert RoundIsOpen();
        if (setupPosted && keyEpoch <= lastKeyEpoch) revert BadKeyEpoch();
        setupPosted = true;
        lastKeyEpoch = keyEpoch;
        emit SetupPosted(keyEpoch, paramsHash);
        _appendBlock(record, sigs);
    }

    /// A model-version block. Coordinator only; versions are 0, 1, 2, ... in order. Version 0 (the initial
    /// model) has round 0 and comes before the first round; every later version belongs to the open round and
    /// comes after that round's contributor set.
    function postModel(uint64 version, uint64 round, bytes32 modelHash, bytes calldata record, bytes calldata sigs)
        external
        onlyCoordinator
    {
        if (version != models.length) revert BadModelVersion();
        if (modelHash == bytes32(0)) revert ZeroHash();
        if (version == 0) {
            if (round != 0 || lastRound != 0) revert BadRound();
        } else {
            _requireOpen(round);
            if (!rounds[round].contributorsPosted) revert NoContributorSet();
        }
        models.push(Model({round: round, modelHash: modelHash}));
        emit ModelRecorded(version, round, modelHash);
        _appendBlock(record, sigs);
    }

    /// A round-open block. Coordinator only; needs a setup and model 0; rounds are 1, 2, 3, ... and the
    /// previous round must be closed.
    function openRound(uint64 round, bytes32 paramsHash, bytes calldata record, bytes calldata sigs)
        external
        onlyCoordinator
    {
        if (!setupPosted) revert NoSetup();
        if (models.length == 0) revert NoInitialModel();
        if (roundOpen) revert RoundIsOpen();
        if (round != lastRound + 1) revert BadRound();
        lastRound = round;
        roundOpen = true;
        emit RoundOpened(round, paramsHash);
        _appendBlock(record, sigs);
    }

    /// A commitment block: the sending hospital's update hash for the open round. At most one per hospital per
    /// round, and only before the round's contributor set.
    function commit(uint64 round, bytes32 updateHash, bytes calldata record, bytes calldata sigs)
        external
        onlyHospital
    {
        _requireOpen(round);
        if (rounds[round].contributorsPosted) revert ContributorSetExists();
        if (updateHash == bytes32(0)) revert ZeroHash();
        uint32 pid = memberOf[msg.sender].partyId;
        if (committed[round][pid] != bytes32(0)) revert AlreadyCommitted();
        committed[round][pid] = updateHash;
        emit Committed(round, pid, updateHash);
        _appendBlock(record, sigs);
    }

    /// The round's contributor set and aggregate hash. Coordinator only; exactly one per round; party ids
    /// strictly increasing, each a hospital that committed in this round, at least minContributors of them.
    function postContributors(
        uint64 round,
        uint32[] calldata partyIds,
        bytes32 aggregateHash,
        bytes calldata record,
        bytes calldata sigs
    ) external onlyCoordinator {
        _requireOpen(round);
        RoundState storage st = rounds[round];
        if (st.contributorsPosted) revert ContributorSetExists();
        uint256 n = partyIds.length;
        if (n < minContributors) revert TooFewContributors();
        mapping(uint32 => bytes32) storage commits = committed[round];
        for (uint256 i = 0; i < n; ++i) {
            uint32 pid = partyIds[i];
            if (i > 0 && pid <= partyIds[i - 1]) revert NotStrictlyIncreasing();
            if (commits[pid] == bytes32(0)) revert NotCommitted();
        }
        st.contributorsPosted = true;
        contributorAggregate[round] = aggregateHash;
        contributorParties[round] = partyIds;
        emit ContributorSetPosted(round, aggregateHash, partyIds);
        _appendBlock(record, sigs);
    }

    /// The round result; closes the open round. Coordinator only.
    /// Completed: after the contributor set, with its aggregate hash, naming a model version recorded for this
    /// round with `modelHash`, and at least t decryptors that are distinct hospitals (strictly increasing ids).
    /// Failed: with or without a contributor set, no decryptors; the model fields are informational.
    /// metricsHash, clipNormBits and strategyHash are part of the signed record; they are not stored on chain.
    /// (record and sigs are taken into memory here: eleven calldata arguments leave no stack room otherwise.)
    function postResult(
        uint64 round,
        bool completed,
        bytes32 aggregateHash,
        uint64 modelVersion,
        bytes32 modelHash,
        bytes32, /* metricsHash */
        uint64, /* clipNormBits */
        bytes32, /* strategyHash */
        uint32[] calldata decryptors,
        bytes memory record,
        bytes memory sigs
    ) external onlyCoordinator {
        _requireOpen(round);
        RoundState storage st = rounds[round];
        if (completed) {
            if (!st.contributorsPosted) revert NoContributorSet();
            if (aggregateHash != contributorAggregate[round]) revert AggregateMismatch();
            _checkModel(round, modelVersion, modelHash);
            _checkDecryptors(decryptors);
        } else if (decryptors.length != 0) {
            revert DecryptorsOnFailedRound();
        }
        st.closed = true;
        st.completed = completed;
        st.modelVersion = modelVersion;
        roundOpen = false;
        emit RoundClosed(round, completed, modelVersion, modelHash);
        _appendBlockMem(record, sigs);
    }

    function _checkModel(uint64 round, uint64 version, bytes32 modelHash) internal view {
        if (version >= models.length) revert ModelMismatch();
        Model storage m = models[version];
        if (m.round != round || m.modelHash != modelHash) revert ModelMismatch();
    }

    function _checkDecryptors(uint32[] calldata decryptors) internal view {
        uint256 n = decryptors.length;
        for (uint256 i = 0; i < n; ++i) {
            uint32 pid = decryptors[i];
            if (i > 0) {
                uint32 prev = decryptors[i - 1];
                if (pid == prev) revert DuplicateDecryptor();
                if (pid < prev) revert NotStrictlyIncreasing();
            }
            if (roleOfParty[pid] != ROLE_HOSPITAL) revert DecryptorNotHospital();
        }
        if (n < threshold) revert TooFewDecryptors();
    }

    // ----------------------------------------------------------------------------------------------------------
    // Ensemble federated learning of heterogeneous models (issue 17): each institution keeps its own model and
    // records its versions itself; the coordinator records the ensemble and its rounds.
    // ----------------------------------------------------------------------------------------------------------

    /// The ensemble setup, once, after a setup block. Coordinator only. Members: at least 2, strictly
    /// increasing party ids, each a hospital; the SecAgg threshold t in (n/2, n] for n members.
    function postEnsembleSetup(
        uint32[] calldata partyIds,
        uint32 secaggThreshold,
        bytes32 referenceHash,
        bytes calldata record,
        bytes calldata sigs
    ) external onlyCoordinator {
        if (!setupPosted) revert NoSetup();
        if (ensembleSet) revert EnsembleSetupExists();
        if (referenceHash == bytes32(0)) revert ZeroHash();
        uint256 n = partyIds.length;
        if (n < 2) revert TooFewMembers();
        if (uint256(secaggThreshold) * 2 <= n || secaggThreshold > n) revert BadEnsembleThreshold();
        for (uint256 i = 0; i < n; ++i) {
            uint32 pid = partyIds[i];
            if (i > 0 && pid <= partyIds[i - 1]) revert NotStrictlyIncreasing();
            if (roleOfParty[pid] != ROLE_HOSPITAL) revert MemberNotHospital();
            memberState[pid].member = true;
        }
        ensembleSet = true;
        ensembleThreshold = secaggThreshold;
        ensembleReferenceHash = referenceHash;
        ensembleMembers = partyIds;
        emit EnsembleSetupPosted(referenceHash, partyIds, secaggThreshold);
        _appendBlock(record, sigs);
    }

    /// An ensemble round's outcome. Coordinator only; after the ensemble setup; rounds 1, 2, 3, ... in order
    /// (a failed round is not recorded); contributors strictly increasing ensemble members, at least t of
    /// them; a non-zero consensus hash. The weights and masked-input hashes are in the signed record.
    function postEnsembleRound(
        uint64 round,
        uint32[] calldata partyIds,
        bytes32 consensusHash,
        bytes calldata record,
        bytes calldata sigs
    ) external onlyCoordinator {
        if (!ensembleSet) revert NoEnsembleSetup();
        if (round != lastEnsembleRound + 1) revert BadRound();
        if (consensusHash == bytes32(0)) revert ZeroHash();
        uint256 n = partyIds.length;
        if (n < ensembleThreshold) revert TooFewContributors();
        mapping(uint32 => bool) storage contributed = ensembleContributed[round];
        for (uint256 i = 0; i < n; ++i) {
            uint32 pid = partyIds[i];
            if (i > 0 && pid <= partyIds[i - 1]) revert NotStrictlyIncreasing();
            if (!memberState[pid].member) revert NotEnsembleMember();
            contributed[pid] = true;
        }
        lastEnsembleRound = round;
        emit EnsembleRoundPosted(round, consensusHash, partyIds);
        _appendBlock(record, sigs);
    }

    /// A new version of the sender's own model: only the institution itself records its versions (the
    /// sender's party id is `partyId`). Versions 1, 2, 3, ... per member; the round never goes back; a version
    /// for round r > 0 needs round r recorded with this institution among its contributors.
    function postMemberVersion(
        uint32 partyId,
        uint64 version,
        uint64 round,
        bytes32 modelHash,
        bytes calldata record,
        bytes calldata sigs
    ) external onlyHospital {
        if (!ensembleSet) revert NoEnsembleSetup();
        if (memberOf[msg.sender].partyId != partyId) revert NotOwnMember();
        MemberState storage m = memberState[partyId];
        if (!m.member) revert NotEnsembleMember();
        if (version != m.version + 1) revert BadMemberVersion();
        if (modelHash == bytes32(0)) revert ZeroHash();
        if (round < m.round) revert MemberRoundGoesBack();
        if (round > 0 && !ensembleContributed[round][partyId]) revert NotEnsembleContributor();
        m.version = version;
        m.round = round;
        m.modelHash = modelHash;
        emit MemberVersionRecorded(partyId, version, round, modelHash);
        _appendBlock(record, sigs);
    }

    /// The ensemble's members (party ids in order).
    function ensembleMembersOf() external view returns (uint32[] memory) {
        return ensembleMembers;
    }

    /// An ensemble member's latest model version, the round it followed and its hash (version 0: none yet).
    function memberVersionOf(uint32 partyId) external view returns (uint64 version, uint64 round, bytes32 modelHash) {
        MemberState storage m = memberState[partyId];
        if (!m.member) revert NotEnsembleMember();
        return (m.version, m.round, m.modelHash);
    }

    // ----------------------------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------------------------

    /// Role of an address: 1 hospital, 2 coordinator, 0 not a member.
    function roleOf(address a) external view returns (uint8) {
        return memberOf[a].role;
    }

    /// Party id of a member address (0 for non-members: check roleOf first).
    function partyOf(address a) external view returns (uint32) {
        return memberOf[a].partyId;
    }

    function memberCount() external view returns (uint256) {
        return members.length;
    }

    function memberAt(uint256 i) external view returns (uint32 partyId, address addr, uint8 role) {
        if (i >= members.length) revert IndexOutOfRange();
        Member storage m = members[i];
        return (m.partyId, m.addr, m.role);
    }

    function contributorSetOf(uint64 round)
        external
        view
        returns (bool posted, bytes32 aggregateHash, uint32[] memory partyIds)
    {
        return (rounds[round].contributorsPosted, contributorAggregate[round], contributorParties[round]);
    }

    function modelCount() external view returns (uint256) {
        return models.length;
    }

    function modelAt(uint64 version) external view returns (uint64 round, bytes32 modelHash) {
        if (version >= models.length) revert IndexOutOfRange();
        Model storage m = models[version];
        return (m.round, m.modelHash);
    }

    function resultOf(uint64 round) external view returns (bool closed, bool completed, uint64 modelVersion) {
        RoundState storage st = rounds[round];
        return (st.closed, st.completed, st.modelVersion);
    }
}
