"""Preparation: `mlcycle prep` with an 8-step recipe vs the same steps hand-written in polars.

Both run as whole processes on the same stored 1,000,000-row Parquet (the dataset version the
recipe applies to). The hand-written script only computes and writes the result; mlcycle also
checks the recipe, checks expectations on input and output, profiles the output for its
quality report and registers the new version with its lineage. Each mlcycle run starts from a
copy of a workspace holding only the raw version, so every run really prepares.
Goal: mlcycle at most 3x the hand-written polars.
"""

from __future__ import annotations

import shutil
import sys

from timing import BIN, DATA, measure, report

ROWS = 1_000_000

RECIPE = """\
[[step]]
op = "drop"
columns = ["customer_id", "note"]

[[step]]
op = "rename"
columns = { spend = "monthly_spend" }

[[step]]
op = "cast"
columns = { calls = "float" }

[[step]]
op = "filter"
where = "tenure >= 1 and plan != 'legacy'"

[[step]]
op = "deduplicate"

[[step]]
op = "impute"
columns = ["monthly_spend"]
strategy = "median"

[[step]]
op = "clip"
columns = ["total"]
quantiles = [0.01, 0.99]

[[step]]
op = "parse_dates"
columns = ["signup"]
format = "%d/%m/%Y"

[expect]
min_rows = 1000
ranges = { tenure = [0, 120] }

[expect.output]
max_missing = { monthly_spend = 0.0 }
"""

HAND_WRITTEN = """
import sys
import polars as pl

lf = pl.scan_parquet(sys.argv[1])
lf = lf.drop(["customer_id", "note"]).rename({"spend": "monthly_spend"})
lf = lf.with_columns(pl.col("calls").cast(pl.Float64))
lf = lf.filter((pl.col("tenure") >= 1) & (pl.col("plan") != "legacy"))
lf = lf.unique(keep="first", maintain_order=True)
lf = lf.with_columns(pl.col("monthly_spend").fill_null(pl.col("monthly_spend").median()))
lf = lf.with_columns(pl.col("total").clip(pl.col("total").quantile(0.01, "linear"),
                                          pl.col("total").quantile(0.99, "linear")))
lf = lf.with_columns(pl.col("signup").str.strip_chars().str.to_date("%d/%m/%Y", strict=False))
lf.collect().write_parquet(sys.argv[2], compression="zstd")
"""


def make_data() -> str:
    import numpy as np
    import polars as pl

    path = DATA / f"prep-{ROWS}.parquet"
    if path.exists():
        return str(path)
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    spend = rng.gamma(4, 15, ROWS).round(2)
    spend[rng.random(ROWS) < 0.05] = np.nan
    days = rng.integers(1, 28, ROWS)
    months = rng.integers(1, 12, ROWS)
    years = rng.integers(2015, 2025, ROWS)
    pl.DataFrame({
        "customer_id": [f"C{i:08d}" for i in range(ROWS)],
        "signup": [f"{d:02d}/{m:02d}/{y}" for d, m, y in zip(days, months, years)],
        "tenure": rng.integers(0, 100, ROWS),
        "plan": rng.choice(["basic", "standard", "premium", "legacy"], ROWS, p=[.4, .3, .2, .1]),
        "spend": spend,
        "total": rng.lognormal(6, 1, ROWS).round(2),
        "calls": rng.poisson(1.5, ROWS),
        "note": rng.choice(["", "vip", "moved", "complaint"], ROWS),
        "label": rng.random(ROWS) < 0.25,
    }).with_columns(pl.col("spend").fill_nan(None)).write_parquet(path)
    return str(path)


def main() -> None:
    data = make_data()
    base = DATA / "prep-ws-base"
    ws = DATA / "prep-ws"
    recipe = DATA / "prep-recipe.toml"
    recipe.write_text(RECIPE)
    mlcycle = str(BIN / "mlcycle")
    shutil.rmtree(base, ignore_errors=True)
    for args in (["project", "create", "bench", "--target", "label", "--task",
                  "classification"], ["data", "add", "bench", data]):
        measure([mlcycle, "--workspace", str(base), *args], runs=1, warmup=0)
    stored = next((base / "artifacts" / "datasets").glob("*.parquet"))

    def fresh_workspace() -> None:
        shutil.rmtree(ws, ignore_errors=True)
        shutil.copytree(base, ws)

    out = DATA / "prep-hand-written.parquet"
    hand = [sys.executable, "-c", HAND_WRITTEN, str(stored), str(out)]
    print(f"prep of a {ROWS:,}-row x 9-column dataset version with an 8-step recipe "
          "(whole process, median of 3):")
    report(
        [
            ("polars, hand-written", measure(hand, runs=3)),
            ("mlcycle prep", measure(
                [mlcycle, "--workspace", str(ws), "prep", "bench", "--recipe", str(recipe)],
                runs=3, before=fresh_workspace)),
        ],
        baseline="polars, hand-written",
        goal="mlcycle prep at most 3x",
    )


if __name__ == "__main__":
    main()
