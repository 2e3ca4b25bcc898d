"""Which columns of a table hold personal data, found from a sample of values and the names.

:func:`scan` reads a reservoir sample of the table (at most ``SAMPLE_ROWS`` rows) and counts,
in one columnar DuckDB pass per chunk of columns, the values of each column that match each
kind's pattern and checksum:

- ``email``; ``phone`` (international ``+…``/``00…``, or national grouped digits; bare digit
  runs only in a column named like a phone); ``card_number`` (13–19 digits, issuer prefix
  2–6, Luhn check); ``iban`` (ISO 13616 shape, mod-97 check); ``ip_address`` (IPv4, IPv6 in
  full or with ``::``);
- ``national_id``: US Social Security numbers (``AAA-GG-SSSS``, never area 000, 666 or
  9xx, group 00 or serial 0000), UK National Insurance numbers (the prefixes HMRC never
  issues refused) and French INSEE/NIR numbers (15 characters, Corsica's 2A/2B, mod-97 key);
- ``date_of_birth``: dates in the past, in a column named like a birth date;
- ``person_name``: a column named like a person's name whose values read as names;
- ``free_text``: text (values with spaces) of which a few values *contain* an email, phone
  number, card number, IBAN, IP address or SSN.

A value kind is found when a share of the column's sampled values matches: ``VALUE_SHARE``
of them, or ``HINTED_SHARE`` when the name points to that kind too. Its confidence is that
share (raised by a name that agrees), and its reason says what was counted. Random digit
strings (order numbers) pass the Luhn check one time in ten and product codes or version
strings match no pattern, so such decoys stay below the shares.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mlcycle.data import columns
from mlcycle.store.masking import LABELS, mask_value
from mlcycle.store.sql import ident

if TYPE_CHECKING:
    import duckdb

KINDS = tuple(LABELS)
SAMPLE_ROWS = 5000
# At most this many sampled cells, so a table of 10,000 columns samples fewer rows.
SAMPLE_CELLS = 2_000_000
VALUE_SHARE = 0.6
HINTED_SHARE = 0.3
NAME_SHARE = 0.7  # of values reading as names, in a column named like a person's name
DATE_SHARE = 0.8  # of values that are past dates, in a column named like a birth date
# Free text: this share of values with two spaces at least, of which this share (and at
# least TEXT_MIN values) contain personal data.
TEXT_SHARE = 0.3
TEXT_HITS = 0.02
TEXT_MIN = 3
# Columns per query: one query costs more than linearly in its columns past a few hundred,
# and any query over a view of 10,000 columns costs a second before it reads anything.
CHUNK_COLUMNS = 500

# Value kinds, in the order a tie is settled: the more specific pattern first.
_VALUE_KINDS = ("email", "card_number", "iban", "national_id", "ip_address", "phone")
_NAME_HINTS = {
    "email": r"e_?mail|courriel|mail_?address",
    "phone": r"phone|tel|telephone|mobile|cell|fax|msisdn|portable|telefon|handy",
    "card_number": r"card|cc|cc_?num(ber)?|pan|credit_?card|card_?no",
    "iban": r"iban|bank_?account|account_?number|rib",
    "ip_address": r"ip|ipv4|ipv6|ip_?addr(ess)?|remote_?addr|client_?ip|host_?ip",
    "national_id": r"ssn|social_?security(_?number)?|nino|national_?insurance(_?number)?|"
                   r"insee|nir|national_?id|tax_?id|passport(_?number)?",
    "date_of_birth": r"dob|birth|birthday|birth_?date|date_?of_?birth|born|naissance|"
                     r"date_?naissance|geburtsdatum|fecha_?nacimiento",
}
# Person names: (pattern over the normalised name, confidence).
_PERSON_NAMES = (
    (re.compile(r"(^|_)((first|last|given|family|middle|full|maiden|sur|fore|nick)_?name"
                r"|prenom|vorname|nachname|apellidos?|cognome)(_|$)"), 0.9),
    (re.compile(r"^(customer|client|contact|person|patient|employee|owner|holder|card_?holder|"
                r"account_?holder|recipient|sender|applicant|member|student|buyer|"
                r"passenger|guest|driver)_name$"), 0.9),
    (re.compile(r"^(name|nom|nombre)$"), 0.7),
)

# SQL over ``v``, a trimmed, non-empty VARCHAR value; ``_D`` is ``v`` without spaces and
# dashes.
_D = "regexp_replace(v, '[ \\-]', '', 'g')"
_DIGITS = "length(regexp_replace(v, '[^0-9]', '', 'g'))"


def _luhn(digits: str) -> str:
    return (f"list_sum(list_transform(list_reverse(string_split({digits}, '')), lambda x, i: "
            "CASE WHEN i % 2 = 0 THEN try_cast(x AS INT) * 2 - CASE WHEN try_cast(x AS INT) "
            ">= 5 THEN 9 ELSE 0 END ELSE try_cast(x AS INT) END)) % 10 = 0")


def _mod97(alnum: str) -> str:
    # Each character is a digit (times 10) or a letter A=10..Z=35 (times 100), folded into a
    # remainder one character at a time: the number itself has up to 68 digits.
    return (f"list_reduce(list_prepend(0, list_transform(string_split({alnum}, ''), lambda c: "
            "CASE WHEN c BETWEEN '0' AND '9' THEN 1000 + try_cast(c AS INT) "
            "ELSE 10000 + ascii(c) - 55 END)),"
            " lambda acc, e: (acc * (e // 100) + e % 100) % 97)")


_COMPACT = "upper(replace(v, ' ', ''))"  # IBANs, NINOs and INSEE numbers are spaced freely
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"({_OCTET}\.){{3}}{_OCTET}"
_IS_IPV4 = f"regexp_full_match(v, '{_IPV4}')"
_IS_SSN = ("(regexp_full_match(v, '[0-9]{3}-[0-9]{2}-[0-9]{4}') AND v[1:3] NOT IN ('000', '666') "
           "AND v[1:1] <> '9' AND v[5:6] <> '00' AND v[8:11] <> '0000')")
_IS_NINO = (f"(regexp_full_match({_COMPACT}, "
            "'[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]') "
            f"AND {_COMPACT}[1:2] NOT IN ('BG', 'GB', 'NK', 'KN', 'TN', 'NT', 'ZZ'))")
_IS_INSEE = (f"(CASE WHEN regexp_full_match({_COMPACT}, "
             "'[12][0-9]{2}(0[1-9]|1[0-2]|[2-9][0-9])(2A|2B|[0-9]{2})[0-9]{8}') THEN "
             f"97 - try_cast(replace(replace({_COMPACT}[1:13], '2A', '19'), '2B', '18') AS BIGINT)"
             f" % 97 = try_cast({_COMPACT}[14:15] AS INT) ELSE false END)")
# The checksums run only on values of the right shape (CASE evaluates lazily; AND may not).
_IS_CARD = (f"(CASE WHEN regexp_full_match(v, '[2-6][0-9 \\-]{{11,22}}[0-9]') THEN "
            f"length({_D}) BETWEEN 13 AND 19 AND regexp_full_match({_D}, '[0-9]+') AND "
            f"{_luhn(_D)} ELSE false END)")


def as_timestamp(value: str) -> str:
    """SQL reading the VARCHAR ``value`` as a timestamp, ISO or a usual day-first,
    month-first or dotted date; NULL when it is none of them."""
    return (f"coalesce(try_cast({value} AS TIMESTAMP), try_strptime({value}, ['%d/%m/%Y', "
            "'%m/%d/%Y', '%d.%m.%Y', '%Y/%m/%d', '%d-%m-%Y']))")


_IS_DATE = f"{as_timestamp('v')} BETWEEN TIMESTAMP '1900-01-01' AND now()"
_EXPRESSIONS = {
    "email": r"regexp_full_match(v, '[^\s@\"<>(),;:]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*"
             r"\.[A-Za-z]{2,24}')",
    "card_number": _IS_CARD,
    "iban": (f"(CASE WHEN regexp_full_match({_COMPACT}, '[A-Z]{{2}}[0-9]{{2}}[A-Z0-9]{{11,30}}') "
             f"THEN {_mod97(f'{_COMPACT}[5:] || {_COMPACT}[1:4]')} = 1 ELSE false END)"),
    "ssn": _IS_SSN,
    "nino": _IS_NINO,
    "insee": _IS_INSEE,
    "ip_address": (f"({_IS_IPV4} OR regexp_full_match(lower(v), '([0-9a-f]{{1,4}}:){{7}}"
                   "[0-9a-f]{1,4}') OR (length(v) - length(replace(v, '::', '')) = 2 AND "
                   "regexp_full_match(lower(v), '(([0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})?::"
                   "(([0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})?')))"),
    "phone": (rf"(CASE WHEN (regexp_full_match(v, '(\+|00)[1-9][0-9 ().\-]{{6,20}}[0-9]') AND "
              f"{_DIGITS} BETWEEN 8 AND 15) OR "
              rf"(regexp_full_match(v, '\(?[0-9]{{1,4}}\)?([ .\-][0-9]{{2,4}}){{2,4}}') AND "
              f"{_DIGITS} BETWEEN 9 AND 12) THEN NOT {_IS_IPV4} AND NOT {_IS_SSN} AND NOT "
              f"coalesce({_IS_DATE}, false) ELSE false END)"),
    # Counted apart: bare digit runs are a phone number only in a column named like one.
    "bare_phone": r"regexp_full_match(v, '\+?[0-9]{9,15}')",
    "dated": f"coalesce({_IS_DATE}, false)",
    "name_like": r"regexp_full_match(v, '[A-ZÀ-Ý][A-Za-zÀ-ÿ''’.\-]*( [A-Za-zÀ-ÿ''’.\-]+){0,3}')",
    "sentence": "v LIKE '% % %'",
}
_NATIONAL_SCHEMES = (("ssn", "US SSN"), ("nino", "UK NINO"), ("insee", "FR INSEE"))
# What free text is searched for, each as a SQL test over ``v``.
_CARD_IN_TEXT = r"regexp_extract_all(v, '\b[2-6][0-9]{3}([ \-]?[0-9]{4}){2}[ \-]?[0-9]{1,7}\b')"
_IBAN_IN_TEXT = (r"regexp_extract_all(upper(v), "
                 r"'\b[A-Z]{2}[0-9]{2}( ?[A-Z0-9]{4}){2,7}( ?[A-Z0-9]{1,4})?\b')")
_M_DIGITS = "regexp_replace(m, '[ \\-]', '', 'g')"
_M_ALNUM = "replace(m, ' ', '')"
_IN_TEXT = {
    "email": (r"regexp_matches(v, '[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*"
              r"\.[A-Za-z]{2,24}')"),
    "phone": (r"regexp_matches(v, '(^|[^0-9A-Za-z+])\+[1-9][0-9]{0,2}[ .\-]?\(?[0-9]{1,4}\)?"
              r"([ .\-]?[0-9]{2,4}){2,4}([^0-9]|$)') OR regexp_matches(v, "
              r"'(^|[^0-9])\(?0[0-9]{1,4}\)?([ .\-][0-9]{2,4}){3,4}([^0-9]|$)')"),
    "card_number": (f"list_bool_or(list_transform({_CARD_IN_TEXT}, lambda m: "
                    f"{_luhn(_M_DIGITS)}))"),
    "iban": (f"list_bool_or(list_transform({_IBAN_IN_TEXT}, lambda m: "
             f"{_mod97(f'{_M_ALNUM}[5:] || {_M_ALNUM}[1:4]')} = 1))"),
    "ip_address": rf"regexp_matches(v, '(^|[^0-9.])(?:{_IPV4})([^0-9.]|$)')",
    "national_id": (r"regexp_matches(v, '(^|[^0-9])[0-8][0-9]{2}-[0-9]{2}-[0-9]{4}([^0-9]|$)')"),
}


@dataclass(frozen=True)
class Finding:
    """A column holding personal data: of what kind, how sure, and why."""

    column: str
    kind: str
    confidence: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def scan(rel: duckdb.DuckDBPyRelation, *, sample_rows: int = SAMPLE_ROWS) -> list[Finding]:
    """The columns of ``rel`` (any DuckDB relation: a file just read, a view over the stored
    Parquet) that hold personal data, in column order; one finding per such column."""
    wanted = _candidates(list(rel.columns), [str(t) for t in rel.types])
    if not wanted:
        return []
    rows = max(100, min(sample_rows, SAMPLE_CELLS // len(wanted)))
    counts: list[dict[str, int]] = []
    for start in range(0, len(wanted), CHUNK_COLUMNS):
        chunk = wanted[start:start + CHUNK_COLUMNS]
        counts += _count(rel, [(n, _tests_for(n, s)) for n, s in chunk], rows)
    out = []
    for (name, kind), found in zip(wanted, counts):
        finding = _judge(name, kind, found)
        if finding is not None:
            out.append(finding)
    return out


def _candidates(names: list[str], dtypes: list[str]) -> list[tuple[str, str]]:
    """(name, storage) of the columns that can hold personal data: no float or boolean."""
    storage = [columns.storage_type(t) for t in dtypes]
    return [(n, s) for n, s in zip(names, storage) if s in ("string", "integer", "datetime")]


def scan_parquet(con: duckdb.DuckDBPyConnection, path: str) -> list[Finding]:
    """:func:`scan` of a Parquet file, reading only the columns that can hold personal data:
    a relation over all the columns of a wide file costs a second per query to bind."""
    described = con.execute("DESCRIBE SELECT * FROM read_parquet($p)", {"p": path}).fetchall()
    wanted = _candidates([r[0] for r in described], [r[1] for r in described])
    if not wanted:
        return []
    picked = ", ".join(ident(n) for n, _ in wanted)
    return scan(con.sql(f"SELECT {picked} FROM read_parquet($p)", params={"p": path}))  # noqa: S608


_VALUE_TESTS = ("email", "card_number", "iban", "ssn", "nino", "insee", "ip_address", "phone")


def _tests_for(name: str, storage: str) -> list[str]:
    """The tests worth running on a column: the costly ones only where they can decide."""
    hint = name_hint(name)
    tests = [] if storage == "datetime" else list(_VALUE_TESTS)
    if hint == "phone":
        tests.append("bare_phone")
    if hint == "date_of_birth":
        tests.append("dated")
    if storage == "string":
        if _person_name_confidence(name) is not None:
            tests.append("name_like")
        tests += ["sentence", *(f"in_text_{k}" for k in _IN_TEXT)]
    return tests


# The lengths a value of each kind can have: a test runs only on values of such a length.
_LENGTHS = {"email": (6, 254), "card_number": (13, 23), "iban": (15, 42), "ssn": (11, 11),
            "nino": (9, 13), "insee": (15, 21), "ip_address": (2, 45), "phone": (8, 24),
            "bare_phone": (9, 16), "dated": (6, 30), "name_like": (2, 80)}


def _test(key: str) -> str:
    if key.startswith("in_text_"):
        # Only sentences are searched: the search is the costliest test.
        return f"CASE WHEN v LIKE '% % %' THEN {_IN_TEXT[key[8:]]} ELSE false END"
    if key in _LENGTHS:
        lo, hi = _LENGTHS[key]
        return f"CASE WHEN length(v) BETWEEN {lo} AND {hi} THEN {_EXPRESSIONS[key]} ELSE false END"
    return _EXPRESSIONS[key]


def _count(rel: duckdb.DuckDBPyRelation, specs: list[tuple[str, list[str]]],
           rows: int) -> list[dict[str, int]]:
    """For each (column, tests): the column's sampled values, and how many pass each test.

    The sample is unpivoted to (column, value) pairs, so each test is one expression over
    all the columns' values: DuckDB plans a query of a regex per column per test for longer
    than it takes to run it. A test only some columns need runs on those alone."""
    picked = ", ".join(
        f"nullif(trim({ident(n)}::VARCHAR), '') AS c{i}" for i, (n, _) in enumerate(specs))
    keys = sorted({t for _, tests in specs for t in tests})
    exprs = []
    for key in keys:
        users = [i for i, (_, tests) in enumerate(specs) if key in tests]
        test = _on(_test(key), "v")
        if len(users) < len(specs):
            listed = ", ".join(f"'c{i}'" for i in users)
            test = f"CASE WHEN col IN ({listed}) THEN {test} ELSE false END"
        exprs.append(f"count_if({test})")
    found = rel.query(
        "mlcycle_privacy_source",
        f"WITH s AS (SELECT {picked} FROM mlcycle_privacy_source "  # noqa: S608
        f"USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE (7)), "
        "pairs AS (UNPIVOT s ON COLUMNS(*) INTO NAME col VALUE v) "
        f"SELECT col, count(*), {', '.join(exprs)} FROM pairs GROUP BY col",
    ).fetchall()
    by_column = {row[0]: row[1:] for row in found}
    out = []
    for i, _ in enumerate(specs):
        values = by_column.get(f"c{i}", [0] * (len(keys) + 1))
        counted = {"n": int(values[0]), **{k: int(c) for k, c in zip(keys, values[1:])}}
        # The three schemes' shapes are disjoint: a value matches one at most.
        counted["national_id"] = sum(counted.get(k, 0) for k, _ in _NATIONAL_SCHEMES)
        out.append(counted)
    return out


def _on(expr: str, column: str) -> str:
    """``expr`` over ``v`` rewritten for one sampled column (never NULL: NULL counts as no)."""
    return f"coalesce(({re.sub(r'(?<![A-Za-z_])v(?![A-Za-z_0-9])', column, expr)}), false)"


def normalised(name: str) -> str:
    """A column name as its hints are matched: camelCase split, lower case, ``_`` between."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def name_hint(name: str) -> str | None:
    """The kind a column's name points to (``customer_email`` -> email), if any."""
    norm = normalised(name)
    for kind, pattern in _NAME_HINTS.items():
        if re.search(rf"(^|_)({pattern})(_|$)", norm):
            return kind
    return None


def _person_name_confidence(name: str) -> float | None:
    norm = normalised(name)
    return next((conf for pattern, conf in _PERSON_NAMES if pattern.search(norm)), None)


def _judge(name: str, storage: str, c: dict[str, int]) -> Finding | None:
    n = c["n"]
    if n == 0:
        return None
    hint = name_hint(name)
    sampled = f"{n:,} sampled values"

    def share(key: str) -> float:
        return c.get(key, 0) / n

    if hint == "date_of_birth" and share("dated") >= DATE_SHARE:
        return Finding(name, "date_of_birth", round(share("dated"), 3),
                       f"named like a birth date and {share('dated'):.0%} of {sampled} "
                       "are past dates")
    if storage == "datetime":
        return None
    best = None
    for kind in _VALUE_KINDS:
        got = share(kind)
        if kind == "phone" and hint == "phone":
            got = max(got, share("bare_phone"))
        needed = HINTED_SHARE if hint == kind else VALUE_SHARE
        if got >= needed and (best is None or got > best[1]):
            best = (kind, got)
    if best is not None:
        kind, got = best
        reason = f"{got:.0%} of {sampled} are {_plural(kind)}"
        if kind == "national_id":
            reason += " (" + ", ".join(
                f"{label} {c[key] / n:.0%}" for key, label in _NATIONAL_SCHEMES if c[key]) + ")"
        if hint == kind:
            reason = f"named like {_plural(kind)} and {reason}"
        confidence = min(1.0, got + (0.15 if hint == kind else 0.0))
        return Finding(name, kind, round(confidence, 3), reason)
    person = _person_name_confidence(name)
    if person is not None and storage == "string" and share("name_like") >= NAME_SHARE:
        return Finding(name, "person_name", person,
                       f"named like a person's name and {share('name_like'):.0%} of {sampled} "
                       "read as names")
    if storage == "string" and share("sentence") >= TEXT_SHARE:
        found = {k: c.get(f"in_text_{k}", 0) for k in _IN_TEXT}
        found = {k: v for k, v in found.items() if v >= TEXT_MIN and v / n >= TEXT_HITS}
        if found:
            top = max(found.values()) / n
            listed = ", ".join(f"{_plural(k)} in {v / n:.0%}" for k, v in found.items())
            return Finding(name, "free_text", round(min(1.0, 0.5 + top), 3),
                           f"free text, with {listed} of {sampled}")
    return None


def _plural(kind: str) -> str:
    label = LABELS[kind]
    return label + ("es" if label.endswith("ss") else "s")


def mask_report(report: dict[str, Any], sensitive: dict[str, str]) -> dict[str, Any]:
    """``report`` (a quality report) with the figures of each ``sensitive`` column (name ->
    kind) that would show its values masked: top values masked, extremes, moments,
    quantiles and histogram left out. The counts (missing, distinct) stay."""
    if not sensitive:
        return report
    stats = []
    for s in report["column_stats"]:
        kind = sensitive.get(s["name"])
        if kind is None:
            stats.append(s)
            continue
        masked = {k: v for k, v in s.items() if k not in ("histogram",)}
        for key in ("min", "max", "mean", "std", "quantiles"):
            if key in masked:
                masked[key] = None
        if "top" in masked:
            masked["top"] = [{"value": mask_value(kind, t["value"]), "count": t["count"]}
                             for t in masked["top"]]
        masked["sensitive"] = kind
        stats.append(masked)
    return {**report, "column_stats": stats}
