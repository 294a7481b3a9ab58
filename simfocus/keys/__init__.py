"""Users' own provider API keys, stored encrypted (AES-256-GCM) and shown only masked."""
