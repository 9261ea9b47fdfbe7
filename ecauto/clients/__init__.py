"""HTTP clients of the marketplaces: one requests.Session each, timeouts always, URLs from config."""
