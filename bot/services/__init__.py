"""Domain services: every function takes the acting user and persists through storage."""
