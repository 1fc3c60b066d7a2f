"""The Splink model for the canonical customer schema: comparisons and blocking rules.

Each comparison reads the columns :func:`matching.features.matching_frame` produces. Levels run
from the strongest agreement to the weakest; Splink learns an m and u probability for each
(see ``training.py``), except for two kinds of level.

*Already counted* levels. A household shares an address line, house number, postcode, city and
landline; Splink treats comparisons as independent, so scoring each of them separately would
count one shared home five times. The house number, postcode, city and phone comparisons
therefore give zero weight when their agreement is already implied by an agreeing address line
(or postcode), and the email user part gives zero weight when it is just the two names that
already agree (``john.smith`` at two providers says little beyond the names).

*Contradiction* levels. People who look alike still share most of the rest: twins a birth date,
a father and son (Jr/Sr) a first name, a home and often an email. Expectation maximisation
cannot learn how much a contradicting identity field should weigh, because without labels it
cannot tell a twin from a duplicate. The identity fields therefore end in a contradiction level
(what is left after every allowed error: nicknames, typos, initials, swapped fields, transposed
or mistyped dates, a year-only date) whose m probability is by default fixed instead of learnt:

- date of birth and generational suffix (:data:`IDENTITY_CONTRADICTION_M`, about -40 bits):
  their ordinary errors are all modelled by the other levels, so what remains is a different
  person, whatever else agrees;
- first name (:data:`FIRST_NAME_CONTRADICTION_M`, about -17 bits): names vary in ways no table
  covers (nicknames it lacks, transliterations), so overwhelming other evidence (the same
  mailbox, birth date and home) may still overrule a first-name disagreement, while a twin's
  shared birth date, home and last name may not.

Data whose duplicates often carry another value entirely (FEBRL re-keys whole birth dates and
replaces first names) names those comparisons in ``matching.learn_contradictions``: their m is
then learnt (never below the fixed value), and a contradiction the model learnt to be common
among matches (:data:`ENFORCED_BELOW_M`) is weighed as evidence, not enforced in clustering.

Clustering applies the same conditions (:func:`contradiction_conditions`) to every pair it would
put in one cluster, so look-alikes are not joined through a chain of other records either.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

from splink import SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator

from matching.config import AttributeConfig
from matching.errors import MatchingInputError
from matching.plan import ModelPlan, RulePlan

IDENTITY_CONTRADICTION_M: Final = 1e-12
"""m probability of a contradicting date of birth or suffix: about -40 bits, more than
everything a household can share."""

FIRST_NAME_CONTRADICTION_M: Final = 1e-5
"""m probability of contradicting first names: about -17 bits, as much as an exact date of
birth; a twin (shared birth date, home, last name) stays apart, a record that also shares the
mailbox and phone does not."""

TF_MINIMUM_U: Final = 0.0001
"""Floor of a term-frequency-adjusted u probability: a value seen once in this data is not
treated as rarer than one in ten thousand, since it may be common in the population."""

IDENTITY_COMPARISONS: Final = ("first_name", "date_of_birth", "name_suffix")
"""Comparisons whose last level is a contradiction that clustering enforces."""

_JW_CLOSE = 0.92
_JW_FUZZY = 0.88


CONTRADICTION_FLOORS: Final[dict[str, float]] = {}
"""Contradiction level label -> the m probability it starts from and never goes below."""

ENFORCED_BELOW_M: Final = 0.01
"""A contradiction is enforced in clustering (no cluster holds two records that contradict)
only when the trained model gives it an m below this: the data itself says that matching
records almost never disagree so. Data whose duplicates often carry another value entirely
(a first name replaced, a birth date re-entered) learns a larger m, and there a different
value is evidence weighed with the rest, not a veto."""


def _contradiction(label: str, m_probability: float, learn: bool = False) -> cll.ElseLevel:
    # Fixed, unless ``matching.learn_contradictions`` names the comparison: then learnt from
    # a start at the fixed value, which stays its floor (training.bound_m_probabilities).
    CONTRADICTION_FLOORS[label] = m_probability
    return cll.ElseLevel().configure(
        m_probability=m_probability, fix_m_probability=not learn, label_for_charts=label
    )


def _exact(column: str, label: str, tf: bool = False) -> cll.ExactMatchLevel:
    level = cll.ExactMatchLevel(column, term_frequency_adjustments=tf)
    if tf:
        return level.configure(tf_minimum_u_value=TF_MINIMUM_U, label_for_charts=label)
    return level.configure(label_for_charts=label)


def _not_comparable(column: str, script: str) -> cll.CustomLevel:
    # Missing, or written in two scripts (a name in Han characters against its Latin
    # transliteration): neither agreement nor disagreement can be read from the letters.
    return cll.CustomLevel(
        f"{column}_l IS NULL OR {column}_r IS NULL OR {script}_l <> {script}_r",
        "missing, or written in different scripts",
    ).configure(is_null_level=True)


_FUZZY_LABEL = f"Jaro-Winkler >= {_JW_FUZZY}, one edit, or two in long names"


def _two_edits_in_long_names(column: str) -> ComparisonLevelCreator:
    # Two typos in a name of six letters or more ("Nahtan" / "Natahn") are still one name; in
    # shorter names two edits reach another person's name (Lucy / Lucas). Records of a person
    # entered several times each carry their own typo, and without this two of them would
    # read as different people and split the cluster (a contradiction).
    return cll.And(
        cll.CustomLevel(f"length({column}_l) >= 6 AND length({column}_r) >= 6"),
        within_edits(column, 2),
    )


def within_edits(column: str, edits: int) -> ComparisonLevelCreator:
    """At most ``edits`` typos, a swap of two neighbouring letters counting as one: a
    Damerau-Levenshtein distance of ``edits`` or less, decided mostly by the Levenshtein
    distance, which costs a seventh as much in DuckDB (names compared on every blocked pair
    spent most of scoring's time there).

    The two bound each other: a swap is two Levenshtein edits and every Levenshtein edit is a
    Damerau-Levenshtein one, so ``DL <= LEV <= 2 DL``. A distance of ``edits`` or less in
    Levenshtein's is one in Damerau-Levenshtein's, one above ``2 * edits`` cannot be, and only
    the pairs between are computed both ways: the level holds for exactly the same pairs.
    DuckDB tries the conditions in order and stops at the first that decides (measured on
    2.6 million pairs: the first- and last-name levels in 2.7 s instead of 6.0); on any
    backend the answer is the same."""
    return cll.Or(
        cll.LevenshteinLevel(column, edits),
        cll.And(
            cll.LevenshteinLevel(column, 2 * edits),
            cll.DamerauLevenshteinLevel(column, edits),
        ),
    )


def _shortened(column: str) -> str:
    # Plain SQL understood by DuckDB and Spark alike: one name is an initial, a truncation or
    # a part of the other (J / John, Chris / Christopher, Topher / Christopher).
    return (
        f"(substr({column}_l, 1, length({column}_r)) = {column}_r "
        f"OR substr({column}_r, 1, length({column}_l)) = {column}_l "
        f"OR (length({column}_l) >= 3 AND instr({column}_r, {column}_l) > 0) "
        f"OR (length({column}_r) >= 3 AND instr({column}_l, {column}_r) > 0))"
    )


def _swapped() -> ComparisonLevelCreator:
    # One record's first and last name are the other's last and first, compared on their
    # first three letters (a typo later in either name is allowed). Plain equality of derived
    # columns: cheap on every pair u sampling draws.
    return cll.And(
        cll.CustomLevel("name_start_l = name_start_swapped_r"),
        cll.Not(cll.ExactMatchLevel("name_start")),
    ).configure(label_for_charts="first and last name swapped")


_CLOSE_LABEL = f"Jaro-Winkler >= {_JW_CLOSE}, or one look-alike Han character"


def _close(column: str, glyphs: str) -> ComparisonLevelCreator:
    # A name in Han characters mistyped by one look-alike character (玉小明 / 王小明) usually
    # reads differently, so its pinyin key disagrees; the two names share a look-alike key
    # (``pipelines.standardise.han_glyphs``) and count as close, not as a contradiction.
    return cll.Or(
        cll.JaroWinklerLevel(column, _JW_CLOSE), cll.ArrayIntersectLevel(glyphs, 1)
    ).configure(label_for_charts=_CLOSE_LABEL)


def _same_reading(key: str, written: str) -> ComparisonLevelCreator:
    # One key, other characters: a name written in a script whose key is its reading, typed
    # with another character of the same sound (王小鸣 for 王小明), or another person's name
    # that sounds alike. Close, a little less than the same name.
    return cll.CustomLevel(f"{key}_l = {key}_r AND {written}_l <> {written}_r", SAME_READING_LABEL)


SAME_READING_LABEL: Final = "same reading, written with other characters"


def first_name(learn: bool = False, written: bool = False) -> ComparisonCreator:
    """``written``: with the "same reading, other characters" level (see
    ``ModelPlan.written_names``)."""
    return cl.CustomComparison(
        output_column_name="first_name",
        comparison_description="first name: nicknames, typos, initials and swapped fields",
        comparison_levels=[
            _not_comparable("mk_first_name", "first_name_script"),
            *([_same_reading("mk_first_name", "first_name_written")] if written else []),
            _exact("mk_first_name", "exact first name", tf=True),
            _exact("mk_first_name_canonical", "same canonical name (nickname)", tf=True),
            _close("mk_first_name", "mk_first_name_glyphs"),
            cll.Or(
                cll.JaroWinklerLevel("mk_first_name", _JW_FUZZY),
                cll.JaroWinklerLevel("mk_first_name_canonical", _JW_FUZZY),
                within_edits("mk_first_name", 1),
                _two_edits_in_long_names("mk_first_name"),
            ).configure(label_for_charts=_FUZZY_LABEL),
            cll.CustomLevel(
                f"{_shortened('mk_first_name')} OR {_shortened('mk_first_name_canonical')}",
                "initial or shortened name",
            ),
            _swapped(),
            _contradiction(
                "contradiction: different first names", FIRST_NAME_CONTRADICTION_M, learn
            ),
        ],
    )


def last_name(written: bool = False) -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="last_name",
        comparison_description="last name: typos, double-barrelled names, swapped fields",
        comparison_levels=[
            # Swapped names are one event, weighed once (by the first name): counted here too,
            # a stranger whose names are another's swapped (Lachlan Nguyen / Nguyen Lachlan)
            # gained some 25 bits, enough to outweigh a different birth date and address.
            cll.Or(_not_comparable("mk_last_name", "last_name_script"), _swapped()).configure(
                is_null_level=True,
                label_for_charts="missing, other scripts, or swapped (weighed by first name)",
            ),
            *([_same_reading("mk_last_name", "last_name_written")] if written else []),
            _exact("mk_last_name", "exact last name", tf=True),
            _close("mk_last_name", "mk_last_name_glyphs"),
            cll.Or(
                cll.JaroWinklerLevel("mk_last_name", _JW_FUZZY),
                within_edits("mk_last_name", 1),
                _two_edits_in_long_names("mk_last_name"),
            ).configure(label_for_charts=_FUZZY_LABEL),
            cll.CustomLevel(
                "length(mk_last_name_l) >= 3 AND length(mk_last_name_r) >= 3 AND "
                "(instr(mk_last_name_l, mk_last_name_r) > 0 "
                "OR instr(mk_last_name_r, mk_last_name_l) > 0)",
                "one contains the other",
            ),
            cll.ElseLevel(),
        ],
    )


def middle_initial() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="middle_initial",
        comparison_levels=[
            cll.NullLevel("mk_middle_initial"),
            _exact("mk_middle_initial", "same middle initial"),
            cll.ElseLevel(),
        ],
    )


def name_suffix(learn: bool = False) -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="name_suffix",
        comparison_description="generational suffix (Jr, Sr, III)",
        comparison_levels=[
            cll.NullLevel("name_suffix"),
            _exact("name_suffix", "same suffix"),
            _contradiction("contradiction: different suffixes", IDENTITY_CONTRADICTION_M, learn),
        ],
    )


def date_of_birth(learn: bool = False) -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="date_of_birth",
        comparison_description="date of birth: transposed day/month, typos, partial agreement",
        comparison_levels=[
            cll.NullLevel("mk_dob"),
            _exact("mk_dob", "exact date of birth", tf=True),
            cll.CustomLevel("mk_dob_l = dob_transposed_r", "day and month transposed"),
            cll.Or(
                cll.ExactMatchLevel("dob_year_month"),
                cll.ExactMatchLevel("dob_month_day"),
                cll.ExactMatchLevel("dob_year_day"),
            ).configure(label_for_charts="two of year, month and day agree (one part mistyped)"),
            cll.CustomLevel(
                "dob_year_l = dob_year_r "
                "AND (dob_month_day_l = '01-01' OR dob_month_day_r = '01-01')",
                "same year, one date only a year (1 January)",
            ),
            _contradiction(
                "contradiction: different dates of birth", IDENTITY_CONTRADICTION_M, learn
            ),
        ],
    )


def email() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="email",
        comparison_description="email: exact, provider-normalised key, user part",
        comparison_levels=[
            cll.NullLevel("mk_email"),
            _exact("email", "exact email", tf=True).configure(
                # One frequency table serves both email levels (an address and its mailbox
                # are equally common). The level adjusts its own u: Splink would otherwise
                # take the u of the level that is an exact match on mk_email, the mailbox
                # level's, which random pairs almost never reach (u 26 times smaller on the
                # sample), and weigh every exact email about 4.7 bits too low.
                tf_adjustment_column="mk_email",
                disable_tf_exact_match_detection=True,
            ),
            _exact("mk_email", "same mailbox (plus tags, dots removed)", tf=True),
            _already_counted(
                "mk_email_user",
                cll.And(
                    cll.Or(
                        cll.ExactMatchLevel("mk_email_user"),
                        cll.JaroWinklerLevel("mk_email_user", _JW_FUZZY),
                    ),
                    cll.ExactMatchLevel("mk_first_name_canonical"),
                    cll.ExactMatchLevel("mk_last_name"),
                ),
                "user parts alike, but made of names that already agree",
            ),
            _exact("mk_email_user", "same user part"),
            cll.JaroWinklerLevel("mk_email_user", _JW_FUZZY).configure(
                label_for_charts=f"user part Jaro-Winkler >= {_JW_FUZZY}"
            ),
            cll.ElseLevel(),
        ],
    )


def _already_counted(column: str, covered: ComparisonLevelCreator, label: str) -> Any:
    """A zero-weight level: the value is missing, or its agreement was already counted by
    another comparison (``covered``), so counting it again would double the evidence."""
    return cll.Or(cll.NullLevel(column), covered).configure(
        is_null_level=True, label_for_charts=label
    )


def _exact_any(*columns: str) -> ComparisonLevelCreator:
    return cll.Or(*(cll.ExactMatchLevel(c) for c in columns))


def _same_home() -> ComparisonLevelCreator:
    # The same address line, or the same house number in the same postcode ("12 Manor Rd
    # Apt 19" and "12 Manor Rd Fl 19"). Plain equalities: cheap on every scored pair.
    return cll.Or(
        cll.ExactMatchLevel("mk_address"),
        cll.And(cll.ExactMatchLevel("mk_house_number"), cll.ExactMatchLevel("mk_postcode")),
    )


def phone() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="phone",
        comparison_description="phone; a shared line at a shared address counts once (address)",
        comparison_levels=[
            _already_counted(
                "mk_phone",
                cll.And(cll.ExactMatchLevel("mk_phone"), _same_home()),
                "missing, or the same line at the same home",
            ),
            _exact("mk_phone", "exact phone", tf=True),
            _exact("phone_tail", "same number, other country or trunk prefix"),
            cll.ElseLevel(),
        ],
    )


ADDRESS_WORDS_SHARED: Final = 3
"""Words two address lines must share, in any order, for the 'same words' level: a house
number and a street name with its type, or a street and a building name."""


def address() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="address",
        comparison_description="address line (street and number, normalised)",
        comparison_levels=[
            cll.NullLevel("mk_address"),
            _exact("mk_address", "exact address line", tf=True),
            _unit_on_one_side(),
            cll.JaroWinklerLevel("mk_address", 0.95).configure(
                label_for_charts="Jaro-Winkler >= 0.95"
            ),
            cll.JaroWinklerLevel("mk_address", _JW_FUZZY).configure(
                label_for_charts=f"Jaro-Winkler >= {_JW_FUZZY}"
            ),
            # "30 learmonth dr wallace heights" against "30 wallace h eights learmonth dr": the
            # same parts in another order (a building, estate or locality name kept before
            # the street by one source, after it by another), a typo allowed in one of them.
            # The house number must agree: "12 stanley st apt 27" and "14 stanley st apt 27"
            # share four words and are two homes.
            # The house number first: comparing it is cheap, intersecting word lists is not.
            cll.And(
                cll.ExactMatchLevel("mk_house_number"),
                cll.ArrayIntersectLevel("address_words", ADDRESS_WORDS_SHARED),
            ).configure(
                label_for_charts=(
                    f"same house number, {ADDRESS_WORDS_SHARED} or more words shared in any order"
                )
            ),
            cll.ElseLevel(),
        ],
    )


def _unit_on_one_side() -> cll.CustomLevel:
    # "12 manor rd" and "12 manor rd flat 3": one line is the other with a unit after it
    # (standardisation puts line 2 last), as when only one source keeps the flat number. The
    # shorter line must name a street (two words at least): a line holding only "13" is a
    # house number, compared by ``house_number``, and is the start of every "13 ..." line.
    # Plain SQL understood by DuckDB and Spark alike.
    a, b = "mk_address_l", "mk_address_r"
    return cll.CustomLevel(
        f"((instr({b}, ' ') > 0 AND substr({a}, 1, length({b}) + 1) = concat({b}, ' ')) "
        f"OR (instr({a}, ' ') > 0 AND substr({b}, 1, length({a}) + 1) = concat({a}, ' ')))",
        "same street line, a unit on one side only",
    )


def house_number() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="house_number",
        comparison_description="house number where the address lines differ",
        comparison_levels=[
            _already_counted(
                "mk_house_number",
                cll.And(
                    cll.ExactMatchLevel("mk_house_number"), _exact_any("mk_address", "mk_postcode")
                ),
                "missing, or the same number already counted by address line or postcode",
            ),
            _exact("mk_house_number", "same house number"),
            cll.ElseLevel(),
        ],
    )


def postcode() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="postcode",
        comparison_description="postcode; with the same address line it adds nothing new",
        comparison_levels=[
            _already_counted(
                "mk_postcode",
                cll.And(
                    cll.ExactMatchLevel("mk_postcode"), _exact_any("mk_address", "mk_house_number")
                ),
                "missing, or the same postcode already counted with the address",
            ),
            _exact("mk_postcode", "exact postcode", tf=True),
            _exact("postcode_prefix", "same postcode area"),
            cll.ElseLevel(),
        ],
    )


def city() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="city",
        comparison_description="city where neither postcode nor address line already agree",
        comparison_levels=[
            _already_counted(
                "mk_city",
                cll.And(cll.ExactMatchLevel("mk_city"), _exact_any("mk_postcode", "mk_address")),
                "missing, or same city within an agreeing postcode or address",
            ),
            _exact("mk_city", "exact city", tf=True),
            cll.JaroWinklerLevel("mk_city", _JW_CLOSE).configure(
                label_for_charts=f"Jaro-Winkler >= {_JW_CLOSE}"
            ),
            cll.ElseLevel(),
        ],
    )


def attribute(name: str, config: AttributeConfig) -> ComparisonCreator:
    """The comparison of an extra attribute (``matching.attributes``), by its kind."""
    column = f"attr_{name}"
    levels: list[ComparisonLevelCreator] = [cll.NullLevel(column)]
    if config.kind == "identifier":
        levels += [
            _exact(column, f"same {name}", tf=True),
            within_edits(column, 1).configure(label_for_charts=f"{name}: one character mistyped"),
        ]
    elif config.kind == "text":
        levels += [
            _exact(column, f"same {name}", tf=True),
            cll.JaroWinklerLevel(column, _JW_CLOSE).configure(
                label_for_charts=f"Jaro-Winkler >= {_JW_CLOSE}"
            ),
            cll.JaroWinklerLevel(column, _JW_FUZZY).configure(
                label_for_charts=f"Jaro-Winkler >= {_JW_FUZZY}"
            ),
        ]
    else:
        levels.append(_exact(column, f"same {name}"))
        if config.tolerance is not None and config.kind == "date":
            levels.append(
                cll.AbsoluteDateDifferenceLevel(
                    column, input_is_string=True, threshold=config.tolerance, metric="day"
                ).configure(label_for_charts=f"within {config.tolerance:g} days")
            )
        elif config.tolerance is not None:
            levels.append(
                cll.CustomLevel(
                    f"abs(cast({column}_l AS DOUBLE) - cast({column}_r AS DOUBLE)) "
                    f"<= {float(config.tolerance)!r}",
                    f"within {config.tolerance:g}",
                )
            )
    levels.append(cll.ElseLevel())
    if config.m_probabilities is not None:
        if len(config.m_probabilities) != len(levels) - 1:
            raise MatchingInputError(
                f"matching.attributes.{name}.m_probabilities: {len(levels) - 1} values "
                f"expected (one per level of a {config.kind} attribute), got "
                f"{len(config.m_probabilities)}"
            )
        levels = [levels[0]] + [
            level.configure(m_probability=m, fix_m_probability=True)
            for level, m in zip(levels[1:], config.m_probabilities, strict=True)
        ]
    return cl.CustomComparison(
        output_column_name=name,
        comparison_description=f"attribute ({config.kind})",
        comparison_levels=levels,
    )


def comparisons(
    fields: Sequence[str] | None = None,
    learn: Collection[str] = (),
    attributes: Mapping[str, AttributeConfig] | None = None,
    written: Collection[str] = (),
) -> list[ComparisonCreator]:
    """Every comparison of the model, identity fields first; only those named in ``fields``
    (the fields a :class:`matching.plan.ModelPlan` found values in) when it is given. The
    identity comparisons named in ``learn`` learn their contradiction level's m; the names in
    ``written`` compare their written form beside their key."""
    every = [
        first_name("first_name" in learn, written="first_name" in written),
        last_name(written="last_name" in written),
        middle_initial(),
        name_suffix("name_suffix" in learn),
        date_of_birth("date_of_birth" in learn),
        email(),
        phone(),
        address(),
        house_number(),
        postcode(),
        city(),
    ]
    every += [attribute(name, config) for name, config in (attributes or {}).items()]
    if fields is None:
        return every
    wanted = set(fields)
    return [c for c in every if _name_of(c) in wanted]


def _name_of(creator: ComparisonCreator) -> str:
    return str(creator.get_comparison("duckdb").output_column_name)


def blocking_rules() -> list[BlockingRuleCreator]:
    """Rules that generate the candidate pairs to score.

    A true pair is found when it shares any one of: a mailbox, a phone, a name (nickname
    resolved) within one postcode, last name and birth date, first name and birth date, birth
    date within one postcode (both names mistyped or swapped), a home
    (house number and street initial within one postcode, or within one town, for a postcode
    mistyped or missing), or the same two names in either order within one postcode.
    A pair that shares only a name anywhere in the country is not generated: a name alone could
    not link it with confidence, and at a million records the common names would make such a
    rule compare tens of millions of pairs. Contact keys shared by too many records
    (``max_key_frequency``: a switchboard number, a placeholder email, a block of flats) are
    left out of the single-key rules for the same reason.
    """
    return [
        block_on("bk_email"),
        block_on("bk_phone"),
        block_on("mk_first_name_canonical", "mk_last_name", "mk_postcode"),
        block_on("mk_last_name", "mk_dob"),
        block_on("mk_first_name_canonical", "mk_dob"),
        block_on("mk_dob", "mk_postcode"),
        block_on("bk_address"),
        block_on("bk_address_town"),
        block_on("bk_name_pair", "mk_postcode"),
    ]


def training_rules() -> list[BlockingRuleCreator]:
    """Blocking rules for expectation maximisation. Each session estimates m for the
    comparisons its rule does not use, so together they cover every comparison: the
    birth-date session trains names and contact fields, the name session trains birth date
    and contact fields. Neither blocks on the address, whose agreement switches several
    comparisons to their already-counted level and would leave them little to learn from."""
    return [
        block_on("mk_dob"),
        block_on("bk_name"),
    ]


def deterministic_rules() -> list[BlockingRuleCreator]:
    """Rules strict enough to admit almost no false matches; their yield estimates the prior
    probability that two random records match."""
    return [
        block_on("mk_first_name", "mk_last_name", "mk_dob"),
        block_on("mk_email", "mk_first_name_canonical", "mk_last_name"),
    ]


def planned_rules(plan: ModelPlan) -> list[BlockingRuleCreator]:
    """The blocking rules of ``plan``, in its order."""
    return [block_on(*rule.columns) for rule in plan.blocking_rules]


def link_type(sources: int) -> str:
    """Link and dedupe across sources; a single source can only be deduplicated."""
    return "link_and_dedupe" if sources > 1 else "dedupe_only"


def settings_creator(sources: int, plan: ModelPlan | None = None) -> SettingsCreator:
    """The untrained model for ``sources`` source systems: link and dedupe them all at once,
    keeping the columns and intermediate figures the review queue and waterfall charts show.
    With a ``plan``, only its fields are compared and only its rules blocked on."""
    return SettingsCreator(
        link_type=link_type(sources),  # type: ignore[arg-type]
        unique_id_column_name="record_key",
        comparisons=comparisons(
            plan.fields_used if plan else None,
            plan.learnt_contradictions if plan else (),
            plan.attributes if plan else None,
            plan.written_names if plan else (),
        ),
        blocking_rules_to_generate_predictions=planned_rules(plan) if plan else blocking_rules(),
        # Scores keep their per-comparison weights (pairs.parquet, the review queue); the
        # compared values are joined back only for the few pairs the waterfall chart explains,
        # since carrying them on every scored pair is a third of the scoring cost.
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,
        max_iterations=25,
        em_convergence=0.0001,
    )


def contradiction_conditions(
    dialect: str = "duckdb",
    fields: Sequence[str] | None = None,
    model: dict[str, Any] | None = None,
) -> dict[str, str]:
    """SQL (on ``<column>_l``/``<column>_r`` columns) that is true exactly when a pair falls in the
    contradiction level of each identity comparison, i.e. when no other level applies.

    Derived from the comparison levels themselves, so clustering and scoring can never
    disagree about what a contradiction is.
    """
    learnt = _contradiction_m(model) if model is not None else {}
    out: dict[str, str] = {}
    for creator in comparisons(fields):
        comparison = creator.get_comparison(dialect)
        if comparison.output_column_name not in IDENTITY_COMPARISONS:
            continue
        if learnt.get(comparison.output_column_name, 0.0) >= ENFORCED_BELOW_M:
            continue
        other_levels = [
            level.sql_condition
            for level in comparison.comparison_levels
            if level.sql_condition.strip().upper() != "ELSE"
        ]
        out[comparison.output_column_name] = " AND ".join(
            f"NOT coalesce(({sql}), false)" for sql in other_levels
        )
    return out


def _contradiction_m(model: dict[str, Any]) -> dict[str, float]:
    """Comparison -> the trained m of its contradiction level."""
    out = {}
    for comparison in model.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            if level.get("label_for_charts") in CONTRADICTION_FLOORS:
                m = level.get("m_probability")
                if isinstance(m, (int, float)):
                    out[comparison["output_column_name"]] = float(m)
    return out


def model_for_engine(model: dict[str, Any], dialect: str, sources: int) -> dict[str, Any]:
    """A saved model made ready for ``dialect`` (``duckdb``/``spark``) and ``sources`` inputs.

    A model's comparison SQL is written in the dialect it was trained in; to score with another
    backend, this model's comparisons are rebuilt in the target dialect and the trained
    parameters carried over level by level, so "the same model" means the same levels and the
    same m and u probabilities on either engine. A model whose comparisons are not this
    model's (another version) cannot be carried over and is an error.
    """
    model = dict(model)
    model["link_type"] = link_type(sources)
    if model.get("sql_dialect", dialect) == dialect:
        return model
    fresh = settings_creator(sources, plan_of_model(model)).create_settings_dict(dialect)
    saved = {c.get("output_column_name"): c for c in model.get("comparisons", [])}
    for comparison in fresh["comparisons"]:
        name = comparison["output_column_name"]
        old = saved.get(name)
        labels = [lv.get("label_for_charts") for lv in comparison["comparison_levels"]]
        if old is None or [lv.get("label_for_charts") for lv in old["comparison_levels"]] != labels:
            raise MatchingInputError(
                f"the saved model's comparison {name!r} differs from this version's model, so "
                f"it cannot be moved from {model.get('sql_dialect')} to {dialect}; retrain it"
            )
        for level, trained in zip(
            comparison["comparison_levels"], old["comparison_levels"], strict=True
        ):
            for key in ("m_probability", "u_probability"):
                if key in trained:
                    level[key] = trained[key]
    fresh["probability_two_random_records_match"] = model["probability_two_random_records_match"]
    return fresh


def plan_of_model(model: dict[str, Any]) -> ModelPlan:
    """The structure of a saved model as a plan: its comparisons' fields and the columns of
    its blocking rules (equalities ``l."c" = r."c"``, as :func:`planned_rules` writes them)."""
    rules = []
    for rule in model.get("blocking_rules_to_generate_predictions", []):
        sql = rule["blocking_rule"] if isinstance(rule, dict) else str(rule)
        columns = re.findall(r'l\.[`"]?(\w+)[`"]?\s*=', sql)
        rules.append(RulePlan(columns=columns, pairs=0, reason="saved model"))
    attributes = {
        c["output_column_name"]: _attribute_of(c)
        for c in model.get("comparisons", [])
        if str(c.get("comparison_description", "")).startswith("attribute (")
    }
    return ModelPlan(
        fields_used=[c.get("output_column_name", "") for c in model.get("comparisons", [])],
        blocking_rules=rules,
        attributes=attributes,
        written_names=[
            c["output_column_name"]
            for c in model.get("comparisons", [])
            if any(
                level.get("label_for_charts") == SAME_READING_LABEL
                for level in c.get("comparison_levels", [])
            )
        ],
    )


def _attribute_of(comparison: dict[str, Any]) -> AttributeConfig:
    """The attribute settings a saved attribute comparison was built from (its kind, and
    the tolerance its label names)."""
    kind = str(comparison["comparison_description"])[len("attribute (") : -1]
    tolerance = None
    for level in comparison.get("comparison_levels", []):
        found = re.match(r"within ([\d.e+-]+)", str(level.get("label_for_charts", "")))
        if found:
            tolerance = float(found.group(1))
    return AttributeConfig(kind=kind, tolerance=tolerance)  # type: ignore[arg-type]
