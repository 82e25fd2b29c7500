"""Test support: real processes (processes.py) and a protocol-speaking client (client.py)."""
