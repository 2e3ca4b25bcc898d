"""Write the churn sample data used by the demo workspace, the tests and the monitoring demo.

Run ``python sample_data/generate.py`` to rewrite the files next to this script, or call
``generate(out_dir, seed=...)``. The same seed gives byte-identical files: every random draw
comes from numpy's ``default_rng`` on streams spawned from the seed, values are rounded before
they are written, and polars writes the CSVs in a fixed column order.

The story, the columns and the drift schedule are described in README.md next to this file.
Only numpy and polars are needed.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

SEED = 20260101
REFERENCE_ROWS = 12_000
REFERENCE_MONTH = "2025-12"
BATCH_MONTHS = ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06")
BATCH_ROWS = (2_400, 2_450, 2_600, 2_550, 2_700, 2_800)
PRICE_RISE_MONTH = "2026-03"

CONTRACTS = ("month-to-month", "one-year", "two-year")
PLANS = ("basic", "standard", "premium")
PAYMENTS = ("credit card", "bank transfer", "electronic check", "mailed check", "crypto wallet")
REGIONS = ("North", "South", "East", "West", "Central")

COLUMNS = (
    "customer_id", "signup_date", "tenure_months", "contract", "plan", "monthly_charges",
    "total_charges", "payment_method", "paperless_billing", "region", "has_partner",
    "support_calls", "avg_session_minutes", "churned",
)  # fmt: skip


@dataclass(frozen=True)
class Month:
    """How the population and the churn behaviour look in one snapshot month."""

    name: str
    contract_mix: tuple[float, float, float]
    payment_mix: tuple[float, float, float, float, float]
    price_factor: float
    session_missing: float
    shift: float  # churn behaviour: 0 = as in the reference, 1 = fully changed


REFERENCE_CONTRACTS = (0.50, 0.27, 0.23)
REFERENCE_PAYMENTS = (0.34, 0.24, 0.30, 0.12, 0.0)


def _payments_with_crypto(share: float) -> tuple[float, float, float, float, float]:
    rest = [p * (1 - share) for p in REFERENCE_PAYMENTS[:4]]
    return (rest[0], rest[1], rest[2], rest[3], share)


SCHEDULE = {
    "2025-12": Month("2025-12", REFERENCE_CONTRACTS, REFERENCE_PAYMENTS, 1.00, 0.010, 0.0),
    "2026-01": Month("2026-01", REFERENCE_CONTRACTS, REFERENCE_PAYMENTS, 1.00, 0.010, 0.0),
    "2026-02": Month("2026-02", REFERENCE_CONTRACTS, REFERENCE_PAYMENTS, 1.00, 0.010, 0.0),
    "2026-03": Month("2026-03", REFERENCE_CONTRACTS, REFERENCE_PAYMENTS, 1.10, 0.010, 0.0),
    "2026-04": Month("2026-04", (0.60, 0.22, 0.18), REFERENCE_PAYMENTS, 1.10, 0.050, 0.35),
    "2026-05": Month("2026-05", (0.66, 0.19, 0.15), _payments_with_crypto(0.06), 1.10, 0.100, 0.70),
    "2026-06": Month("2026-06", (0.70, 0.17, 0.13), _payments_with_crypto(0.10), 1.10, 0.150, 1.00),
}

# Churn model (log-odds). Effects are per unit of the column unless a category is named.
INTERCEPT = -0.55
CONTRACT_EFFECT = {"month-to-month": 0.0, "one-year": -1.2, "two-year": -2.4}
PAYMENT_EFFECT = {"credit card": 0.0, "bank transfer": -0.1, "electronic check": 0.6,
                  "mailed check": 0.15, "crypto wallet": 0.7}  # fmt: skip
PLAN_EFFECT = {"basic": 0.0, "standard": -0.1, "premium": -0.25}
REGION_EFFECT = {"North": 0.0, "South": 0.15, "East": 0.0, "West": -0.15, "Central": 0.05}


def _month_index(month: str) -> int:
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def _customers(rng: np.random.Generator, n: int, month: Month, ids: np.ndarray) -> pl.DataFrame:
    """One snapshot of ``n`` active subscribers on the first day of ``month`` and their outcome."""
    contract = rng.choice(len(CONTRACTS), size=n, p=month.contract_mix)
    plan = rng.choice(len(PLANS), size=n, p=(0.40, 0.38, 0.22))
    payment = rng.choice(len(PAYMENTS), size=n, p=month.payment_mix)
    region = rng.choice(len(REGIONS), size=n, p=(0.22, 0.24, 0.20, 0.19, 0.15))
    paperless = rng.random(n) < np.where(contract == 0, 0.68, 0.52)
    partner = rng.random(n) < np.where(contract == 2, 0.62, 0.42)

    # Longer contracts are held by longer-standing customers.
    tenure_mean = np.array([13.0, 30.0, 44.0])[contract]
    tenure_shape = np.array([0.9, 2.0, 3.0])[contract]
    tenure = np.floor(rng.gamma(tenure_shape, tenure_mean / tenure_shape)).astype(np.int64)
    tenure = np.clip(tenure, 0, 72)

    base_price = np.array([29.0, 54.0, 84.0])[plan]
    addons = np.clip(rng.normal(6.0, 7.0, size=n), -5.0, None)
    list_price = np.clip(base_price + addons, 19.0, None)
    monthly = np.round(list_price * month.price_factor, 2)
    rise = _month_index(PRICE_RISE_MONTH)
    months_at_new_price = np.clip(_month_index(month.name) - rise, 0, tenure)
    total = (
        list_price * (tenure - months_at_new_price) * rng.uniform(0.96, 1.04, size=n)
        + list_price * 1.10 * months_at_new_price
    )
    total = np.round(total, 2)

    support = rng.poisson(0.6 + 1.2 * np.exp(-tenure / 18.0) + 0.3 * (plan == 2))
    session_median = np.array([28.0, 40.0, 55.0])[plan] * np.where(partner, 1.1, 1.0)
    session = np.round(session_median * rng.lognormal(0.0, 0.55, size=n), 1)

    logit = (
        INTERCEPT
        + np.array([CONTRACT_EFFECT[c] for c in CONTRACTS])[contract]
        - 0.032 * tenure
        + 0.018 * (monthly - 55.0)
        + 0.32 * support
        - 0.016 * (np.minimum(session, 150.0) - 40.0)
        + np.array([PAYMENT_EFFECT[p] for p in PAYMENTS])[payment]
        + 0.25 * paperless
        - 0.30 * partner
        + np.array([PLAN_EFFECT[p] for p in PLANS])[plan]
        + np.array([REGION_EFFECT[r] for r in REGIONS])[region]
        # From April a competitor's cheaper bundle pulls customers in the West, premium
        # subscribers and anyone with a high bill; at the same time the retention team starts
        # e-mailing save offers to paperless-billing customers, who now stay more often.
        + month.shift
        * (0.9 * (region == 3) + 0.5 * (plan == 2) + 0.02 * (monthly - 55.0) - 0.7 * paperless)
    )
    churned = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))

    snapshot = np.datetime64(month.name, "M")
    signup_month = snapshot - tenure.astype("timedelta64[M]") - np.timedelta64(1, "M")
    signup = signup_month.astype("datetime64[D]") + rng.integers(0, 28, size=n).astype(
        "timedelta64[D]"
    )

    # Missing values: no first invoice yet (tenure 0) or lost in the billing migration; region
    # not given at signup; app usage not tracked (and, from April, a tracking bug).
    total_missing = (tenure == 0) | (rng.random(n) < 0.006)
    region_missing = rng.random(n) < 0.015
    session_missing = rng.random(n) < month.session_missing

    frame = pl.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in ids],
            "signup_date": pl.Series(signup, dtype=pl.Date),
            "tenure_months": tenure,
            "contract": np.array(CONTRACTS)[contract],
            "plan": np.array(PLANS)[plan],
            "monthly_charges": monthly,
            "total_charges": total,
            "payment_method": np.array(PAYMENTS)[payment],
            "paperless_billing": paperless,
            "region": np.array(REGIONS)[region],
            "has_partner": partner,
            "support_calls": support.astype(np.int64),
            "avg_session_minutes": session,
            "churned": churned,
        }
    )
    masks = {
        "total_charges": total_missing,
        "region": region_missing,
        "avg_session_minutes": session_missing,
    }
    return frame.with_columns(
        pl.when(pl.Series(mask)).then(None).otherwise(pl.col(name)).alias(name)
        for name, mask in masks.items()
    ).select(COLUMNS)


def build(seed: int = SEED) -> dict[str, pl.DataFrame]:
    """All tables in memory, keyed by their path relative to the output folder."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    sizes = (REFERENCE_ROWS, *BATCH_ROWS)
    # Identifiers are drawn without replacement from one pool, so they are unique across files.
    ids = streams[0].choice(np.arange(1, 1_000_000), size=sum(sizes), replace=False)
    bounds = np.cumsum((0, *sizes))
    tables: dict[str, pl.DataFrame] = {}
    tables["churn_reference.csv"] = _customers(
        streams[1], REFERENCE_ROWS, SCHEDULE[REFERENCE_MONTH], ids[bounds[0] : bounds[1]]
    )
    for k, name in enumerate(BATCH_MONTHS):
        frame = _customers(
            streams[k + 2], BATCH_ROWS[k], SCHEDULE[name], ids[bounds[k + 1] : bounds[k + 2]]
        )
        tables[f"batches/{name}.csv"] = frame.drop("churned")
        tables[f"labels/{name}.csv"] = frame.select("customer_id", "churned")
    return tables


def generate(out_dir: str | Path | None = None, seed: int = SEED) -> list[Path]:
    """Write every file under ``out_dir`` (default: this script's folder); returns the paths."""
    root = Path(out_dir) if out_dir is not None else Path(__file__).resolve().parent
    written = []
    for rel, frame in build(seed).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_csv(path, line_terminator="\n", date_format="%Y-%m-%d")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder to write to (default: here)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default: {SEED})")
    args = parser.parse_args(argv)
    for path in generate(args.out, args.seed):
        print(path)


if __name__ == "__main__":
    main()
