"""The portal's web pages: server-rendered Greek screens on the gateway's public APIs (issue 11)."""
