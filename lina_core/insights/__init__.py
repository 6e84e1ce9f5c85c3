"""The paper's three insights measured: each module is one measurement and one command of
``python -m lina_core`` (resumable rows, shardable over processes).

Insight 1, multi-hop: :mod:`.multihop` (``multihop``).  Insight 2, texture and physics apart in
the embedding: :mod:`.separation` (``separation``).  Insight 3, structure fixed early:
:mod:`.settling` (3a, ``settling``), :mod:`.switching` (3b, ``switching``),
:mod:`.attention_settling` (3c, from the switch probe's baselines), :mod:`.attention_iou`
(``attention-iou``) and :mod:`.insight3` (the three side by side).  :mod:`.probes` holds the
small-n probes the app's Probe tab runs live; :mod:`.figures` the interval bars and the table of
shipped figures (``MEASURED``) the tab shows; :mod:`.runs_file` the resumable rows;
:mod:`.tables` (``probe-tables``) markdown tables for the docs.
"""
