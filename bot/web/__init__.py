"""The aiohttp application: SME web chat, staff console, admin pages, health and metrics."""
