"""Coverage: each building's state per round (store, refresh, recompute), the visit a
submission records (visits), and what the map, tiles and exports read (query, tiles, exports)."""
