#!/usr/bin/env bash
# Installs every Debian package HEAL needs to build, test, benchmark and fuzz, then the pinned npm packages of
# the EVM ledger (package-lock.json: solc-js and anvil) into node_modules/ with `npm ci`.
# Non-interactive and idempotent: safe to run again. Nothing else is downloaded at build time.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev          # libFuzzer + sanitizer runtimes
  # testing and benchmarking
  libgtest-dev libgmock-dev libbenchmark-dev
  # core: CLI, JSON, formatting, logging, crypto randomness/hashing/signatures, storage
  libcli11-dev nlohmann-json3-dev libfmt-dev libspdlog-dev libsodium-dev libsqlite3-dev
  # ledger: secp256k1 identities; EVM backend: keccak-256, scrypt, AES-CTR (Crypto++), JSON-RPC (libcurl)
  libsecp256k1-dev libcrypto++-dev
  # net: the federation's network transport (gRPC over mutual TLS; protoc + grpc_cpp_plugin generate its code)
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  # io: MedMNIST .npz, PNG/JPEG, DICOM, NIfTI
  zlib1g-dev libzip-dev libpng-dev libjpeg62-turbo-dev libdcmtk-dev libnifti2-dev
  libopenjp2-7-dev libgdcm-dev     # JPEG 2000 in DICOM (OpenJPEG; GDCM is the reference decoder of the tests)
  # DICOM test corpus and PACS: DCMTK's and GDCM's command-line tools, a real Orthanc with its DICOMweb plugin
  dcmtk libgdcm-tools orthanc orthanc-dicomweb
  libcurl4-openssl-dev libssl-dev  # `heal data fetch` (HTTPS download, MD5 check)
  openssl                          # deid tests: throwaway RSA keys and certificates (`openssl req`)
  # nn/torch: training (CPU libtorch) and plots
  # libopenblas0-openmp: an optimised BLAS for libtorch's CPU matrix products (Debian's libtorch otherwise
  # resolves libblas.so.3 to the unoptimised reference BLAS; OpenMP, like libtorch, so threads do not nest)
  libtorch-dev libopenblas0-openmp libplplot-dev plplot-driver-cairo
  # scripts: pooled tables of the cross-validation scripts
  jq
  python3-numpy                    # tests/cli/features_cli_test.sh reads the written .npz back with NumPy
  # portable-SIMD checks: emulated CPUs without AVX-512 / AVX (qemu-x86_64), object audit (objdump)
  qemu-user binutils
  # EVM ledger: solc-js compiles contracts/ and anvil is the dev chain of the tests (npm ci, below)
  nodejs npm
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  # A nodejs build that bundles npm (e.g. NodeSource's, which conflicts with Debian's npm) satisfies `npm`.
  if [ "$p" = npm ] && command -v npm > /dev/null; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
else
  echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm packages, exactly as pinned in package-lock.json; reinstalled only when node_modules/ is missing or the
# lockfile changed since the last install (its hash is kept in node_modules/.heal-lock.sha256).
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.heal-lock.sha256
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
  echo "install-deps: npm packages already installed (package-lock.json unchanged)"
else
  echo "install-deps: npm ci (package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi
