"""VillageBot: follow-up management of poverty-alleviation project assets (扶贫项目资产后续管理)."""

__version__ = "0.1.0"

# Periods register how messages show them (bot.i18n.PARAM_FORMATTERS) as soon as anything of bot is imported.
from bot import periods as _periods  # noqa: E402,F401
