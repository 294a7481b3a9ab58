"""The LLM boundary: providers, pricing, budgets and the gateway core."""
