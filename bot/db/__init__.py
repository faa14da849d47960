"""Storage: SQLAlchemy 2.x asyncio models, engine, repository functions and Alembic migrations."""
