"""Compare two serving DuckDB files table by table: tables, columns, row counts and values.

    .venv/bin/python benchmarks/compare_serving.py BEFORE.duckdb AFTER.duckdb

For a change that must not move published numbers (a refactor): run ``make run`` on a clone of each
commit and compare their ``data/serving/mmm_serving.duckdb``. Numeric columns are compared exactly and the
largest relative difference is printed; other columns as text (run ids, timestamps and paths always differ).
"""
import sys
import duckdb
import numpy as np
import pandas as pd

a, b = sys.argv[1], sys.argv[2]
ca, cb = duckdb.connect(a, read_only=True), duckdb.connect(b, read_only=True)
ta = {r[0] for r in ca.execute("select table_name from information_schema.tables").fetchall()}
tb = {r[0] for r in cb.execute("select table_name from information_schema.tables").fetchall()}
print("only in base:", sorted(ta - tb), "only in new:", sorted(tb - ta))
for t in sorted(ta & tb):
    fa, fb = ca.execute(f'select * from "{t}"').df(), cb.execute(f'select * from "{t}"').df()
    if list(fa.columns) != list(fb.columns):
        print(f"{t}: columns differ {list(fa.columns)} vs {list(fb.columns)}")
        continue
    if len(fa) != len(fb):
        print(f"{t}: rows {len(fa)} vs {len(fb)}")
        continue
    diffs = []
    for col in fa.columns:
        x, y = fa[col], fb[col]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.to_numpy(float), y.to_numpy(float)
            both_nan = np.isnan(xv) & np.isnan(yv)
            if not np.array_equal(xv[~both_nan], yv[~both_nan]):
                rel = np.nanmax(np.abs(xv - yv) / np.maximum(np.abs(xv), 1e-300))
                diffs.append(f"{col} (max rel {rel:.2e})")
        else:
            if not (x.astype(str) == y.astype(str)).all():
                n = int((x.astype(str) != y.astype(str)).sum())
                diffs.append(f"{col} ({n} differ, e.g. {x[x.astype(str) != y.astype(str)].iloc[0]!r} vs {y[x.astype(str) != y.astype(str)].iloc[0]!r})")
    print(f"{t}: {len(fa)} rows, " + ("identical" if not diffs else "differ in " + "; ".join(diffs)))
