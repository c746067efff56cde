"""LCEL chains and the local models they run (generator, translator)."""
