"""The HTTP and WebSocket edge (Ray Serve + FastAPI).

Nothing is served yet: the API arrives with its own issue. The package exists so that
the layering (serve → actors → simfocus) is in place from the start.
"""
