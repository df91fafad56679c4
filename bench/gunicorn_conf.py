"""Gunicorn hooks for the benchmark: each worker drops a marker file once it has loaded the app.

The benchmark waits for one marker per worker before it measures anything, so that no measured request
waits on a worker that is still importing Flask or running the start-up migration. Read by gunicorn via
`-c bench/gunicorn_conf.py`; the folder comes from BENCH_READY_DIR (unset: no markers).
"""
import os


def post_worker_init(worker):
    folder = os.environ.get("BENCH_READY_DIR")
    if folder:
        with open(os.path.join(folder, f"ready-{worker.pid}"), "w") as marker:
            marker.write(str(worker.pid))
