"""Study files: a topic, a panel and how the discussion runs, in YAML."""
