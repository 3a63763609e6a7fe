"""Storage back-ends of frames: `base` (the store protocol, clip info, `DataError`, manifests,
atomic writing), one module per back-end (`folder`, `arrays`, `lmdb`, `shards`) and `registry`
(the table of converted back-ends that `open_store` and `vsr-prepare` share)."""
