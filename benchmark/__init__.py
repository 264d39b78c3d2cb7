"""The wmbench pipeline: collect, datasets, train, evaluate, results, plots, suites."""
