#!/usr/bin/python3
# Plaintext NAG with the degree-3 LS sigmoid (as he_train::PlainNag), for choosing lr / epochs / norm_c
# on the VALIDATION split only (it never reads the test split).
# Usage: he_train_tune.py FEATURES.npz C1,C2,.. LR1,LR2,.. EPOCHS BATCH   (needs python3-numpy)
import sys, numpy as np
f = np.load(sys.argv[1])
Xtr, ytr, Xv, yv = f["train_x"].astype(float), f["train_y"], f["val_x"].astype(float), f["val_y"]
mu, sd = Xtr.mean(0), Xtr.std(0); sd[sd < 1e-12] = np.inf
def prep(X, c):
    d = X.shape[1]; return (X - mu) / sd / (c * np.sqrt(d + 1))
B = 8.0
u = np.linspace(-1, 1, 4001); s = 1 / (1 + np.exp(-B * u))
A = np.stack([np.ones_like(u), u, u**3], 1); coef = np.linalg.lstsq(A, s, rcond=None)[0]
poly = lambda x: coef[0] + coef[1] * (x / B) + coef[2] * (x / B) ** 3
def lam(k):
    l = 0.0
    for _ in range(k): l = (1 + np.sqrt(1 + 4 * l * l)) / 2
    return l
def run(c, lr, epochs, batch):
    Z = np.hstack([np.ones((len(Xtr), 1)), prep(Xtr, c)]) * np.where(ytr == 1, 1, -1)[:, None]
    Zv = np.hstack([np.ones((len(Xv), 1)), prep(Xv, c)]) * np.where(yv == 1, 1, -1)[:, None]
    n, D = Z.shape; w = np.zeros(D); v = np.zeros(D); nb = (n + batch - 1) // batch; t = 0; out = []
    for e in range(epochs):
        for b in range(nb):
            zb = Z[b * batch:(b + 1) * batch]
            g = (poly(-zb @ v)[:, None] * zb).mean(0)
            wn = v + lr * g
            gam = (1 - lam(t + 1)) / lam(t + 2)
            v = (1 - gam) * wn + gam * w; w = wn; t += 1
        m = Zv @ w
        out.append((np.mean(np.log1p(np.exp(-m))), np.mean(m > 0), max(np.abs(Z @ v).max(), 0), max(np.abs(w).max(), np.abs(v).max())))
    return out
for c in [float(x) for x in sys.argv[2].split(",")]:
    for lr in [float(x) for x in sys.argv[3].split(",")]:
        r = run(c, lr, int(sys.argv[4]), int(sys.argv[5]))
        best = min(range(len(r)), key=lambda i: r[i][0])
        print(f"c={c} lr={lr}: best epoch {best+1} val loss {r[best][0]:.4f} val acc {r[best][1]:.4f}; max|zv| {max(x[2] for x in r):.2f}; max|w| {max(x[3] for x in r):.2f}")
