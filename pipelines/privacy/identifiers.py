"""A subject's identifiers: how they are read, normalised and hashed.

Identifiers are compared in their *standardised* form, produced by the standardisation stage's
own functions, so "John.Doe+shop@GMAIL.com " in one source and "johndoe@gmail.com" in another
are the same mailbox, and "(212) 555-0100" is "+12125550100". What the warehouse keeps about
erased subjects is a keyed hash (HMAC-SHA-256 with a secret salt from the environment) of each
normalised identifier, never the identifier: the suppression list cannot be read back into
people, and without the salt it cannot even be tested against a guessed email address.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import polars as pl

from pipelines.errors import PrivacyError

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

IdentifierKind = Literal["record_key", "email", "email_key", "phone", "golden_id"]
"""``record_key`` ``<source>:<id>``; ``email`` the canonical address; ``email_key`` its matching
key (plus tags and Gmail dots removed); ``phone`` E.164; ``golden_id`` (only to name a subject
in the audit trail)."""
SubjectKind = Literal["golden_id", "email", "phone", "record_key"]

MIN_SALT_CHARACTERS = 16


def load_salt(config: PipelineConfig) -> bytes:
    """The suppression salt from the environment variable the config names; refuses to go on
    without one, because an unsalted hash of an email address is as good as the address."""
    env = config.privacy.suppression_salt_env
    value = os.environ.get(env, "")
    if not value.strip():
        raise PrivacyError(
            f"the environment variable {env} (privacy.suppression_salt_env) is not set: erasure "
            "and suppression need a secret salt so that erased identifiers are stored only as "
            "salted hashes; set it to a long random value (`golden privacy new-salt`) and keep "
            "it like a key"
        )
    if len(value.strip()) < MIN_SALT_CHARACTERS:
        raise PrivacyError(
            f"the salt in {env} is {len(value.strip())} characters long; use at least "
            f"{MIN_SALT_CHARACTERS} random characters (`golden privacy new-salt`)"
        )
    return value.strip().encode("utf-8")


def salt_id(salt: bytes) -> str:
    """A public name for a salt, stored with every entry, so a changed salt is detected."""
    return hmac.new(salt, b"golden-records suppression salt id", hashlib.sha256).hexdigest()[:16]


def identifier_hash(salt: bytes, kind: IdentifierKind, value: str) -> str:
    """The salted hash of one normalised identifier."""
    message = f"{kind}\x00{value}".encode()
    return hmac.new(salt, message, hashlib.sha256).hexdigest()


def hash_values(
    salt: bytes, kind: IdentifierKind, values: Iterable[str | None]
) -> list[str | None]:
    """Hashes of many values (None stays None), equal to :func:`identifier_hash` of each.

    The keyed state after ``kind`` is computed once and copied per distinct value: ingestion
    hashes every landed row's identifiers while the suppression list is not empty.
    """
    keyed = hmac.new(salt, f"{kind}\x00".encode(), hashlib.sha256)
    cache: dict[str, str] = {}
    out: list[str | None] = []
    for value in values:
        if value is None or value == "":
            out.append(None)
            continue
        digest = cache.get(value)
        if digest is None:
            state = keyed.copy()
            state.update(value.encode())
            digest = cache[value] = state.hexdigest()
        out.append(digest)
    return out


def normalise_email(text: str) -> tuple[str | None, str | None]:
    """(canonical address, matching key) as the standardisation stage makes them; the key is
    None for an address that is not valid."""
    from pipelines.standardise.emails import standardise_emails

    row = standardise_emails(pl.DataFrame({"raw_email": [text]}, schema={"raw_email": pl.String}))
    email = row["email"][0]
    return email, row["mk_email"][0]


def normalise_phone(text: str, regions: Iterable[str]) -> str | None:
    """E.164 of a phone number. A number with a country code reads the same everywhere;
    without one it is read in each region given (the sources' default regions) and must
    come out the same in all of them."""
    from pipelines.standardise.phones import standardise_phones

    candidates = sorted(set(regions)) or ["US"]
    frame = pl.DataFrame(
        {"raw_phone": [text] * len(candidates), "_region": candidates},
        schema={"raw_phone": pl.String, "_region": pl.String},
    )
    results = {p for p in standardise_phones(frame, "_region")["phone"].to_list() if p}
    if len(results) > 1:
        raise PrivacyError(
            f"phone {text!r} has no country code and reads differently in the sources' regions "
            f"({', '.join(sorted(results))}): give it in E.164 form, e.g. +442079460000"
        )
    return results.pop() if results else None


@dataclass(frozen=True)
class Subject:
    """What a requester named: the kind of identifier and its normalised value."""

    kind: SubjectKind
    value: str
    """Normalised: canonical email, E.164 phone, the record key or golden id as given."""
    email_key: str | None = None
    """For an email: its matching key (the same mailbox written another way)."""

    def digest(self, salt: bytes) -> str:
        """How the audit trail names the subject: a salted hash, never the identifier."""
        return identifier_hash(salt, self.kind, self.value)


_PHONE_TEXT = re.compile(r"^\+?[\d\s().\-/]{6,}$")


def parse_subject(config: PipelineConfig, text: str, kind: SubjectKind | None = None) -> Subject:
    """Read ``--subject``: a golden id, a record key (``<source>:<id>``), an email or a phone.

    The kind is recognised from the text unless given; anything that fits none is an error
    that says which forms are accepted.
    """
    value = text.strip()
    if not value:
        raise PrivacyError("the subject is empty: give a golden id, record key, email or phone")
    if kind is None:
        kind = _guess_kind(config, value)
    if kind == "record_key":
        source, sep, record_id = value.partition(":")
        if not sep or not record_id or source not in config.source_names:
            raise PrivacyError(
                f"{value!r} is not a record key: use '<source>:<id>' with a configured source "
                f"({', '.join(config.source_names)})"
            )
        return Subject("record_key", value)
    if kind == "golden_id":
        return Subject("golden_id", value)
    if kind == "email":
        email, key = normalise_email(value)
        if email is None:
            raise PrivacyError(f"{value!r} is not an email address")
        return Subject("email", email, key)
    phone = normalise_phone(value, (s.default_phone_region for s in config.sources))
    if phone is None:
        raise PrivacyError(
            f"{value!r} is not a valid phone number; give it in E.164 form, e.g. +442079460000"
        )
    return Subject("phone", phone)


def _guess_kind(config: PipelineConfig, value: str) -> SubjectKind:
    source, sep, _ = value.partition(":")
    if sep and source in config.source_names:
        return "record_key"
    if re.fullmatch(rf"{re.escape(config.golden.id_prefix)}-[0-9A-Z]+", value):
        return "golden_id"
    if "@" in value:
        return "email"
    if _PHONE_TEXT.match(value):
        return "phone"
    raise PrivacyError(
        f"cannot tell what {value!r} is: give a golden id ({config.golden.id_prefix}-...), a "
        f"record key ('<source>:<id>', sources: {', '.join(config.source_names)}), an email "
        "address or a phone number (or say which with --kind)"
    )
