"""Regional pathway tracking: one MV-Pathway CarePlan per patient episode, and its metrics."""
