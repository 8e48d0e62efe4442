"""Measurement code, in one place: how a frame, a training batch or an evaluation is *timed*.

* :mod:`.speed` — tracking speed (Table IV breakdown, FPS per switch, batched FPS, memory; ``benchmark.py speed``);
* :mod:`.throughput` — training-data loading throughput and a fake crop511 set (``benchmark.py data``);
* :mod:`.eval_timing` — evaluation time on a generated LaSOT-sized result set (``benchmark.py eval``).

It lives in ``engine/`` because it measures the whole chain (data, model, tracker, metrics) and so must sit at its
end; the submodules are imported explicitly (nothing is loaded here) so that ``import siamcorners.engine`` stays light.
"""
