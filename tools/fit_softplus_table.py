"""Fits the table behind the AVX-512 softplus kernel (`src/activation/kernels/softplus_avx512.rs`).

f(t) = ln(1 + e^t) on [-15.25, 0.75] is split into 32 intervals of width 1/2 centred on
t0 = -15, -14.5, ..., 0.5; on each, f(t0 + d) for |d| <= 1/4 is a polynomial of degree
DEGREE in d. Each polynomial is a weighted least-squares fit for the relative error on 400
Chebyshev points, refined by Lawson iterations towards minimax, computed with mpmath at 50
digits; its coefficients are rounded to f32 one at a time from the constant term up, each
remaining one refitted after the rounding of those before it.

Prints the Rust table (coefficient k of every interval in row k) and the fit's largest
relative error with the f32 coefficients, evaluated exactly.

    bench/.venv/bin/python tools/fit_softplus_table.py   # needs numpy and mpmath
"""

import mpmath as mp
import numpy as np

mp.mp.dps = 50
DEGREE = 6
CENTRES = [mp.mpf(-15) + mp.mpf(j) / 2 for j in range(32)]
HALF_WIDTH = mp.mpf(1) / 4
POINTS = 400


def f(t):
    return mp.log1p(mp.exp(t))


def f32(v):
    return float(np.float32(float(v)))


def fit(t0):
    ds = [HALF_WIDTH * mp.cos(mp.pi * (i + mp.mpf(1) / 2) / POINTS) for i in range(POINTS)]
    ys = [f(t0 + d) for d in ds]
    fixed = []  # coefficients already rounded to f32, lowest degree first
    weights = [mp.mpf(1)] * POINTS
    for k in range(DEGREE + 1):
        free = DEGREE + 1 - k
        for _ in range(30 if k == 0 else 10):  # Lawson: reweight by the error each round
            rows, rhs = [], []
            for d, y, w in zip(ds, ys, weights):
                s = mp.sqrt(w) / y
                rest = y - sum(c * d**i for i, c in enumerate(fixed))
                rows.append([s * d ** (k + i) for i in range(free)])
                rhs.append(s * rest)
            sol = mp.lu_solve(mp.matrix(rows).T * mp.matrix(rows), mp.matrix(rows).T * mp.matrix(rhs))
            coeffs = fixed + [sol[i] for i in range(free)]
            errs = [abs(sum(c * d**i for i, c in enumerate(coeffs)) / y - 1) for d, y in zip(ds, ys)]
            total = sum(w * e for w, e in zip(weights, errs))
            weights = [w * e / total for w, e in zip(weights, errs)]
        fixed.append(mp.mpf(f32(coeffs[k])))
    worst = max(
        abs(sum(c * d**i for i, c in enumerate(fixed)) / f(t0 + d) - 1)
        for d in mp.linspace(-HALF_WIDTH, HALF_WIDTH, 2001)
    )
    return [f32(c) for c in fixed], float(worst)


def main():
    table, worst = [], 0.0
    for t0 in CENTRES:
        coeffs, err = fit(t0)
        table.append(coeffs)
        worst = max(worst, err)
    print(f"// largest relative error of the fits with f32 coefficients: {worst:.2e}")
    print(f"const SOFTPLUS_TABLE: [[f32; 32]; {DEGREE + 1}] = [")
    for k in range(DEGREE + 1):
        print("    [" + ", ".join(str(np.float32(row[k])) for row in table) + "],")
    print("];")


if __name__ == "__main__":
    main()
