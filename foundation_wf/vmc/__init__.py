"""The VMC engine: local energy, MCMC, energy loss, optimizers, statistics."""
