"""Transports: the Telegram bot (and its webhook route). The web form lives in bot.web."""
