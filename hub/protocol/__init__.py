"""The protocol endpoints partner networks and their libraries call (OpenID Connect, OAuth
2.0 and its RFCs): one guard and one error layer for all of them."""
