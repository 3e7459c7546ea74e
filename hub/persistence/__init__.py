"""Where the hub keeps things: the database, its models and migrations, and the Store."""
