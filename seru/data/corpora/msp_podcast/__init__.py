"""MSP-Podcast, read from the manual directory."""
