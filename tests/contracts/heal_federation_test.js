#!/usr/bin/env node
// On-chain rules of contracts/HealFederation.sol, against a real anvil (node_modules) on a free loopback port.
//
//   node tests/contracts/heal_federation_test.js [--artifact build/contracts/heal_federation.json] [--anvil PATH]
//
// Every rule is shown twice: the violating transaction is REVERTED (eth_call names the expected custom error;
// the same transaction, mined with explicit gas, has receipt status 0x0 and stores no block), and the matching
// valid transaction succeeds. Without --artifact the contract is compiled in-process.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('crypto');
const path = require('path');
const fs = require('fs');
const { startAnvil, encode, Chain, DEFAULT_ANVIL } = require('../../scripts/evm_devchain.js');

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : undefined;
}
const artifactPath = argValue('--artifact');
const anvilPath = argValue('--anvil') || DEFAULT_ANVIL;
const artifact = artifactPath
  ? JSON.parse(fs.readFileSync(artifactPath, 'utf8'))
  : require(path.join(__dirname, '..', '..', 'scripts', 'compile_contracts.js')).compile();

const H = (s) => '0x' + crypto.createHash('sha256').update(String(s)).digest('hex'); // distinct non-zero bytes32
const ZERO32 = '0x' + '00'.repeat(32);
const rec = (n) => crypto.randomBytes(n); // an opaque record / signature list
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

let anvil;
let chain;
let A; // dev accounts
let COORD; // coordinator address (party 100)
let HOSP; // hospital addresses, party ids 1..5
let OUTSIDER;
const HOSPITAL_IDS = [1, 2, 3, 4, 5];
const COORD_ID = 100;

test.before(async () => {
  anvil = await startAnvil({ anvil: anvilPath, accounts: 20 });
  chain = await new Chain(anvil.url, artifact).init();
  A = chain.accounts;
  COORD = A[0];
  HOSP = A.slice(1, 6);
  OUTSIDER = A[9];
});

test.after(async () => {
  if (anvil) await anvil.stop();
});

// ---------------------------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------------------------

/// A fresh federation: 5 hospitals (parties 1..5), one coordinator (party 100), t = 3, minContributors = 3.
async function deployFederation({ t = 3, minContributors = 3 } = {}) {
  const ids = [...HOSPITAL_IDS, COORD_ID];
  const addrs = [...HOSP, COORD];
  const roles = [1, 1, 1, 1, 1, 2];
  const { address } = await chain.deploy(COORD, [H('fed'), ids, addrs, roles, t, minContributors]);
  return address;
}

async function blockCount(c) {
  return Number((await chain.view(c, 'blockCount', []))[0]);
}

/// Sends a valid call: asserts success, exactly one new block when `stores` and returns the receipt.
async function ok(from, c, name, args, { stores = true } = {}) {
  const before = await blockCount(c);
  const data = chain.calldata(name, args);
  const sim = await chain.tryCall(from, c, data);
  assert.ok(sim.ok, `${name} should succeed but reverts with ${sim.error}`);
  const r = await chain.send(from, c, data);
  assert.equal(r.status, '0x1', `${name} should be mined with status 1`);
  assert.equal(await blockCount(c), before + (stores ? 1 : 0), `${name}: block count`);
  return r;
}

/// A violating call: eth_call reverts with custom error `errName`, and the mined transaction has status 0x0 and
/// stores no block.
async function refused(from, c, name, args, errName) {
  const before = await blockCount(c);
  const data = chain.calldata(name, args);
  const sim = await chain.tryCall(from, c, data);
  assert.equal(sim.ok, false, `${name} should revert with ${errName} but succeeds`);
  assert.equal(sim.error, errName, `${name}: revert reason`);
  const r = await chain.send(from, c, data);
  assert.equal(r.status, '0x0', `${name}: the mined violating transaction must be reverted`);
  assert.equal(r.logs.length, 0, `${name}: a reverted transaction emits nothing`);
  assert.equal(await blockCount(c), before, `${name}: a reverted transaction stores no block`);
}

/// Setup (epoch 1), model 0 and round 1 open.
async function openFirstRound(c) {
  await ok(COORD, c, 'postSetup', [1, H('params'), rec(400), rec(110)]);
  await ok(COORD, c, 'postModel', [0, 0, H('model0'), rec(260), rec(110)]);
  await ok(COORD, c, 'openRound', [1, H('params'), rec(150), rec(110)]);
}

async function commitAll(c, round, hospitals) {
  for (const i of hospitals) await ok(HOSP[i - 1], c, 'commit', [round, H(`u${round}.${i}`), rec(145), rec(110)]);
}

/// postResult arguments for a completed round.
function resultArgs(round, agg, version, modelHash, decryptors) {
  return [round, true, agg, version, modelHash, H('metrics'), 0x3ff0000000000000n, H('fedavg'), decryptors,
    rec(500), rec(110)];
}

// ---------------------------------------------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------------------------------------------

test('constructor validates the membership (each invalid deployment is reverted)', async () => {
  const cases = [
    [[1, 1], [HOSP[0], HOSP[1]], [1, 1], 1, 1, 'DuplicateParty'],
    [[1, 2], [HOSP[0], HOSP[0]], [1, 1], 1, 1, 'DuplicateAddress'],
    [[1, 2], [HOSP[0], '0x' + '00'.repeat(20)], [1, 1], 1, 1, 'BadAddress'],
    [[1, 2], [HOSP[0], HOSP[1]], [1, 3], 1, 1, 'BadRole'],
    [[1, 2], [HOSP[0], HOSP[1]], [2, 2], 1, 1, 'NoHospital'],
    [[1, 2], [HOSP[0], HOSP[1]], [1, 1], 0, 1, 'BadThreshold'],
    [[1, 2], [HOSP[0], HOSP[1]], [1, 1], 3, 1, 'BadThreshold'],
    [[1, 2], [HOSP[0], HOSP[1]], [1, 1], 1, 0, 'BadMinContributors'],
    [[1, 2, 9], [HOSP[0], HOSP[1], COORD], [1, 1, 2], 1, 3, 'BadMinContributors'],
    [[1, 2], [HOSP[0]], [1, 1], 1, 1, 'LengthMismatch'],
  ];
  for (const [ids, addrs, roles, t, m, err] of cases) {
    const data = chain.deployData([H('fed'), ids, addrs, roles, t, m]);
    const sim = await chain.tryCall(COORD, null, data);
    assert.equal(sim.ok, false, `deployment should revert with ${err}`);
    assert.equal(sim.error, err);
    const r = await chain.send(COORD, null, data, 8000000);
    assert.equal(r.status, '0x0', `${err}: deployment must be reverted`);
  }
  const c = await deployFederation();
  assert.equal(Number((await chain.view(c, 'memberCount', []))[0]), 6);
  assert.deepEqual(await chain.view(c, 'memberAt', [5]), [BigInt(COORD_ID), COORD.toLowerCase(), 2n]);
  assert.deepEqual(await chain.view(c, 'federationId', []), [H('fed')]);
  assert.equal((await chain.view(c, 'threshold', []))[0], 3n);
  assert.equal((await chain.view(c, 'minContributors', []))[0], 3n);
  assert.equal((await chain.view(c, 'roleOf', [HOSP[2]]))[0], 1n);
  assert.equal((await chain.view(c, 'partyOf', [HOSP[2]]))[0], 3n);
  assert.equal((await chain.view(c, 'roleOf', [OUTSIDER]))[0], 0n);
});

test('transactions from non-members and from the wrong role are refused', async () => {
  const c = await deployFederation();
  await refused(OUTSIDER, c, 'postSetup', [1, H('p'), rec(400), rec(110)], 'NotMember');
  await refused(HOSP[0], c, 'postSetup', [1, H('p'), rec(400), rec(110)], 'NotCoordinator');
  await openFirstRound(c);
  await refused(OUTSIDER, c, 'commit', [1, H('x'), rec(145), rec(110)], 'NotMember');
  await refused(COORD, c, 'commit', [1, H('x'), rec(145), rec(110)], 'NotHospital');
  await ok(HOSP[0], c, 'commit', [1, H('x'), rec(145), rec(110)]);
  await refused(OUTSIDER, c, 'postContributors', [1, [1], H('agg'), rec(200), rec(110)], 'NotMember');
  await refused(HOSP[0], c, 'postContributors', [1, [1], H('agg'), rec(200), rec(110)], 'NotCoordinator');
  await refused(OUTSIDER, c, 'postResult', [1, false, ZERO32, 0, ZERO32, ZERO32, 0, ZERO32, [], rec(300), rec(110)],
    'NotMember');
  await refused(OUTSIDER, c, 'openRound', [2, H('p'), rec(150), rec(110)], 'NotMember');
  await refused(OUTSIDER, c, 'postModel', [1, 1, H('m'), rec(260), rec(110)], 'NotMember');
});

test('setup epochs increase and no setup is posted while a round is open', async () => {
  const c = await deployFederation();
  await ok(COORD, c, 'postSetup', [5, H('p'), rec(400), rec(110)]);
  await refused(COORD, c, 'postSetup', [5, H('p'), rec(400), rec(110)], 'BadKeyEpoch');
  await refused(COORD, c, 'postSetup', [4, H('p'), rec(400), rec(110)], 'BadKeyEpoch');
  await ok(COORD, c, 'postSetup', [6, H('p'), rec(400), rec(110)]);
  await ok(COORD, c, 'postModel', [0, 0, H('m0'), rec(260), rec(110)]);
  await ok(COORD, c, 'openRound', [1, H('p'), rec(150), rec(110)]);
  await refused(COORD, c, 'postSetup', [7, H('p'), rec(400), rec(110)], 'RoundIsOpen');
});

test('rounds open in order, after setup and model 0, one at a time', async () => {
  const c = await deployFederation();
  await refused(COORD, c, 'openRound', [1, H('p'), rec(150), rec(110)], 'NoSetup');
  await ok(COORD, c, 'postSetup', [1, H('p'), rec(400), rec(110)]);
  await refused(COORD, c, 'openRound', [1, H('p'), rec(150), rec(110)], 'NoInitialModel');
  await ok(COORD, c, 'postModel', [0, 0, H('m0'), rec(260), rec(110)]);
  await refused(COORD, c, 'openRound', [2, H('p'), rec(150), rec(110)], 'BadRound');
  await refused(COORD, c, 'openRound', [0, H('p'), rec(150), rec(110)], 'BadRound');
  const r = await ok(COORD, c, 'openRound', [1, H('p'), rec(150), rec(110)]);
  assert.equal(r.logs.length, 2, 'RoundOpened + Block');
  assert.deepEqual(await chain.view(c, 'roundOpen', []), [true]);
  assert.deepEqual(await chain.view(c, 'lastRound', []), [1n]);
  await refused(COORD, c, 'openRound', [2, H('p'), rec(150), rec(110)], 'RoundIsOpen');
  await refused(COORD, c, 'postModel', [0, 0, H('m0'), rec(260), rec(110)], 'BadModelVersion');
});

test('one commitment per hospital per round, only in the open round and before the contributor set', async () => {
  const c = await deployFederation();
  await openFirstRound(c);
  await refused(HOSP[0], c, 'commit', [2, H('u'), rec(145), rec(110)], 'BadRound');
  await refused(HOSP[0], c, 'commit', [1, ZERO32, rec(145), rec(110)], 'ZeroHash');
  await ok(HOSP[0], c, 'commit', [1, H('u1'), rec(145), rec(110)]);
  await refused(HOSP[0], c, 'commit', [1, H('u1'), rec(145), rec(110)], 'AlreadyCommitted');
  await refused(HOSP[0], c, 'commit', [1, H('another'), rec(145), rec(110)], 'AlreadyCommitted');
  assert.deepEqual(await chain.view(c, 'committed', [1, 1]), [H('u1')]);
  await commitAll(c, 1, [2, 3]);
  await ok(COORD, c, 'postContributors', [1, [1, 2, 3], H('agg'), rec(250), rec(110)]);
  await refused(HOSP[3], c, 'commit', [1, H('late'), rec(145), rec(110)], 'ContributorSetExists');
  assert.deepEqual(await chain.view(c, 'committed', [1, 4]), [ZERO32]);
});

test('exactly one contributor set per round, of >= minContributors committed hospitals', async () => {
  const c = await deployFederation();
  await openFirstRound(c);
  await commitAll(c, 1, [1, 2, 3, 4]);
  await refused(COORD, c, 'postContributors', [1, [1, 2], H('agg'), rec(250), rec(110)], 'TooFewContributors');
  await refused(COORD, c, 'postContributors', [1, [], H('agg'), rec(250), rec(110)], 'TooFewContributors');
  await refused(COORD, c, 'postContributors', [1, [1, 2, 5], H('agg'), rec(250), rec(110)], 'NotCommitted');
  await refused(COORD, c, 'postContributors', [1, [1, 2, 100], H('agg'), rec(250), rec(110)], 'NotCommitted');
  await refused(COORD, c, 'postContributors', [1, [2, 1, 3], H('agg'), rec(250), rec(110)], 'NotStrictlyIncreasing');
  await refused(COORD, c, 'postContributors', [1, [1, 1, 2], H('agg'), rec(250), rec(110)], 'NotStrictlyIncreasing');
  await refused(COORD, c, 'postContributors', [2, [1, 2, 3], H('agg'), rec(250), rec(110)], 'BadRound');
  assert.deepEqual(await chain.view(c, 'contributorSetOf', [1]), [false, ZERO32, []]);
  await ok(COORD, c, 'postContributors', [1, [1, 2, 4], H('agg'), rec(250), rec(110)]);
  assert.deepEqual(await chain.view(c, 'contributorSetOf', [1]), [true, H('agg'), [1n, 2n, 4n]]);
  await refused(COORD, c, 'postContributors', [1, [1, 2, 3], H('agg2'), rec(250), rec(110)], 'ContributorSetExists');
  await refused(COORD, c, 'postContributors', [1, [1, 2, 4], H('agg'), rec(250), rec(110)], 'ContributorSetExists');
});

test('a completed result comes after the contributor set and matches it; decryptors are >= t distinct hospitals',
  async () => {
    const c = await deployFederation();
    await openFirstRound(c);
    await commitAll(c, 1, [1, 2, 3]);
    // No result and no model version before the contributor set.
    await refused(COORD, c, 'postResult', resultArgs(1, H('agg'), 1, H('m1'), [1, 2, 3]), 'NoContributorSet');
    await refused(COORD, c, 'postModel', [1, 1, H('m1'), rec(260), rec(110)], 'NoContributorSet');
    await ok(COORD, c, 'postContributors', [1, [1, 2, 3], H('agg'), rec(250), rec(110)]);
    // Model versions strictly in order.
    await refused(COORD, c, 'postModel', [2, 1, H('m1'), rec(260), rec(110)], 'BadModelVersion');
    await refused(COORD, c, 'postModel', [0, 1, H('m1'), rec(260), rec(110)], 'BadModelVersion');
    await refused(COORD, c, 'postModel', [1, 2, H('m1'), rec(260), rec(110)], 'BadRound');
    await ok(COORD, c, 'postModel', [1, 1, H('m1'), rec(260), rec(110)]);
    await refused(COORD, c, 'postResult', resultArgs(1, H('other'), 1, H('m1'), [1, 2, 3]), 'AggregateMismatch');
    await refused(COORD, c, 'postResult', resultArgs(1, H('agg'), 1, H('other'), [1, 2, 3]), 'ModelMismatch');
    await refused(COORD, c, 'postResult', resultArgs(1, H('agg'), 0, H('model0'), [1, 2, 3]), 'ModelMismatch');
    await refused(COORD, c, 'postResult', resultArgs(1, H('agg'), 7, H('m1'), [1, 2, 3]), 'ModelMismatch');
    await refused(COORD, c, 'postResult', resultArgs(1, H('agg'), 1, H('m1'), [1, 2, 2, 3]), 'DuplicateDecryptor');
    await refused(COORD, c, 'postResult', resultArgs(1, H('agg'), 1, H('m1'), [1, 3, 2]), 'NotStrictlyIncreasing');
    await refused(COORD, c, 'postResult', resultArgs(1, H('agg'), 1, H('m1'), [1, 2]), 'TooFewDecryptors');
    await refused(COORD, c, 'postResult', resultArgs(1, H('agg'), 1, H('m1'), [1, 2, 100]), 'DecryptorNotHospital');
    await refused(COORD, c, 'postResult', resultArgs(1, H('agg'), 1, H('m1'), [1, 2, 42]), 'DecryptorNotHospital');
    await refused(COORD, c, 'postResult', resultArgs(2, H('agg'), 1, H('m1'), [1, 2, 3]), 'BadRound');
    assert.deepEqual(await chain.view(c, 'resultOf', [1]), [false, false, 0n]);
    // Decryptors need not be contributors: any t distinct hospitals.
    const r = await ok(COORD, c, 'postResult', resultArgs(1, H('agg'), 1, H('m1'), [2, 4, 5]));
    assert.equal(r.logs.length, 2, 'RoundClosed + Block');
    assert.deepEqual(await chain.view(c, 'resultOf', [1]), [true, true, 1n]);
    assert.deepEqual(await chain.view(c, 'roundOpen', []), [false]);
    // The round is closed: nothing more for it.
    await refused(COORD, c, 'postResult', resultArgs(1, H('agg'), 1, H('m1'), [2, 4, 5]), 'BadRound');
    await refused(HOSP[3], c, 'commit', [1, H('late'), rec(145), rec(110)], 'BadRound');
    await refused(COORD, c, 'postModel', [2, 1, H('m2'), rec(260), rec(110)], 'BadRound');
  });

test('a failed round closes with or without a contributor set, never with decryptors', async () => {
  const c = await deployFederation();
  await openFirstRound(c);
  await commitAll(c, 1, [1]);
  const failed = (round, decryptors) =>
    [round, false, ZERO32, 0, H('model0'), ZERO32, 0, ZERO32, decryptors, rec(300), rec(110)];
  await refused(COORD, c, 'postResult', failed(1, [1, 2, 3]), 'DecryptorsOnFailedRound');
  await ok(COORD, c, 'postResult', failed(1, []));
  assert.deepEqual(await chain.view(c, 'resultOf', [1]), [true, false, 0n]);
  await ok(COORD, c, 'openRound', [2, H('p'), rec(150), rec(110)]);
  await commitAll(c, 2, [1, 2, 3]);
  await ok(COORD, c, 'postContributors', [2, [1, 2, 3], H('agg'), rec(250), rec(110)]);
  await ok(COORD, c, 'postResult', failed(2, []));
  await ok(COORD, c, 'openRound', [3, H('p'), rec(150), rec(110)]);
});

test('the model-version history is readable by anyone, in order', async () => {
  const c = await deployFederation();
  await openFirstRound(c);
  for (let round = 1; round <= 2; ++round) {
    if (round > 1) await ok(COORD, c, 'openRound', [round, H('p'), rec(150), rec(110)]);
    await commitAll(c, round, [1, 3, 5]);
    await ok(COORD, c, 'postContributors', [round, [1, 3, 5], H(`agg${round}`), rec(250), rec(110)]);
    const r = await ok(COORD, c, 'postModel', [round, round, H(`m${round}`), rec(260), rec(110)]);
    assert.equal(r.logs.length, 2, 'ModelRecorded + Block');
    await ok(COORD, c, 'postResult', resultArgs(round, H(`agg${round}`), round, H(`m${round}`), [1, 3, 5]));
  }
  assert.deepEqual(await chain.view(c, 'modelCount', [], null, OUTSIDER), [3n]);
  assert.deepEqual(await chain.view(c, 'modelAt', [0], null, OUTSIDER), [0n, H('model0')]);
  assert.deepEqual(await chain.view(c, 'modelAt', [1], null, OUTSIDER), [1n, H('m1')]);
  assert.deepEqual(await chain.view(c, 'modelAt', [2], null, OUTSIDER), [2n, H('m2')]);
  const beyond = await chain.tryCall(OUTSIDER, c, chain.calldata('modelAt', [3]));
  assert.deepEqual(beyond, { ok: false, error: 'IndexOutOfRange' });
  // Version 0 only before the first round; a version for a past round is refused.
  await refused(COORD, c, 'postModel', [3, 2, H('m3'), rec(260), rec(110)], 'BadRound');
  await refused(COORD, c, 'postModel', [3, 0, H('m3'), rec(260), rec(110)], 'BadRound');
});

test('every block-storing call emits Block(height, sender, record, sigs) with consecutive heights', async () => {
  const c = await deployFederation();
  const topic = await chain.keccak(Buffer.from('Block(uint64,address,bytes,bytes)').toString('hex'));
  const calls = [
    [COORD, 'postSetup', (r, s) => [1, H('p'), r, s]],
    [COORD, 'postModel', (r, s) => [0, 0, H('m0'), r, s]],
    [COORD, 'openRound', (r, s) => [1, H('p'), r, s]],
    [HOSP[0], 'commit', (r, s) => [1, H('a'), r, s]],
    [HOSP[1], 'commit', (r, s) => [1, H('b'), r, s]],
    [HOSP[2], 'commit', (r, s) => [1, H('c'), r, s]],
    [COORD, 'postContributors', (r, s) => [1, [1, 2, 3], H('agg'), r, s]],
    [COORD, 'postModel', (r, s) => [1, 1, H('m1'), r, s]],
    [COORD, 'postResult', (r, s) => resultArgs(1, H('agg'), 1, H('m1'), [1, 2, 3]).slice(0, 9).concat([r, s])],
  ];
  for (let height = 0; height < calls.length; ++height) {
    const [from, name, args] = calls[height];
    const record = rec(100 + 37 * height);
    const sigs = rec(110);
    const receipt = await ok(from, c, name, args(record, sigs));
    const blocks = receipt.logs.filter((l) => l.topics[0] === topic);
    assert.equal(blocks.length, 1, `${name}: one Block event`);
    const [log] = blocks;
    assert.equal(BigInt(log.topics[1]), BigInt(height), `${name}: height`);
    assert.equal(BigInt(log.topics[2]), BigInt(from), `${name}: sender`);
    const [r, s] = require('../../scripts/evm_devchain.js').decode(['bytes', 'bytes'], log.data);
    assert.equal(r, '0x' + record.toString('hex'), `${name}: record bytes`);
    assert.equal(s, '0x' + sigs.toString('hex'), `${name}: signature bytes`);
  }
  assert.equal(await blockCount(c), calls.length);
});

// ---------------------------------------------------------------------------------------------------------------
// governance
// ---------------------------------------------------------------------------------------------------------------

/// The digest hospitals sign for a membership change, computed here independently of the contract.
async function membershipDigest(c, nonce, m) {
  return chain.keccak(encode(['address', 'uint256', 'uint64', 'uint32[]', 'address[]', 'uint8[]', 'uint32', 'uint32'],
    [c, chain.chainId, nonce, m.ids, m.addrs, m.roles, m.t, m.minContributors]));
}

/// eth_sign from a dev account: EIP-191 personal_sign of the 32 digest bytes; returns the 65-byte r||s||v hex.
async function sign(addr, digest) {
  const sig = await chain.rpc('eth_sign', [addr, digest]);
  assert.equal(sig.length, 2 + 130);
  return sig;
}

const changeArgs = (m, sigs) => [m.ids, m.addrs, m.roles, m.t, m.minContributors, sigs];

test('membership, t and minContributors change only with distinct signatures of > half of the hospitals',
  async () => {
    const c = await deployFederation();
    const NEW = A[10];
    // New membership: hospitals 1..5 plus a sixth (party 6), t = 4, minContributors = 4.
    const m = {
      ids: [...HOSPITAL_IDS, 6, COORD_ID],
      addrs: [...HOSP, NEW, COORD],
      roles: [1, 1, 1, 1, 1, 1, 2],
      t: 4,
      minContributors: 4,
    };
    const digest = await membershipDigest(c, 0, m);
    assert.deepEqual(await chain.view(c, 'membershipDigest', [0, m.ids, m.addrs, m.roles, 4, 4]), [digest]);
    const s = await Promise.all(HOSP.map((h) => sign(h, digest)));
    const coordSig = await sign(COORD, digest);
    const outsiderSig = await sign(OUTSIDER, digest);

    // One member, or two of five, is not enough; neither are signatures of non-hospitals or duplicates.
    await refused(HOSP[0], c, 'changeMembership', changeArgs(m, [s[0]]), 'QuorumNotMet');
    await refused(COORD, c, 'changeMembership', changeArgs(m, [s[0], s[1]]), 'QuorumNotMet');
    await refused(COORD, c, 'changeMembership', changeArgs(m, []), 'QuorumNotMet');
    await refused(COORD, c, 'changeMembership', changeArgs(m, [s[0], s[1], coordSig]), 'SignerNotHospital');
    await refused(COORD, c, 'changeMembership', changeArgs(m, [s[0], s[1], outsiderSig]), 'SignerNotHospital');
    await refused(COORD, c, 'changeMembership', changeArgs(m, [s[0], s[1], s[1]]), 'DuplicateSigner');
    // Signatures over a different proposal (here: other t) recover to other addresses.
    await refused(COORD, c, 'changeMembership', changeArgs({ ...m, t: 3 }, [s[0], s[1], s[2]]), 'SignerNotHospital');

    // Malformed signatures: the high-s twin of a valid signature, v outside {27, 28}, wrong length.
    const sBig = BigInt('0x' + s[2].slice(66, 130));
    const v = parseInt(s[2].slice(130), 16);
    const twin = s[2].slice(0, 66) + (SECP256K1_N - sBig).toString(16).padStart(64, '0') + (v === 27 ? '1c' : '1b');
    await refused(COORD, c, 'changeMembership', changeArgs(m, [s[0], s[1], twin]), 'BadSignature');
    const v01 = s[2].slice(0, 130) + (v - 27).toString(16).padStart(2, '0');
    await refused(COORD, c, 'changeMembership', changeArgs(m, [s[0], s[1], v01]), 'BadSignature');
    await refused(COORD, c, 'changeMembership', changeArgs(m, [s[0], s[1], s[2].slice(0, 130)]), 'BadSignature');

    // Not while a round is open.
    await openFirstRound(c);
    await refused(COORD, c, 'changeMembership', changeArgs(m, [s[0], s[1], s[2]]), 'RoundIsOpen');
    await commitAll(c, 1, [1, 2, 3]);
    await ok(COORD, c, 'postResult', [1, false, ZERO32, 0, H('model0'), ZERO32, 0, ZERO32, [], rec(300), rec(110)]);

    // An invalid new membership is refused even with a quorum.
    const bad = { ...m, t: 7 };
    const badDigest = await membershipDigest(c, 0, bad);
    const sb = await Promise.all(HOSP.slice(0, 3).map((h) => sign(h, badDigest)));
    await refused(COORD, c, 'changeMembership', changeArgs(bad, sb), 'BadThreshold');

    // Three of five distinct hospitals (submitted by an outsider, in any order): accepted.
    const r = await ok(OUTSIDER, c, 'changeMembership', changeArgs(m, [s[4], s[0], s[2]]), { stores: false });
    assert.equal(r.logs.length, 1, 'MembershipChanged');
    assert.equal(BigInt(r.logs[0].data), 0n, 'MembershipChanged carries the signed nonce');
    assert.deepEqual(await chain.view(c, 'governanceNonce', []), [1n]);
    assert.deepEqual(await chain.view(c, 'memberCount', []), [7n]);
    assert.deepEqual(await chain.view(c, 'threshold', []), [4n]);
    assert.deepEqual(await chain.view(c, 'minContributors', []), [4n]);
    assert.deepEqual(await chain.view(c, 'roleOf', [NEW]), [1n]);
    assert.deepEqual(await chain.view(c, 'partyOf', [NEW]), [6n]);

    // Replaying the accepted signatures (made over nonce 0) is refused.
    await refused(COORD, c, 'changeMembership', changeArgs(m, [s[4], s[0], s[2]]), 'SignerNotHospital');

    // Now six hospitals: three is no longer more than half, four is; removed members lose their role.
    const m2 = { ids: [1, 2, 3, 6, COORD_ID], addrs: [HOSP[0], HOSP[1], HOSP[2], NEW, COORD], roles: [1, 1, 1, 1, 2],
      t: 2, minContributors: 2 };
    const d2 = await membershipDigest(c, 1, m2);
    const s2 = await Promise.all([HOSP[0], HOSP[1], HOSP[2], NEW].map((h) => sign(h, d2)));
    await refused(COORD, c, 'changeMembership', changeArgs(m2, s2.slice(0, 3)), 'QuorumNotMet');
    await ok(COORD, c, 'changeMembership', changeArgs(m2, s2), { stores: false });
    assert.deepEqual(await chain.view(c, 'roleOf', [HOSP[3]]), [0n]);
    assert.deepEqual(await chain.view(c, 'hospitalCount', []), [4n]);
    await ok(COORD, c, 'openRound', [2, H('p'), rec(150), rec(110)]);
    await refused(HOSP[3], c, 'commit', [2, H('u'), rec(145), rec(110)], 'NotMember');
    await ok(NEW, c, 'commit', [2, H('u'), rec(145), rec(110)]);
  });
