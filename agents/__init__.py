"""Sessions, configuration, the composition root and the command line of babelrag."""
