"""Follow this person: click on somebody in one frame, get their track through the whole video.

The clicks select a detection and become its KPR keypoint prompts (positive clicks: the target's
prompt joints; negative clicks: "not this one" prompts); the person is then followed online along the
pipeline tracker's track and re-found by KPR part distance after occlusions and absences.

Modules, one job each:

* :mod:`~kprtrack.follow.clicks`: the clicks, their validation and the errors (numpy only);
* :mod:`~kprtrack.follow.query`: selection of the clicked detection, click prompts, the query embedding;
* :mod:`~kprtrack.follow.matcher`: :class:`FollowMatcher`, the per-frame decision, and :class:`FollowOptions`;
* :mod:`~kprtrack.follow.result`: :class:`FollowFrame`, :class:`FollowResult` and the ``follow.json`` format;
* :mod:`~kprtrack.follow.api`: :func:`follow_video` (pipeline + query + matcher + overlay);
* :mod:`~kprtrack.follow.render`: the overlay (highlight, part attention, part visibility);
* :mod:`~kprtrack.follow.evaluate`: scores against ground truth and a simulated clicking user;
* :mod:`~kprtrack.follow.web`: the ``kprtrack serve`` web page (``web`` extra).

Example::

    from kprtrack.follow import Clicks, FollowRequest, follow_video

    result = follow_video(FollowRequest("match.mp4", Clicks.create(40, [(312, 150), (318, 210)])))
"""

from __future__ import annotations

from kprtrack.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        ".clicks": ("Clicks", "FollowError", "FrameOutOfRangeError", "NoPersonAtClickError", "PointOutsideFrameError"),
        ".query": ("Query", "build_query", "select_target"),
        ".matcher": ("FollowMatcher", "FollowOptions"),
        ".result": ("FollowFrame", "FollowResult"),
        ".api": ("FollowRequest", "RenderOptions", "follow_video"),
    },
)
