"""Benchmarks and evaluations: each module measures one thing and is one command of
``python -m lina_core`` (:data:`lina_core.__main__.MODULE_COMMANDS`, or a command defined there).

:mod:`.methods` (``bench``: the LINA benchmark read off the candidate grid), :mod:`.evaluate`
(``eval``: a model's samples judged by the verifier), :mod:`.relational`
(``relational-report``), :mod:`.loop`, :mod:`.loop_video`, :mod:`.loop_replay` and
:mod:`.loop_report` (``bench-loop``: LINA's loop measured), :mod:`.engine` (``bench-engine``),
:mod:`.model` (``bench-model``), :mod:`.speed` (``bench-speed``), :mod:`.limits`
(``bench-limits``), :mod:`.app` (``bench-app``), :mod:`.load` (``load-test``) and
:mod:`.device` (``device-check``).  Nothing in this package is imported by the app at start.
"""
