"""Everything that makes devices and records agree: submissions, households, areas, the reconcile queue."""
