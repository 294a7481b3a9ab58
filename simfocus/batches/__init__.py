"""Batch studies: a matrix of concept variants x panels x modes x repeats, expanded into
many discussions (``loader``), and the aggregate report over their results
(``aggregate``, ``aggregate_exports``).

Everything here is pure: no Ray, web or database imports. The runner that executes the
groups lives elsewhere and only consumes :func:`expand` and produces
:class:`~simfocus.batches.aggregate.GroupResult` values.
"""
