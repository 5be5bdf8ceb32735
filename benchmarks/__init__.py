"""wippy's benchmark harness (SPEC S11).

Run ``python -m benchmarks [--quick] [--only CASE[,CASE]] [--pin [spread|same]] [--out DIR]``
(``wippy bench`` calls :func:`benchmarks.__main__.main`). Every case is measured for wippy
and, in the same run, for the physical floor (raw pyzmq, os.pipe, fork, asyncio) and the
peers (multiprocessing, Pykka, Ray when installed); the report is a JSON file plus a table
of ratios against the floor. Each group of measurements runs in its own forked case runner,
and every report records how OS processes were placed on cores.
"""
