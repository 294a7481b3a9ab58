"""The discussion engine: phases, modes, turn planning and the run loop."""
