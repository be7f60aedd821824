"""The parts of ``bench.py``: the report's pipeline (``report_way``), ours (``ours``), what each
measurement runs (``plan``), the timed loops on a shared machine (``clock``), the load rows
(``data``), the training workers (``workers``), each in its own process (``launch``), and the
Markdown they make (``tables``); inference: the model timed (``timed_model``), its rows
(``inference``) and their Markdown (``inference_table``)."""
