"""OpenID Federation: entity statements, trust chains and metadata policy.

Not started: no issue asks for it yet. It will express the trust between the hub and the
partner networks as plain data handed in by the hub (never importing hub, Flask or the
database), like connectors/ and policies/.
"""
