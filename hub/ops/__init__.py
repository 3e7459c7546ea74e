"""Running the hub in production: health probes, outage answers, start-up checks, metrics
and logs for operators."""
