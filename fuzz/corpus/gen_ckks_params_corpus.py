# Seeds for fuzz_ckks_deserialize from the weak-parameter regression corpus (tests/ckks/weak_params,
# written by tests/ckks/weak_params_test.cpp): each seed is byte 0x0b (selects the load_params case
# of fuzz/ckks_deserialize_fuzz.cpp, which traps if an insecure set is ever accepted without the
# caller's opt-in) followed by the file. Usage: python3 fuzz/corpus/gen_ckks_params_corpus.py OUT_DIR
import os, sys
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'ckks', 'weak_params')
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name in sorted(os.listdir(src)):
    if name.endswith('.heal'):
        data = open(os.path.join(src, name), 'rb').read()
        open(os.path.join(out, 'weak_' + name[:-5]), 'wb').write(b'\x0b' + data)
