"""Test doubles of outside services (the Telegram Bot API server, ...), run as real servers."""
