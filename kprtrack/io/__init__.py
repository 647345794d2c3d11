"""Reading and writing tracking data: PoseTrack21 JSON, MOTChallenge text, atomic file writes."""
