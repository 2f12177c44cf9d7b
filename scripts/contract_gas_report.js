#!/usr/bin/env node
// Gas and calldata of HealFederation per FL round, on a fresh anvil (node_modules), for n = 3, 5, 10 hospitals,
// and per round of an SMPC ensemble (issue 17) of n institutions.
//
//   node scripts/contract_gas_report.js [--rounds R] [--hospitals 3,5,10] [--json]
//
// The consortium: t = floor(n/2) + 1, minContributors = max(3, t + 1) (the contract's floor).
// An ensemble round is what the ensemble posts: postEnsembleRound (all n contributors) and one postMemberVersion
// per institution, each from its own account (records: MemberVersion with a 60-byte architecture string,
// EnsembleRound with n contributions).
//
// Each round is what the federation posts: openRound, one commit per hospital, postContributors (all n
// hospitals), postModel, postResult (t = floor(n/2) + 1 decryptors). Records are random bytes of the sizes the
// HEAL record format gives for these record types (docs/formats/ledger.md, federation id of 16 bytes, metrics JSON
// of 120 bytes, strategy string of 48 bytes); every record carries one signature (the sender's), a signature list
// of 110 bytes (u32 count + secp256k1 identity 38 B + u32 length + 64 B). Calldata = the transaction input bytes.
'use strict';
const crypto = require('crypto');
const { startAnvil, Chain } = require('./evm_devchain.js');
const { compile } = require('./compile_contracts.js');

function argValue(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const ROUNDS = Number(argValue('--rounds', '5'));
const SIZES = argValue('--hospitals', '3,5,10').split(',').map(Number);
const AS_JSON = process.argv.includes('--json');

// Record sizes in bytes: HEAL header 16 + type 1 + federation id (4 + 16) + issued-at 8 = 45, then the body.
const BASE = 45;
const METRICS = 4 + 120;
const SIGS = 110;
const recordSize = {
  setup: (n) => BASE + 4 + (4 + 14) + (4 + 16) + 32 + 32 + 4 + 4 + (4 + 48) + 8 + 4 + n * (4 + 1 + (4 + 12) + 38),
  model: () => BASE + 8 + 8 + 8 + 32 + 8 + METRICS,
  roundOpen: (n) => BASE + 8 + 4 + 32 + 8 + 32 + 4 + 4 * n,
  commitment: () => BASE + 8 + 4 + 8 + 32 + 32 + 8 + 8,
  contributorSet: (n) => BASE + 8 + 32 + 4 + n * (4 + 32 + 8),
  result: (n, t) => BASE + 8 + 4 + 1 + 4 + (4 + 4 * n) + (4 + 44 * n) + (4 + 4 * t) + 32 + 8 + 32 + 8 + 32 +
    (4 + 48) + 8 + METRICS,
  // Ensembles (src/ledger/record.cpp): members (id, architecture, sites), reference hash, size, classes, t,
  // fraction bits, weight rule; a member version (id, version, architecture, hash, round, parameters); a round
  // (round, n x (id, weight, accuracy, masked-input hash), consensus hash).
  ensembleSetup: (n) => BASE + 4 + n * (4 + (4 + 60) + 4) + 32 + 8 + 4 + 4 + 4 + (4 + 17),
  memberVersion: () => BASE + 4 + 8 + (4 + 60) + 32 + 8 + 8,
  ensembleRound: (n) => BASE + 8 + 4 + n * (4 + 8 + 8 + 32) + 32,
};
const rnd = (n) => crypto.randomBytes(n);
const h32 = () => '0x' + crypto.randomBytes(32).toString('hex');
const inputBytes = (data) => (data.length - 2) / 2;

async function measure(chain, n) {
  const A = chain.accounts;
  const coord = A[0];
  const hosp = A.slice(1, 1 + n);
  const ids = hosp.map((_, i) => i + 1);
  const t = Math.floor(n / 2) + 1;
  const deployData = chain.deployData([h32(), [...ids, 1000], [...hosp, coord], [...ids.map(() => 1), 2], t,
    Math.max(3, t + 1)]);
  const dep = await chain.send(coord, null, deployData, 8000000);
  if (dep.status !== '0x1') throw new Error('deployment failed');
  const c = dep.contractAddress;

  const callOn = (to) => async (from, name, args) => {
    const data = chain.calldata(name, args);
    const r = await chain.send(from, to, data);
    if (r.status !== '0x1') throw new Error(`${name} reverted`);
    return { gas: Number(BigInt(r.gasUsed)), bytes: inputBytes(data) };
  };
  const call = callOn(c);
  const setup = await call(coord, 'postSetup', [1, h32(), rnd(recordSize.setup(n + 1)), rnd(SIGS)]);
  const model0 = await call(coord, 'postModel', [0, 0, h32(), rnd(recordSize.model()), rnd(SIGS)]);

  const perKind = {};
  const add = (kind, m) => {
    const k = (perKind[kind] ||= { gas: 0, bytes: 0, count: 0 });
    k.gas += m.gas;
    k.bytes += m.bytes;
    k.count += 1;
  };
  let gas = 0;
  let bytes = 0;
  for (let round = 1; round <= ROUNDS; ++round) {
    const steps = [];
    steps.push(['openRound', coord, [round, h32(), rnd(recordSize.roundOpen(n)), rnd(SIGS)]]);
    for (const h of hosp) steps.push(['commit', h, [round, h32(), rnd(recordSize.commitment()), rnd(SIGS)]]);
    const agg = h32();
    const mh = h32();
    steps.push(['postContributors', coord, [round, ids, agg, rnd(recordSize.contributorSet(n)), rnd(SIGS)]]);
    steps.push(['postModel', coord, [round, round, mh, rnd(recordSize.model()), rnd(SIGS)]]);
    steps.push(['postResult', coord, [round, true, agg, round, mh, h32(), 0x3ff0000000000000n, h32(),
      ids.slice(0, t), rnd(recordSize.result(n, t)), rnd(SIGS)]]);
    for (const [name, from, args] of steps) {
      const m = await call(from, name, args);
      add(name, m);
      gas += m.gas;
      bytes += m.bytes;
    }
  }
  // An ensemble of the same n institutions on a second contract of the same consortium.
  const dep2 = await chain.send(coord, null, deployData, 8000000);
  if (dep2.status !== '0x1') throw new Error('deployment failed');
  const call2 = callOn(dep2.contractAddress);
  await call2(coord, 'postSetup', [1, h32(), rnd(recordSize.setup(n + 1)), rnd(SIGS)]);
  const ensSetup = await call2(coord, 'postEnsembleSetup', [ids, t, h32(), rnd(recordSize.ensembleSetup(n)), rnd(SIGS)]);
  for (let i = 0; i < n; ++i) {
    await call2(hosp[i], 'postMemberVersion', [ids[i], 1, 0, h32(), rnd(recordSize.memberVersion()), rnd(SIGS)]);
  }
  let egas = 0;
  let ebytes = 0;
  for (let round = 1; round <= ROUNDS; ++round) {
    const steps = [['postEnsembleRound', coord, [round, ids, h32(), rnd(recordSize.ensembleRound(n)), rnd(SIGS)]]];
    for (let i = 0; i < n; ++i) {
      steps.push(['postMemberVersion', hosp[i],
        [ids[i], round + 1, round, h32(), rnd(recordSize.memberVersion()), rnd(SIGS)]]);
    }
    for (const [name, from, args] of steps) {
      const m = await call2(from, name, args);
      add(name, m);
      egas += m.gas;
      ebytes += m.bytes;
    }
  }
  const kinds = Object.fromEntries(Object.entries(perKind).map(([k, v]) =>
    [k, { gas: Math.round(v.gas / v.count), bytes: Math.round(v.bytes / v.count) }]));
  return {
    hospitals: n, t, rounds: ROUNDS,
    ensembleRoundGas: Math.round(egas / ROUNDS), ensembleRoundBytes: Math.round(ebytes / ROUNDS),
    ensembleSetupGas: ensSetup.gas,
    deployGas: Number(BigInt(dep.gasUsed)), deployBytes: inputBytes(deployData),
    setupGas: setup.gas, model0Gas: model0.gas,
    roundGas: Math.round(gas / ROUNDS), roundBytes: Math.round(bytes / ROUNDS),
    perHospitalGas: Math.round(gas / ROUNDS / n), perHospitalBytes: Math.round(bytes / ROUNDS / n),
    perCall: kinds,
  };
}

async function main() {
  const artifact = compile();
  const anvil = await startAnvil({ accounts: Math.max(...SIZES) + 2 });
  try {
    const chain = await new Chain(anvil.url, artifact).init();
    const rows = [];
    for (const n of SIZES) rows.push(await measure(chain, n));
    if (AS_JSON) {
      process.stdout.write(JSON.stringify({ compiler: artifact.compiler, rows }, null, 1) + '\n');
      return;
    }
    const pad = (s, w) => String(s).padStart(w);
    console.log(`HealFederation (${artifact.compiler}), ${ROUNDS} rounds per federation, averages per round`);
    console.log(`${pad('n', 3)} ${pad('t', 3)} ${pad('gas/round', 10)} ${pad('bytes/round', 12)} ` +
      `${pad('gas/hosp', 9)} ${pad('bytes/hosp', 11)} ${pad('deploy gas', 11)} ${pad('setup gas', 10)}`);
    for (const r of rows) {
      console.log(`${pad(r.hospitals, 3)} ${pad(r.t, 3)} ${pad(r.roundGas, 10)} ${pad(r.roundBytes, 12)} ` +
        `${pad(r.perHospitalGas, 9)} ${pad(r.perHospitalBytes, 11)} ${pad(r.deployGas, 11)} ${pad(r.setupGas, 10)}`);
    }
    console.log(`\nSMPC ensemble (issue 17), ${ROUNDS} rounds, averages per round (postEnsembleRound + n postMemberVersion)`);
    console.log(`${pad('n', 3)} ${pad('gas/round', 10)} ${pad('bytes/round', 12)} ${pad('gas/inst', 9)} ` +
      `${pad('ensemble setup gas', 19)}`);
    for (const r of rows) {
      console.log(`${pad(r.hospitals, 3)} ${pad(r.ensembleRoundGas, 10)} ${pad(r.ensembleRoundBytes, 12)} ` +
        `${pad(Math.round(r.ensembleRoundGas / r.hospitals), 9)} ${pad(r.ensembleSetupGas, 19)}`);
    }
    console.log('\nper call (gas / calldata bytes):');
    const names = Object.keys(rows[0].perCall);
    console.log(`${pad('n', 3)} ` + names.map((k) => pad(k, 22)).join(''));
    for (const r of rows) {
      console.log(`${pad(r.hospitals, 3)} ` +
        names.map((k) => pad(`${r.perCall[k].gas} / ${r.perCall[k].bytes}`, 22)).join(''));
    }
  } finally {
    await anvil.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`contract_gas_report: ${e.stack || e}\n`);
  process.exit(1);
});
