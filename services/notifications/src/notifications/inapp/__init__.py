"""In-app notifications: a list per user with read state."""
