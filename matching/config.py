"""Configuration of the matching stage."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ATTRIBUTE_NAME = r"^[a-z][a-z0-9_]{0,39}$"
"""An attribute's name: lower-case letters, digits and underscores (it names columns)."""


class AttributeConfig(BaseModel):
    """How an extra matching attribute (``sources[].attributes``) is compared. Any source
    column can be one: a national id, a customer, loyalty or tax number, a free attribute. To
    match the FEBRL datasets on their social security number, map the column in each source,
    ``attributes: {soc_sec_id: soc_sec_id}`` beside its ``mapping``, and describe it once,
    ``matching: {attributes: {soc_sec_id: {kind: identifier}}}``. The identifier then blocks
    (records sharing it are compared), scores (exact agreement weighted by how rare the value
    is, one mistyped character as a weaker level) and its shared values serve as labelled
    matches for the prior and the contradiction levels. The run summary's model block names
    it with the pairs its rule generated."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    kind: Literal["identifier", "text", "date", "number"] = "identifier"
    """``identifier``: a national id, customer or tax number, compared exactly (letters and
    digits only, case folded) with term frequencies, one mistyped character as a weaker level;
    ``text``: exact, then Jaro-Winkler 0.92 and 0.88; ``date``: exact, then within
    ``tolerance`` days; ``number``: exact, then within ``tolerance``."""
    block: bool | None = None
    """Generate candidate pairs from records that share the value (default: true for an
    identifier, false otherwise). Values shared by more than ``max_key_frequency`` records
    (a placeholder such as 000000) are left out of blocking."""
    tolerance: float | None = Field(None, gt=0)
    """For ``date`` (days) and ``number``: the difference still counted as close."""
    m_probabilities: list[float] | None = None
    """Fixed m probabilities of the levels from the strongest agreement to "all other"
    (instead of learning them), e.g. from a known error rate of the identifier."""

    @property
    def blocks(self) -> bool:
        return self.kind == "identifier" if self.block is None else self.block

    @model_validator(mode="after")
    def _tolerance_where_it_means_something(self) -> AttributeConfig:
        if self.tolerance is not None and self.kind not in ("date", "number"):
            raise ValueError(f"tolerance applies to date and number attributes, not {self.kind}")
        if self.m_probabilities is not None and (any(not 0 < m <= 1 for m in self.m_probabilities)):
            raise ValueError("m_probabilities must each be above 0 and at most 1")
        return self


class MatchingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    engine: Literal["duckdb", "spark"] = "duckdb"
    """Splink backend: embedded DuckDB, or Spark for data that outgrows one machine."""
    model_path: Path | None = None
    """A trained Splink model (JSON) to reuse instead of training on the run's data."""
    match_threshold: float = Field(0.9, gt=0, lt=1)
    """Pairs at or above this probability are linked into one cluster."""
    review_lower: float = Field(0.5, gt=0, lt=1)
    """Pairs from this probability up to ``match_threshold`` go to the steward review queue."""
    seed: int = 42
    """Seed for Splink's random sampling, so training is repeatable."""
    max_pairs_for_u: int = Field(2_000_000, ge=10_000)
    """Random pairs sampled to estimate u probabilities."""
    em_max_pairs: int = Field(250_000, ge=10_000)
    """Upper bound on the blocked pairs one expectation-maximisation session trains on (a
    deterministic sample beyond it): m estimates settle long before every pair is seen."""
    prior_recall: float = Field(0.6, gt=0, le=1)
    """Assumed share of true matches that the strict deterministic rules find; used to estimate
    the prior probability that two random records match. The trained model corrects it where
    its own m probabilities show the rules find fewer, and after scoring the prior settles on
    the model's own scores (the expected matches among the scored pairs, over all pairs, at its
    fixed point, at most 4 bits from the trained value; ``matching.scoring.settled_prior``),
    unless steward labels calibrate it or a saved model is given. The run's
    ``training_skipped`` notes say how far it moved."""
    max_pairs_per_record: int = Field(50, ge=1)
    """Budget of candidate pairs per record: a blocking rule that alone would generate more
    than this many pairs times the records is not used (the run summary names it), and the
    broader rules added so that an error in one name or the birth date does not lose a pair
    share the same budget. Raise it on data with few fields, lower it to bound run time."""
    redundant_pairs_per_record: int = Field(10, ge=0)
    """Budget, per record, of the redundant blocking rules added when contradictions are
    learnt (``learn_contradictions``): rules over other combinations of fields (the starts of
    both names, a name with the postcode or town, the birth month with the postcode, ...),
    cheapest first, so that a pair with errors in two fields, which such data holds, is still
    compared. Where contradictions stay fixed such a pair could not link anyway, and none are
    added. 0 adds none."""
    min_m_probability: float = Field(0.001, gt=0, lt=0.5)
    """Floor of every trained m probability. A level rare among the training pairs (a middle
    initial that disagrees, a last name that is entirely different) would otherwise get an m
    near zero and a weight of -60 or -200, a veto learned from a handful of pairs; with the
    floor its weight stays evidence (about -10 bits at most). It holds in every EM iteration
    (``matching.training``), so levels that move together cannot drive each other to zero."""
    learn_contradictions: (
        Literal["auto"] | bool | list[Literal["first_name", "date_of_birth", "name_suffix"]]
    ) = "auto"
    """Whether the contradiction levels of first name and date of birth (a value that no
    allowed error explains) are learnt by EM instead of weighing as a near veto: ``auto``
    (default) decides from the records, ``true`` learns both, ``false`` keeps them fixed, a
    list names the comparisons to learn (``first_name``, ``date_of_birth``, ``name_suffix``).
    Learning suits data whose duplicates often carry another value entirely (a re-keyed birth
    date, a first name replaced), as in FEBRL; fixed levels keep look-alikes (twins, Jr/Sr,
    households) apart: without labels EM cannot tell a twin from a duplicate, and learns a
    contradiction's m from the look-alikes it takes for matches. ``auto`` learns them only
    when the records carry no contact evidence, i.e. no identifying field beside the names,
    birth date and address (email, phone, an ``identifier`` attribute) is held by at least a
    quarter of the records, and some field beside the names and birth date (an address, a
    postcode) is compared to weigh a contradiction against: the run summary says which way it
    went and why (see ``matching.plan.contradictions_to_learn``). A learnt contradiction with
    an m of at least 0.01 is no longer enforced in clustering. Labelled pairs (steward
    must-links, records sharing an identifier attribute) raise a fixed contradiction's m too,
    when they show matches that contradict."""
    attributes: dict[str, AttributeConfig] = Field(default_factory=dict)
    """Extra matching attributes by name, each mapped to a column by ``sources[].attributes``:
    how it is compared and whether it blocks (example below)."""
    max_key_frequency: int = Field(50, ge=2)
    """Blocking on a single contact key (email, phone, address) skips values shared by more
    records than this: a switchboard number or a placeholder email identifies nobody, and
    blocking on it would compare every pair of its thousands of records."""
    predict_chunks: int | None = Field(None, ge=1, le=64)
    """Score pairs in ``n x n`` chunks, each scored and written out before the next. None
    (the default) picks ``n`` from the records: one chunk up to
    :data:`~matching.scoring.PREDICT_CHUNK_RECORDS` records, then one more per that many.
    DuckDB builds a chunk's comparison vectors before it cuts them at the score floor, and
    spills what exceeds ``memory_limit``: at ten million records in one chunk that is more
    than 60 GB of temporary files, in sixteen chunks a sixteenth of it. On DuckDB the pairs
    are blocked once and a chunk reads its pairs and records from files partitioned by record,
    so each chunk costs little beyond its own pairs. The scores are the same whatever ``n``
    is. A Spark run whose driver blocks the pairs (``spark_training: duckdb``) scores them in
    one query instead, and Spark spills what its executors cannot hold."""
    waterfall_pairs: int = Field(20, ge=0, le=500)
    """Review pairs (a seeded sample) explained in the waterfall chart."""
    memory_limit: str = "4GB"
    """DuckDB memory limit for matching; beyond it DuckDB spills to disk."""
    threads: int | None = None
    """Threads for DuckDB (None: all cores)."""
    spark_master: str = "local[2]"
    """Spark master URL when ``engine`` is spark."""
    spark_driver_memory: str = "2g"
    """Driver memory for the local Spark session (ignored when a session already exists)."""
    spark_training: Literal["duckdb", "spark"] = "duckdb"
    """Where the work over records is done when ``engine`` is spark: ``duckdb`` (in the
    driver, on the features it already holds) or ``spark``. That work is training the model,
    counting the term frequencies and blocking the pairs. Training is a few hundred small
    queries over sampled pairs, whose cost on Spark is planning and code generation per query,
    not data: on one machine it was 95% of Spark's CPU, a fixed cost that no cluster shortens.
    Blocking is a self-join per rule, which DuckDB's hash joins do in seconds at a million
    records and Spark's sort-merge joins in about a minute of two cores. Scoring the pairs,
    the part that grows fastest, runs on Spark either way, with the same model. Choose
    ``spark`` only where the features do not fit in the driver."""
    spark_conf: dict[str, str | bool | int | float] = Field(default_factory=dict)
    """Further Spark settings for the session the match stage starts (``spark.executor.memory``,
    ``spark.sql.shuffle.partitions``...), applied last so they win over the stage's own. On a
    cluster, settings its operators own belong in ``spark-defaults.conf`` instead."""
    incremental: bool = True
    """Match incrementally when a previous run's match can be built on: only pairs that involve
    a new or changed record are scored (with that run's frozen model and term frequencies);
    every other pair is reused. False (or ``golden run --full-rebuild``) always scores every
    pair and trains afresh (unless a model is given)."""
    incremental_max_changed_fraction: float = Field(0.2, ge=0, le=1)
    """Largest share of records (new, changed and removed, over the current records) that an
    incremental match accepts; beyond it the full path runs, since scoring most pairs anew
    saves little and the model should then learn from the new data."""

    @field_validator("attributes")
    @classmethod
    def _attribute_names(cls, value: dict[str, AttributeConfig]) -> dict[str, AttributeConfig]:
        import re

        bad = sorted(name for name in value if not re.match(ATTRIBUTE_NAME, name))
        if bad:
            raise ValueError(
                f"attribute name(s) {bad}: use lower-case letters, digits and underscores"
            )
        return value

    @field_validator("spark_conf")
    @classmethod
    def _spark_keys(cls, value: dict[str, str | bool | int | float]) -> dict[str, str]:
        odd = sorted(key for key in value if not key.startswith("spark."))
        if odd:
            raise ValueError(f"Spark setting names start with 'spark.': {odd}")
        # Spark reads every setting as text; YAML's 16 and true become "16" and "true".
        return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}

    @model_validator(mode="after")
    def _band_below_threshold(self) -> MatchingConfig:
        if self.review_lower >= self.match_threshold:
            raise ValueError(
                f"review_lower ({self.review_lower}) must be below match_threshold "
                f"({self.match_threshold})"
            )
        return self
