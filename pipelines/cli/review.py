"""``golden review ...``: the steward's side of matching and survivorship.

Stewards read the uncertain pairs of the latest run (most uncertain first, both records side by
side), decide them (must-link / cannot-link), pin field values on golden records, list what has
been decided and revoke it. Decisions go to ``state/decisions.jsonl`` with who, when and why and
apply from the next run on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from pipelines.cli._common import (
    ACTOR_OPTION,
    CONFIG_OPTION,
    WAIT_OPTION,
    WAREHOUSE_OPTION,
    actor_name,
    hold_lock,
    load,
)
from pipelines.cli._review_due import register as register_due
from pipelines.errors import GoldenError, UsageError
from pipelines.i18n import Translator

if TYPE_CHECKING:
    import polars as pl

    from matching.decisions import Decision, DecisionStore
    from pipelines.warehouse import Warehouse

REASON_OPTION = typer.Option(..., "--reason", help="Why: kept with the decision for the audit.")
_WIDTH = 34


def _open(config: Path, warehouse: Path | None) -> tuple[Warehouse, Translator]:
    """The config's warehouse, and the words to print in: the config's ``language``, or with
    ``auto`` the terminal's locale, as ``golden run`` chooses."""
    from pipelines.i18n import choose
    from pipelines.warehouse import Warehouse

    cfg = load(config, warehouse)
    return Warehouse(cfg.warehouse.path), Translator(choose(cfg.language, ask_environment=True))


def _store(wh: Warehouse) -> DecisionStore:
    from matching.decisions import DecisionStore

    return DecisionStore(wh.decisions)


def _latest(wh: Warehouse, relative: str, produced_by: str) -> tuple[str, Path]:
    from pipelines.stewardship import latest_run_file

    return latest_run_file(wh, relative, produced_by)


def _decision_error(exc: Exception) -> GoldenError:
    return UsageError(str(exc))


def _columns(char: str) -> int:
    """Terminal columns of one character: East Asian wide and full-width characters take two."""
    import unicodedata

    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _cell(value: Any, width: int = _WIDTH) -> str:
    """``value`` cut and padded to ``width`` terminal columns (so 王小明 lines up with Ann)."""
    text = "" if value is None else str(value).replace("\n", " ").replace("\t", " ")
    used, kept = 0, []
    for char in text:
        if used + _columns(char) > width:
            while kept and used + 1 > width:  # room for the ellipsis
                used -= _columns(kept.pop())
            kept.append("…")
            used += 1
            break
        kept.append(char)
        used += _columns(char)
    return "".join(kept) + " " * (width - used)


def _evidence(weights: str | None) -> str:
    """The comparisons that pushed the score most, strongest first."""
    if not weights:
        return ""
    try:
        parsed = json.loads(weights)
    except json.JSONDecodeError:
        return weights
    if not isinstance(parsed, dict):
        return weights
    numeric = {k: v for k, v in parsed.items() if isinstance(v, int | float)}
    ranked = sorted(numeric.items(), key=lambda kv: -abs(kv[1]))
    return ", ".join(f"{name} {value:+.1f}" for name, value in ranked)


def _pair_key(left: str, right: str) -> tuple[str, str]:
    return (left, right) if left <= right else (right, left)


def _queue(path: Path) -> pl.DataFrame:
    import polars as pl

    try:
        queue = pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise GoldenError(f"{path} is not a readable Parquet file: {exc}") from None
    required = ("record_key_l", "record_key_r", "match_probability")
    missing = [c for c in required if c not in queue.columns]
    if missing:
        raise GoldenError(f"{path} lacks column(s) {missing}: rerun the match stage")
    return queue.sort(
        (pl.col("match_probability") - 0.5).abs(), "record_key_l", "record_key_r", nulls_last=True
    )


def _print_pairs(
    frame: pl.DataFrame,
    rows: list[dict[str, Any]],
    decided: dict[tuple[str, str], str],
    t: Translator,
) -> None:
    """Each pair of ``rows`` with both records side by side, its score, evidence and the
    command that decides it."""
    fields = sorted(
        {c[:-2] for c in frame.columns if c.endswith("_l")} - {"record_key"},
        key=lambda f: [*frame.columns].index(f"{f}_l"),
    )
    for number, row in enumerate(rows, start=1):
        left, right = row["record_key_l"], row["record_key_r"]
        weight = row.get("match_weight")
        probability = row.get("match_probability")
        score = f"p={probability:.3f}" if probability is not None else ""
        score += f"  weight={weight:+.2f}" if weight is not None else ""
        if row.get("suggested_because"):
            from matching.active import suggestion_code

            because = t.term("training.because", suggestion_code(row["suggested_because"]))
            score += f"  ({because})"
        status = decided.get(_pair_key(left, right))
        print()
        decided_mark = t("cli.review.decided", kind=t.term("decision_kind", status))
        print(f"#{row.get('rank') or number}  {score}" + (f"  {decided_mark}" if status else ""))
        print(f"  {_cell(t('cli.review.field'), 16)}{_cell(left)}  {_cell(right).rstrip()}")
        for field in fields:
            lv, rv = row.get(f"{field}_l"), row.get(f"{field}_r")
            if lv is None and rv is None:
                continue
            mark = " " if lv == rv else "≠"
            print(f"{mark} {field:<16}{_cell(lv)}  {_cell(rv).rstrip()}")
        evidence = _evidence(row.get("weights"))
        if evidence:
            print(t("cli.review.evidence", evidence=evidence))
        print(t("cli.review.decide_hint", left=left, right=right))


def _decided(wh: Warehouse) -> dict[tuple[str, str], str]:
    """Active link decisions by pair."""
    try:
        must, cannot = _store(wh).links()
    except ValueError as exc:
        raise _decision_error(exc) from None
    decided = {_pair_key(*p): "must_link" for p in must}
    decided |= {_pair_key(*p): "cannot_link" for p in cannot}
    return decided


def _describe(decision: Decision, t: Translator) -> str:
    when = f"{decision.decided_at:%Y-%m-%d %H:%M}Z"
    return (
        f"{decision.decision_id:<14} {when:<18} {decision.actor:<12} {t.say([decision.message()])}"
    )


def _recorded(written: Any, t: Translator) -> str:
    """A recorded decision, as ``golden review decide | pin`` confirm it."""
    describe = t.say([written.message]) if written.message else written.description
    return t("cli.recorded", id=written.decision_id, describe=describe)


def register(app: typer.Typer) -> None:
    review = typer.Typer(
        help=(
            "Steward review: uncertain pairs, link decisions, pinned values, records due for "
            "periodic review."
        ),
        no_args_is_help=True,
    )
    app.add_typer(review, name="review")
    register_due(review)

    @review.command("list")
    def list_(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        limit: int = typer.Option(20, "--limit", "-n", min=1, help="Pairs to show."),
        show_decided: bool = typer.Option(
            False, "--all", help="Also show pairs that already have an active decision."
        ),
    ) -> None:
        """The latest run's review queue, most uncertain first, both records side by side."""
        wh, t = _open(config, warehouse)
        run_id, path = _latest(wh, "match/review_queue.parquet", "match")
        queue = _queue(path)
        decided = _decided(wh)
        rows = queue.to_dicts()
        pending = [
            r for r in rows if _pair_key(r["record_key_l"], r["record_key_r"]) not in decided
        ]
        shown = rows if show_decided else pending
        print(t("cli.review.queue", run=run_id, total=len(rows), undecided=len(pending), path=path))
        if not shown:
            print(t("cli.review.nothing"))
            return
        _print_pairs(queue, shown[:limit], decided, t)
        if len(shown) > limit:
            print("\n" + t("cli.review.more", count=len(shown) - limit))

    @review.command("suggest")
    def suggest(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        limit: int = typer.Option(10, "--limit", "-n", min=1, help="Pairs to show."),
    ) -> None:
        """The pairs whose label would teach the model most (active learning), best first.

        Ranked by the latest run: pairs the model is least sure of, near misses below the
        review band included, spread over the kinds of evidence they show. Decide them like
        any pair (``golden review decide``); the next run that trains learns from them."""
        import polars as pl

        from matching.layout import TRAINING_PAIRS_FILE

        wh, t = _open(config, warehouse)
        run_id, path = _latest(wh, f"match/{TRAINING_PAIRS_FILE}", "match")
        try:
            suggested = pl.read_parquet(path).sort("rank")
        except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear error
            raise GoldenError(f"{path} is not a readable Parquet file: {exc}") from None
        decided = _decided(wh)
        pending = [
            r
            for r in suggested.to_dicts()
            if _pair_key(r["record_key_l"], r["record_key_r"]) not in decided
        ]
        print(
            t(
                "cli.suggest.header",
                run=run_id,
                undecided=len(pending),
                total=suggested.height,
                path=path,
            )
        )
        if not pending:
            print(t("cli.suggest.nothing"))
            return
        _print_pairs(suggested, pending[:limit], decided, t)
        if len(pending) > limit:
            print("\n" + t("cli.review.more", count=len(pending) - limit))

    @review.command("decide")
    def decide(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        left: str = typer.Option(..., "--left", help="Record key of one record."),
        right: str = typer.Option(..., "--right", help="Record key of the other record."),
        link: bool = typer.Option(
            ..., "--link/--no-link", help="Same customer (must-link) or not (cannot-link)."
        ),
        reason: str = REASON_OPTION,
        actor: str | None = ACTOR_OPTION,
        wait: float = WAIT_OPTION,
    ) -> None:
        """Record that two records are (--link) or are not (--no-link) the same customer."""
        from pipelines.stewardship import Link, write_decisions

        hold_lock(wait)  # a decision waits for, or is refused by, a run in progress

        wh, t = _open(config, warehouse)
        (written,) = write_decisions(wh.root, [Link(left, right, link)], actor_name(actor), reason)
        print(_recorded(written, t))

    @review.command("pin")
    def pin(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        golden_id: str = typer.Option(..., "--golden-id", help="Published golden id."),
        field: str = typer.Option(..., "--field", help="Golden field to pin, e.g. email."),
        value: str = typer.Option(..., "--value", help="Value in canonical form."),
        reason: str = REASON_OPTION,
        actor: str | None = ACTOR_OPTION,
        wait: float = WAIT_OPTION,
    ) -> None:
        """Pin a field of a golden record: it wins over every source from the next run on."""
        from pipelines.stewardship import Pin, write_decisions

        hold_lock(wait)  # a decision waits for, or is refused by, a run in progress

        wh, t = _open(config, warehouse)
        (written,) = write_decisions(
            wh.root, [Pin(golden_id, field, value)], actor_name(actor), reason
        )
        print(_recorded(written, t))
        for old_id, old_value in written.supersedes:
            print(t("cli.supersedes", id=old_id, value=old_value))

    @review.command("decisions")
    def decisions(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        history: bool = typer.Option(
            False, "--history", help="Every decision ever recorded, revocations included."
        ),
    ) -> None:
        """List the active steward decisions (oldest first)."""
        wh, t = _open(config, warehouse)
        store = _store(wh)
        try:
            listed = store.history() if history else store.active()
        except ValueError as exc:
            raise _decision_error(exc) from None
        if not listed:
            print(t("cli.no_decisions") if history else t("cli.no_active_decisions"))
            return
        print(
            f"{_cell(t('cli.decisions.id'), 14)} {_cell(t('cli.decisions.when'), 18)} "
            f"{_cell(t('cli.decisions.actor'), 12)} {t('cli.decisions.what')}"
        )
        for decision in listed:
            print(f"{_describe(decision, t)} — {decision.reason}")

    @review.command("revoke")
    def revoke(
        decision_id: str = typer.Argument(..., help="Decision id, as listed by `decisions`."),
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        reason: str = REASON_OPTION,
        actor: str | None = ACTOR_OPTION,
        wait: float = WAIT_OPTION,
    ) -> None:
        """Withdraw a decision; it stays on file, and stops applying from the next run."""
        from pipelines.stewardship import Revoke, write_decisions

        hold_lock(wait)  # a decision waits for, or is refused by, a run in progress

        wh, t = _open(config, warehouse)
        (written,) = write_decisions(wh.root, [Revoke(decision_id)], actor_name(actor), reason)
        print(t("cli.revoked", id=written.decision_id, revokes=decision_id))
