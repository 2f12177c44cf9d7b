#!/usr/bin/env bash
# Builds the DICOM decoding corpus with the reference tools (DCMTK, GDCM): every transfer syntax
# and photometric interpretation HEAL decodes, from small synthetic images written here.
# Usage: make_dicom_corpus.sh OUTDIR [W H]. Used by tests/io/dicom_codec_test.cpp and to seed
# fuzz/corpus/dicom. Exits non-zero with a clear message when a tool is missing.
set -euo pipefail
out=${1:?usage: make_dicom_corpus.sh OUTDIR [W H]}
W=${2:-40}
H=${3:-32}
for t in gdcmimg gdcmconv dcmconv dcmodify dcmcjpeg dcmdjpeg dcmcjpls dcmcrle dcmquant python3; do
  if ! command -v "$t" >/dev/null 2>&1; then
    echo "make_dicom_corpus.sh: required tool '$t' is missing (install dcmtk and libgdcm-tools:" \
         "scripts/install-deps.sh)" >&2
    exit 2
  fi
done
mkdir -p "$out"
cd "$out"
# Raw little-endian sample files: 8/12/16-bit unsigned, 16-bit signed, RGB 8-bit, 3 frames.
python3 - "$W" "$H" <<'PY'
import struct, sys
W, H = int(sys.argv[1]), int(sys.argv[2])
px = [(x, y) for y in range(H) for x in range(W)]
open('m8.raw', 'wb').write(bytes(((x * 6 + y * 3) ^ (x * y)) & 255 for x, y in px))
open('m12.raw', 'wb').write(b''.join(struct.pack('<H', (x * 97 + y * 61 + (x * y) % 50) % 4096) for x, y in px))
open('m16.raw', 'wb').write(b''.join(struct.pack('<H', (x * 1601 + y * 977 + x * y * 7) % 65536) for x, y in px))
open('s16.raw', 'wb').write(b''.join(struct.pack('<h', (x * 53 + y * 29 + (x * y) % 17) % 3000 - 1024) for x, y in px))
rgb = lambda x, y: ((x * 6) & 255, (y * 8) & 255, ((x + y) * 4 + x * y) & 255)
open('rgb.raw', 'wb').write(bytes(v for x, y in px for v in rgb(x, y)))
mf = [(f * 700 + x * 37 + y * 11) % 4096 for f in range(3) for x, y in px]
open('mf.raw', 'wb').write(b''.join(struct.pack('<H', v) for v in mf))
PY
q() { "$@" >/dev/null 2>&1 || { echo "make_dicom_corpus.sh: failed: $*" >&2; exit 1; }; }
q gdcmimg --size "$W,$H" --depth 8 --sign 0 -i m8.raw -o base_m8.dcm
q gdcmimg --size "$W,$H" --depth 16 --sign 0 --pf 16,12,11 -i m12.raw -o base_m12.dcm
q gdcmimg --size "$W,$H" --depth 16 --sign 0 -i m16.raw -o base_m16.dcm
q gdcmimg --size "$W,$H" --depth 16 --sign 1 -i s16.raw -o base_s16.dcm
q gdcmimg --size "$W,$H" --depth 8 --spp 3 -i rgb.raw -o base_rgb.dcm
q gdcmimg --size "$W,$H,3" --depth 16 --sign 0 --pf 16,12,11 -i mf.raw -o base_mf.dcm
# CT-like header facts on the signed image: rescale, window, spacing.
q dcmodify -nb -i "(0008,0060)=CT" -i "(0028,1052)=-1024" -i "(0028,1053)=1" -i "(0028,1050)=40" \
  -i "(0028,1051)=400" -i "(0028,0030)=0.5\\0.8" base_s16.dcm
q dcmodify -nb -i "(0028,1052)=-1000.5" -i "(0028,1053)=0.25" base_m12.dcm
# Uncompressed syntaxes and layouts.
q dcmconv +te base_m16.dcm ele_m16.dcm
q dcmconv +ti base_m16.dcm eli_m16.dcm
q dcmconv +tb base_m16.dcm ebe_m16.dcm
q dcmconv +tb base_rgb.dcm ebe_rgb.dcm
q dcmconv +te base_s16.dcm ele_s16.dcm
q dcmconv +te base_m12.dcm ele_m12.dcm
q dcmconv +te base_m8.dcm ele_m8.dcm
q dcmconv +te base_rgb.dcm ele_rgb.dcm
q dcmconv +te base_mf.dcm ele_mf.dcm
q dcmconv -F +ti base_s16.dcm nometa_eli_s16.dcm
q dcmconv -F +te base_rgb.dcm nometa_ele_rgb.dcm
cp ele_m12.dcm mono1_m12.dcm
q dcmodify -nb -m "(0028,0004)=MONOCHROME1" mono1_m12.dcm
q gdcmconv --planar-configuration 1 base_rgb.dcm planar1_rgb.dcm
q dcmquant -q base_rgb.dcm palette_rgb.dcm
# Compressed syntaxes.
q dcmcjpeg +eb base_m8.dcm jpeg_baseline_m8.dcm
q dcmcjpeg +eb base_rgb.dcm jpeg_baseline_ybr422.dcm
q dcmcjpeg +eb +s4 base_rgb.dcm jpeg_baseline_ybr444.dcm            # YBR_FULL, 4:4:4
q dcmdjpeg +cn jpeg_baseline_ybr444.dcm native_ybr_full.dcm          # uncompressed YBR_FULL
q gdcmconv --planar-configuration 1 native_ybr_full.dcm planar1_ybr_full.dcm
q dcmcjpeg +ee base_m12.dcm jpeg_extended_m12.dcm
q dcmcjpeg +e1 base_m16.dcm jpeg_lossless_sv1_m16.dcm
q dcmcjpeg +el +sv 2 base_m12.dcm jpeg_lossless_sv2_m12.dcm
q dcmcjpeg +e1 base_s16.dcm jpeg_lossless_sv1_s16.dcm
q dcmcjpeg +e1 base_rgb.dcm jpeg_lossless_sv1_rgb.dcm
q dcmcjpeg +e1 base_mf.dcm jpeg_lossless_sv1_mf.dcm
q dcmcjpls +el base_m16.dcm jpls_lossless_m16.dcm
q dcmcjpls +el base_s16.dcm jpls_lossless_s16.dcm
q dcmcjpls +el base_rgb.dcm jpls_lossless_rgb.dcm
q dcmcjpls +en base_m12.dcm jpls_near_m12.dcm
q dcmcrle base_m16.dcm rle_m16.dcm
q dcmcrle base_s16.dcm rle_s16.dcm
q dcmcrle base_rgb.dcm rle_rgb.dcm
q dcmcrle base_mf.dcm rle_mf.dcm
q gdcmconv --j2k base_m16.dcm j2k_lossless_m16.dcm
q gdcmconv --j2k base_s16.dcm j2k_lossless_s16.dcm
q gdcmconv --j2k base_m8.dcm j2k_lossless_m8.dcm
q gdcmconv --j2k base_rgb.dcm j2k_lossless_rgb.dcm
q gdcmconv --j2k base_mf.dcm j2k_lossless_mf.dcm
q gdcmconv --j2k --lossy -q 70 base_m12.dcm j2k_lossy_m12.dcm  # PSNR vs the 16-bit range
q gdcmconv --j2k --lossy -q 40 base_rgb.dcm j2k_lossy_rgb.dcm
# The .raw files stay: they are the ground truth the corpus test compares decoded values with.
