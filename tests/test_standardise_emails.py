"""Emails: trimmed, lower-cased, validated with email-validator (no DNS), invalid ones flagged
with their text kept, matching keys free of provider noise."""

from __future__ import annotations

import itertools

import polars as pl
import pytest

from pipelines.standardise import standardise_emails
from pipelines.standardise.emails import _prepare, is_fast_valid, validate_one


def run(raw: str | None) -> dict[str, object]:
    out = standardise_emails(pl.DataFrame({"raw_email": [raw]}, schema={"raw_email": pl.String}))
    row = out.row(0, named=True)
    assert row["raw_email"] == raw
    return row


@pytest.mark.parametrize(
    ("raw", "email", "invalid", "mk_email"),
    [
        pytest.param(
            "  John.Smith@Example.COM ",
            "john.smith@example.com",
            False,
            "john.smith@example.com",
            id="trim-lower",
        ),
        pytest.param(
            "j.o.h.n+promo@gmail.com",
            "j.o.h.n+promo@gmail.com",
            False,
            "john@gmail.com",
            id="gmail-dots-and-plus",
        ),
        pytest.param(
            "John.Smith@GoogleMail.com",
            "john.smith@googlemail.com",
            False,
            "johnsmith@gmail.com",
            id="googlemail-is-gmail",
        ),
        pytest.param(
            "first.last+tag@outlook.com",
            "first.last+tag@outlook.com",
            False,
            "first.last@outlook.com",
            id="plus-removed-dots-kept-elsewhere",
        ),
        pytest.param(
            "Jane Doe <JANE@EXAMPLE.ORG>",
            "jane@example.org",
            False,
            "jane@example.org",
            id="display-name",
        ),
        pytest.param("mailto:a@b.co", "a@b.co", False, "a@b.co", id="mailto"),
        pytest.param(" a@b.co ;", "a@b.co", False, "a@b.co", id="trailing-list-separator"),
        pytest.param("a@b.co; c@d.org", "a@b.co", False, "a@b.co", id="a-list-gives-its-first"),
        pytest.param("a@b.co,c@d.org,", "a@b.co", False, "a@b.co", id="comma-list"),
        pytest.param(
            "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ",
            "john@example.com",
            False,
            "john@example.com",
            id="fullwidth",
        ),
        pytest.param(
            "müller@münchen.de",
            "müller@münchen.de",
            False,
            "müller@münchen.de",
            id="internationalised",
        ),
        pytest.param("bad@@x.com", "bad@@x.com", True, None, id="two-at-signs"),
        pytest.param("john.smith@gmail", "john.smith@gmail", True, None, id="no-tld"),
        pytest.param("a..b@x.com", "a..b@x.com", True, None, id="double-dot"),
        pytest.param("x@localhost", "x@localhost", True, None, id="special-use-localhost"),
        pytest.param("u@shop.test", "u@shop.test", True, None, id="special-use-test"),
        pytest.param("john smith@x.com", "john smith@x.com", True, None, id="space"),
        pytest.param(
            "noemail@company.com", "noemail@company.com", True, None, id="placeholder-local-part"
        ),
        pytest.param("plainaddress", "plainaddress", True, None, id="no-at"),
        pytest.param("N/A", None, False, None, id="placeholder-is-empty"),
        pytest.param(None, None, False, None, id="null"),
    ],
)
def test_email_rules(
    raw: str | None, email: str | None, invalid: bool, mk_email: str | None
) -> None:
    row = run(raw)
    assert row["email"] == email
    assert row["invalid_email"] is invalid
    assert row["mk_email"] == mk_email
    if mk_email:
        assert row["mk_email_user"] == mk_email.split("@")[0]


def _variants() -> list[str]:
    """Addresses near the edge of the fast pattern: lengths, hyphens, digits, odd atext."""
    locals_ = [
        "a",
        "a.b",
        "a+b",
        "a_b",
        "a-b",
        "o'neil",
        "x" * 64,
        "x" * 65,
        "a.",
        ".a",
        "a!b",
        "1",
        "a/b",
        "\u00e9",
    ]
    domains = [
        "x.com",
        "x-y.com",
        "-x.com",
        "x-.com",
        "ab--c.com",
        "xn--mnchen-3ya.de",
        "sub.x.co.uk",
        "x.c",
        "x.123",
        "x.museum",
        "1.2.3.4",
        "x.local",
        "x." + "a" * 63,
        ("a" * 63 + ".") * 4 + "com",
        "x_y.com",
        "x.com.",
    ]
    return [f"{local}@{domain}" for local, domain in itertools.product(locals_, domains)]


def test_fast_pattern_accepts_only_what_email_validator_accepts_unchanged() -> None:
    values = pl.Series("e", _variants())
    frame = pl.DataFrame({"e": values}).with_columns(_prepare(pl.col("e")).alias("p"))
    frame = frame.with_columns(is_fast_valid(pl.col("p")).alias("fast"))
    fast = frame.filter(pl.col("fast"))
    assert fast.height > 20, "the fast path must cover the ordinary shapes"
    for value in fast["p"].to_list():
        assert validate_one(value) == value, value
