#!/usr/bin/env bash
# CLI acceptance checks for `heal features` on BreastMNIST with a small random backbone written by
# heal_make_test_model (no libtorch needed).
# Usage: features_cli_test.sh HEAL_BINARY SHARED_DATA_DIR MAKE_TEST_MODEL_BINARY
make_model=$3
source "$(dirname "$0")/lib.sh" "$1" "$2" breastmnist.npz
d="$data/breastmnist.npz"
"$make_model" "$work/backbone.heal" || fail "cannot write the test backbone"

# Shapes of the arrays in an .npz written by heal (members are stored, so each .npy header is
# plain text in the file): prints "descr shape" per array in order.
npz_headers() {
  grep -ao "{'descr': '[^']*', 'fortran_order': False, 'shape': ([0-9, ]*)" "$1" |
    sed "s/{'descr': '\([^']*\)', 'fortran_order': False, 'shape': /\1 /"
}

# Default: penultimate layer (act1, 16 features), every split.
out=$("$heal" --quiet features --backbone "$work/backbone.heal" --data "$d" --out "$work/f.npz")
echo "$out"
grep -q "layer 5 'act1' (poly_act), output 16x1x1, the input of dense layer 6 'fc2'" <<<"$out" || fail "tap description"
grep -Eq '^  train +546 +16 ' <<<"$out" || fail "train row"
grep -Eq '^  val +78 +16 ' <<<"$out" || fail "val row"
grep -Eq '^  test +156 +16 ' <<<"$out" || fail "test row"
headers=$(npz_headers "$work/f.npz")
echo "$headers"
expected="<f4 (546, 16)
<i8 (546,)
<f4 (78, 16)
<i8 (78,)
<f4 (156, 16)
<i8 (156,)
<i8 ()
<i8 ()
<i8 ()
|u1 (32,)"
[ "$headers" = "$expected" ] || fail "array dtypes / shapes"
# The printed hash is BLAKE2b-256 of the backbone file.
if command -v b2sum >/dev/null; then
  h=$(b2sum -l 256 "$work/backbone.heal" | cut -d' ' -f1)
  grep -q "backbone BLAKE2b-256 $h" <<<"$out" || fail "backbone hash"
fi
# With Python: the zip's CRCs, the member names, and the label values (numpy if installed).
if command -v python3 >/dev/null; then
  python3 - "$work/f.npz" <<'PY' || fail "python check of the archive"
import ast, struct, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
names = [n[:-4] for n in z.namelist()]
assert names == ['train_x', 'train_y', 'val_x', 'val_y', 'test_x', 'test_y', 'feature_dim', 'layer_index',
                 'num_classes', 'backbone_blake2b256'], names
def load(name):
    b = z.read(name + '.npy')
    n = struct.unpack('<H', b[8:10])[0]
    return ast.literal_eval(b[10:10 + n].decode('latin1')), b[10 + n:]
h, data = load('train_y')
labels = struct.unpack('<546q', data)
assert sorted(set(labels)) == [0, 1] and labels.count(0) == 147, labels.count(0)  # BreastMNIST train: 147 / 399
h, data = load('train_x')
x = struct.unpack('<%df' % (546 * 16), data)
assert all(v == v and abs(v) < 1e30 for v in x)
assert struct.unpack('<q', load('feature_dim')[1]) == (16,)
assert struct.unpack('<q', load('layer_index')[1]) == (5,)
assert struct.unpack('<q', load('num_classes')[1]) == (2,)
try:
    import numpy as np
    f = np.load(sys.argv[1])
    assert f['train_x'].dtype == np.float32 and f['train_x'].shape == (546, 16)
    assert f['test_y'].dtype == np.int64 and f['test_y'].shape == (156,)
except ImportError:
    pass
print('python check passed')
PY
fi

# A layer by name and one split; a layer by index gives the same features.
out=$("$heal" --quiet features --backbone "$work/backbone.heal" --data "$d" --out "$work/flat.npz" \
    --layer flatten --split test)
grep -Eq '^  test +156 +676 ' <<<"$out" || fail "flatten layer, test split"
[ "$(npz_headers "$work/flat.npz" | head -2)" = "<f4 (156, 676)
<i8 (156,)" ] || fail "flatten arrays"
grep -aq "train_x.npy" "$work/flat.npz" && fail "--split test wrote the train split"
"$heal" --quiet features --backbone "$work/backbone.heal" --data "$d" --out "$work/idx.npz" --layer 3 \
    --split test >/dev/null
cmp -s "$work/flat.npz" "$work/idx.npz" || fail "--layer 3 and --layer flatten differ"
# The data location works like train / eval: a dataset name under the global --data.
"$heal" --quiet --data "$data" features --backbone "$work/backbone.heal" --data breastmnist --out "$work/byname.npz" \
    --split test --layer 3 >/dev/null || fail "dataset by name"
cmp -s "$work/flat.npz" "$work/byname.npz" || fail "dataset by name gives other features"

# Failures: clear message, non-zero exit, nothing written.
expect_error() {  # expect_error MESSAGE ARGS...
  local msg=$1; shift
  if "$heal" --quiet features "$@" >/dev/null 2>"$work/err.txt"; then fail "accepted: $*"; fi
  cat "$work/err.txt"
  grep -qF -- "$msg" "$work/err.txt" || fail "message '$msg' missing for: $*"
  [ ! -e "$work/bad.npz" ] || fail "an output file was written for: $*"
}
expect_error "no layer 'nope'" --backbone "$work/backbone.heal" --data "$d" --out "$work/bad.npz" --layer nope
expect_error "layer 7 is out of range: the model has 7 layers" \
    --backbone "$work/backbone.heal" --data "$d" --out "$work/bad.npz" --layer 7
expect_error "$work/missing.heal" --backbone "$work/missing.heal" --data "$d" --out "$work/bad.npz"
expect_error "missing.npz" --backbone "$work/backbone.heal" --data "$work/missing.npz" --out "$work/bad.npz"
expect_error "asked for twice" --backbone "$work/backbone.heal" --data "$d" --out "$work/bad.npz" --split test,test
expect_error "split" --backbone "$work/backbone.heal" --data "$d" --out "$work/bad.npz" --split training
echo "features CLI checks passed"
