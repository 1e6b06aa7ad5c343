"""Stage ingest: the files a dataset spec names -> the warehouse's raw layer, and the contract checks on it."""
