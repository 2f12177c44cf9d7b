# Generates the small seed corpus for fuzz_npz (npy files in several dtypes/orders/versions and
# tiny MedMNIST-shaped npz archives, stored and deflated). No numpy needed.
import struct, zipfile, io, os, sys
out = sys.argv[1]
def npy(descr, shape, payload, fortran=False, major=1):
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, 'True' if fortran else 'False', shape)
    pre = 10 if major == 1 else 12
    while (pre + len(d) + 1) % 64: d += ' '
    d += '\n'
    hdr = b'\x93NUMPY' + bytes([major, 0]) + (struct.pack('<H', len(d)) if major == 1 else struct.pack('<I', len(d)))
    return hdr + d.encode() + payload
files = {
 'u1_2d.npy': npy('|u1', '(2, 3)', bytes(range(6))),
 'u1_fortran.npy': npy('|u1', '(2, 3)', bytes([1,4,2,5,3,6]), True),
 'f4_le.npy': npy('<f4', '(3,)', struct.pack('<3f', 0.5, -1, 2)),
 'f8_be.npy': npy('>f8', '(2, 1)', struct.pack('>2d', 1.5, 3)),
 'i8.npy': npy('<i8', '()', struct.pack('<q', -7)),
 'u2_v2.npy': npy('<u2', '(2, 2)', struct.pack('<4H', 1, 2, 3, 65535), major=2),
 'b1_v3.npy': npy('|b1', '(4,)', bytes([0,1,1,0]), major=3),
}
for k, v in files.items(): open(os.path.join(out, k), 'wb').write(v)
def medmnist(n, h, w, comp, labels_1d=False, c=None):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', comp) as z:
        for s in ('train', 'val', 'test'):
            shape = '(%d, %d, %d)' % (n, h, w) if c is None else '(%d, %d, %d, %d)' % (n, h, w, c)
            z.writestr(s + '_images.npy', npy('|u1', shape, bytes((i * 37) % 256 for i in range(n * h * w * (c or 1)))))
            z.writestr(s + '_labels.npy', npy('|u1', ('(%d,)' % n) if labels_1d else ('(%d, 1)' % n), bytes(i % 2 for i in range(n))))
    return b.getvalue()
open(os.path.join(out, 'mini_deflate.npz'), 'wb').write(medmnist(3, 4, 4, zipfile.ZIP_DEFLATED))
open(os.path.join(out, 'mini_stored.npz'), 'wb').write(medmnist(2, 3, 3, zipfile.ZIP_STORED, labels_1d=True))
open(os.path.join(out, 'mini_rgb.npz'), 'wb').write(medmnist(2, 2, 2, zipfile.ZIP_DEFLATED, c=3))
# Seeds for mode 5 of the fuzzer: six u16 lengths then the six .npy members back to back.
def members(n, h, w, labels_1d=False):
    parts = []
    for s in ('train', 'val', 'test'):
        parts.append(npy('|u1', '(%d, %d, %d)' % (n, h, w), bytes((i * 13) % 256 for i in range(n * h * w))))
        parts.append(npy('|u1', ('(%d,)' % n) if labels_1d else ('(%d, 1)' % n), bytes(i % 3 for i in range(n))))
    return b''.join(struct.pack('<H', len(p)) for p in parts) + b''.join(parts)
open(os.path.join(out, 'members_2d.bin'), 'wb').write(members(2, 3, 3))
open(os.path.join(out, 'members_1d.bin'), 'wb').write(members(3, 2, 2, labels_1d=True))
