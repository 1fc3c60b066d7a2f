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
    # --- why a review pair is apart (workspace/service.py::pair) ---
    "why.shared": "they already share a golden id: clustering linked them through other records",
    "why.held_apart": (
        "scored {probability}, above the match threshold {threshold}, but clustering kept "
        "them apart"
    ),
    "why.held_apart_unknown": (
        ": joining them would put records a cannot-link or a conflicting identifier keeps "
        "apart into one customer"
    ),
    "why.below": "scored {probability}, below the match threshold {threshold}",
    "why.no_score": "no score",
    "why.held_apart_by": "Kept apart by:",
    "why.cannot_link": "steward cannot-link {decision} between {left} and {right} ({actor})",
    "why.conflict": "{left} and {right} disagree on {field} ({value_l} vs {value_r})",
    # --- the run lock ---
    "lock.no_lease": (
        "pipeline run {run} holds no lease on the warehouse {root} (start_run takes it; was it "
        "broken with `golden lock break`?): rerun the DAG from start_run"
    ),
    "lock.leased": (
        "the warehouse {root} is leased by {holder}, not by pipeline run {run}: one run at a "
        "time; wait for that run, or if it is dead run `golden lock break`"
    ),
    "lock.in_use": (
        "{command} cannot start: the warehouse {root} is in use by {holder}. One run, restore, "
        "erasure or steward write at a time: wait for it (--wait SECONDS), or see "
        "`golden lock status`"
    ),
    "lock.in_use_after_wait": (
        "{command} cannot start after waiting {wait:g}s: the warehouse {root} is in use by "
        "{holder}. One run, restore, erasure or steward write at a time: wait for it "
        "(--wait SECONDS), or see `golden lock status`"
    ),
    "cli.error": "error: {message}",
    # --- the evidence waterfall ---
    "waterfall.prior": "prior",
    "waterfall.total": "match weight",
    # --- why a pair is suggested for training (matching/active.py) ---
    "training.because.review_band": "review band",
    "training.because.linked_near_threshold": "linked, near the threshold",
    "training.because.below_review_band": "just below the review band",
    # --- steward decisions described (matching/decisions.py, pipelines/stewardship.py) ---
    "decision.must_link": "must_link {left} ~ {right}",
    "decision.cannot_link": "cannot_link {left} ~ {right}",
    "decision.pin": "pin {golden_id}.{field} = {value!r}",
    "decision.revoke": "revoke {revokes}",
    "decision.revoked": "revoked {revokes}",
    "decision_kind.must_link": "must_link",
    "decision_kind.cannot_link": "cannot_link",
    "decision_kind.pin": "pin",
    "decision_kind.revoke": "revoke",
    # --- refusals a steward can meet (pipelines/stewardship.py, matching/decisions.py) ---
    "error.reason_needed": "a decision needs a reason (kept with it for the audit trail)",
    "error.actor_needed": "a decision needs the name of who makes it",
    "error.no_run_file": (
        "no run in {root} has {relative} yet: run the pipeline (golden run) up to the "
        "'{stage}' stage first"
    ),
    "error.unknown_record_keys": (
        "record key(s) {keys} are not among the accepted records of run {run} ({path}); "
        "record keys look like '<source>:<id>', as in `golden review list`"
    ),
    "error.not_golden_field": "{field!r} is not a golden field; fields are {fields}",
    "error.bad_date": "date_of_birth {value!r} is not a YYYY-MM-DD date",
    "error.bad_email": "email {value!r} is not valid: {error}",
    "error.not_canonical.phone": (
        "phone {value!r} is not in canonical form: use E.164, e.g. +442079460000"
    ),
    "error.not_canonical.country": (
        "country {value!r} is not in canonical form: use an ISO 3166-1 alpha-2 code, e.g. GB"
    ),
    "error.not_canonical.phone_extension": (
        "phone_extension {value!r} is not in canonical form: use digits only"
    ),
    "error.no_registry": "no golden ids are published yet ({path} does not exist)",
    "error.merged_into": "{golden_id} was merged into {survivor}: pin {survivor} instead",
    "error.unknown_golden_id": "golden id {golden_id} is not in the published registry {path}",
    "error.unknown_target": (
        "{target!r} is neither a record key nor a golden id of the published tables in {root}"
    ),
    "error.already_recorded": " (already recorded: {ids})",
    "error.no_decision": "no decision {decision_id!r} in {path}",
    "error.revoke_revocation": (
        "{decision_id} is itself a revocation; record the decision again instead"
    ),
    "error.already_revoked": "{decision_id} was already revoked by {revoked_by}",
    "error.link_exists": (
        "{left} and {right} already have an active {existing} ({existing_id}); revoke it "
        "before recording a {kind}"
    ),
    "error.contradiction": (
        "a {kind} of {left} and {right} would contradict {broken}: active must-links would "
        "join records a cannot-link keeps apart; revoke one first"
    ),
    "error.new_cannot_link_contradiction": (
        "a {kind} of {left} and {right} would contradict the new cannot-link: active "
        "must-links would join records a cannot-link keeps apart; revoke one first"
    ),
    "error.same_record": "a {kind} needs two different records",
    "error.not_a_record_of": "{record_key} is not a record of {golden_id}",
    "error.only_record": "{record_key} is the only record of {golden_id}: nothing to split",
    "error.not_published": (
        "nothing is published in {root} yet ({path} does not exist): run the pipeline "
        "(golden run) first"
    ),
    # --- refusals of the workspace's pages (workspace/app.py) ---
    "error.csrf": "missing or wrong CSRF token: reload the page",
    "error.cannot_decide": "role {role} cannot record decisions",
    "error.login_expired": "the login form expired or was not ours: reload it",
    "error.unknown_language": "no language {code!r}; use one of {languages}",
    "error.unknown_decision": "unknown decision {decision!r}",
    "error.reports_unmasked": "the reports show unmasked values; ask a steward or viewer",
    "error.no_report": "no such report",
    "error.no_chart": "no such chart",
    "error.not_a_pair": "a ticked pair is not a pair of record keys",
    "error.not_found": "there is no such page",
    "error.title": "Cannot do that",
    "error.title.400": "Cannot do that",
    "error.title.403": "Not allowed",
    "error.title.404": "Not found",
    # --- match charts (runs/<id>/match/charts) ---
    "charts.link": "match model charts",
    "charts.heading": "Match model charts",
    "charts.intro": (
        "Splink's charts of each run's match model: the weight of every comparison level, "
        "their m and u probabilities, and how sampled review pairs' scores add up. The "
        "waterfall shows compared values unmasked."
    ),
    "charts.none": "No run has match charts on disk.",
    "charts.run": "Run {run}",
    "charts.served": "(published)",
    "charts.name.match_weights": "match weights of every comparison level",
    "charts.name.m_u_parameters": "m and u probabilities",
    "charts.name.waterfall": "how sampled review pairs' scores add up",
    # --- data codes in words: columns, rules, reasons, events ---
    "column.golden_id": "golden id",
    "column.record_key": "record key",
    "column.source_system": "source",
    "column.reason": "reason",
    "column.field": "field",
    "column.detail": "detail",
    "column.priority": "priority",
    "column.since": "since",
    "column.last_confirmed_at": "last confirmed",
    "column.refreshed_at": "refreshed",
    "column.run_id": "run",
    "column.at": "at",
    "column.event": "event",
    "column.related_golden_ids": "related golden ids",
    "column.record_count": "records",
    "column.changed_fields": "changed fields",
    "column.version": "version",
    "column.valid_from_run": "from run",
    "column.valid_to_run": "to run",
    "column.valid_from": "valid from",
    "column.valid_to": "valid to",
    "column.opened_by": "opened by",
    "column.closed_by": "closed by",
    "column.name_prefix": "name prefix",
    "column.first_name": "first name",
    "column.middle_name": "middle name",
    "column.last_name": "last name",
    "column.name_suffix": "name suffix",
    "column.full_name": "full name",
    "column.email": "e-mail",
    "column.phone": "phone",
    "column.phone_extension": "phone extension",
    "column.address_line1": "address line 1",
    "column.address_line2": "address line 2",
    "column.city": "city",
    "column.region": "region",
    "column.postcode": "postcode",
    "column.country": "country",
    "column.date_of_birth": "date of birth",
    "column.middle_initial": "middle initial",
    "column.address": "address",
    "column.house_number": "house number",
    "due_reason.stale": "not checked for a long time",
    "due_reason.invalid_contact": "invalid contact in recent runs",
    "due_reason.conflicting_sources": "sources disagree",
    "due_reason.placeholder_value": "placeholder value",
    "due_reason.absorbed_id_sent": "a source sends a merged-away golden id",
    "rule.valid_first": "valid values first",
    "rule.filled_first": "most filled first",
    "rule.agreement": "most records agree",
    "rule.full_form": "full form",
    "rule.latest_value": "latest value",
    "rule.trust_rank": "most trusted source",
    "rule.most_recent": "most recent",
    "rule.most_complete": "most complete record",
    "rule.most_frequent": "most frequent",
    "rule.longest": "longest",
    "rule.only_value": "only value",
    "rule.unanimous": "unanimous",
    "rule.record_key": "tie broken by record key",
    "rule.steward_pin": "pinned by a steward",
    "rule.swapped_names": "swapped names",
    "change.changed": "changed",
    "change.erased": "erased",
    # --- golden review / golden users (pipelines/cli) ---
    "cli.review.queue": (
        "review queue of run {run}: {total} pair(s), {undecided} undecided; most uncertain "
        "first ({path})"
    ),
    "cli.review.nothing": "nothing to review",
    "cli.review.more": "… {count} more (use --limit)",
    "cli.review.field": "field",
    "cli.review.decided": "[decided: {kind}]",
    "cli.review.evidence": "  evidence: {evidence}",
    "cli.review.decide_hint": (
        "  decide: golden review decide --left {left} --right {right} --link|--no-link "
        '--reason "..."'
    ),
    "cli.suggest.header": (
        "pairs to label from run {run}: {undecided} undecided of {total} suggested; each "
        "label teaches the model from the next training run ({path})"
    ),
    "cli.suggest.nothing": "nothing to label",
    "cli.recorded": "recorded {id}: {describe} (applies from the next run)",
    "cli.supersedes": "  supersedes {id} ({value!r}); revoke it to tidy the list",
    "cli.no_decisions": "no decisions",
    "cli.no_active_decisions": "no active decisions",
    "cli.decisions.id": "decision",
    "cli.decisions.when": "decided (UTC)",
    "cli.decisions.actor": "actor",
    "cli.decisions.what": "decision — reason",
    "cli.revoked": "recorded {id}: revoked {revokes}",
    "cli.due.refreshed": "review_due refreshed {at} from run {run}: {count} row(s){counts}",
    "cli.due.nothing": "nothing is due",
    "cli.due.col.priority": "pri",
    "cli.due.col.reason": "reason",
    "cli.due.col.golden_id": "golden_id",
    "cli.due.col.record_key": "record_key",
    "cli.due.col.field": "field",
    "cli.due.col.since": "since",
    "cli.due.col.detail": "detail",
    "cli.due.confirm_hint": (
        'confirm one: golden review confirm <golden_id|record_key> --reason "..."'
    ),
    "cli.confirmed": "confirmed {target} at {at}; {count} review_due row(s) cleared",
    "cli.users.password": "password: ",
    "cli.users.again": "again: ",
    "cli.users.added": "added {name} ({role}) to {path}",
    "cli.users.removed": "removed {name}",
    "cli.users.removed_sessions": "removed {name} and ended {count} session(s)",
    "cli.users.none": "no users",
    "cli.users.row": "{name} {role} since {created}  tokens: {tokens}",
    "cli.users.no_tokens": "no tokens",
}
