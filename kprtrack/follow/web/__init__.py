"""``kprtrack serve``: a local web page to click on a person in a video and follow them.

* :mod:`~kprtrack.follow.web.storage`: the work dir (uploads, job outputs), upload checks, safe names;
* :mod:`~kprtrack.follow.web.jobs`: follow runs in a background thread, with progress;
* :mod:`~kprtrack.follow.web.app`: the FastAPI application (``create_app``) and the page's API;
* ``static/``: the page (plain HTML, CSS and JavaScript, no build step).

Needs the ``web`` extra (``pip install -e ".[web]"``: fastapi, uvicorn); only ``app`` imports them.
"""
