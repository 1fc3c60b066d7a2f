"""``customer_profile``: segment-ready attributes per golden id, derived from the golden record
and its records only (no new personal data). See :func:`pipelines.profile.build.build_profile`."""
