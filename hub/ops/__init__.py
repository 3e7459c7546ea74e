"""Running the hub in production: health probes, outage answers and start-up checks."""
