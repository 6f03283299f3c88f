"""The tests are a package: pytest imports each module by its full name (tests.openrosa.test_ingest)
with the repository root on sys.path, so helpers import as `tests.support.…` from anywhere."""
