"""The hub's domain: accounts, SSO sessions, keys, tokens, clients, claims and consent.

Services and the storage each needs; nothing here knows HTTP (no werkzeug, no Flask).
"""
