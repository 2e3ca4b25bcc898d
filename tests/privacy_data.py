"""Generated tables with personal data planted in known columns, and decoys beside them.

``planted(rows, seed)`` returns (columns, truth): ``columns`` maps a column name to its values
(strings, or None for a missing value) and ``truth`` maps each column to the kind of personal
data it holds, or None for a decoy or an ordinary column. Every kind comes in several
columns: neutral names (found from values alone), telling names, mixed formats, missing
values; the decoys are shaped like personal data and are not: 16-digit order numbers that
fail the Luhn check, EAN-13 barcodes, product codes, version strings, order dates, product
names, reviews quoting order numbers and versions.
"""

from __future__ import annotations

import random
import string
from datetime import date, timedelta

FIRST = ["Alice", "Bruno", "Chloé", "David", "Emma", "François", "Grace", "Hugo", "Inès",
         "James", "Katarzyna", "Liam", "María", "Noah", "Olivia", "Pierre", "Quentin", "Rosa",
         "Sofia", "Thomas", "Ursula", "Victor", "Wen", "Xavier", "Yusuf", "Zoé"]
LAST = ["Martin", "Smith", "Dubois", "García", "Müller", "O'Brien", "Nguyen", "Kowalski",
        "Rossi", "Johnson", "Lefèvre", "Brown", "Silva", "Jones", "Bernard", "Taylor"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "example.co.uk", "ex.fr"]
WORDS = ["the", "delivery", "was", "quick", "and", "product", "works", "well", "but", "box",
         "arrived", "a", "little", "damaged", "so", "I", "would", "like", "partial", "refund",
         "please", "call", "back", "when", "possible", "thanks", "great", "service", "again",
         "order", "version", "update"]


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d >= 5 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def card(rng: random.Random, fmt: int) -> str:
    prefix = rng.choice(["4", "51", "52", "55", "22", "37", "6011"])
    length = 15 if prefix == "37" else 16
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - 1 - len(prefix)))
    number = body + luhn_digit(body)
    if fmt == 1:
        return " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    if fmt == 2:
        return "-".join(number[i:i + 4] for i in range(0, len(number), 4))
    return number


def order_number(rng: random.Random) -> str:
    """16 digits starting like a card, failing the Luhn check."""
    body = "4" + "".join(rng.choice(string.digits) for _ in range(14))
    good = luhn_digit(body)
    return body + rng.choice([d for d in string.digits if d != good])


def ean13(rng: random.Random) -> str:
    body = "".join(rng.choice(string.digits) for _ in range(12))
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def iban(rng: random.Random, spaced: bool) -> str:
    country, length = rng.choice([("GB", 22), ("FR", 27), ("DE", 22), ("ES", 24), ("NL", 18)])
    if country in ("GB", "NL"):
        bank = "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
        bban = bank + "".join(rng.choice(string.digits) for _ in range(length - 8))
    else:
        bban = "".join(rng.choice(string.digits) for _ in range(length - 4))
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    check = 98 - int(numeric) % 97
    out = f"{country}{check:02d}{bban}"
    return " ".join(out[i:i + 4] for i in range(0, len(out), 4)) if spaced else out


def phone(rng: random.Random, fmt: int) -> str:
    def d(n: int) -> str:
        return "".join(rng.choice(string.digits) for _ in range(n))

    return [
        lambda: f"+44 20 {d(4)} {d(4)}",
        lambda: f"({rng.randint(201, 989)}) {d(3)}-{d(4)}",
        lambda: f"0{rng.randint(1, 7)} {d(2)} {d(2)} {d(2)} {d(2)}",
        lambda: f"+1-{rng.randint(201, 989)}-555-{d(4)}",
        lambda: f"+33{rng.randint(1, 7)}{d(8)}",
        lambda: f"+49 30 {d(8)}",
    ][fmt % 6]()


def ipv4(rng: random.Random) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randint(0, 65535):x}" for _ in range(8)]
    if rng.random() < 0.5:
        return "2001:db8::" + ":".join(groups[:2])
    return ":".join(groups)


def ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def nino(rng: random.Random) -> str:
    first = rng.choice("ABCEGHJKLMNOPRSTWXYZ")
    second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    if first + second in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ"):
        first = "A"
    digits = "".join(rng.choice(string.digits) for _ in range(6))
    return f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {rng.choice('ABCD')}"


def insee(rng: random.Random) -> str:
    dept = rng.choice(["75", "13", "2A", "69", "33", "2B", "59"])
    body = (f"{rng.randint(1, 2)}{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{dept}"
            f"{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}")
    key = 97 - int(body.replace("2A", "19").replace("2B", "18")) % 97
    return f"{body}{key:02d}"


def birth(rng: random.Random) -> date:
    return date(1940, 1, 1) + timedelta(days=rng.randint(0, 65 * 365))


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def planted(rows: int = 3000, seed: int = 17) -> tuple[dict[str, list], dict[str, str | None]]:
    rng = random.Random(seed)
    cols: dict[str, list] = {}
    truth: dict[str, str | None] = {}

    def add(name: str, kind: str | None, make, missing: float = 0.0) -> None:
        cols[name] = [None if rng.random() < missing else make() for _ in range(rows)]
        truth[name] = kind

    def person() -> tuple[str, str]:
        return rng.choice(FIRST), rng.choice(LAST)

    add("email", "email", lambda: f"{rng.choice(FIRST).lower()}.{rng.randint(1, 999)}@"
        f"{rng.choice(DOMAINS)}")
    add("contact", "email", lambda: f"{rng.choice(LAST).lower()}{rng.randint(1, 99)}@"
        f"{rng.choice(DOMAINS)}", missing=0.4)
    add("Adresse Électronique", "email", lambda: f"{rng.choice(FIRST)[0].lower()}_"
        f"{rng.choice(LAST).lower()}@{rng.choice(DOMAINS)}".replace("'", ""))
    for i in range(6):
        add(f"field_phone_{i}" if i % 2 else f"col p{i}", "phone",
            lambda i=i: phone(rng, i), missing=0.2 * (i % 2))
    add("mobile", "phone", lambda: "".join(rng.choice(string.digits) for _ in range(10)))
    for i in range(3):
        add(f"pay{i}", "card_number", lambda i=i: card(rng, i), missing=0.1 * i)
    add("card number", "card_number", lambda: card(rng, 1))
    for i in range(3):
        add(f"acct/{i}", "iban", lambda i=i: iban(rng, bool(i % 2)), missing=0.1 * i)
    add("iban", "iban", lambda: iban(rng, False))
    add("addr4", "ip_address", lambda: ipv4(rng))
    add("client_ip", "ip_address", lambda: ipv4(rng), missing=0.3)
    add("v6", "ip_address", lambda: ipv6(rng))
    add("hop", "ip_address", lambda: ipv4(rng) if rng.random() < 0.5 else ipv6(rng))
    add("date_of_birth", "date_of_birth", lambda: birth(rng).isoformat())
    add("birthDate", "date_of_birth", lambda: birth(rng).strftime("%d/%m/%Y"), missing=0.2)
    add("dob", "date_of_birth", lambda: birth(rng).isoformat())
    add("ssn", "national_id", lambda: ssn(rng))
    add("ref a", "national_id", lambda: ssn(rng), missing=0.3)
    add("ni_number", "national_id", lambda: nino(rng))
    add("ref b", "national_id", lambda: nino(rng).replace(" ", ""))
    add("numéro sécu", "national_id", lambda: insee(rng))
    add("first_name", "person_name", lambda: person()[0])
    add("LastName", "person_name", lambda: person()[1], missing=0.1)
    add("customer name", "person_name", lambda: " ".join(person()))
    add("nom", "person_name", lambda: person()[1])
    add("notes", "free_text", lambda: sentence(rng, 8) + (
        f" reach me at {rng.choice(FIRST).lower()}@{rng.choice(DOMAINS)}" if rng.random() < 0.1
        else ""))
    add("message", "free_text", lambda: sentence(rng, 6) + (
        f" my number is {phone(rng, 0)}" if rng.random() < 0.08 else ""))
    add("remark", "free_text", lambda: sentence(rng, 5) + (
        f" card {card(rng, 1)} was charged twice" if rng.random() < 0.05 else ""))
    add("feedback", "free_text", lambda: sentence(rng, 7) + (
        f" refund to {iban(rng, True)}" if rng.random() < 0.05 else ""))
    # Decoys and ordinary columns.
    for i in range(3):
        add(f"order_number_{i}", None, lambda: order_number(rng))
    add("order no", None, lambda: order_number(rng))
    add("barcode", None, lambda: ean13(rng))
    add("product_code", None, lambda: f"PRD-{rng.randint(10000, 99999)}-"
        f"{rng.choice(string.ascii_uppercase)}{rng.choice(string.ascii_uppercase)}")
    add("sku", None, lambda: f"{rng.choice(string.ascii_uppercase)}{rng.randint(100, 999)}-"
        f"{rng.randint(1000, 9999)}")
    add("version", None, lambda: f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}")
    add("build", None, lambda: f"v{rng.randint(1, 4)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}"
        f".{rng.randint(0, 999)}-rc")
    add("order_date", None, lambda: (date(2020, 1, 1)
                                     + timedelta(days=rng.randint(0, 1500))).isoformat())
    add("shipped", None, lambda: (date(2020, 1, 1)
                                  + timedelta(days=rng.randint(0, 1500))).strftime("%d/%m/%Y"))
    add("product_name", None, lambda: f"Widget {rng.choice(['Pro', 'Mini', 'Max'])} "
        f"{rng.randint(100, 9999)}")
    add("file_name", None, lambda: f"report_{rng.randint(1, 999)}.csv")
    add("city", None, lambda: rng.choice(["Paris", "London", "Berlin", "Madrid", "Rome"]))
    add("review", None, lambda: sentence(rng, 9) + (
        f" order {order_number(rng)} on version {rng.randint(1, 9)}.{rng.randint(0, 9)}.1"
        if rng.random() < 0.2 else ""))
    add("amount", None, lambda: f"{rng.randint(1, 99999) / 100:.2f}")
    add("quantity", None, lambda: str(rng.randint(1, 50)))
    add("timestamp", None, lambda: f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)} "
        f"{rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}")
    add("time", None, lambda: f"{rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}")
    add("ratio", None, lambda: f"{rng.randint(1, 9)}.{rng.randint(0, 99)}.{rng.randint(0, 9)}")
    add("tracking", None, lambda: f"1Z{rng.randint(10**15, 10**16 - 1)}")
    add("postcode", None, lambda: f"{rng.randint(10000, 99999)}")
    return cols, truth


def planted_values(cols: dict[str, list], truth: dict[str, str | None],
                   per_column: int | None = None) -> set[str]:
    """The planted values of the personal-data columns, as strings: all of them, or the
    ``per_column`` most frequent of each column (the ones a report would show first)."""
    from collections import Counter

    out: set[str] = set()
    for name, kind in truth.items():
        if kind is not None and kind != "free_text":
            counts = Counter(str(v) for v in cols[name] if v is not None)
            out.update(v for v, _ in counts.most_common(per_column))
    return out
