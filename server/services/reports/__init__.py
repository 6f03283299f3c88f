"""The plan's numbers and meetings (docs/DOMAIN.md): floating residents and staffing, metrics
per round and period, the ten-day and weekly reports, coordinators' assessment."""
