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

/// A fresh federation: 5 hospitals (parties 1..5), one coordinator (party 100), t = 3, minContributors = 4 (the
/// library's defaults for 5 hospitals: t = n/2 + 1, floor max(3, t + 1)).
async function deployFederation({ t = 3, minContributors = 4 } = {}) {
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

/// n hospitals (parties 1..n, dev accounts 1..n) and no coordinator: [ids, addrs, roles].
function hospitals(n) {
  return [Array.from({ length: n }, (_, i) => i + 1), A.slice(1, n + 1), Array(n).fill(1)];
}

test('constructor validates the membership (each invalid deployment is reverted)', async () => {
  const [ids3, addrs3, roles3] = hospitals(3); // the smallest valid consortium: 3 hospitals, t = 2, 3 contributors
  const cases = [
    [[1, 1, 2], addrs3, roles3, 2, 3, 'DuplicateParty'],
    [ids3, [HOSP[0], HOSP[0], HOSP[2]], roles3, 2, 3, 'DuplicateAddress'],
    [ids3, [HOSP[0], '0x' + '00'.repeat(20), HOSP[2]], roles3, 2, 3, 'BadAddress'],
    [ids3, addrs3, [1, 3, 1], 2, 3, 'BadRole'],
    [ids3, addrs3, [2, 2, 2], 2, 3, 'NoHospital'],
    [ids3, addrs3.slice(0, 2), roles3, 2, 3, 'LengthMismatch'],
    // t >= 2 always (t = 1 is Shamir degree 0), t <= n.
    [ids3, addrs3, roles3, 0, 3, 'ThresholdBelowTwo'],
    [ids3, addrs3, roles3, 1, 3, 'ThresholdBelowTwo'],
    [...hospitals(5), 1, 5, 'ThresholdBelowTwo'],
    [ids3, addrs3, roles3, 4, 3, 'BadThreshold'],
    // t > n/2: t = n/2 (n even) and t < n/2 are refused, with an otherwise valid floor.
    [...hospitals(4), 2, 3, 'ThresholdNotMajority'],
    [...hospitals(5), 2, 3, 'ThresholdNotMajority'],
    // minContributors >= max(3, t + 1): 3 even for t = 2, and t + 1 above (5 hospitals, t = 3: floor 4).
    [ids3, addrs3, roles3, 2, 2, 'MinContributorsBelowFloor'],
    [ids3, addrs3, roles3, 2, 0, 'MinContributorsBelowFloor'],
    [...hospitals(5), 3, 3, 'MinContributorsBelowFloor'],
    [...hospitals(4), 3, 3, 'MinContributorsBelowFloor'],
    // t = n leaves no room for the floor n + 1 (the library's default colluders t - 1): t <= n - 1.
    [ids3, addrs3, roles3, 3, 3, 'MinContributorsBelowFloor'],
    // Two hospitals can never meet the floor of 3 (so HE needs n >= 3).
    [...hospitals(2), 2, 2, 'MinContributorsBelowFloor'],
    [...hospitals(2), 2, 3, 'BadMinContributors'],
    // minContributors <= #hospitals: the coordinator does not count.
    [[...ids3, 9], [...addrs3, COORD], [...roles3, 2], 2, 4, 'BadMinContributors'],
  ];
  for (const [ids, addrs, roles, t, m, err] of cases) {
    const data = chain.deployData([H('fed'), ids, addrs, roles, t, m]);
    const sim = await chain.tryCall(COORD, null, data);
    assert.equal(sim.ok, false, `deployment (t = ${t}, minContributors = ${m}) should revert with ${err}`);
    assert.equal(sim.error, err, `deployment (t = ${t}, minContributors = ${m}): revert reason`);
    const r = await chain.send(COORD, null, data, 8000000);
    assert.equal(r.status, '0x0', `${err}: deployment must be reverted`);
  }
  // The boundary of each rule is accepted: n = 3, 4, 5, 6 with t = n/2 + 1 and minContributors = max(3, t + 1),
  // and the largest t = n - 1 with minContributors = n.
  for (const [n, t, m] of [[3, 2, 3], [4, 3, 4], [5, 3, 4], [6, 4, 5], [5, 4, 5], [6, 5, 6]]) {
    const { address } = await chain.deploy(COORD, [H('fed'), ...hospitals(n), t, m]);
    assert.equal((await chain.view(address, 'threshold', []))[0], BigInt(t));
    assert.equal((await chain.view(address, 'minContributors', []))[0], BigInt(m));
    assert.equal((await chain.view(address, 'hospitalCount', []))[0], BigInt(n));
  }
  const c = await deployFederation();
  assert.equal(Number((await chain.view(c, 'memberCount', []))[0]), 6);
  assert.deepEqual(await chain.view(c, 'memberAt', [5]), [BigInt(COORD_ID), COORD.toLowerCase(), 2n]);
  assert.deepEqual(await chain.view(c, 'federationId', []), [H('fed')]);
  assert.equal((await chain.view(c, 'threshold', []))[0], 3n);
  assert.equal((await chain.view(c, 'minContributors', []))[0], 4n);
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
  const r = await ok(COORD, c, 'postSetup', [5, H('p'), rec(400), rec(110)]);
  assert.equal(r.logs.length, 2, 'SetupPosted (the arguments, which readers compare with the record) + Block');
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
  await commitAll(c, 1, [2, 3, 4]);
  await ok(COORD, c, 'postContributors', [1, [1, 2, 3, 4], H('agg'), rec(250), rec(110)]);
  await refused(HOSP[4], c, 'commit', [1, H('late'), rec(145), rec(110)], 'ContributorSetExists');
  assert.deepEqual(await chain.view(c, 'committed', [1, 5]), [ZERO32]);
});

test('exactly one contributor set per round, of >= minContributors committed hospitals', async () => {
  const c = await deployFederation();
  await openFirstRound(c);
  await commitAll(c, 1, [1, 2, 3, 4]);
  const post = (ids, agg = H('agg'), round = 1) => [round, ids, agg, rec(250), rec(110)];
  await refused(COORD, c, 'postContributors', post([1, 2, 3]), 'TooFewContributors');
  await refused(COORD, c, 'postContributors', post([1, 2]), 'TooFewContributors');
  await refused(COORD, c, 'postContributors', post([]), 'TooFewContributors');
  await refused(COORD, c, 'postContributors', post([1, 2, 3, 5]), 'NotCommitted');
  await refused(COORD, c, 'postContributors', post([1, 2, 3, 100]), 'NotCommitted');
  await refused(COORD, c, 'postContributors', post([2, 1, 3, 4]), 'NotStrictlyIncreasing');
  await refused(COORD, c, 'postContributors', post([1, 1, 2, 3]), 'NotStrictlyIncreasing');
  await refused(COORD, c, 'postContributors', post([1, 2, 3, 4], H('agg'), 2), 'BadRound');
  assert.deepEqual(await chain.view(c, 'contributorSetOf', [1]), [false, ZERO32, []]);
  // Any minContributors of the committed hospitals (here a strict subset of the five).
  await commitAll(c, 1, [5]);
  await ok(COORD, c, 'postContributors', post([1, 2, 4, 5]));
  assert.deepEqual(await chain.view(c, 'contributorSetOf', [1]), [true, H('agg'), [1n, 2n, 4n, 5n]]);
  await refused(COORD, c, 'postContributors', post([1, 2, 3, 4], H('agg2')), 'ContributorSetExists');
  await refused(COORD, c, 'postContributors', post([1, 2, 4, 5]), 'ContributorSetExists');
});

test('a completed result comes after the contributor set and matches it; decryptors are >= t distinct hospitals',
  async () => {
    const c = await deployFederation();
    await openFirstRound(c);
    await commitAll(c, 1, [1, 2, 3, 4]);
    // No result and no model version before the contributor set.
    await refused(COORD, c, 'postResult', resultArgs(1, H('agg'), 1, H('m1'), [1, 2, 3]), 'NoContributorSet');
    await refused(COORD, c, 'postModel', [1, 1, H('m1'), rec(260), rec(110)], 'NoContributorSet');
    await ok(COORD, c, 'postContributors', [1, [1, 2, 3, 4], H('agg'), rec(250), rec(110)]);
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
  await commitAll(c, 2, [1, 2, 3, 4]);
  await ok(COORD, c, 'postContributors', [2, [1, 2, 3, 4], H('agg'), rec(250), rec(110)]);
  await ok(COORD, c, 'postResult', failed(2, []));
  await ok(COORD, c, 'openRound', [3, H('p'), rec(150), rec(110)]);
});

test('the model-version history is readable by anyone, in order', async () => {
  const c = await deployFederation();
  await openFirstRound(c);
  for (let round = 1; round <= 2; ++round) {
    if (round > 1) await ok(COORD, c, 'openRound', [round, H('p'), rec(150), rec(110)]);
    await commitAll(c, round, [1, 3, 4, 5]);
    await ok(COORD, c, 'postContributors', [round, [1, 3, 4, 5], H(`agg${round}`), rec(250), rec(110)]);
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
    [HOSP[3], 'commit', (r, s) => [1, H('d'), r, s]],
    [COORD, 'postContributors', (r, s) => [1, [1, 2, 3, 4], H('agg'), r, s]],
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
    // New membership: hospitals 1..5 plus a sixth (party 6), t = 4, minContributors = 5 (the defaults for 6).
    const m = {
      ids: [...HOSPITAL_IDS, 6, COORD_ID],
      addrs: [...HOSP, NEW, COORD],
      roles: [1, 1, 1, 1, 1, 1, 2],
      t: 4,
      minContributors: 5,
    };
    const digest = await membershipDigest(c, 0, m);
    assert.deepEqual(await chain.view(c, 'membershipDigest', [0, m.ids, m.addrs, m.roles, 4, 5]), [digest]);
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

    // An invalid new membership is refused even with a quorum: the constructor's rules hold for every change
    // (6 hospitals: t in [4, 6], minContributors in [max(3, t + 1), 6]).
    for (const [t, minContributors, err] of [
      [7, 7, 'BadThreshold'],
      [1, 5, 'ThresholdBelowTwo'],
      [0, 5, 'ThresholdBelowTwo'],
      [3, 5, 'ThresholdNotMajority'], // t = n/2
      [2, 3, 'ThresholdNotMajority'],
      [4, 4, 'MinContributorsBelowFloor'], // floor max(3, t + 1) = 5
      [5, 5, 'MinContributorsBelowFloor'], // floor 6
      [4, 7, 'BadMinContributors'],
    ]) {
      const bad = { ...m, t, minContributors };
      const badDigest = await membershipDigest(c, 0, bad);
      const sb = await Promise.all(HOSP.slice(0, 3).map((h) => sign(h, badDigest)));
      await refused(COORD, c, 'changeMembership', changeArgs(bad, sb), err);
    }
    assert.deepEqual(await chain.view(c, 'governanceNonce', []), [0n]);

    // Three of five distinct hospitals (submitted by an outsider, in any order): accepted.
    const r = await ok(OUTSIDER, c, 'changeMembership', changeArgs(m, [s[4], s[0], s[2]]), { stores: false });
    assert.equal(r.logs.length, 1, 'MembershipChanged');
    assert.equal(BigInt(r.logs[0].data), 0n, 'MembershipChanged carries the signed nonce');
    assert.deepEqual(await chain.view(c, 'governanceNonce', []), [1n]);
    assert.deepEqual(await chain.view(c, 'memberCount', []), [7n]);
    assert.deepEqual(await chain.view(c, 'threshold', []), [4n]);
    assert.deepEqual(await chain.view(c, 'minContributors', []), [5n]);
    assert.deepEqual(await chain.view(c, 'roleOf', [NEW]), [1n]);
    assert.deepEqual(await chain.view(c, 'partyOf', [NEW]), [6n]);

    // Replaying the accepted signatures (made over nonce 0) is refused.
    await refused(COORD, c, 'changeMembership', changeArgs(m, [s[4], s[0], s[2]]), 'SignerNotHospital');

    // Now six hospitals: three is no longer more than half, four is; removed members lose their role.
    // Four hospitals remain: t = 3, minContributors = 4 (t = 2 would be n/2).
    const m2 = { ids: [1, 2, 3, 6, COORD_ID], addrs: [HOSP[0], HOSP[1], HOSP[2], NEW, COORD], roles: [1, 1, 1, 1, 2],
      t: 3, minContributors: 4 };
    const d2 = await membershipDigest(c, 1, m2);
    const s2 = await Promise.all([HOSP[0], HOSP[1], HOSP[2], NEW].map((h) => sign(h, d2)));
    await refused(COORD, c, 'changeMembership', changeArgs(m2, s2.slice(0, 3)), 'QuorumNotMet');
    const m2weak = { ...m2, t: 2, minContributors: 3 };
    const d2weak = await membershipDigest(c, 1, m2weak);
    const s2weak = await Promise.all([HOSP[0], HOSP[1], HOSP[2], NEW].map((h) => sign(h, d2weak)));
    await refused(COORD, c, 'changeMembership', changeArgs(m2weak, s2weak), 'ThresholdNotMajority');
    await ok(COORD, c, 'changeMembership', changeArgs(m2, s2), { stores: false });
    assert.deepEqual(await chain.view(c, 'roleOf', [HOSP[3]]), [0n]);
    assert.deepEqual(await chain.view(c, 'hospitalCount', []), [4n]);
    assert.deepEqual(await chain.view(c, 'threshold', []), [3n]);
    assert.deepEqual(await chain.view(c, 'minContributors', []), [4n]);
    await ok(COORD, c, 'openRound', [2, H('p'), rec(150), rec(110)]);
    await refused(HOSP[3], c, 'commit', [2, H('u'), rec(145), rec(110)], 'NotMember');
    await ok(NEW, c, 'commit', [2, H('u'), rec(145), rec(110)]);
  });

// ---------------------------------------------------------------------------------------------------------------
// ensemble federations (issue 17): institutions record their own model versions
// ---------------------------------------------------------------------------------------------------------------

test('the ensemble setup: once, after a setup, by a coordinator, of >= 2 hospitals with t in (n/2, n]', async () => {
  const c = await deployFederation();
  const setup = (ids, t = 2, ref = H('reference')) => [ids, t, ref, rec(300), rec(110)];
  await refused(COORD, c, 'postEnsembleSetup', setup([1, 2, 3]), 'NoSetup');
  await ok(COORD, c, 'postSetup', [1, H('params'), rec(400), rec(110)]);
  await refused(OUTSIDER, c, 'postEnsembleSetup', setup([1, 2, 3]), 'NotMember');
  await refused(HOSP[0], c, 'postEnsembleSetup', setup([1, 2, 3]), 'NotCoordinator');
  await refused(COORD, c, 'postEnsembleSetup', setup([1]), 'TooFewMembers');
  await refused(COORD, c, 'postEnsembleSetup', setup([]), 'TooFewMembers');
  await refused(COORD, c, 'postEnsembleSetup', setup([1, 2, 3, 4], 2), 'BadEnsembleThreshold');  // t = n/2
  await refused(COORD, c, 'postEnsembleSetup', setup([1, 2, 3], 4), 'BadEnsembleThreshold');     // t > n
  await refused(COORD, c, 'postEnsembleSetup', setup([1, 2, 3], 0), 'BadEnsembleThreshold');
  await refused(COORD, c, 'postEnsembleSetup', setup([2, 1, 3]), 'NotStrictlyIncreasing');
  await refused(COORD, c, 'postEnsembleSetup', setup([1, 1, 3]), 'NotStrictlyIncreasing');
  await refused(COORD, c, 'postEnsembleSetup', setup([1, 2, COORD_ID]), 'MemberNotHospital');
  await refused(COORD, c, 'postEnsembleSetup', setup([1, 2, 7]), 'MemberNotHospital');
  await refused(COORD, c, 'postEnsembleSetup', setup([1, 2, 3], 2, ZERO32), 'ZeroHash');
  await ok(COORD, c, 'postEnsembleSetup', setup([1, 2, 4]));
  assert.deepEqual(await chain.view(c, 'ensembleMembersOf', []), [[1n, 2n, 4n]]);
  assert.deepEqual(await chain.view(c, 'ensembleThreshold', []), [2n]);
  assert.deepEqual(await chain.view(c, 'ensembleReferenceHash', []), [H('reference')]);
  await refused(COORD, c, 'postEnsembleSetup', setup([1, 2, 4]), 'EnsembleSetupExists');
});

test('ensemble rounds: in order, by a coordinator, >= t contributors that are ensemble members', async () => {
  const c = await deployFederation();
  const round = (r, ids, h = H(`consensus${r}`)) => [r, ids, h, rec(400), rec(110)];
  await ok(COORD, c, 'postSetup', [1, H('params'), rec(400), rec(110)]);
  await refused(COORD, c, 'postEnsembleRound', round(1, [1, 2]), 'NoEnsembleSetup');
  await ok(COORD, c, 'postEnsembleSetup', [[1, 2, 3, 4], 3, H('reference'), rec(300), rec(110)]);
  await refused(HOSP[0], c, 'postEnsembleRound', round(1, [1, 2, 3]), 'NotCoordinator');
  await refused(OUTSIDER, c, 'postEnsembleRound', round(1, [1, 2, 3]), 'NotMember');
  await refused(COORD, c, 'postEnsembleRound', round(2, [1, 2, 3]), 'BadRound');
  await refused(COORD, c, 'postEnsembleRound', round(0, [1, 2, 3]), 'BadRound');
  await refused(COORD, c, 'postEnsembleRound', round(1, [1, 2]), 'TooFewContributors');
  await refused(COORD, c, 'postEnsembleRound', round(1, [1, 3, 2]), 'NotStrictlyIncreasing');
  await refused(COORD, c, 'postEnsembleRound', round(1, [1, 2, 5]), 'NotEnsembleMember');  // a hospital, not a member
  await refused(COORD, c, 'postEnsembleRound', round(1, [1, 2, 3], ZERO32), 'ZeroHash');
  await ok(COORD, c, 'postEnsembleRound', round(1, [1, 2, 4]));
  assert.deepEqual(await chain.view(c, 'lastEnsembleRound', []), [1n]);
  assert.deepEqual(await chain.view(c, 'ensembleContributed', [1, 4]), [true]);
  assert.deepEqual(await chain.view(c, 'ensembleContributed', [1, 3]), [false]);
  await refused(COORD, c, 'postEnsembleRound', round(1, [1, 2, 3]), 'BadRound');
  await ok(COORD, c, 'postEnsembleRound', round(2, [1, 2, 3, 4]));
});

test('member versions: only the institution itself, versions 1, 2, ... after rounds it contributed to', async () => {
  const c = await deployFederation();
  const version = (pid, v, r, h = H(`m${pid}.${v}`)) => [pid, v, r, h, rec(200), rec(110)];
  await ok(COORD, c, 'postSetup', [1, H('params'), rec(400), rec(110)]);
  await refused(HOSP[0], c, 'postMemberVersion', version(1, 1, 0), 'NoEnsembleSetup');
  await ok(COORD, c, 'postEnsembleSetup', [[1, 2, 3], 2, H('reference'), rec(300), rec(110)]);
  // The attack: a coordinator, an outsider or another institution records a version of institution 1's model.
  await refused(COORD, c, 'postMemberVersion', version(1, 1, 0), 'NotHospital');
  await refused(OUTSIDER, c, 'postMemberVersion', version(1, 1, 0), 'NotMember');
  await refused(HOSP[1], c, 'postMemberVersion', version(1, 1, 0), 'NotOwnMember');
  // A hospital that is not in the ensemble.
  await refused(HOSP[4], c, 'postMemberVersion', version(5, 1, 0), 'NotEnsembleMember');
  await refused(HOSP[0], c, 'postMemberVersion', version(1, 2, 0), 'BadMemberVersion');
  await refused(HOSP[0], c, 'postMemberVersion', version(1, 0, 0), 'BadMemberVersion');
  await refused(HOSP[0], c, 'postMemberVersion', version(1, 1, 0, ZERO32), 'ZeroHash');
  await refused(HOSP[0], c, 'postMemberVersion', version(1, 1, 1), 'NotEnsembleContributor');  // round 1 not recorded
  await ok(HOSP[0], c, 'postMemberVersion', version(1, 1, 0));
  await ok(HOSP[1], c, 'postMemberVersion', version(2, 1, 0));
  assert.deepEqual(await chain.view(c, 'memberVersionOf', [1]), [1n, 0n, H('m1.1')]);
  assert.deepEqual(await chain.view(c, 'memberVersionOf', [3]), [0n, 0n, ZERO32]);
  await ok(COORD, c, 'postEnsembleRound', [1, [1, 2], H('c1'), rec(400), rec(110)]);
  await ok(COORD, c, 'postEnsembleRound', [2, [2, 3], H('c2'), rec(400), rec(110)]);
  await refused(HOSP[0], c, 'postMemberVersion', version(1, 2, 2), 'NotEnsembleContributor');  // 1 sat round 2 out
  await ok(HOSP[0], c, 'postMemberVersion', version(1, 2, 1));
  await ok(HOSP[1], c, 'postMemberVersion', version(2, 2, 2));
  await refused(HOSP[1], c, 'postMemberVersion', version(2, 3, 1), 'MemberRoundGoesBack');
  await refused(HOSP[1], c, 'postMemberVersion', version(2, 2, 2), 'BadMemberVersion');
  assert.deepEqual(await chain.view(c, 'memberVersionOf', [2]), [2n, 2n, H('m2.2')]);
  const r = await ok(HOSP[2], c, 'postMemberVersion', version(3, 1, 2));
  assert.equal(r.logs.length, 2, 'MemberVersionRecorded + Block');
});
