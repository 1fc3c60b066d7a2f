"""Nickname -> canonical given name, for the ``mk_first_name_canonical`` matching key.

Sources, all bundled under ``data/`` (see ``data/README.md`` for origin and licences):

* ``nicknames_en.csv``: the hand-curated English table of Carlton Northern and Nick Crews
  (Apache-2.0), ~2,700 ``name has_nickname nickname`` pairs.
* ``nicknames_intl.csv``: common diminutives in German, Spanish, Italian, Portuguese, Dutch,
  French, Polish and Russian (Latin and Cyrillic), written for this project.
* ``nicknames_preferred.csv``: the canonical name to use for frequent English nicknames that
  the English table links to several names (``bill`` -> william, not robert).
* ``common_given_names.txt``: frequent formal names, to break the remaining ties and to keep
  formal names (``jack``, ``billy`` excepted by the preferred table) from being rewritten.

A nickname shared by several formal names maps to one of them chosen by a fixed rule
(preferred table, then the candidate spelled most like the nickname, then the more common
name), so the key is deterministic; a preferred pair of a name with itself (``erin,erin``)
keeps a name as it is. A user can add or override pairs with ``standardise.nicknames_path``
(CSV ``nickname,canonical``).

Keys and values are folded with :func:`~pipelines.standardise.text.letters_key`, the same fold as
``mk_first_name``, so ``Саша`` and ``Sasha`` both reach ``aleksandr``.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

import polars as pl

from pipelines.errors import ConfigError
from pipelines.standardise.text import clean_text, letters_key

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"


def _fold_all(values: list[str]) -> list[str | None]:
    return (
        pl.select(letters_key(clean_text(pl.Series(values, dtype=pl.String)))).to_series().to_list()
    )


def _read_pairs(path: Path, columns: tuple[str, str]) -> list[tuple[str, str]]:
    """Pairs from a CSV with a header; a malformed file is an error naming file and row."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(
                    f"nickname file {path} needs a header with columns {list(columns)}; "
                    f"missing {missing}"
                )
            pairs = []
            for line, row in enumerate(reader, start=2):
                left = (row.get(columns[0]) or "").strip()
                right = (row.get(columns[1]) or "").strip()
                if not left or not right:
                    raise ConfigError(
                        f"nickname file {path}, line {line}: both {columns[0]!r} and "
                        f"{columns[1]!r} need a value (got {row})"
                    )
                pairs.append((left, right))
            return pairs
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read nickname file {path}: {exc}") from exc


def _similarity(nickname: str, formal: str) -> tuple[int, int]:
    """How much a nickname is spelled like a formal name: shared start, then longest shared run
    (``len`` is Leonard's, not Jalen's)."""
    prefix = 0
    for a, b in zip(nickname, formal, strict=False):
        if a != b:
            break
        prefix += 1
    run = SequenceMatcher(None, nickname, formal).find_longest_match().size
    return prefix, run


def _english_map() -> dict[str, str]:
    pairs = _read_pairs(DATA_DIR / "nicknames_en.csv", ("name1", "name2"))
    common = [
        line.strip()
        for line in (DATA_DIR / "common_given_names.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    rank = {name: i for i, name in enumerate(common)}
    nicknames_of: dict[str, set[str]] = defaultdict(set)
    formal_of: dict[str, set[str]] = defaultdict(set)
    for formal, nickname in pairs:
        nicknames_of[formal].add(nickname)
        formal_of[nickname].add(formal)

    def degree(name: str) -> int:
        return len(nicknames_of.get(name, ()))

    def best(name: str) -> str | None:
        # A common name, or one with nicknames of its own (Jane: Janie, Jenny), is formal.
        if name in rank or degree(name) >= 2:
            return None
        candidates = [c for c in formal_of.get(name, ()) if degree(c) > degree(name)]
        if not candidates:
            return None
        return min(
            candidates,
            key=lambda c: (
                *(-x for x in _similarity(name, c)),
                rank.get(c, len(rank)),
                -degree(c),
                c,
            ),
        )

    mapping: dict[str, str] = {}
    for name in formal_of:
        target, hops = best(name), 0
        while target is not None and hops < 10:
            mapping[name] = target
            target, hops = best(target), hops + 1
    for nickname, canonical in _read_pairs(
        DATA_DIR / "nicknames_preferred.csv", ("nickname", "canonical")
    ):
        mapping[nickname] = canonical
    return mapping


@lru_cache(maxsize=4)
def nickname_table(extra_path: Path | None = None) -> pl.DataFrame:
    """``nickname`` -> ``canonical`` (both folded keys), one row per nickname.

    Later sources override earlier ones: English table, international table, the user's file.
    """
    mapping = _english_map()
    english_keys = set(mapping)
    intl = _read_pairs(DATA_DIR / "nicknames_intl.csv", ("nickname", "canonical"))
    for nickname, canonical in intl:
        if nickname not in english_keys:
            mapping[nickname] = canonical
    if extra_path is not None:
        for nickname, canonical in _read_pairs(Path(extra_path), ("nickname", "canonical")):
            mapping[nickname] = canonical
    names = list(mapping)
    keys = _fold_all(names)
    values = _fold_all([mapping[n] for n in names])
    table = (
        pl.DataFrame(
            {"nickname": keys, "canonical": values},
            schema=[("nickname", pl.String), ("canonical", pl.String)],
        )
        .drop_nulls()
        .filter(pl.col("nickname") != pl.col("canonical"))
        .unique("nickname", keep="last", maintain_order=True)
    )
    log.debug("nickname table: %d nicknames", table.height)
    return table


def canonical_first_name(
    df: pl.DataFrame, key_column: str, out: str, table: pl.DataFrame
) -> pl.DataFrame:
    """Add ``out``: the canonical form of the folded first-name key in ``key_column`` (the key
    itself when it is not a known nickname)."""
    joined = df.join(
        table.rename({"nickname": key_column, "canonical": "_canonical"}),
        on=key_column,
        how="left",
        maintain_order="left",
    )
    return joined.with_columns(pl.coalesce("_canonical", key_column).alias(out)).drop("_canonical")
