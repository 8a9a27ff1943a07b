"""A generated Check-in corpus: libraries of tiny model files with sidecars, and labelled requests."""
