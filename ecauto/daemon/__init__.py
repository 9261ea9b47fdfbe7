"""What every daemon shares: the singleton lock, the heartbeat and the loop that owns them."""
