"""The WebSocket relay: platform events (builds, matches, ratings) pushed live to browsers.

`protocol` (close codes, client commands, channels), `messages` (event -> messages and recipients),
`router` (duplicates and stale events dropped), `directory` (owners from the database, cached),
`hub` (connections, channels, bounded outboxes), `session` (one WebSocket), `auth`, `app` (the
Starlette app and the process's relay), `http` (the plain-HTTP target), `server` (uvicorn).
"""
