"""English messages: the reference text every other language translates, id for id."""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # --- the workspace: frame and navigation ---
    "app.product": "golden records",
    "app.workspace": "stewards' workspace",
    "nav.customers": "Customers",
    "nav.review": "Match review",
    "nav.quality": "Quality",
    "nav.quarantine": "Quarantine",
    "nav.review_due": "Periodic review",
    "nav.decisions": "Decisions",
    "nav.logout": "Log out",
    "nav.language": "Language",
    "who.masked": ", masked values",
    "role.steward": "steward",
    "role.analyst": "analyst",
    "role.viewer": "viewer",
    "meta.published_run": "Published run {run}",
    "word.yes": "yes",
    "word.no": "no",
    "word.none": "None.",
    "word.and": "and",
    "form.reason": "reason",
    "form.reason_audit": "reason (kept in the audit trail)",
    "form.what_checked": "what was checked",
    "form.confirm": "Confirm",
    "form.back": "Back",
    "pager.previous": "previous",
    "pager.next": "next",
    # --- column headings shared by several pages ---
    "col.golden_id": "golden id",
    "col.name": "name",
    "col.email": "e-mail",
    "col.phone": "phone",
    "col.city": "city",
    "col.born": "born",
    "col.records": "records",
    "col.record": "record",
    "col.field": "field",
    "col.value": "value",
    "col.from": "from",
    "col.rule": "rule",
    "col.status": "status",
    "col.run": "run",
    "col.change": "change",
    "col.related_ids": "related golden ids",
    "col.decision": "decision",
    "col.when": "when (UTC)",
    "col.who": "who",
    "col.what": "what",
    "col.why": "why",
    "col.applies": "applies",
    "col.probability": "probability",
    "col.suite": "suite",
    "col.expectation": "expectation",
    "col.column": "column",
    "col.severity": "severity",
    "col.rows": "rows",
    "col.check": "check",
    "col.reason": "reason",
    # --- data terms shown in words ---
    "match_kind.golden_id": "golden id",
    "match_kind.absorbed_id": "absorbed golden id",
    "match_kind.email": "e-mail",
    "match_kind.phone": "phone",
    "match_kind.record_key": "record key",
    "match_kind.source_record_id": "source record id",
    "match_kind.name": "name",
    "change.created": "created",
    "change.kept": "kept",
    "change.merged": "merged",
    "change.split": "split",
    "change.absorbed": "absorbed",
    "change.retired": "retired",
    "severity.critical": "critical",
    "severity.warning": "warning",
    # --- login ---
    "login.title": "Log in",
    "login.name": "Name",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.accounts": "Accounts are made with",
    "login.throttled": "Too many failed attempts: wait a few minutes and try again.",
    "login.wrong": "Wrong name or password.",
    # --- search ---
    "search.title": "Customers",
    "search.heading": "Find a customer",
    "search.q_placeholder": "e-mail, phone (any format), record id, golden id, or name",
    "search.q_label": "search",
    "search.city_placeholder": "city (narrows names)",
    "search.city_label": "city",
    "search.birth_year": "birth year",
    "search.submit": "Search",
    "search.matched_by": "matched by",
    "search.none": "No customer matches “{q}”.",
    # --- customer ---
    "customer.heading": "Customer",
    "customer.records": "{count} source record(s)",
    "customer.cluster_view": "cluster view",
    "customer.confirmed": (
        "Confirmed: its periodic-review clock restarts ({count} due row(s) cleared)."
    ),
    "customer.recorded": "Decision recorded: it applies from the next run.",
    "customer.golden_record": "Golden record",
    "customer.pin": "Pin",
    "customer.pin_to": "to",
    "customer.pin_value": "canonical value",
    "customer.because": "because",
    "customer.pin_submit": "Pin value",
    "customer.profile": "Profile",
    "customer.source_records": "Source records",
    "customer.no_staged": (
        "The published run's staged records are not on disk; only lineage is shown."
    ),
    "customer.as_sent": "as the source sent it",
    "customer.split_out": "split out",
    "customer.split_submit": "Split out",
    "customer.legend_diff": "differs from the golden value",
    "customer.legend_raw": "raw value, where standardisation changed it",
    "customer.legend_invalid": "invalid in the source",
    "customer.history": "History",
    "customer.events": "Events over all runs",
    "customer.versions": "Values over time",
    "customer.no_changes": "No recorded changes.",
    "customer.review": "Review",
    "customer.due": "Due for periodic review",
    "customer.pairs_waiting": "Pairs awaiting a decision",
    "customer.nothing_waits": "Nothing awaits review.",
    "customer.confirm_label": "Confirm this customer as checked",
    "customer.not_found_title": "Not found",
    "customer.not_found": "No published customer has the golden id {id}.",
    # --- cluster ---
    "cluster.title": "Cluster {id}",
    "cluster.heading": "Cluster of",
    "cluster.records": "{count} record(s)",
    "cluster.threshold": "match threshold {threshold}",
    "cluster.recorded": "Recorded: the record leaves this customer from the next run.",
    "cluster.strength": "link strength",
    "cluster.move_out": "move out",
    "cluster.move_out_submit": "Move out",
    "cluster.links": "Links between them",
    "cluster.must_link": "steward must-link",
    "cluster.below": "below threshold",
    "cluster.no_pairs": "The published run's scored pairs are no longer on disk.",
    "cluster.no_links": "No scored links (a single record).",
    # --- match review ---
    "review.queue": ("Review queue of run {run}: {total} pair(s), {undecided} undecided."),
    "review.tab_review": "Review queue",
    "review.tab_training": "Suggested for training",
    "review.training_queue": (
        "Suggested for training by run {run}: {total} pair(s), {undecided} undecided."
    ),
    "review.training_order": (
        "The pairs whose label teaches the model most first: uncertain ones, spread over the "
        "kinds of evidence; the next run that trains learns from your decisions."
    ),
    "review.suggested_because": "Suggested for training: {reason} (evidence pattern {pattern})",
    "review.nothing_suggested": "Nothing suggested for training.",
    "review.skipped": "{count} skipped this session.",
    "review.order": "Most uncertain first.",
    "review.match_weight": "match weight",
    "review.shared": "Already share golden id",
    "review.apart": "Different golden ids:",
    "review.why_apart": "Why held apart:",
    "review.evidence": "Evidence (match weight, bits)",
    "review.default_reason": "reviewed side by side",
    "review.bulk_reason": "reviewed in bulk",
    "review.key": "keyboard: {key}",
    "review.link": "Link",
    "review.no_link": "Don't link",
    "review.skip": "Skip",
    "review.undo": "Undo {id}",
    "review.nothing": "Nothing to review.",
    "review.next": "Next in the queue",
    "review.select": "select {pair}",
    "review.link_ticked": "Link ticked",
    "review.no_link_ticked": "Don't link ticked",
    "review.recorded_one": "Recorded {id}: {describe}.",
    "review.recorded_many": "Recorded {count} {kind} decision(s).",
    "review.revoked": "Revoked {id}.",
    "review.nothing_to_undo": "Nothing to undo.",
    "review.tick_first": "Tick the pairs to decide first.",
    # --- decisions ---
    "decisions.heading": "Steward decisions",
    "decisions.revoke": "Revoke",
    "decisions.none": "No decisions yet.",
    "decisions.not_recorded": "Not recorded",
    "decisions.not_confirmed": "Not confirmed",
    "decisions.not_revoked": "Not revoked",
    # --- quality ---
    "quality.heading": "Quality by source",
    "quality.intro": "Validation results of every run kept in",
    "quality.data_docs": "Data Docs (validation report)",
    "quality.scorecard_report": "scorecard report",
    "quality.accepted_in": "accepted in run {run}",
    "quality.counts": (
        "{accepted} of {rows}; {quarantined} quarantined, {warned} warned; "
        "{failing} failing check(s)"
    ),
    "quality.quarantined_records": "quarantined records",
    "quality.failing": "Failing checks in the latest run",
    "quality.scorecards": "Scorecards",
    "quality.scorecard_intro": "Per-source overall score (0–100) over runs, from",
    "quality.per_field": "Per field, latest run",
    "quality.no_scorecard": "No scorecard table is published in this warehouse yet:",
    "quality.scorecard_empty": "The scorecard table is empty.",
    "quarantine.all": "all",
    "quarantine.show": "Show",
    "quarantine.total": "{count} rejected record check(s) in published run {run}",
    "quarantine.showing": "showing {first}–{last}",
    "quarantine.none": "Nothing is quarantined.",
    "due.confirmed": "Confirmed: {count} row(s) cleared.",
    "due.missing": (
        "No review_due list exists in this warehouse yet: the maintenance DAG makes it, or"
    ),
    "due.total": "{count} row(s) due, most urgent first.",
    "due.first_shown": "The first {count} are shown.",
    "due.explain": "Confirming a record or customer restarts its review clock and clears its rows.",
    "due.none": "Nothing is due for review.",
    "published.none_title": "Nothing published yet",
    # --- the run summary (golden run) ---
    "summary.run": "Run {run}",
    "summary.col.source": "source",
    "summary.col.rows_in": "rows in",
    "summary.col.rejected": "rejected",
    "summary.col.current": "current",
    "summary.col.accepted": "accepted",
    "summary.col.quarantined": "quarant.",
    "summary.col.warned": "warned",
    "summary.col.reconciled": "reconciled",
    "summary.col.new": "new",
    "summary.col.behind_wm": "behind wm",
    "summary.col.changed": "changed",
    "summary.col.deleted": "deleted",
    "summary.col.retired": "retired",
    "summary.col.in_review": "in review",
    "summary.col.field": "field",
    "summary.col.standardised": "standardised",
    "summary.col.invalid": "invalid",
    "summary.col.empty": "empty",
    "summary.yes": "yes",
    "summary.no": "NO",
    "summary.suppressed": (
        "{count} row(s) of erased subjects suppressed at ingest (read, never landed)"
    ),
    "summary.rejected": "rejected {count}: {reason} (first at {where})",
    "summary.rejected_other": (
        "rejected {count} for other reasons (quarantine table, expectation rejected_at_ingest)"
    ),
    "summary.new_columns": "new columns (schema drift): {columns}",
    "summary.staged": (
        "staged records: {staged}  accepted: {accepted}  quarantined: {quarantined}"
    ),
    "summary.matched": (
        "matched records: {records}  pairs scored: {pairs}  clusters: {clusters}  "
        "pairs for review: {review}"
    ),
    "summary.model": "  model: {line}",
    "summary.golden": "golden records: {count}",
    "summary.golden_ids": "  (ids: {ids})",
    "summary.list_sep": ", ",
    "summary.colon": ":",
    "summary.at.data_docs": "validation report",
    "summary.at.golden_tables": "golden tables",
    "summary.at.duckdb": "DuckDB database",
    "summary.at.scorecard": "quality scorecard",
    "summary.at.backup": "backup",
    "summary.at.run_folder": "run folder",
    "summary.no_backup": (
        "none: no backup bucket configured (backup.bucket), or backup.enabled is false"
    ),
    "summary.failed": "FAILED {stage}: {error}",
    "summary.not_reconciled": (
        "WARNING: row counts do not reconcile (in != accepted + quarantined)"
    ),
    # --- Data Docs (pipelines/validate/report_pages.py) ---
    "docs.title": "Data Docs: validations",
    "docs.validations": "Validations",
    "docs.all_validations": "All validations",
    "docs.index_intro": "Every validation kept, newest run first.",
    "docs.severity_explained": (
        "Critical rules quarantine the failing rows; warning rules count them and let them pass."
    ),
    "docs.suite_intro": "What should hold for every batch this suite validates.",
    "docs.suites": "Suites",
    "docs.suite": "Suite {name}",
    "docs.suite_on": "Suite {suite} on {asset}",
    "docs.page_title": "{suite} on {asset}, run {run}",
    "docs.suite_rules": "the suite's rules",
    "docs.col.run": "Run",
    "docs.col.suite": "Suite",
    "docs.col.batch": "Batch",
    "docs.col.status": "Status",
    "docs.col.rows_in": "Rows in",
    "docs.col.accepted": "Accepted",
    "docs.col.quarantined": "Quarantined",
    "docs.col.warned": "Warned",
    "docs.col.rejected_at_ingest": "Rejected at ingest",
    "docs.col.rules": "Rules",
    "docs.col.critical_failed": "Critical rules failed",
    "docs.col.warning_failed": "Warning rules failed",
    "docs.col.severity": "Severity",
    "docs.col.column": "Column",
    "docs.col.rule": "Rule",
    "docs.col.when_fails": "When it fails",
    "docs.col.result": "Result",
    "docs.col.failing_values": "Failing values",
    "docs.col.failing_keys": "Record keys of failing rows",
    "docs.col.file": "File",
    "docs.col.line": "Line",
    "docs.col.reason": "Reason",
    "docs.status.passed": "Passed",
    "docs.status.warning": "Passed with warnings",
    "docs.status.failed": "Failed",
    "docs.rule_status.passed": "passed",
    "docs.rule_status.warning": "warning",
    "docs.rule_status.failed": "failed",
    "docs.more_keys": "and {count} more",
    "docs.rejects_heading": "Rows rejected at ingest ({count})",
    "docs.rejects_intro": (
        "Rows the source sent that could not be landed; they are in the quarantine table "
        "under the expectation rejected_at_ingest:"
    ),
    "docs.more_rejects": "{count} more in the quarantine table.",
    "docs.no_value": "no value",
    "docs.no_rows": "no rows",
    "docs.empty_value": "(empty)",
    "docs.outcome.fail": "{failing} of {total} rows fail ({percent})",
    "docs.outcome.none_fail": "none of the {total} rows fails",
    "docs.outcome.missing": "; {count} empty, which this rule does not judge",
    "docs.outcome.nothing_observed": "no value observed",
    "docs.outcome.proportion": "{percent} of rows have a value",
    "docs.outcome.rows": "{count} rows",
    "docs.outcome.observed": "observed {value}",
    "docs.outcome.error": "could not be evaluated: {error}",
    "docs.only_where": " (rows where {column} is {value})",
    # Sentences made from an expectation type, for pages in a language the suite has no text
    # in (English pages keep the suite's own English wording).
    "docs.rule.expect_column_values_to_not_be_null": "Every record has a {column}.",
    "docs.rule.expect_column_values_to_be_null": "{column} is empty.",
    "docs.rule.expect_column_values_to_be_unique": "Each {column} appears once in the batch.",
    "docs.rule.expect_compound_columns_to_be_unique": (
        "Each combination of {column_list} is unique."
    ),
    "docs.rule.expect_column_values_to_match_regex": "A given {column} matches {regex}.",
    "docs.rule.expect_column_values_to_not_match_regex": (
        "A given {column} does not match the forbidden pattern {regex}."
    ),
    "docs.rule.expect_column_values_to_be_in_set": "A given {column} is one of the allowed values.",
    "docs.rule.expect_column_values_to_not_be_in_set": (
        "A given {column} is none of the forbidden values."
    ),
    "docs.rule.expect_column_value_lengths_to_be_between": (
        "A given {column} is {min_value} to {max_value} characters long."
    ),
    "docs.rule.expect_column_values_to_be_between": (
        "A given {column} lies between {min_value} and {max_value}."
    ),
    "docs.rule.expect_column_values_to_match_strftime_format": (
        "A given {column} is a date written as {strftime_format}."
    ),
    "docs.rule.expect_column_values_to_be_dateutil_parseable": (
        "A given {column} is a readable date."
    ),
    "docs.rule.expect_table_row_count_to_be_between": (
        "The batch holds {min_value} to {max_value} records."
    ),
    "docs.rule.expect_column_pair_values_a_to_be_greater_than_b": (
        "{column_A} is not earlier or smaller than {column_B}."
    ),
    "docs.rule.expect_column_proportion_of_non_null_values_to_be_between": (
        "The share of records with a {column} is at least {min_value}."
    ),
    "docs.problem.expect_column_values_to_not_be_null": "The {column} is empty.",
    "docs.problem.expect_column_values_to_be_null": "The {column} has a value where none belongs.",
    "docs.problem.expect_column_values_to_be_unique": (
        "Another record in this batch has the same {column}."
    ),
    "docs.problem.expect_compound_columns_to_be_unique": (
        "Another record has the same combination of {column_list}."
    ),
    "docs.problem.expect_column_values_to_match_regex": "The {column} does not match {regex}.",
    "docs.problem.expect_column_values_to_not_match_regex": (
        "The {column} matches the forbidden pattern {regex}."
    ),
    "docs.problem.expect_column_values_to_be_in_set": "The {column} is not an allowed value.",
    "docs.problem.expect_column_values_to_not_be_in_set": "The {column} is a forbidden value.",
    "docs.problem.expect_column_value_lengths_to_be_between": (
        "The {column} is not {min_value} to {max_value} characters long."
    ),
    "docs.problem.expect_column_values_to_be_between": (
        "The {column} lies outside {min_value} to {max_value}."
    ),
    "docs.problem.expect_column_values_to_match_strftime_format": (
        "The {column} is not a date written as {strftime_format}."
    ),
    "docs.problem.expect_column_values_to_be_dateutil_parseable": (
        "The {column} is not a readable date."
    ),
    "docs.problem.expect_table_row_count_to_be_between": (
        "The batch does not hold {min_value} to {max_value} records: check the extract before "
        "trusting this run."
    ),
    "docs.problem.expect_column_pair_values_a_to_be_greater_than_b": (
        "{column_A} is earlier or smaller than {column_B}."
    ),
    "docs.problem.expect_column_proportion_of_non_null_values_to_be_between": (
        "Fewer records than {min_value} of them have a {column}: the extract may have lost "
        "the column."
    ),
    # --- the scorecard report (pipelines/scorecard/report.py) ---
    "scorecard.title": "Data quality scorecard",
    "scorecard.intro": (
        "Overall score per source and run: 100 × ({formula}), the mean over the fields the "
        "source supplies. Measures per field are in the published table"
    ),
    "scorecard.no_runs": "No run has been scored yet.",
    "scorecard.latest": "Latest run {run}",
    "scorecard.chart_label": "overall score per source over runs",
    "scorecard.col.source": "source",
    "scorecard.col.field": "field",
    "scorecard.col.records": "records",
    "scorecard.col.completeness": "completeness",
    "scorecard.col.validity": "validity",
    "scorecard.col.uniqueness": "uniqueness",
    "scorecard.col.agreement": "agreement",
    "scorecard.col.freshness": "freshness",
    "scorecard.col.score": "score",
    # --- a golden field's backing (workspace/service.py) ---
    "field.pinned": "pinned by a steward",
    "field.no_source": "no source has it",
    "field.chosen": "chosen",
    "field.disagree": "sources disagree ({count} values)",
    "field.agree": "all sources agree",
    "field.single": "single source",
    "field.some": "{given} of {records} sources have it",
    "field.none_chosen": "; none chosen",
    "customer.raw": "raw",
    "chart.accepted": "accepted",
    "chart.score": "score",
    "chart.label": "{measure} of {name} over runs",
}
