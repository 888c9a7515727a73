"""The machinery that reproduces the paper, apart from the library it reproduces (:mod:`s2d`).

:mod:`~s2d.repro.plan` says which models each table needs, :mod:`~s2d.repro.cache` trains
and evaluates each once, :mod:`~s2d.repro.tables` computes the paper's tables and
:mod:`~s2d.repro.table_result` presents them beside the paper's numbers
(:mod:`~s2d.repro.paper`) with a verdict on each claim (:mod:`~s2d.repro.claims`);
:mod:`~s2d.repro.figures`, :mod:`~s2d.repro.ratings` and :mod:`~s2d.repro.bench` make the
book's figures, its blind rating widget and ``make bench``; :mod:`~s2d.repro.reproduce` is
``make reproduce``. Nothing in the library imports this package.
"""
