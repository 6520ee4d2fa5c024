"""Training across geometries: configs, per-geometry state, the driver and its loggers."""
