/**
 * Ordinary least squares for the few columns the steady-state detection fits (an intercept, time,
 * steal): the normal equations, solved by Gauss–Jordan elimination with partial pivoting.
 */

/** Ordinary least squares of y on the columns of X (each row [1, …]); null when X is singular. */
export function ols(X: number[][], y: number[]): { beta: number[]; se: number[]; df: number; sigma: number } | null {
  const n = y.length;
  const k = X[0].length;
  const df = n - k;
  if (df < 1) return null;
  // Normal equations, solved by Gauss–Jordan on [X'X | I] (k ≤ 3 here).
  const xtx = Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j) => X.reduce((s, row) => s + row[i] * row[j], 0)));
  const inv = invert(xtx);
  if (!inv) return null;
  const xty = Array.from({ length: k }, (_, i) => X.reduce((s, row, r) => s + row[i] * y[r], 0));
  const beta = inv.map((row) => row.reduce((s, v, j) => s + v * xty[j], 0));
  const sse = y.reduce((s, v, r) => s + (v - X[r].reduce((t, x, j) => t + x * beta[j], 0)) ** 2, 0);
  const sigma = Math.sqrt(sse / df);
  return { beta, se: inv.map((row, i) => sigma * Math.sqrt(row[i])), df, sigma };
}

function invert(m: number[][]): number[][] | null {
  const k = m.length;
  const a = m.map((row, i) => [...row, ...Array.from({ length: k }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    if (Math.abs(a[p][c]) < 1e-12 * Math.max(1, Math.abs(m[c][c]))) return null;
    [a[c], a[p]] = [a[p], a[c]];
    const pivot = a[c][c];
    for (let j = 0; j < 2 * k; j++) a[c][j] /= pivot;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = a[r][c];
      for (let j = 0; j < 2 * k; j++) a[r][j] -= f * a[c][j];
    }
  }
  return a.map((row) => row.slice(k));
}
