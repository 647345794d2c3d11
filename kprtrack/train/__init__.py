"""Training utilities shared by the detector, pose and KPR trainers."""
