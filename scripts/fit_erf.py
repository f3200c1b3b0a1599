#!/usr/bin/env python3
"""Fits the two pieces of nb__erff/nb__erfcf (src/kernels/fastmath.h) and prints them as C.

  |x| < 1:  erf(u)  = u + u Q(u^2),          Q of degree 6 on z in [0, 1]
  |x| >= 1: erfc(u) = t P(t) exp(-u^2),      t = 1 / (1 + u/2), P of degree 9 on t in (0, 2/3]

Least squares on Chebyshev nodes (close to minimax), weighted for absolute error in erf (Q) and
relative error in erfc (P), in 50-digit arithmetic. Needs python3-mpmath only:
    python3 scripts/fit_erf.py
"""
import mpmath as mp

mp.mp.dps = 50


def lsq(f, w, a, b, deg, n=400):
    xs = [(a + b) / 2 + (b - a) / 2 * mp.cos(mp.pi * (k + mp.mpf(0.5)) / n) for k in range(n)]
    A, y = mp.matrix(n, deg + 1), mp.matrix(n, 1)
    for i, x in enumerate(xs):
        for j in range(deg + 1):
            A[i, j] = x**j * w(x)
        y[i] = f(x) * w(x)
    c = mp.qr_solve(A, y)[0]
    return [c[j] for j in range(deg + 1)]


def worst(f, c, a, b, w, n=3000):
    return max(abs(mp.polyval(c[::-1], x) - f(x)) * w(x) for x in (a + (b - a) * k / n for k in range(n + 1)))


def Q(z):  # (erf(u) - u) / u, u = sqrt(z)
    if z == 0:
        return 2 / mp.sqrt(mp.pi) - 1
    u = mp.sqrt(z)
    return (mp.erf(u) - u) / u


def P(t):  # erfc(u) exp(u^2) / t
    if t == 0:
        return mp.mpf(0.5) / mp.sqrt(mp.pi)
    u = (1 / t - 1) / mp.mpf(0.5)
    return mp.erfc(u) * mp.exp(u * u) / t


def horner(c, v):
    lines = ["    float p = %sf;" % mp.nstr(c[-1], 11)]
    for x in reversed(c[:-1]):
        lines.append("    p = p * %s + %sf;" % (v, mp.nstr(x, 11)))
    return "\n".join(lines)


cq = lsq(Q, lambda z: mp.sqrt(z), 0, 1, 6)
cp = lsq(P, lambda t: 1 / P(t), 0, mp.mpf(2) / 3, 9)
print("/* Q: worst abs error in erf %s */" % mp.nstr(worst(Q, cq, 0, 1, lambda z: mp.sqrt(z)), 3))
print(horner(cq, "z"))
print("/* P: worst relative error in erfc %s */" % mp.nstr(worst(P, cp, 0, mp.mpf(2) / 3, lambda t: 1 / P(t)), 3))
print(horner(cp, "t"))
