"""Many videos at once (``kprtrack batch``): one task per video or sequence on Ray or a local process pool.

Modules, each with one job:

* :mod:`~kprtrack.batch.inputs`: which inputs a batch holds and their unique, safe output names;
* :mod:`~kprtrack.batch.resume`: the settings fingerprint, the per-input manifest, what is complete;
* :mod:`~kprtrack.batch.worker`: what runs in a worker (models loaded once, see
  :mod:`~kprtrack.batch.pipeline_cache`);
* :mod:`~kprtrack.batch.scheduler`: the backend interface, bounded submission and retries;
* :mod:`~kprtrack.batch.local` and :mod:`~kprtrack.batch.ray_backend`: the two backends;
* :mod:`~kprtrack.batch.report`: outcomes and the final table; :mod:`~kprtrack.batch.runner`: all of it together.
"""

from kprtrack.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        ".inputs": ("BatchInput", "BatchInputError", "discover_inputs"),
        ".report": ("BatchReport", "Outcome"),
        ".runner": ("BatchOptions", "run_batch"),
        ".ray_backend": ("RayNotInstalledError",),
    },
)
