"""The FAQ engine: data model, loader, normaliser and matcher.

Pure code: nothing here imports Telegram, aiohttp or the database, so it can be
tested and benchmarked alone.
"""
