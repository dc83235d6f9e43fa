"""VillageBot: follow-up management of poverty-alleviation project assets (扶贫项目资产后续管理)."""

__version__ = "0.1.0"
