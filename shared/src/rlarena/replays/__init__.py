"""Replays: rendering a recorded match (the executor's replay JSON) for people to watch."""
