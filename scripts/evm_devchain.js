// Small helpers shared by the contract tests and the gas report: start/stop anvil from node_modules on a free
// loopback port, JSON-RPC over fetch, and a minimal Solidity ABI encoder/decoder. No npm packages beyond the
// pinned anvil binary are used.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const DEFAULT_ANVIL = path.join(ROOT, 'node_modules', '@foundry-rs', 'anvil-linux-amd64', 'bin', 'anvil');

// ---------------------------------------------------------------------------------------------------------------
// anvil
// ---------------------------------------------------------------------------------------------------------------

/// Starts anvil on 127.0.0.1 with a port picked by the OS. HOME points at a fresh temp directory (anvil keeps its
/// state cache under ~/.foundry/anvil/tmp), removed again by stop(). Resolves to { url, stop }.
function startAnvil({ anvil = DEFAULT_ANVIL, accounts = 20, timeoutMs = 20000 } = {}) {
  if (!fs.existsSync(anvil)) throw new Error(`anvil not found at ${anvil} (run scripts/install-deps.sh or npm ci)`);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'heal-anvil-'));
  const child = spawn(anvil, ['--host', '127.0.0.1', '--port', '0', '--accounts', String(accounts)], {
    env: { ...process.env, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stopped = false;
  const stop = () =>
    new Promise((resolve) => {
      const cleanup = () => {
        fs.rmSync(home, { recursive: true, force: true });
        resolve();
      };
      if (stopped || child.exitCode !== null || child.signalCode !== null) {
        stopped = true;
        cleanup();
        return;
      }
      stopped = true;
      child.once('exit', cleanup);
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let out = '';
    let found = false;
    const timer = setTimeout(() => {
      stop().then(() => reject(new Error(`anvil did not report its port within ${timeoutMs} ms:\n${out}`)));
    }, timeoutMs);
    // Keep draining both pipes for the whole run, or anvil blocks once a pipe buffer fills.
    child.stderr.on('data', (d) => {
      if (!found) out += d.toString();
    });
    child.stdout.on('data', (d) => {
      if (found) return;
      out += d.toString();
      const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        found = true;
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${m[1]}`, stop });
      }
    });
    child.once('exit', (code, sig) => {
      if (!found) {
        clearTimeout(timer);
        fs.rmSync(home, { recursive: true, force: true });
        reject(new Error(`anvil exited early (code ${code}, signal ${sig}):\n${out}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// JSON-RPC
// ---------------------------------------------------------------------------------------------------------------

class RpcError extends Error {
  constructor(method, error) {
    const data = error.data ? `, data ${JSON.stringify(error.data)}` : '';
    super(`${method}: ${error.message} (code ${error.code}${data})`);
    this.code = error.code;
    this.data = error.data;
  }
}

function makeRpc(url) {
  let id = 0;
  return async function rpc(method, params = []) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
    });
    const body = await res.json();
    if (body.error) throw new RpcError(method, body.error);
    return body.result;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// ABI (the subset the contract uses: uintN, bool, address, bytes32, bytes, and arrays T[] of those)
// ---------------------------------------------------------------------------------------------------------------

const strip0x = (h) => (h.startsWith('0x') ? h.slice(2) : h);
const word = (n) => BigInt(n).toString(16).padStart(64, '0');
const isArray = (t) => t.endsWith('[]');
const isDynamic = (t) => t === 'bytes' || t === 'string' || isArray(t);

function encodeStatic(type, v) {
  if (/^uint\d+$/.test(type)) {
    const bits = Number(type.slice(4));
    const x = BigInt(v);
    if (x < 0n || x >= 1n << BigInt(bits)) throw new Error(`${type} out of range: ${v}`);
    return word(x);
  }
  if (type === 'bool') return word(v ? 1 : 0);
  if (type === 'address') {
    const h = strip0x(v).toLowerCase();
    if (!/^[0-9a-f]{40}$/.test(h)) throw new Error(`bad address ${v}`);
    return h.padStart(64, '0');
  }
  if (type === 'bytes32') {
    const h = strip0x(v).toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(h)) throw new Error(`bad bytes32 ${v}`);
    return h;
  }
  throw new Error(`unsupported ABI type ${type}`);
}

function encodeBytes(v) {
  const h = Buffer.isBuffer(v) ? v.toString('hex') : strip0x(v);
  const padded = h.padEnd(Math.ceil(h.length / 64) * 64, '0');
  return word(h.length / 2) + padded;
}

/// ABI-encodes a tuple of values (hex string without 0x), as abi.encode(...) does.
function encode(types, values) {
  if (types.length !== values.length) throw new Error('encode: types/values length mismatch');
  let head = '';
  let tail = '';
  const headSize = 32 * types.length;
  types.forEach((t, i) => {
    if (!isDynamic(t)) {
      head += encodeStatic(t, values[i]);
      return;
    }
    head += word(headSize + tail.length / 2);
    if (t === 'bytes') tail += encodeBytes(values[i]);
    else {
      const inner = t.slice(0, -2);
      const arr = values[i];
      tail += word(arr.length) + encode(Array(arr.length).fill(inner), arr);
    }
  });
  return head + tail;
}

function decodeStatic(type, w) {
  if (/^uint\d+$/.test(type)) return BigInt('0x' + w);
  if (type === 'bool') return BigInt('0x' + w) !== 0n;
  if (type === 'address') return '0x' + w.slice(24);
  if (type === 'bytes32') return '0x' + w;
  throw new Error(`unsupported ABI type ${type}`);
}

/// Decodes an ABI-encoded tuple (hex with or without 0x).
function decode(types, hex, base = 0) {
  const h = strip0x(hex);
  const at = (byteOff) => h.slice(byteOff * 2, byteOff * 2 + 64);
  return types.map((t, i) => {
    const w = at(base + 32 * i);
    if (!isDynamic(t)) return decodeStatic(t, w);
    const off = base + Number(BigInt('0x' + w));
    const len = Number(BigInt('0x' + at(off)));
    if (t === 'bytes') return '0x' + h.slice((off + 32) * 2, (off + 32 + len) * 2);
    return decode(Array(len).fill(t.slice(0, -2)), h, off + 32);
  });
}

/// The canonical signature "name(type,...)" of an ABI entry.
const signatureOf = (entry) => `${entry.name}(${entry.inputs.map((i) => i.type).join(',')})`;

// ---------------------------------------------------------------------------------------------------------------
// Contract access through anvil's unlocked dev accounts
// ---------------------------------------------------------------------------------------------------------------

/// Wraps a compiled artifact ({ abi, bytecode, methodIdentifiers }) for one chain.
class Chain {
  constructor(url, artifact) {
    this.rpc = makeRpc(url);
    this.artifact = artifact;
    this.fns = new Map(); // name -> ABI entry (the contract has no overloads)
    for (const e of artifact.abi) if (e.type === 'function') this.fns.set(e.name, e);
    this.ctor = artifact.abi.find((e) => e.type === 'constructor');
  }

  async init() {
    this.accounts = await this.rpc('eth_accounts');
    this.chainId = BigInt(await this.rpc('eth_chainId'));
    // Custom-error selectors: keccak256 of the signature, from the node (web3_sha3), so no keccak is needed here.
    this.errors = new Map();
    for (const e of this.artifact.abi.filter((x) => x.type === 'error')) {
      const sig = signatureOf(e);
      const h = await this.rpc('web3_sha3', ['0x' + Buffer.from(sig).toString('hex')]);
      this.errors.set(h.slice(0, 10), e.name);
    }
    return this;
  }

  async keccak(hex) {
    return this.rpc('web3_sha3', ['0x' + strip0x(hex)]);
  }

  calldata(name, args) {
    const fn = this.fns.get(name);
    if (!fn) throw new Error(`no function ${name} in the ABI`);
    const sel = this.artifact.methodIdentifiers[signatureOf(fn)];
    return '0x' + sel + encode(fn.inputs.map((i) => i.type), args);
  }

  deployData(args) {
    return this.artifact.bytecode + encode(this.ctor.inputs.map((i) => i.type), args);
  }

  /// Sends a transaction (explicit gas, so a reverting call is still mined) and returns its receipt.
  async send(from, to, data, gas = 6000000) {
    const tx = { from, data, gas: '0x' + gas.toString(16) };
    if (to) tx.to = to;
    const hash = await this.rpc('eth_sendTransaction', [tx]);
    for (let i = 0; i < 200; ++i) {
      const r = await this.rpc('eth_getTransactionReceipt', [hash]);
      if (r) return r;
      await new Promise((res) => setTimeout(res, 10));
    }
    throw new Error(`no receipt for ${hash}`);
  }

  /// eth_call; returns { ok: true, data } or { ok: false, error: custom-error name or raw data }.
  async tryCall(from, to, data) {
    const tx = { from, data };
    if (to) tx.to = to;
    try {
      return { ok: true, data: await this.rpc('eth_call', [tx, 'latest']) };
    } catch (e) {
      if (!(e instanceof RpcError)) throw e;
      const d = typeof e.data === 'string' ? e.data : e.data && e.data.data;
      const name = d && d.length >= 10 ? this.errors.get(d.slice(0, 10)) : undefined;
      return { ok: false, error: name || d || e.message };
    }
  }

  async deploy(from, args) {
    const r = await this.send(from, null, this.deployData(args), 8000000);
    if (r.status !== '0x1') throw new Error('deployment reverted');
    return { address: r.contractAddress, receipt: r };
  }

  async view(to, name, args, outTypes, from = this.accounts[0]) {
    const res = await this.tryCall(from, to, this.calldata(name, args));
    if (!res.ok) throw new Error(`${name} reverted: ${res.error}`);
    return decode(outTypes || this.fns.get(name).outputs.map((o) => o.type), res.data);
  }
}

module.exports = { startAnvil, makeRpc, RpcError, encode, decode, signatureOf, Chain, ROOT, DEFAULT_ANVIL };
