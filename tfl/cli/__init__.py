"""The `tfl` command line: `tfl train`, `evaluate`, `predict`, `backbones`, `demo`."""
