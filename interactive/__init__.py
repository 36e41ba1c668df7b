"""Interactive learning over the Rasa HTTP API: a client library and a terminal session.

Plain Python over ``requests`` (no Django), so it teaches convapi and any Rasa 3.x server.
"""
