"""API routes: thin — validation, auth, envelopes; the logic lives in simfocus/."""
