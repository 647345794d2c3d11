"""Training KPR: losses (GiLt + part prediction), BIPO augmentation, data, the training loop."""
