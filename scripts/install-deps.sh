#!/usr/bin/env bash
# Installs every Debian package HEAL needs to build, test, benchmark and fuzz.
# Non-interactive and idempotent: safe to run again. Nothing else is downloaded at build time.
set -euo pipefail

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
  # io: MedMNIST .npz, PNG/JPEG, DICOM, NIfTI
  zlib1g-dev libzip-dev libpng-dev libjpeg62-turbo-dev libdcmtk-dev libnifti2-dev
  libcurl4-openssl-dev libssl-dev  # `heal data fetch` (HTTPS download, MD5 check)
  # nn/torch: training (CPU libtorch) and plots
  libtorch-dev libplplot-dev plplot-driver-cairo
  # scripts: pooled tables of the cross-validation scripts
  jq
  # portable-SIMD checks: emulated CPUs without AVX-512 / AVX (qemu-x86_64), object audit (objdump)
  qemu-user binutils
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
