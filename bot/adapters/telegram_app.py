"""The running bot: a python-telegram-bot Application wired to the handlers of every adapter module.

The one module that imports them all (``telegram`` for the checklist and the shared plumbing,
``telegram_forms`` for the calendar's forms, ``telegram_township`` for the township's work), so that
those modules import only downwards: forms and township build on ``telegram``, never the reverse.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.adapters import telegram as tg
from bot.adapters import telegram_forms as forms
from bot.adapters import telegram_income as asset_income
from bot.adapters import telegram_inventory as inventory
from bot.adapters import telegram_township as township
from bot.adapters.telegram_http import AiohttpRequest
from bot.adapters.telegram_pacing import SharedRateLimiter
from bot.config import Settings
from bot.i18n import translate
from bot.services.evidence import EvidenceStore
from bot.services.pacing import SharedPacer, pacing_limits


def build_application(settings: Settings, engine, *, rate_limit: bool = True, builder: ApplicationBuilder | None
                      = None) -> Application:
    """Return a python-telegram-bot Application wired to our services.

    The Bot API server is ``settings.telegram_api_url`` (Telegram's, or a self-hosted one): methods go
    to ``<root>/bot<token>/<method>``, files come from ``<root>/file/bot<token>/<path>``, through
    ``settings.telegram_proxy`` if one is set. With ``rate_limit`` outgoing calls respect Telegram's flood limits and retry after a 429's retry_after.
    """
    root = settings.telegram_api_url.rstrip("/")
    builder = builder or ApplicationBuilder()
    builder = (builder.token(settings.telegram_token).base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
               .request(AiohttpRequest(connection_pool_size=64, connect_timeout=10, read_timeout=30,
                                       write_timeout=60, pool_timeout=10, media_write_timeout=60,
                                       proxy=settings.telegram_proxy))
               .get_updates_request(AiohttpRequest(connection_pool_size=1, connect_timeout=10, read_timeout=40,
                                                   write_timeout=60, pool_timeout=10, proxy=settings.telegram_proxy))
               .concurrent_updates(tg.PerChatUpdateProcessor()))
    if rate_limit and engine is not None:  # every process's replies share the database's pacing windows
        builder = builder.rate_limiter(SharedRateLimiter(SharedPacer(engine, pacing_limits(settings))))
    elif rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(overall_max_rate=settings.telegram_rate, overall_time_period=1,
                                                      group_max_rate=20, group_time_period=60, max_retries=5))
    application = builder.build()
    application.bot_data["deps"] = tg.Deps(settings, engine, EvidenceStore.from_settings(settings))
    install_handlers(application)
    return application


def install_handlers(application: Application) -> None:
    """Register the dedup gate and every handler."""
    tg.BUTTONS.update(forms.BUTTONS)
    tg.FOLLOW_UPS.update(forms.FOLLOW_UPS)
    application.add_handler(TypeHandler(Update, tg.dedup_gate), group=-1)
    application.add_handler(CommandHandler("start", tg.on_start))
    for name, func in (("report", tg.on_report), ("help", tg.on_help), ("cancel", tg.on_cancel), ("lang", tg.on_lang),
                       *township.COMMANDS, *forms.COMMANDS, *inventory.COMMANDS,
                       *asset_income.COMMANDS):
        application.add_handler(CommandHandler(name, func))
    application.add_handler(CallbackQueryHandler(tg.on_callback))
    application.add_handler(MessageHandler(filters.PHOTO | filters.Document.ALL, tg.on_photo))
    application.add_handler(MessageHandler(filters.LOCATION, tg.on_location))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, tg.on_text))
    application.add_handler(MessageHandler(filters.COMMAND, tg.on_help))
    application.add_error_handler(tg.on_error)


async def set_commands(application: Application, locale: str = "zh_CN") -> None:
    """Publish the command menu (Chinese by default, English for English clients)."""
    for lang in ("zh_CN", "en"):
        commands = [(name, translate(lang, desc)) for name, desc in tg.COMMANDS]
        await application.bot.set_my_commands(commands, language_code=None if lang == locale else "en")
