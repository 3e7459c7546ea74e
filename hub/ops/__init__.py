"""Running the hub in production: metrics and logs for operators."""
